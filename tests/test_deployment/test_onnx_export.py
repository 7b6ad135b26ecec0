"""ONNX export of the demo model: ONNX Runtime against PyTorch at two input
sizes, output names and shapes from the task specs, strict checkpoint
loading, and the ONNX runner against inference_model on an image file."""
import copy

import numpy as np
import pytest
import torch
from onnx_cases import DEMO, needs_onnx, perturbed_model

CONFIG = DEMO
pytestmark = needs_onnx


def _relative_error(out, ref):
    return float(np.abs(out - ref).max() / np.abs(ref).max())


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    """The demo model with seeded random weights (BN statistics moved off
    their defaults, depth's bias raised), its checkpoint, and its dynamic
    ONNX export written by the command-line tool, check step included."""
    from mmtlsi.tools.pytorch2onnx import main
    tmp = tmp_path_factory.mktemp('onnx')
    model = perturbed_model()
    ckpt = tmp / 'demo.pth'
    torch.save(dict(state_dict=model.state_dict(),
                    meta=dict(dataset_meta=dict(classes=list('abcdefg')))),
               ckpt)
    onnx_file = tmp / 'demo.onnx'
    main([CONFIG, str(ckpt), '--out', str(onnx_file), '--dynamic'])
    return model, ckpt, onnx_file


def test_outputs_named_and_shaped_by_task_specs(exported):
    from mmtlsi.apis.export import ort_session
    model, _, onnx_file = exported
    session = ort_session(onnx_file)
    specs = model.task_specs
    assert [o.name for o in session.get_outputs()] == \
        ['semseg', 'depth', 'normals', 'edge'] == list(specs)
    assert [o.shape[1] for o in session.get_outputs()] == [7, 1, 3, 1]
    meta = session.get_modelmeta().custom_metadata_map
    assert '"output": "vector"' in meta['mmtlsi_tasks']


@pytest.mark.parametrize('shape', [(1, 64, 96), (2, 96, 128)])
def test_onnxruntime_matches_pytorch_at_two_sizes(exported, shape):
    """Dynamic N, H, W: the second size needs CWIB's window padding (96/4 =
    24 rows, 128/4 = 32 columns, windows of 4 x 6), the first does not."""
    from mmtlsi.apis.export import TaskOutputs, ort_session
    model, _, onnx_file = exported
    x = torch.randn(*shape[:1], 3, *shape[1:],
                    generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        ref = TaskOutputs(model)(x)
    out = ort_session(onnx_file).run(None, {'inputs': x.numpy()})
    for spec, r, o in zip(model.task_specs.values(), ref, out):
        assert o.shape == (shape[0], spec.out_channels) + shape[1:]
        assert _relative_error(o, r.numpy()) < 1e-4, spec.name
        assert np.abs(r.numpy()).max() > 1e-2   # not a trivial map


def test_check_step_catches_a_different_model(exported):
    from mmtlsi.apis.export import check_onnx
    model, _, onnx_file = exported
    other = copy.deepcopy(model)
    with torch.no_grad():
        other.decode_head.output['depth'].predictor.bias.add_(0.5)
    with pytest.raises(AssertionError, match=r'depth at \(1, 64, 96\)'):
        check_onnx(other, onnx_file, [(1, 64, 96)])


def test_strict_load_names_file_and_keys(exported, tmp_path):
    from mmtlsi.apis.checkpoint import CheckpointMismatchError
    from mmtlsi.apis.export import build_export_model
    model, _, _ = exported
    state = dict(model.state_dict())
    state.pop('decode_head.fusion.q.weight')
    state['decode_head.extra.weight'] = torch.zeros(1)
    state['decode_head.fusion.kv.bias'] = torch.zeros(3)
    bad = tmp_path / 'bad.pth'
    torch.save(dict(state_dict=state), bad)
    with pytest.raises(CheckpointMismatchError) as err:
        build_export_model(CONFIG, str(bad))
    text = str(err.value)
    assert str(bad) in text
    assert ('1 key(s) of the model missing from the file: '
            'decode_head.fusion.q.weight') in text
    assert ('1 key(s) in the file that the model does not have: '
            'decode_head.extra.weight') in text
    assert 'decode_head.fusion.kv.bias: [3] vs [96]' in text
    with pytest.raises(FileNotFoundError, match='nothere.pth'):
        build_export_model(CONFIG, str(tmp_path / 'nothere.pth'))


def test_onnx_runner_matches_inference_model(exported, tmp_path):
    """An image of 70 x 100 is padded to 96 x 128 (size_divisor 32), run,
    cropped back: the maps equal inference_model's on the same weights."""
    import mmcv

    from mmtlsi.apis import (
        OnnxMultiTaskPredictor,
        inference_model,
        inference_onnx,
        init_model,
    )
    from mmtlsi.apis.onnx_inference import compare_predictions
    model, ckpt, onnx_file = exported
    img = np.random.default_rng(3).integers(0, 256, (70, 100, 3), np.uint8)
    path = str(tmp_path / 'room.png')
    mmcv.imwrite(img, path)
    eager = init_model(CONFIG, str(ckpt))
    ref = inference_model(eager, path)[0]
    predictor = OnnxMultiTaskPredictor(onnx_file)
    assert predictor.dataset_meta['classes'] == list('abcdefg')
    got = inference_onnx(predictor, path)[0]
    for spec in model.task_specs.values():
        r = ref.get(spec.pred_field).data
        g = got.get(spec.pred_field).data
        assert g.shape == r.shape == (r.shape[0], 70, 100)
        assert g.dtype == r.dtype
        if spec.output == 'classes':
            assert (g == r).float().mean() > 0.999
            assert len(torch.unique(r)) > 1
        else:
            assert torch.allclose(g, r, atol=1e-4, rtol=0), spec.name
            assert r.std() > 1e-3, spec.name    # not a constant map
    rows = compare_predictions(eager, predictor, [path, img])
    assert rows['semseg']['agreement'] > 0.999
    assert 0 < rows['depth']['max_abs'] < 1e-4
    normals = got.get('pred_normal_map').data
    assert torch.allclose(normals.norm(dim=0), torch.ones(70, 100),
                          atol=1e-5)


def test_runner_refuses_a_size_the_file_was_not_exported_for(exported,
                                                             tmp_path):
    """A file whose input is fixed at 64 x 96 (the dynamic file with its
    input dims set) and an image the preprocessor pads to 96 x 128."""
    import onnx

    from mmtlsi.apis import OnnxMultiTaskPredictor
    _, _, onnx_file = exported
    proto = onnx.load(str(onnx_file))
    for dim, size in zip(proto.graph.input[0].type.tensor_type.shape.dim,
                         (1, 3, 64, 96)):
        dim.Clear()
        dim.dim_value = size
    static = tmp_path / 'static.onnx'
    onnx.save(proto, str(static))
    predictor = OnnxMultiTaskPredictor(static)
    with pytest.raises(ValueError, match=r'static.onnx was exported for '
                       r'inputs \[1, 3, 64, 96\]; the preprocessed image '
                       r'is \(1, 3, 96, 128\)'):
        predictor(np.zeros((70, 100, 3), np.uint8))
