"""Every paper config fills its backbone from the checkpoint its init_cfg
names, in each layout the weights are published in, or stops with an error.

The checkpoints are made from the architectures (upstream_checkpoints.py) and
loaded through the paper configs' own ``init_cfg`` with only the path
changed, as ``--cfg-options model.backbone.init_cfg.checkpoint=PATH`` does.
"""
import importlib.util
import os.path as osp
import re

import mmseg
import pytest
import torch
from mmengine import Config
from mmengine.registry import init_default_scope
from upstream_checkpoints import (
    SWIN_ARCHS,
    OfficialSwin,
    mmpretrain_hrnet_checkpoint,
    mmseg_swin_checkpoint,
    official_swin_checkpoint,
    randomize,
)

from mmtlsi.models.backbone_weights import (
    ALLOWED_ABSENT,
    ALLOWED_UNUSED,
    BackboneWeightsError,
)
from mmtlsi.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
OVERRIDE = 'model.backbone.init_cfg.checkpoint'
# Swin-L at full size is 197M parameters: the Swin-L configs are loaded
# with their own settings (img_size 384, window 12, init_cfg) but this width
SMALL_SWIN = dict(embed_dim=32, depths=(2, 2, 2, 2), num_heads=(1, 2, 2, 4))


@pytest.fixture(autouse=True)
def _scope():
    init_default_scope('mmseg')


def reference_convert_swin():
    """mmseg's converter, as its script defines it (the reference)."""
    path = osp.join(osp.dirname(mmseg.__file__), '.mim', 'tools',
                    'model_converters', 'swin2mmseg.py')
    spec = importlib.util.spec_from_file_location('ref_swin2mmseg', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.convert_swin


def expected_from_official(state):
    """What each mmpretrain Swin key must hold: mmseg's conversion, plus the
    final norm under mmpretrain's name; attention masks are not weights."""
    out = {}
    for k, v in reference_convert_swin()(state).items():
        if k.endswith('attn_mask'):
            continue
        out[re.sub(r'^norm\.', 'norm3.', k)] = v
    return out


def paper_config(name, checkpoint, small_swin=False):
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'mtlsi', name))
    cfg.merge_from_dict({OVERRIDE: str(checkpoint)})
    if small_swin:
        cfg.model.backbone.arch = dict(
            embed_dims=SMALL_SWIN['embed_dim'],
            depths=list(SMALL_SWIN['depths']),
            num_heads=list(SMALL_SWIN['num_heads']))
    return cfg


def build_and_init_backbone(cfg):
    assert cfg.model.backbone.init_cfg.type == 'StrictPretrained'
    backbone = MODELS.build(cfg.model.backbone)
    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    backbone.init_weights()
    return backbone, before


def assert_every_tensor_from_file(backbone, before, expected):
    """Every backbone tensor equals the file's (mapped) value, except the
    allowed-absent keys, which keep their initial value."""
    absent_rules = [r for cls, r, _ in ALLOWED_ABSENT
                    if cls == type(backbone).__name__]
    not_from_file = []
    for key, value in backbone.state_dict().items():
        if key in expected:
            assert torch.equal(value, expected[key]), key
        else:
            assert any(re.fullmatch(r, key) for r in absent_rules), key
            assert torch.equal(value, before[key]), key
            not_from_file.append(key)
    return not_from_file


SWIN_OUTPUT_NORMS = ['norm0.weight', 'norm0.bias', 'norm1.weight',
                     'norm1.bias', 'norm2.weight', 'norm2.bias']


@pytest.fixture(scope='module')
def official_swin_t(tmp_path_factory):
    path = tmp_path_factory.mktemp('ckpt') / 'swin_tiny_22k_official.pth'
    return path, official_swin_checkpoint(path, **SWIN_ARCHS['tiny'])


@pytest.mark.parametrize('name', ['swin-t_nyud.py', 'swin-t_pascal.py'])
def test_swin_t_configs_load_the_official_release(name, official_swin_t):
    path, state = official_swin_t
    backbone, before = build_and_init_backbone(paper_config(name, path))
    not_from_file = assert_every_tensor_from_file(
        backbone, before, expected_from_official(state))
    assert not_from_file == SWIN_OUTPUT_NORMS
    # the values really moved: e.g. a position-bias table and the final norm
    assert torch.equal(
        backbone.stages[2].blocks[5].attn.w_msa.relative_position_bias_table,
        state['layers.2.blocks.5.attn.relative_position_bias_table'])
    assert torch.equal(backbone.norm3.weight, state['norm.weight'])


@pytest.mark.parametrize('name', ['swin-l_nyud.py', 'swin-l_pascal.py'])
@pytest.mark.parametrize('layout', ['mmseg-converted', 'official'])
def test_swin_l_configs_load_both_layouts(name, layout, tmp_path):
    cfg = paper_config(name, tmp_path / 'swin_l.pth', small_swin=True)
    window = cfg.model.backbone.window_size
    assert (window, cfg.model.backbone.img_size) == (12, 384)
    official = randomize(OfficialSwin(window=window, img_size=384,
                                      **SMALL_SWIN)).state_dict()
    if layout == 'official':
        torch.save({'model': official}, tmp_path / 'swin_l.pth')
    else:
        # how mmseg made its Swin-L file: swin2mmseg on the release
        torch.save(reference_convert_swin()(official),
                   tmp_path / 'swin_l.pth')
    backbone, before = build_and_init_backbone(cfg)
    assert assert_every_tensor_from_file(
        backbone, before,
        expected_from_official(official)) == SWIN_OUTPUT_NORMS


def test_swin_checkpoint_of_an_mmseg_training_run(tmp_path):
    """{'state_dict': {'module.backbone.*', 'module.decode_head.*'}} from
    mmseg's own SwinTransformer: prefixes stripped, head keys not read,
    every tensor (the four output norms included) from the file."""
    state = mmseg_swin_checkpoint(tmp_path / 'mmseg.pth', SMALL_SWIN,
                                  window=12)
    cfg = paper_config('swin-l_nyud.py', tmp_path / 'mmseg.pth',
                       small_swin=True)
    backbone, before = build_and_init_backbone(cfg)
    assert assert_every_tensor_from_file(backbone, before, state) == []


def test_mmseg_and_mmpretrain_swin_share_one_key_layout():
    from mmpretrain.models import SwinTransformer as PretrainSwin
    from mmseg.models.backbones import SwinTransformer as SegSwin
    seg = SegSwin(embed_dims=32, depths=(2, 2, 2, 2), num_heads=(1, 2, 2, 4),
                  window_size=7, out_indices=(0, 1, 2, 3)).state_dict()
    pre = PretrainSwin(
        arch=dict(embed_dims=32, depths=[2, 2, 2, 2], num_heads=[1, 2, 2, 4]),
        window_size=7, out_indices=(0, 1, 2, 3)).state_dict()
    assert {k: v.shape for k, v in seg.items()} == \
        {k: v.shape for k, v in pre.items()}
    # the index buffers hold the same values in both and in the release
    official = OfficialSwin(window=7, **SMALL_SWIN).state_dict()
    key = 'stages.1.blocks.0.attn.w_msa.relative_position_index'
    assert torch.equal(seg[key], pre[key])
    assert torch.equal(
        pre[key], official['layers.1.blocks.0.attn.relative_position_index'])


def test_converted_patch_merging_computes_what_the_official_one_does(
        tmp_path):
    """The channel reorder is right: the loaded PatchMerging (nn.Unfold
    order) gives the official merge's output on the same input."""
    official = randomize(OfficialSwin(window=7, **SMALL_SWIN))
    torch.save({'model': official.state_dict()}, tmp_path / 'o.pth')
    cfg = paper_config('swin-t_nyud.py', tmp_path / 'o.pth', small_swin=True)
    backbone, _ = build_and_init_backbone(cfg)
    x = torch.randn(2, 8, 12, 64)                        # B, H, W, C
    with torch.no_grad():
        want = official.layers[1].downsample(x)
        got, shape = backbone.stages[1].downsample(x.flatten(1, 2), (8, 12))
    assert shape == (4, 6)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
    # and the reorder matters: the release's weights as they are give
    # another output
    merge = backbone.stages[1].downsample
    with torch.no_grad():
        merge.reduction.weight.copy_(official.layers[1].downsample.reduction
                                     .weight)
        merge.norm.weight.copy_(official.layers[1].downsample.norm.weight)
        merge.norm.bias.copy_(official.layers[1].downsample.norm.bias)
        unconverted, _ = merge(x.flatten(1, 2), (8, 12))
    assert (unconverted - want).abs().max() > 1.0


@pytest.mark.parametrize('name', ['hrnet18_nyud.py', 'hrnet18_pascal.py'])
def test_hrnet_configs_load_mmpretrain_classifier(name, tmp_path):
    state = mmpretrain_hrnet_checkpoint(tmp_path / 'hrnet.pth')
    backbone, before = build_and_init_backbone(
        paper_config(name, tmp_path / 'hrnet.pth'))
    assert type(backbone).__name__ == 'HRNet'
    assert assert_every_tensor_from_file(backbone, before, state) == []
    assert len(state) == len(backbone.state_dict())


def test_segmentor_init_weights_keeps_the_loaded_backbone(official_swin_t):
    """Through the model's own init_weights (what the runner calls): the
    children's initialisation (mmpretrain redraws the position-bias tables)
    must not overwrite the file's values."""
    path, state = official_swin_t
    cfg = paper_config('swin-t_nyud.py', path)
    model = MODELS.build(cfg.model)
    model.init_weights()
    expected = expected_from_official(state)
    for key, value in model.backbone.state_dict().items():
        if key not in SWIN_OUTPUT_NORMS:
            assert torch.equal(value, expected[key]), key


# --------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------
@pytest.fixture
def small_official(tmp_path):
    return randomize(OfficialSwin(window=7, **SMALL_SWIN)).state_dict()


def init_small_swin_t(path, **init_cfg):
    cfg = paper_config('swin-t_nyud.py', path, small_swin=True)
    cfg.model.backbone.init_cfg.update(init_cfg)
    backbone = MODELS.build(cfg.model.backbone)
    backbone.init_weights()
    return backbone


def test_missing_backbone_key_is_an_error_naming_key_and_file(
        tmp_path, small_official):
    del small_official['layers.2.blocks.1.mlp.fc2.weight']
    path = tmp_path / 'incomplete.pth'
    torch.save({'model': small_official}, path)
    with pytest.raises(BackboneWeightsError) as err:
        init_small_swin_t(path)
    assert 'stages.2.blocks.1.ffn.layers.1.weight' in str(err.value)
    assert str(path) in str(err.value)
    assert '1 backbone keys have no value' in str(err.value)


def test_explicit_partial_load(tmp_path, small_official):
    del small_official['layers.2.blocks.1.mlp.fc2.weight']
    torch.save({'model': small_official}, tmp_path / 'partial.pth')
    backbone = init_small_swin_t(
        tmp_path / 'partial.pth',
        allow_missing=[r'stages\.2\.blocks\.1\.ffn\.layers\.1\.weight'])
    expected = expected_from_official(small_official)
    assert torch.equal(backbone.stages[2].blocks[1].ffn.layers[0][0].weight,
                       expected['stages.2.blocks.1.ffn.layers.0.0.weight'])


def test_unused_checkpoint_key_is_an_error(tmp_path, small_official):
    small_official['layers.0.blocks.0.attn.extra_scale'] = torch.ones(3)
    torch.save({'model': small_official}, tmp_path / 'extra.pth')
    with pytest.raises(BackboneWeightsError,
                       match=r'fit no backbone key: '
                       r'stages\.0\.blocks\.0\.attn\.w_msa\.extra_scale'):
        init_small_swin_t(tmp_path / 'extra.pth')


def test_checkpoint_of_another_architecture_is_an_error(
        tmp_path, official_swin_t):
    path, _ = official_swin_t     # full Swin-T into the small Swin
    with pytest.raises(BackboneWeightsError) as err:
        init_small_swin_t(path)
    message = str(err.value)
    assert str(path) in message
    assert re.search(r'\d+ tensors have another shape: '
                     r'patch_embed\.projection\.weight \(96, 3, 4, 4\) in '
                     r'the file, \(32, 3, 4, 4\) in the backbone', message), \
        message
    assert len(message) < 1500


def test_swin_t_file_into_the_swin_l_config_names_the_shapes(
        tmp_path, official_swin_t):
    """The full Swin-T release into the full Swin-L config: its position
    tables (window 7) would be resized by mmpretrain, but the widths differ
    too, so the error lists the shapes before anything is resized."""
    path, _ = official_swin_t
    cfg = paper_config('swin-l_nyud.py', path)
    backbone = MODELS.build(cfg.model.backbone)
    with pytest.raises(BackboneWeightsError) as err:
        backbone.init_weights()
    message = str(err.value)
    assert message.startswith(f'The backbone checkpoint {path} (official '
                              'Swin layout) does not fit SwinTransformer: '
                              '183 tensors have another shape: '
                              'patch_embed.projection.weight (96, 3, 4, 4) '
                              'in the file, (192, 3, 4, 4) in the backbone')
    assert 'interp' not in message


def test_another_window_size_fails_with_the_windows_named(
        tmp_path, monkeypatch):
    """A file for window 7 into a window-12 config: mmpretrain resizes the
    position-bias tables while loading. When that fails (mmpretrain 1.2 calls
    scipy's interp2d, which scipy 1.14 removed) the error says which windows
    and what to do, not scipy's text alone."""
    import mmpretrain.models.backbones.swin_transformer as pretrain_swin

    def broken_resize(*args, **kwargs):
        raise NotImplementedError('interpolation is not available\nmore')

    monkeypatch.setattr(pretrain_swin, 'resize_relative_position_bias_table',
                        broken_resize)
    official = randomize(OfficialSwin(window=7, **SMALL_SWIN)).state_dict()
    torch.save({'model': official}, tmp_path / 'w7.pth')
    cfg = paper_config('swin-l_nyud.py', tmp_path / 'w7.pth',
                       small_swin=True)
    backbone = MODELS.build(cfg.model.backbone)
    with pytest.raises(BackboneWeightsError) as err:
        backbone.init_weights()
    message = str(err.value)
    assert str(tmp_path / 'w7.pth') in message
    assert ('its 8 relative-position-bias tables are for window 7, the '
            "backbone's for window 12") in message
    assert ('(NotImplementedError: interpolation is not available). Use a '
            'checkpoint made for window 12, or set '
            'model.backbone.window_size=7.') in message


def test_checkpoint_needing_unsafe_unpickling_is_refused(tmp_path):
    torch.save({'model': {'x': torch.ones(1)}, 'meta': Config()},
               tmp_path / 'unsafe.pth')
    with pytest.raises(BackboneWeightsError, match='safe loader'):
        init_small_swin_t(tmp_path / 'unsafe.pth')


def test_failed_download_says_what_to_fetch_and_how_to_point_at_it(
        tmp_path, monkeypatch, small_official):
    monkeypatch.setattr(torch.hub, '_hub_dir', str(tmp_path / 'hub'))
    url = 'http://127.0.0.1:9/swin_tiny_patch4_window7_224_22k.pth'
    with pytest.raises(BackboneWeightsError) as err:
        init_small_swin_t(url)
    message = str(err.value)
    cached = tmp_path / 'hub' / 'checkpoints' / osp.basename(url)
    assert f'wget {url}' in message
    assert f'--cfg-options {OVERRIDE}=PATH' in message
    assert str(cached) in message
    # the copy put where the message says is used, with no download
    cached.parent.mkdir(parents=True, exist_ok=True)
    torch.save({'model': small_official}, cached)
    backbone = init_small_swin_t(url)
    assert torch.equal(backbone.norm3.bias, small_official['norm.bias'])


def test_missing_local_file_says_how_to_point_at_one(tmp_path):
    with pytest.raises(BackboneWeightsError,
                       match=f'nowhere.pth does not exist.*{OVERRIDE}=PATH'):
        init_small_swin_t(tmp_path / 'nowhere.pth')


def test_allowed_lists_match_real_keys():
    """Each allow-rule names keys that exist: absent ones in the backbone,
    unused ones in a converted release or a classifier (no stale rules)."""
    cfg = paper_config('swin-t_nyud.py', 'unused', small_swin=True)
    swin = MODELS.build(cfg.model.backbone).state_dict()
    release = OfficialSwin(window=7, **SMALL_SWIN).state_dict()
    converted = reference_convert_swin()(release)
    for _, rule, why in ALLOWED_ABSENT:
        assert why and any(re.fullmatch(rule, k) for k in swin), rule
    file_keys = list(converted) + ['head.fc.weight', 'neck.0.weight']
    for _, rule, why in ALLOWED_UNUSED:
        assert why and any(re.fullmatch(rule, k) for k in file_keys), rule
        assert not any(re.fullmatch(rule, k) for k in swin), rule


# --------------------------------------------------------------------------
# the converter users run once
# --------------------------------------------------------------------------
def run_converter(src, dst, monkeypatch, capsys):
    """``tools/model_converters/backbone2mm.py SRC DST --config`` (the Swin-T
    config at the small test width), run as a script in this process;
    returns what it printed."""
    import runpy
    config = dst.parent / 'small_swin_t.py'
    config.write_text(
        f"_base_ = '{ROOT}/configs/mtlsi/swin-t_nyud.py'\n"
        "model = dict(backbone=dict(arch=dict(_delete_=True, "
        "embed_dims=32, depths=[2, 2, 2, 2], num_heads=[1, 2, 2, 4])))\n")
    script = osp.join(ROOT, 'tools', 'model_converters', 'backbone2mm.py')
    monkeypatch.setattr('sys.argv', [script, str(src), str(dst),
                                     '--config', str(config)])
    runpy.run_path(script, run_name='__main__')
    return capsys.readouterr().out


def test_converter_output_loads_as_the_release_does(tmp_path, monkeypatch,
                                                   capsys):
    official = randomize(OfficialSwin(window=7, **SMALL_SWIN)).state_dict()
    torch.save({'model': official}, tmp_path / 'release.pth')
    out = run_converter(tmp_path / 'release.pth', tmp_path / 'mm.pth',
                        monkeypatch, capsys)
    assert '(official Swin layout)' in out
    assert f'{OVERRIDE}={tmp_path / "mm.pth"}' in out
    converted = torch.load(tmp_path / 'mm.pth', weights_only=True)
    assert not any(k.startswith(('layers.', 'head.')) for k in converted)
    from_file = init_small_swin_t(tmp_path / 'mm.pth').state_dict()
    from_release = init_small_swin_t(tmp_path / 'release.pth').state_dict()
    assert from_file.keys() == from_release.keys()
    for key in from_file:
        if key not in SWIN_OUTPUT_NORMS:
            assert torch.equal(from_file[key], from_release[key]), key


def test_converter_names_the_source_and_writes_nothing_when_it_does_not_fit(
        tmp_path, small_official, monkeypatch, capsys):
    del small_official['layers.1.blocks.1.mlp.fc1.bias']
    torch.save({'model': small_official}, tmp_path / 'release.pth')
    with pytest.raises(BackboneWeightsError) as err:
        run_converter(tmp_path / 'release.pth', tmp_path / 'mm.pth',
                      monkeypatch, capsys)
    assert str(err.value).startswith(
        f'The backbone checkpoint {tmp_path / "release.pth"} (official Swin '
        'layout) does not fill SwinTransformer')
    assert 'stages.1.blocks.1.ffn.layers.0.0.bias' in str(err.value)
    assert not (tmp_path / 'mm.pth').exists()


def test_zero_init_residual_would_zero_loaded_weights_so_it_is_refused(
        tmp_path):
    # mmpretrain's ResNet zeroes each block's last norm after an init_cfg of
    # any type but 'Pretrained'
    cfg = dict(type='mmpretrain.ResNet', depth=18, base_channels=8,
               stem_channels=8)
    source = MODELS.build(cfg)
    randomize(source)
    torch.save({'state_dict': source.state_dict()}, tmp_path / 'r18.pth')
    init_cfg = dict(type='StrictPretrained',
                    checkpoint=str(tmp_path / 'r18.pth'))
    backbone = MODELS.build(dict(cfg, init_cfg=init_cfg))
    with pytest.raises(BackboneWeightsError,
                       match='zero_init_residual=False'):
        backbone.init_weights()
    backbone = MODELS.build(dict(cfg, init_cfg=init_cfg,
                                 zero_init_residual=False))
    backbone.init_weights()
    for key, value in source.state_dict().items():
        assert torch.equal(backbone.state_dict()[key], value), key
