import importlib.util
import os.path as osp

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load_tool():
    path = osp.join(ROOT, 'tools', 'analysis_tools', 'bench_side_by_side.py')
    spec = importlib.util.spec_from_file_location('_mt_sbs', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_variants_are_the_ablation_configs():
    """The side-by-side variants are the switches of the Swin-T ablation
    configs."""
    from mmengine.config import Config
    tool = load_tool()
    abl = osp.join(ROOT, 'configs', 'mtlsi', 'ablations')
    quad = Config.fromfile(osp.join(abl, 'swin-t_nyud_quadratic-fusion.py'))
    pd = Config.fromfile(osp.join(abl, 'swin-t_nyud_pd-only.py'))
    override = {k: v for k, v in
                tool.VARIANTS['quadratic fusion']['fusion'].items()
                if k != '_delete_'}
    assert dict(quad.model.decode_head.fusion) == override
    assert pd.model.decode_head.fusion is None
    assert tool.VARIANTS['PD only'] == dict(fusion=None)


def test_measure_demo_config():
    tool = load_tool()
    import torch
    rows = tool.measure_config(
        'configs/demo/mtlsi_tiny_synthetic-nyud.py', 1, torch.device('cpu'),
        shape=(64, 96))
    by = {r['variant']: r for r in rows}
    assert set(by) == {'paper', 'quadratic fusion', 'PD only'}
    assert by['PD only']['gmacs'] < by['paper']['gmacs']
    # the backbone is the same in the three
    assert len({r['gmacs_backbone'] for r in rows}) == 1
    for r in rows:
        assert r['gmacs'] == pytest.approx(r['gmacs_backbone'] +
                                           r['gmacs_head'])
        assert r['gmac_per_s'] == pytest.approx(r['gmacs'] / r['forward_s'])
    table = tool.format_table(rows, 'header')
    assert table.count('| mtlsi_tiny_synthetic-nyud |') == 3
    assert '| paper | 64x96 |' in table and '1.00x time' in table
