"""Dynamic ONNX export of a Swin-backbone model: one graph for every input
size (mmpretrain's shifted windows and mmcv's patch padding run traceable
forwards while exporting), eager PyTorch unchanged, the smallest input
recorded and enforced."""
import copy

import numpy as np
import pytest
import torch
from onnx_cases import needs_onnx, perturbed_model

CONFIG = 'configs/mtlsi/swin-t_nyud.py'
# the paper's Swin-T NYUDv2 config, narrow: Swin with two blocks per stage
# (the second shifted), window 7, the real head
TINY = {
    'model.backbone.arch': dict(embed_dims=24, depths=[2, 2, 2, 2],
                                num_heads=[1, 1, 2, 2], _delete_=True),
    'model.decode_head.in_channels': [24, 48, 96, 192],
    'model.decode_head.channels': 32,
    'model.decode_head.num_heads': 2,
    'model.decode_head.num_tokens': 16,
}
pytestmark = needs_onnx


def _tiny_swin(**overrides):
    return perturbed_model(CONFIG, dict(TINY, **overrides))


@pytest.fixture(scope='module')
def swin_export(tmp_path_factory):
    """The tiny Swin model and its dynamic export at 224 x 256."""
    from mmtlsi.apis.export import export_onnx
    model = _tiny_swin()
    onnx_file = tmp_path_factory.mktemp('swin') / 'swin.onnx'
    export_onnx(model, onnx_file, (224, 256), dynamic=True)
    return model, onnx_file


@needs_onnx
@pytest.mark.parametrize('shape', [
    (1, 224, 256),   # the export size; stage 4 is 7 x 8, padded to 14 wide
    (1, 224, 224),   # 56, 28, 14, 7: no padding, stage 4 unshifted (7 x 7)
    (2, 256, 288),   # 64x72 ... 8x9: padding at every stage, batch 2
    (1, 288, 224),   # taller than wide: stage 4 9 x 7, unshifted
])
def test_dynamic_swin_graph_matches_pytorch(swin_export, shape):
    from mmtlsi.apis.export import check_onnx
    model, onnx_file = swin_export
    rows = check_onnx(model, onnx_file, [shape])
    assert [r['task'] for r in rows] == list(model.task_specs)
    for row, spec in zip(rows, model.task_specs.values()):
        assert row['output_shape'] == (shape[0], spec.out_channels,
                                       *shape[1:])
        assert row['max_rel'] <= 1e-4, row
        assert row['max_abs'] > 0    # ORT computed it, not a copied map


@needs_onnx
def test_metadata_records_the_smallest_input(swin_export, tmp_path):
    """Without pad_small_map a Swin block refuses a map below its window:
    stage 4 (stride 32, window 7) needs 224 on each side; the exporter
    refuses an example below it and writes nothing."""
    from mmtlsi.apis.export import export_onnx, onnx_input_spec
    model, onnx_file = swin_export
    spec = onnx_input_spec(onnx_file)
    assert spec['dynamic_hw'] is True
    assert spec['multiple_of'] == 32
    assert spec['min_hw'] == [224, 224]
    with pytest.raises(ValueError, match=r'cannot export at 192 x 256: '
                       r'this model takes inputs of at least 224 x 224'):
        export_onnx(model, tmp_path / 'small.onnx', (192, 256),
                    dynamic=True)
    assert list(tmp_path.iterdir()) == []
    # PyTorch itself refuses that size, so no graph could match it
    with pytest.raises(AssertionError, match='smaller than the window'):
        with torch.no_grad():
            model._forward(torch.zeros(1, 3, 192, 256))


@needs_onnx
def test_runner_refuses_an_image_below_the_smallest_input(swin_export):
    from mmtlsi.apis import OnnxMultiTaskPredictor
    model, onnx_file = swin_export
    cfg = copy.deepcopy(model.cfg)
    cfg.model.data_preprocessor.test_cfg = dict(size_divisor=32)
    predictor = OnnxMultiTaskPredictor(onnx_file, config=cfg)
    assert predictor.min_hw == [224, 224]
    image = np.zeros((150, 230, 3), np.uint8)   # padded to 160 x 256
    with pytest.raises(ValueError, match=r'swin.onnx holds for inputs of '
                       r'at least 224 x 224; the preprocessed image is '
                       r'160 x 256'):
        predictor(image)
    sample = predictor(np.zeros((230, 250, 3), np.uint8))[0]  # 256 x 256
    assert sample.pred_sem_seg.data.shape == (1, 230, 250)


@needs_onnx
def test_without_the_traceable_forwards_the_graph_is_wrong(monkeypatch,
                                                           tmp_path):
    """The upstream forwards traced at 224 x 256 fix the example's sizes:
    batch 2 at that size already fails the check."""
    import contextlib

    from mmtlsi.apis import export
    model = _tiny_swin()
    monkeypatch.setattr(export, 'traceable_forwards',
                        lambda *a: contextlib.nullcontext(0))
    onnx_file = export.export_onnx(model, tmp_path / 'upstream.onnx',
                                   (224, 256), dynamic=True)
    assert export.check_onnx(model, onnx_file, [(1, 224, 256)])
    with pytest.raises(AssertionError, match=r'at \(2, 224, 256\)'):
        export.check_onnx(model, onnx_file, [(2, 224, 256)])


@needs_onnx
def test_pad_small_map_graph_has_no_smallest_input(tmp_path):
    """With pad_small_map a map below the window is padded to one: the
    graph holds down to one 32 x 32 patch and records no minimum."""
    from mmtlsi.apis.export import check_onnx, export_onnx, onnx_input_spec
    model = _tiny_swin(**{'model.backbone.pad_small_map': True})
    onnx_file = export_onnx(model, tmp_path / 'small.onnx', (64, 96),
                            dynamic=True)
    assert onnx_input_spec(onnx_file)['min_hw'] is None
    rows = check_onnx(model, onnx_file, [(1, 64, 96), (2, 32, 32),
                                         (1, 96, 160)])
    assert max(r['max_rel'] for r in rows) <= 1e-4


def test_eager_outputs_unchanged_by_the_patch():
    """The traceable forwards give bit-identical eager outputs, and leave
    no trace on the modules once removed (also after an error)."""
    from mmcv.cnn.bricks.transformer import AdaptivePadding
    from mmpretrain.models.utils.attention import ShiftWindowMSA

    from mmtlsi.apis.export import TaskOutputs
    from mmtlsi.models.traceable import traceable_forwards
    model = TaskOutputs(_tiny_swin())
    targets = [m for m in model.modules()
               if isinstance(m, (ShiftWindowMSA, AdaptivePadding))]
    assert len(targets) == 12   # 8 blocks, patch embedding, 3 mergings
    x = torch.randn(2, 3, 224, 288, generator=torch.Generator()
                    .manual_seed(4))
    with torch.no_grad():
        before = model(x)
        with traceable_forwards(model) as patched:
            assert patched == 12
            assert all('forward' in m.__dict__ for m in targets)
            during = model(x)
        after = model(x)
        with pytest.raises(RuntimeError, match='boom'):
            with traceable_forwards(model):
                raise RuntimeError('boom')
    assert not any('forward' in m.__dict__ for m in targets)
    for b, d, a in zip(before, during, after):
        assert torch.equal(b, d) and torch.equal(b, a)
        assert b.abs().max() > 1e-2


@pytest.mark.parametrize('hw,window,shift', [
    ((14, 21), 7, 3), ((7, 7), 7, 3), ((21, 14), 7, 2), ((12, 16), 4, 2)])
def test_shifted_window_mask_equals_upstream(hw, window, shift):
    from mmpretrain.models.utils.attention import ShiftWindowMSA

    from mmtlsi.models.traceable import shifted_window_mask
    ref = ShiftWindowMSA.get_attn_mask(hw, window, shift)
    got = shifted_window_mask(hw, window, shift)
    assert got.shape == ref.shape == (hw[0] * hw[1] // window**2,
                                      window**2, window**2)
    assert torch.equal(got, ref)
    assert (got == -100).any()
    # shift 0 (a block whose shift upstream drops): no position masked
    assert torch.equal(shifted_window_mask(hw, window, 0),
                       torch.zeros_like(ref))


@pytest.mark.parametrize('padding', ['corner', 'same'])
@pytest.mark.parametrize('size,padded', [
    ((7, 9), (9, 11)), ((8, 8), (9, 9)), ((5, 12), (7, 13))])
def test_adaptive_padding_equals_upstream(padding, size, padded):
    from mmcv.cnn.bricks.transformer import AdaptivePadding

    from mmtlsi.models.traceable import adaptive_padding_forward
    pad = AdaptivePadding(kernel_size=3, stride=2, padding=padding)
    x = torch.randn(1, 2, *size)
    ref = pad(x)
    got = adaptive_padding_forward(pad, x)
    # kernel 3, stride 2: 7 -> 4 outputs, which read (4 - 1) * 2 + 3 = 9
    assert got.shape == ref.shape == (1, 2, *padded)
    assert torch.equal(got, ref)


def test_min_input_size_from_the_recorded_blocks():
    from mmtlsi.models.traceable import min_input_size
    record = [dict(hw=(56, 72), window=7, pad_small_map=False),
              dict(hw=(7, 9), window=7, pad_small_map=False),
              dict(hw=(4, 5), window=12, pad_small_map=True)]
    # stride 32 at stage 4: 7 windows of 32 on each side
    assert min_input_size(record, (224, 288)) == (224, 224)
    assert min_input_size(record[:1], (224, 288)) == (28, 28)
    assert min_input_size(record[2:], (128, 160)) is None
