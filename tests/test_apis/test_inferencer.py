"""MTLSIInferencer against init_model + inference_model, on files, a folder
and arrays, with the pictures and the raw predictions it writes."""
import os
import os.path as osp

import mmcv
import numpy as np
import pytest
import torch
from mmengine.infer.infer import BaseInferencer

from mmtlsi.apis import (
    MTLSIInferencer,
    build_model,
    inference_model,
    init_model,
)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO_CFG = osp.join(ROOT, 'configs', 'demo', 'mtlsi_tiny_synthetic-nyud.py')
TASKS = ('semseg', 'depth', 'normals', 'edge')


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp('infer')
    torch.manual_seed(0)
    model = build_model(DEMO_CFG)
    ckpt = str(root / 'w.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    images = root / 'images'
    images.mkdir()
    rng = np.random.default_rng(0)
    for i, (h, w) in enumerate([(48, 64), (40, 56)]):
        mmcv.imwrite(rng.integers(0, 255, (h, w, 3), dtype=np.uint8),
                     str(images / f'im{i}.png'))
    (images / 'notes.txt').write_text('not an image')   # left out
    files = [str(images / 'im0.png'), str(images / 'im1.png')]
    # one image at a time, as the inferencer's default batch_size=1 runs
    model = init_model(DEMO_CFG, ckpt)
    reference = [inference_model(model, f)[0] for f in files]
    inferencer = MTLSIInferencer(DEMO_CFG, ckpt, device='cpu',
                                 show_progress=False)
    return root, files, reference, inferencer


def _expected(sample):
    return dict(
        semseg=sample.pred_sem_seg.data[0].numpy(),
        depth=sample.pred_depth_map.data[0].numpy(),
        normals=sample.pred_normal_map.data.permute(1, 2, 0).numpy(),
        edge=sample.pred_edge_map.data[0].numpy())


def test_folder_maps_equal_inference_model(setup):
    root, files, reference, inferencer = setup
    assert isinstance(inferencer, BaseInferencer)
    out = str(root / 'out')
    result = inferencer(str(root / 'images'), out_dir=out)
    preds = result['predictions']
    assert len(preds) == 2
    for pred, sample, (h, w) in zip(preds, reference, [(48, 64), (40, 56)]):
        assert set(pred) == set(TASKS)
        for task, expected in _expected(sample).items():
            assert pred[task].shape == expected.shape
            np.testing.assert_array_equal(pred[task], expected)
        assert pred['semseg'].shape == (h, w)
        assert pred['normals'].shape == (h, w, 3)
    # raw predictions: class maps as PNG, float maps as NPY, read back equal
    pred_dir = osp.join(out, 'pred')
    assert sorted(os.listdir(pred_dir)) == sorted(
        f'im{i}_{t}.{"png" if t == "semseg" else "npy"}'
        for i in range(2) for t in TASKS)
    np.testing.assert_array_equal(
        mmcv.imread(osp.join(pred_dir, 'im1_semseg.png'), flag='unchanged'),
        preds[1]['semseg'])
    np.testing.assert_array_equal(
        np.load(osp.join(pred_dir, 'im0_normals.npy')), preds[0]['normals'])
    # one picture per image, larger than the image (a grid of the tasks)
    pic = mmcv.imread(osp.join(out, 'vis', 'im0.png'))
    assert pic.shape[0] >= 48 and pic.shape[1] > 64


def test_arrays_and_single_input(setup):
    root, files, reference, inferencer = setup
    arrays = [mmcv.imread(f) for f in files]            # BGR, as mmcv reads
    result = inferencer(arrays, return_vis=True)
    assert len(result['visualization']) == 2
    assert result['visualization'][0].dtype == np.uint8
    for pred, sample in zip(result['predictions'], reference):
        for task, expected in _expected(sample).items():
            np.testing.assert_array_equal(pred[task], expected)
    # a batch of two (padded together): the same maps up to float rounding
    batched = inferencer(arrays, batch_size=2)['predictions']
    for pred, sample in zip(batched, reference):
        np.testing.assert_allclose(pred['depth'], _expected(sample)['depth'],
                                   rtol=1e-4, atol=1e-5)
    single = inferencer(files[1])['predictions']        # one input: a dict
    np.testing.assert_array_equal(single['depth'],
                                  _expected(reference[1])['depth'])
    assert single['depth'].dtype == np.float32
    samples = inferencer(files[:1], return_datasamples=True)['predictions']
    assert torch.equal(samples.pred_sem_seg.data,
                       reference[0].pred_sem_seg.data)


def test_model_index_name_and_unknown_name():
    from mmtlsi.apis.mtlsi_inferencer import model_index_entry
    assert model_index_entry('mtlsi_swin-t_nyud').endswith(
        osp.join('configs', 'mtlsi', 'swin-t_nyud.py'))
    assert osp.isfile(model_index_entry('mtlsi_swin-t_nyud'))
    with pytest.raises(ValueError, match='model index'):
        model_index_entry('no_such_model')
