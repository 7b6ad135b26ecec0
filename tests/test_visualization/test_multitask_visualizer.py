import os.path as osp

import cv2
import numpy as np
import torch
from mmengine.structures import PixelData
from mmseg.registry import VISUALIZERS
from mmseg.structures import SegDataSample

from mmtlsi.visualization import MultiTaskVisualizer

H, W = 24, 32
PALETTE = [[10, 20, 30], [200, 100, 50], [0, 255, 0]]


def make_sample(with_gt=True):
    torch.manual_seed(0)
    s = SegDataSample(metainfo=dict(ori_shape=(H, W), img_shape=(H, W)))
    seg = torch.zeros(1, H, W, dtype=torch.int64)
    seg[:, :, W // 2:] = 1
    seg[:, H // 2:, :4] = 2
    s.pred_sem_seg = PixelData(data=seg)
    s.pred_depth_map = PixelData(data=torch.rand(1, H, W) * 5 + 0.1)
    n = torch.randn(3, H, W)
    s.pred_normal_map = PixelData(data=n / n.norm(dim=0, keepdim=True))
    s.pred_sal_map = PixelData(data=torch.rand(1, H, W))
    if with_gt:
        gt = seg.clone()
        gt[:, 0, 0] = 255
        s.gt_sem_seg = PixelData(data=gt)
        s.gt_depth_map = PixelData(data=torch.rand(1, H, W) * 5)
        s.gt_normal_map = PixelData(data=n.clone())
        s.gt_sal_map = PixelData(data=(torch.rand(1, H, W) > .5).long())
    return s


def make_vis(**kwargs):
    vis = VISUALIZERS.build(dict(type='MultiTaskVisualizer',
                                 name=f'vis{np.random.randint(1 << 30)}',
                                 **kwargs))
    vis.dataset_meta = dict(classes=['a', 'b', 'c'], palette=PALETTE)
    return vis


def test_picture_size_and_palette(tmp_path):
    vis = make_vis()
    assert isinstance(vis, MultiTaskVisualizer)
    img = np.full((H, W, 3), 77, np.uint8)
    sample = make_sample(with_gt=True)
    out = str(tmp_path / 'pic.png')
    drawn = vis.add_datasample('s', img, sample, out_file=out)
    # the title strip, measured: the rows above the image's first row
    strip = int(np.nonzero((drawn[:, :W] == 77).all(axis=(1, 2)))[0][0])
    assert strip > 0 and strip == vis.title_height(W)
    # 4 tasks + image, 2 rows (pred, GT), each row a title strip + panel
    assert drawn.shape == ((H + strip) * 2, W * 5, 3)
    # the semseg prediction panel (column 1, row 0) in the palette colours
    seg = drawn[strip:strip + H, W:2 * W]
    assert seg[2, 2].tolist() == PALETTE[0]
    assert seg[2, W - 2].tolist() == PALETTE[1]
    assert seg[H - 1, 1].tolist() == PALETTE[2]
    # the GT row: same colours, ignore pixel black
    gt = drawn[2 * strip + H:, W:2 * W]
    assert gt[2, W - 2].tolist() == PALETTE[1]
    assert gt[0, 0].tolist() == [0, 0, 0]
    # the image column is the image
    assert (drawn[strip:strip + H, :W] == 77).all()
    # written and readable (BGR on disk)
    assert osp.isfile(out)
    back = cv2.imread(out)[..., ::-1]
    np.testing.assert_array_equal(back, drawn)


def test_without_gt_and_to_backend(tmp_path):
    vis = make_vis(vis_backends=[dict(type='LocalVisBackend')],
                   save_dir=str(tmp_path))
    img = np.zeros((H, W, 3), np.uint8)
    drawn = vis.add_datasample('noGT', img, make_sample(with_gt=False),
                               step=5)
    assert drawn.shape == (H + vis.title_height(W), 5 * W, 3)
    saved = tmp_path / 'vis_data' / 'vis_image' / 'noGT_5.png'
    np.testing.assert_array_equal(cv2.imread(str(saved))[..., ::-1], drawn)
    # draw_gt=False on a sample with GT gives one row too
    drawn = vis.add_datasample('x', img, make_sample(True), draw_gt=False,
                               with_labels=False, out_file=str(
                                   tmp_path / 'x.png'))
    assert drawn.shape == (H, 5 * W, 3)
    # no title strips: the first panel is the image itself
    assert (drawn[:, :W] == 0).all()
    np.testing.assert_array_equal(drawn[:, W:2 * W][2, 2], PALETTE[0])


def test_gt_only_task_and_resizing():
    vis = make_vis()
    img = np.zeros((H, W, 3), np.uint8)
    s = SegDataSample()
    s.pred_depth_map = PixelData(data=torch.full((1, H // 2, W // 2), 2.0))
    s.gt_parts_map = PixelData(data=torch.ones(1, H, W, dtype=torch.int64))
    drawn = vis.draw_multitask(img, s, with_labels=False)
    assert drawn.shape == (2 * H, 3 * W, 3)
    # human_parts has no prediction: an empty panel in the pred row
    assert (drawn[:H, 2 * W:] == 48).all()
    # parts GT drawn with the default (background-black) palette: label 1
    assert drawn[H + 3, 2 * W + 3].tolist() == [128, 0, 0]


def test_with_seg_visualization_hook(tmp_path):
    from types import SimpleNamespace

    from mmseg.registry import HOOKS
    vis = make_vis(vis_backends=[dict(type='LocalVisBackend')],
                   save_dir=str(tmp_path / 'show'))
    hook = HOOKS.build(dict(type='SegVisualizationHook', draw=True,
                            interval=1))
    assert hook._visualizer is vis
    img_path = str(tmp_path / 'frame.png')
    cv2.imwrite(img_path, np.zeros((H, W, 3), np.uint8))
    sample = make_sample(with_gt=True)
    sample.set_metainfo(dict(img_path=img_path))
    hook.after_test_iter(SimpleNamespace(iter=0), 0, {}, [sample])
    saved = tmp_path / 'show' / 'vis_data' / 'vis_image'
    saved = saved / 'test_frame.png_0.png'
    expected = vis.draw_multitask(np.zeros((H, W, 3), np.uint8), sample)
    assert expected.shape == (2 * (H + vis.title_height(W)), 5 * W, 3)
    np.testing.assert_array_equal(cv2.imread(str(saved))[..., ::-1],
                                  expected)


def test_tensorboard_backend(tmp_path):
    """The picture TensorBoard's own reader finds is the one drawn."""
    from tensorboard.backend.event_processing.event_accumulator import (
        EventAccumulator,
    )
    vis = make_vis(vis_backends=[dict(type='TensorboardVisBackend')],
                   save_dir=str(tmp_path))
    drawn = vis.add_datasample('tb', np.zeros((H, W, 3), np.uint8),
                               make_sample(False), step=1)
    vis.close()
    events = EventAccumulator(str(tmp_path / 'vis_data'),
                              size_guidance={'images': 0})
    events.Reload()
    assert events.Tags()['images'] == ['tb']
    (image, ) = events.Images('tb')
    assert image.step == 1
    assert (image.height, image.width) == drawn.shape[:2]
    png = cv2.imdecode(np.frombuffer(image.encoded_image_string, np.uint8),
                       cv2.IMREAD_COLOR)
    np.testing.assert_array_equal(png[..., ::-1], drawn)
