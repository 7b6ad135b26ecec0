import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmseg.registry import MODELS
from scripts import ROOT, load_script


def test_rolled_tokens_change_only_a_mixed_batch(tmp_path):
    tool = load_script('.dev_scripts/probe_fusion.py')
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs/demo/mtlsi_tiny_synthetic-nyud.py'))
    init_default_scope('mmseg')
    ds = cfg.train_dataloader.dataset
    ds.update(data_root=str(tmp_path / 'data'), num_train=4, num_val=1)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).eval()
    loader = cfg.train_dataloader.copy()
    loader.update(batch_size=2, num_workers=0, persistent_workers=False)
    batch = next(iter(Runner.build_dataloader(loader, seed=0)))
    mixed = model.data_preprocessor(batch, True)
    # a batch of one image twice: the rolled tokens are the image's own
    same = copy.deepcopy(batch)
    same['inputs'][1] = same['inputs'][0].clone()
    same['data_samples'][1] = copy.deepcopy(same['data_samples'][0])
    same = model.data_preprocessor(same, True)
    r = tool.probe(model, [same])
    for t, own in r['own'].items():
        assert r['rolled'][t] == pytest.approx(own, rel=1e-5), t
    r = tool.probe(model, [mixed])
    assert set(r['own']) == {'semseg', 'depth', 'normals', 'edge'}
    assert set(r['coarse']) == set(r['own'])
    assert all(r['coarse'][t] != r['own'][t] for t in r['own'])
    assert any(abs(r['rolled'][t] - own) > 1e-4 * abs(own)
               for t, own in r['own'].items())
    # the hook is gone afterwards
    assert not model.decode_head.fusion._forward_hooks
