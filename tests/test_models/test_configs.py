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


# --------------------------------------------------------------------------
# one home for each setting
# --------------------------------------------------------------------------
PAPER = {
    'swin-t_nyud.py': 'mtlsi_nyud.py', 'swin-l_nyud.py': 'mtlsi_nyud.py',
    'hrnet18_nyud.py': 'mtlsi_nyud.py', 'swin-t_pascal.py': 'mtlsi_pascal.py',
    'swin-l_pascal.py': 'mtlsi_pascal.py',
    'hrnet18_pascal.py': 'mtlsi_pascal.py',
}


def _own_model_keywords(path):
    """{key: [nested keys]} of the ``model = dict(...)`` in the file."""
    import ast
    tree = ast.parse(open(path).read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and node.targets[0].id == 'model':
            return {kw.arg: [k.arg for k in getattr(kw.value, 'keywords',
                                                    [])]
                    for kw in node.value.keywords}
    return {}


@pytest.mark.parametrize('name', sorted(PAPER))
def test_paper_config_is_its_dataset_base_plus_a_backbone(name):
    path = osp.join(ROOT, 'configs', 'mtlsi', name)
    assert f"_base_ = ['../_base_/{PAPER[name]}']" in open(path).read()
    # what the file itself sets: at most model.backbone and the head's widths
    assigned, _ = _top_level_names(path)
    assert assigned <= {'_base_', 'model'}
    own = _own_model_keywords(path)
    assert set(own) <= {'backbone', 'decode_head'}
    assert set(own.get('decode_head', ())) <= {'in_channels', 'channels'}
    cfg = Config.fromfile(path)
    base = Config.fromfile(osp.join(ROOT, 'configs', '_base_', PAPER[name]))
    # everything but the backbone and the head's widths is the base's
    for key in ('tasks', 'task_cfg', 'window_size', 'num_tokens', 'fusion'):
        assert cfg.model.decode_head[key] == base.model.decode_head[key]
    assert cfg.model.data_preprocessor == base.model.data_preprocessor
    assert cfg.model.decode_head.tasks == base.tasks
    assert tuple(cfg.model.data_preprocessor.size) == tuple(base.crop_size)
    for key in ('train_dataloader', 'val_dataloader', 'val_evaluator',
                'train_cfg', 'optim_wrapper', 'default_hooks'):
        assert cfg[key] == base[key], key


@pytest.mark.parametrize('real, synthetic', [
    ('nyud.py', 'synthetic_nyud.py'),
    ('pascal_context.py', 'synthetic_pascal.py')])
def test_synthetic_dataset_bases_inherit_the_real_ones(real, synthetic):
    folder = osp.join(ROOT, 'configs', '_base_', 'datasets')
    assert f"_base_ = ['./{real}']" in open(osp.join(folder,
                                                     synthetic)).read()
    a = Config.fromfile(osp.join(folder, real))
    b = Config.fromfile(osp.join(folder, synthetic))
    assert b.tasks == a.tasks
    assert b.test_pipeline == a.test_pipeline
    assert b.val_evaluator.task_cfg.edge.max_dist == \
        a.val_evaluator.task_cfg.edge.max_dist
    assert b.train_dataloader.dataset.split == 'train'
    assert b.test_dataloader == b.val_dataloader
    assert b.val_dataloader.dataset.test_mode is True
    assert b.train_pipeline[3].crop_size == b.crop_size != a.crop_size
    for loader in ('train_dataloader', 'val_dataloader'):
        dataset = b[loader].dataset
        assert dataset.type == b.dataset_type != a.dataset_type
        assert dataset.task_cfg.semseg.num_classes == \
            b.task_cfg.semseg.num_classes
        assert dataset.num_train == b.synthetic.num_train


def test_no_two_model_configs_are_the_same_run():
    seen = {}
    for path in MODEL_CONFIGS:
        cfg = Config.fromfile(path).to_dict()
        cfg.pop('_base_', None)
        key = repr(sorted(cfg.items(), key=lambda kv: kv[0]))
        assert key not in seen, (rel(path), seen.get(key))
        seen[key] = rel(path)


def _top_level_names(path):
    """Names a config file assigns at top level, and names it reads."""
    import ast
    import re
    text = re.sub(r'\{\{\s*_base_\.[\w.]+\s*\}\}', '_base_value',
                  open(path).read())
    tree = ast.parse(text)
    assigned = {t.id for node in tree.body if isinstance(node, ast.Assign)
                for t in node.targets if isinstance(t, ast.Name)}
    read = {n.id for n in ast.walk(tree)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return assigned, read


@pytest.mark.parametrize('path', CONFIGS, ids=rel)
def test_no_unused_variables(path):
    """Every top-level name is either a setting the runner reads or a
    variable the file itself uses."""
    import inspect

    from mmengine.runner import Runner
    runner_keys = set(inspect.signature(Runner.__init__).parameters) | {
        '_base_', 'custom_imports', 'model_wrapper_cfg'}
    # the runner reads a top-level data_preprocessor only for a model
    # without one; every model here has its own
    runner_keys.discard('data_preprocessor')
    assigned, read = _top_level_names(path)
    unused = assigned - runner_keys - read
    assert not unused, unused


@pytest.mark.parametrize('name', sorted(PAPER))
def test_paper_configs_use_syncbn(name):
    """SyncBN wherever the model has BatchNorm (the head; HRNet's
    backbone); Swin's LayerNorms have no batch statistics."""
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'mtlsi', name))
    assert cfg.model.decode_head.norm_cfg.type == 'SyncBN'
    backbone_norm = cfg.model.backbone.get('norm_cfg', dict(type='LN'))
    assert backbone_norm['type'] == ('SyncBN' if 'hrnet' in name else 'LN')


def test_demo_config_uses_plain_bn():
    """The demo also runs as CPU processes under torchrun, where torch's
    SyncBatchNorm refuses CPU tensors."""
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'demo',
                                   'mtlsi_tiny_synthetic-nyud.py'))
    assert cfg.model.decode_head.norm_cfg.type == 'BN'
    assert cfg.model.backbone.norm_cfg.type == 'BN'
    assert 'save_best' not in cfg.default_hooks.checkpoint


# the edge loss's positive weight, per dataset (docs/model.md): ATRC's 0.8 on
# NYUDv2, 0.95 on PASCAL-Context; the synthetic NYUDv2 base keeps 0.95
EDGE_POS_WEIGHT = {
    'configs/mtlsi/swin-t_nyud.py': 0.8,
    'configs/mtlsi/hrnet18_nyud.py': 0.8,
    'configs/mtlsi/baselines/swin-t_nyud_edge.py': 0.8,
    'configs/mtlsi/swin-l_pascal.py': 0.95,
    'configs/mtlsi/baselines/swin-t_pascal_edge.py': 0.95,
    'configs/demo/mtlsi_tiny_synthetic-nyud.py': 0.95,
}


@pytest.mark.parametrize('path', sorted(EDGE_POS_WEIGHT))
def test_edge_positive_weight_reaches_the_built_loss(path):
    cfg = Config.fromfile(osp.join(ROOT, path))
    cfg.merge_from_dict(TINY)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    model = MODELS.build(cfg.model)
    edge_loss = model.decode_head.loss_fn.losses['edge']
    assert edge_loss.pos_weight == EDGE_POS_WEIGHT[path]
    # hand-computed: one positive logit 0 and one negative logit 0 give
    # (w * log 2 + (1 - w) * log 2) / 2 = log(2) / 2 whatever w; a positive
    # alone gives w * log 2
    pred = torch.zeros(1, 1, 1, 2)
    assert torch.allclose(edge_loss(pred, torch.tensor([[[1, 255]]])),
                          torch.tensor(EDGE_POS_WEIGHT[path]) * 0.6931472)
