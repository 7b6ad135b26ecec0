import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmtlsi.evaluation.constant_baseline import ConstantPredictor
from mmtlsi.tasks import build_task_specs


def _sample(sem, depth, normals, edge):
    s = SegDataSample(metainfo=dict(ori_shape=sem.shape))
    s.gt_sem_seg = PixelData(data=torch.tensor(sem)[None].long())
    s.gt_depth_map = PixelData(data=torch.tensor(depth)[None].float())
    s.gt_normal_map = PixelData(data=torch.tensor(normals).float())
    s.gt_edge_map = PixelData(data=torch.tensor(edge)[None].long())
    return s


def test_constants_are_the_hand_computed_statistics():
    specs = build_task_specs(['semseg', 'depth', 'normals', 'edge'],
                             dict(semseg=dict(num_classes=3)))
    a = _sample(np.array([[0, 2], [2, 255]]), np.array([[1., 0.], [3., 2.]]),
                np.stack([np.zeros((2, 2)), np.zeros((2, 2)),
                          np.ones((2, 2))]),
                np.array([[0, 1], [255, 0]]))
    b = _sample(np.array([[1, 1], [2, 0]]), np.array([[4., 0.], [0., 0.]]),
                np.stack([np.ones((2, 2)), np.zeros((2, 2)),
                          np.zeros((2, 2))]),
                np.array([[1, 1], [0, 0]]))
    pred = ConstantPredictor(specs).fit([a, b])
    # class 2 appears 3 times (255 ignored), class 0 twice, class 1 twice
    assert int(pred.values['semseg']) == 2
    # valid depths 1, 3, 2, 4 -> mean 2.5 (zeros are invalid)
    assert float(pred.values['depth']) == pytest.approx(2.5)
    # 4 pixels (0,0,1) + 4 pixels (1,0,0) -> direction (1,0,1)/sqrt(2)
    np.testing.assert_allclose(pred.values['normals'],
                               [2 ** -0.5, 0, 2 ** -0.5], rtol=1e-6)
    # edge positives 3 of 7 valid pixels
    assert float(pred.values['edge']) == pytest.approx(3 / 7)

    out = pred.predict(SegDataSample(metainfo=dict(ori_shape=(3, 5))))
    assert out.pred_sem_seg.data.shape == (1, 3, 5)
    assert out.pred_sem_seg.data.dtype == torch.int64
    assert (out.pred_sem_seg.data == 2).all()
    assert out.pred_normal_map.data.shape == (3, 3, 5)
    assert torch.allclose(out.pred_edge_map.data, torch.tensor(3 / 7))


def test_missing_task_is_an_error():
    specs = build_task_specs(['semseg', 'sal'])
    s = SegDataSample(metainfo=dict(ori_shape=(1, 1)))
    s.gt_sem_seg = PixelData(data=torch.zeros(1, 1, 1).long())
    with pytest.raises(ValueError, match='sal'):
        ConstantPredictor(specs).fit([s])
