"""Every config parses; every MTLSI-Net model config builds and runs at tiny
size; the paper configurations' head sizes match the paper."""
import glob
import os.path as osp

import pytest
import torch
from mmengine import Config
from mmengine.registry import init_default_scope

import mmtlsi  # noqa: F401
from mmtlsi.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', '**', '*.py'),
                           recursive=True))
MODEL_CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', 'mtlsi', '**',
                                          '*.py'), recursive=True))
TINY = {
    'model.backbone': dict(_delete_=True, type='mmpretrain.ResNet', depth=18,
                           stem_channels=8, base_channels=8,
                           out_indices=(0, 1, 2, 3)),
    'model.decode_head.in_channels': [8, 16, 32, 64],
    'model.decode_head.channels': 16,
    'model.decode_head.num_heads': 2,
    'model.decode_head.num_tokens': 8,
    'model.decode_head.window_size': (4, 4),
}


def rel(path):
    return osp.relpath(path, ROOT)


@pytest.mark.parametrize('path', CONFIGS, ids=rel)
def test_config_parses(path):
    Config.fromfile(path)


@pytest.mark.parametrize('path', MODEL_CONFIGS, ids=rel)
def test_model_builds_tiny_and_runs(path):
    cfg = Config.fromfile(path)
    assert cfg.model.decode_head.type == 'MTLSIHead'
    cfg.merge_from_dict(TINY)    # what --cfg-options does
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    model = MODELS.build(cfg.model).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 64, 64), mode='tensor')
    assert list(out) == list(model.task_specs)
    for t, spec in model.task_specs.items():
        assert out[t].shape == (1, spec.out_channels, 64, 64)


# parameters outside the backbone, as the paper reports them (Table I)
PAPER_HEAD_PARAMS = {
    'hrnet18_nyud.py': 13.94e6,
    'swin-t_nyud.py': 17.45e6,
    'swin-l_nyud.py': 38.27e6,
}


@pytest.mark.parametrize('name', sorted(PAPER_HEAD_PARAMS))
def test_head_parameters_match_the_paper(name):
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'mtlsi', name))
    head = MODELS.build(cfg.model.decode_head)
    n = sum(p.numel() for p in head.parameters())
    assert abs(n / PAPER_HEAD_PARAMS[name] - 1) < 0.05, n


def test_complexity_counts_split_backbone_and_head():
    from mmtlsi.utils import count_flops, count_parameters
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'mtlsi',
                                   'swin-t_nyud.py'))
    cfg.merge_from_dict(TINY)
    init_default_scope('mmseg')
    model = MODELS.build(cfg.model)
    # None submodules (Swin's optional norms, HRNet's fuse-layer slots) must
    # not trip mmengine's counter
    model.backbone.unused_norm = None
    model.backbone.slots = torch.nn.ModuleList([torch.nn.Identity(), None])
    params = count_parameters(model)
    assert params['head'] == sum(
        p.numel() for p in model.decode_head.parameters())
    assert params['total'] == params['backbone'] + params['head']
    flops = count_flops(model, (64, 64))
    assert model.backbone.unused_norm is None
    assert model.backbone.slots[1] is None
    assert 0 < flops['backbone'] < flops['total']
    assert flops['head'] == flops['total'] - flops['backbone']
    # at least the stride-4 1x1 lateral convs of the four preliminary
    # decoders (8 -> 16 channels on 16x16)
    assert flops['head'] > 4 * 8 * 16 * 16 * 16


def _built_head(name, **options):
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'mtlsi', name))
    cfg.merge_from_dict(dict(TINY, **options))
    init_default_scope('mmseg')
    return MODELS.build(cfg.model.decode_head)


def test_paper_configs_use_one_fusion_context_and_position_bias():
    head = _built_head('swin-t_nyud.py')
    # the fusion's heads are its own setting, not CWIB's
    assert head.fusion.num_heads == 1
    assert all(c.num_heads == 2 for c in head.cwibs.values())
    assert all(c.rel_pos is not None for c in head.cwibs.values())
    assert head.cwibs['depth'].rel_pos.table.shape == (7 * 7, 2)


def test_fusion_heads_and_position_bias_ablations():
    head = _built_head('ablations/swin-t_nyud_fusion-8heads.py',
                       **{'model.decode_head.channels': 32})
    assert head.fusion.num_heads == 8
    assert all(c.rel_pos is not None for c in head.cwibs.values())
    head = _built_head('ablations/swin-t_nyud_no-rpb.py')
    assert head.fusion.num_heads == 1
    assert all(c.rel_pos is None for c in head.cwibs.values())


def test_only_what_configs_build_is_registered():
    """Every model class mmtlsi registers is built by some config (directly
    or through the task specs' losses); internal parts are not registered."""
    registered = {name for name, cls in MODELS.module_dict.items()
                  if cls.__module__.startswith('mmtlsi.')}
    built = set()
    init_default_scope('mmseg')
    for path in MODEL_CONFIGS:
        cfg = Config.fromfile(path)
        cfg.merge_from_dict(TINY)
        built |= {type(m).__name__ for m in MODELS.build(cfg.model).modules()}
    assert registered <= built, registered - built
    assert {'MTLSIHead', 'MTMQLFB', 'CrossTaskAttention'} <= registered
    assert not {'CWIB', 'TaskDecoder', 'SemanticTokenDistiller',
                'MultiTaskLoss'} & registered


def test_flops_per_part_add_up_to_the_head():
    from mmtlsi.utils import count_flops
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'mtlsi',
                                   'swin-t_nyud.py'))
    cfg.merge_from_dict(TINY)
    init_default_scope('mmseg')
    model = MODELS.build(cfg.model)
    flops = count_flops(model, (64, 64), parts=True)
    parts = {k: v for k, v in flops.items() if k.startswith('decode_head.')}
    assert set(parts) == {f'decode_head.{n}' for n in (
        'preliminary', 'fusion', 'input_proj', 'distillers', 'cwibs',
        'output')}
    assert all(v > 0 for v in parts.values())
    # outside the parts: only the segmentor's bilinear resize of the logits
    # (40 + 1 + 3 + 1 channels at 64x64; the counter's 4 per output value)
    assert flops['head'] - sum(parts.values()) == 4 * 45 * 64 * 64
