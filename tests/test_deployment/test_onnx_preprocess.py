"""ONNX export with the data preprocessor inside (``--with-preprocess``):
the graph takes the image as loaded (uint8 or float32, BGR) and returns the
maps at the image's size; compared with the PyTorch predict path."""
import contextlib
import io

import numpy as np
import pytest
import torch
from onnx_cases import DEMO, needs_onnx, perturbed_model

CONFIG = DEMO
pytestmark = needs_onnx


def _images(shape, seed):
    """(N, 3, H, W) uint8 images in the loader's (BGR) order."""
    rng = np.random.default_rng(seed)
    return torch.from_numpy(rng.integers(0, 256, shape, np.uint8))


def _eager_maps(model, images):
    """The model's own test path: data preprocessor, tensor mode, padding
    removed (restore_original_frame; no resize, no flip)."""
    from mmtlsi.models.segmentors.multi_task_encoder_decoder import (
        restore_original_frame,
    )
    with torch.no_grad():
        data = model.data_preprocessor(dict(inputs=list(images)), False)
        maps = model._forward(data['inputs'])
    return [torch.stack([restore_original_frame(maps[t][i], s.metainfo,
                                                spec)
                         for i, s in enumerate(data['data_samples'])])
            for t, spec in model.task_specs.items()]


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    """The demo model, its checkpoint, and a dynamic uint8-image export at
    70 x 100 by the command-line tool (check step included)."""
    from mmtlsi.tools.pytorch2onnx import main
    tmp = tmp_path_factory.mktemp('onnx_pre')
    model = perturbed_model()
    ckpt = tmp / 'demo.pth'
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    onnx_file = tmp / 'demo_pre.onnx'
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        main([CONFIG, str(ckpt), '--out', str(onnx_file), '--dynamic',
              '--with-preprocess', '--shape', '70', '100',
              '--check-shape', '1', '33', '47'])
    return model, ckpt, onnx_file, printed.getvalue()


def test_tool_reports_the_input_and_every_check(exported):
    printed = exported[3]
    assert 'input image (uint8, as loaded) (N, 3, 70, 100)' in printed
    assert ("dynamic H, W: any image, padded in the graph as "
            "{'size_divisor': 32}\n") in printed
    for shape in ('(1, 70, 100)', '(2, 102, 164)', '(1, 33, 47)'):
        assert f'semseg       input {shape}' in printed


@pytest.mark.parametrize('shape', [(1, 3, 70, 100), (2, 3, 45, 130)])
def test_graph_equals_preprocessor_and_model(exported, shape):
    """70 x 100 is padded to 96 x 128 inside the graph, 45 x 130 to
    64 x 160 (size_divisor 32); the maps come back at the image's size."""
    from mmtlsi.apis.export import onnx_input_spec, ort_session
    model, _, onnx_file, _ = exported
    spec = onnx_input_spec(onnx_file)
    assert spec['preprocess'] is True and spec['dtype'] == 'uint8'
    assert spec['pads_to'] == dict(size_divisor=32)
    session = ort_session(onnx_file)
    assert session.get_inputs()[0].type == 'tensor(uint8)'
    images = _images(shape, seed=shape[2])
    out = session.run(None, {'image': images.numpy()})
    ref = _eager_maps(model, images)
    for task_spec, o, r in zip(model.task_specs.values(), out, ref):
        assert o.shape == (shape[0], task_spec.out_channels) + shape[2:]
        r = r.numpy()
        assert np.abs(o - r).max() <= 1e-4 * np.abs(r).max()
        assert np.abs(r).max() > 1e-2


def test_runner_matches_inference_model(exported, tmp_path):
    """inference_onnx on the preprocessing graph against inference_model
    (the predict path) on an image file and an array."""
    import mmcv

    from mmtlsi.apis import OnnxMultiTaskPredictor, init_model
    from mmtlsi.apis.onnx_inference import compare_predictions
    _, ckpt, onnx_file, _ = exported
    img = np.random.default_rng(3).integers(0, 256, (70, 100, 3), np.uint8)
    path = str(tmp_path / 'room.png')
    mmcv.imwrite(img, path)
    predictor = OnnxMultiTaskPredictor(onnx_file)
    assert predictor.preprocess
    rows = compare_predictions(init_model(CONFIG, str(ckpt)), predictor,
                               [path, img[:50, :90].copy()])
    assert rows['semseg']['agreement'] > 0.999
    for task in ('depth', 'normals', 'edge'):
        assert rows[task]['max_abs'] < 1e-4, task


def test_float_image_and_fixed_test_size(tmp_path):
    """A float32-image graph of a config whose test preprocessor pads to a
    fixed 96 x 128: images of 70 x 100 and 96 x 128 (no padding) give the
    model's maps; the uint8 and float inputs are the same pixels."""
    from mmtlsi.apis.export import (
        check_onnx,
        export_onnx,
        onnx_input_spec,
        ort_session,
    )
    model = perturbed_model(cfg_options={
        'model.data_preprocessor.test_cfg': dict(size=(96, 128),
                                                 _delete_=True)})
    onnx_file = export_onnx(model, tmp_path / 'fixed.onnx', (70, 100),
                            dynamic=True, with_preprocess='float32')
    spec = onnx_input_spec(onnx_file)
    assert spec['dtype'] == 'float32'
    assert spec['pads_to'] == dict(size=[96, 128])
    session = ort_session(onnx_file)
    for shape in [(1, 3, 70, 100), (1, 3, 96, 128)]:
        images = _images(shape, seed=5)
        out = session.run(None, {'image': images.float().numpy()})
        for o, r in zip(out, _eager_maps(model, images)):
            assert o.shape == r.shape
            assert np.abs(o - r.numpy()).max() <= \
                1e-4 * r.abs().max().item()
    rows = check_onnx(model, onnx_file, [(2, 64, 80)])
    assert max(r['max_rel'] for r in rows) <= 1e-4
    with pytest.raises(ValueError, match='with_preprocess'):
        export_onnx(model, tmp_path / 'x.onnx', (70, 100),
                    with_preprocess='int16')
