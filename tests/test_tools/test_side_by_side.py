import os.path as osp

import pytest
import torch
from mmengine.config import Config
from scripts import ROOT, load_script

from mmtlsi.apis.analysis import build_model_for_analysis
from mmtlsi.utils import count_flops

DEMO = 'configs/demo/mtlsi_tiny_synthetic-nyud.py'


@pytest.fixture(scope='module')
def tool():
    return load_script('.dev_scripts/bench_side_by_side.py')


def test_variants_are_the_ablation_configs(tool):
    """The side-by-side variants are the switches of the Swin-T ablation
    configs, and they reach the built model."""
    abl = osp.join(ROOT, 'configs', 'mtlsi', 'ablations')
    quad = Config.fromfile(osp.join(abl, 'swin-t_nyud_quadratic-fusion.py'))
    pd = Config.fromfile(osp.join(abl, 'swin-t_nyud_pd-only.py'))
    override = {k: v for k, v in
                tool.VARIANTS['quadratic fusion']['fusion'].items()
                if k != '_delete_'}
    assert dict(quad.model.decode_head.fusion) == override
    assert pd.model.decode_head.fusion is None
    assert tool.VARIANTS['PD only'] == dict(fusion=None)
    model, crop = tool.build_variant(
        osp.join(ROOT, DEMO), tool.VARIANTS['quadratic fusion'], 'cpu')
    assert type(model.decode_head.fusion).__name__ == 'CrossTaskAttention'
    assert crop == tuple(model.cfg.crop_size)


def test_measure_demo_config(tool):
    """GMACs from the one counter: the paper model less its PD-only
    variant is the refinement parts' cost; a fake clock of 0.125 s per
    call gives every timing."""
    ticks = iter(0.125 * i for i in range(10**6))
    rows = tool.measure_config(osp.join(ROOT, DEMO), 2,
                               torch.device('cpu'), shape=(64, 96),
                               clock=lambda: next(ticks))
    by = {r['variant']: r for r in rows}
    assert set(by) == {'paper', 'quadratic fusion', 'PD only'}
    paper = build_model_for_analysis(osp.join(ROOT, DEMO))
    parts = count_flops(paper, (64, 96), parts=True)
    assert by['paper']['gmacs'] == pytest.approx(parts['total'] / 1e9)
    refinement = sum(parts[f'decode_head.{k}'] for k in (
        'fusion', 'input_proj', 'distillers', 'cwibs', 'output'))
    assert by['paper']['gmacs'] - by['PD only']['gmacs'] == pytest.approx(
        refinement / 1e9)
    # the backbone is the same in the three; only the fusion differs
    assert len({r['gmacs_backbone'] for r in rows}) == 1
    assert by['quadratic fusion']['gmacs'] != by['paper']['gmacs']
    for r in rows:
        assert r['forward_s'] == pytest.approx(0.125)
        assert r['gmac_per_s'] == pytest.approx(8 * r['gmacs'])
    table = tool.format_table(rows, 'header')
    assert table.count('| mtlsi_tiny_synthetic-nyud |') == 3
    assert '| paper | 64x96 |' in table and '1.00x time' in table
