import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmtlsi.datasets.transforms import (
    MultiTaskRandomCrop,
    MultiTaskRandomFlip,
    RandomScale,
)
from mmtlsi.models.data_preprocessor import MultiTaskDataPreProcessor
from mmtlsi.models.segmentors import restore_original_frame
from mmtlsi.tasks import get_task_spec

H, W = 24, 32


def coordinate_sample():
    """Every task encodes the pixel's source coordinates."""
    y, x = np.mgrid[0:H, 0:W]
    img = np.stack([x, y, np.zeros_like(x)], -1).astype(np.uint8)
    return dict(
        img=img, img_shape=(H, W), ori_shape=(H, W),
        gt_seg_map=x.astype(np.uint8),
        gt_parts_map=y.astype(np.uint8),
        gt_edge_map=((x + y) % 2).astype(np.uint8),
        gt_depth_map=(1.0 + x + 100.0 * y).astype(np.float32),
        gt_normal_map=np.stack([0.01 * x + 0.005, 0.01 * y,
                                np.ones_like(x, float)], -1).astype(
                                    np.float32),
        seg_fields=['gt_seg_map', 'gt_parts_map', 'gt_edge_map',
                    'gt_depth_map', 'gt_normal_map'])


def check_aligned(r, scale, flipped):
    x0 = r['gt_seg_map'].astype(np.float64)
    y0 = r['gt_parts_map'].astype(np.float64)
    assert r['img'].shape[:2] == x0.shape
    np.testing.assert_array_equal(r['img'][..., 0], x0)
    np.testing.assert_array_equal(r['img'][..., 1], y0)
    np.testing.assert_array_equal(r['gt_edge_map'], (x0 + y0) % 2)
    np.testing.assert_allclose(r['gt_depth_map'] * scale,
                               1.0 + x0 + 100.0 * y0, rtol=1e-5)
    sign = -1 if flipped else 1
    np.testing.assert_allclose(r['gt_normal_map'][..., 0],
                               sign * (0.01 * x0 + 0.005), atol=1e-6)
    np.testing.assert_allclose(r['gt_normal_map'][..., 1], 0.01 * y0,
                               atol=1e-6)
    # flipping: x decreases along columns
    dx = np.diff(x0, axis=1)
    assert (dx <= 0).all() if flipped else (dx >= 0).all()


@pytest.mark.parametrize('scale', [0.5, 1.5, 2.0])
def test_scale_crop_flip_keep_tasks_aligned(scale):
    np.random.seed(0)
    r = coordinate_sample()
    r = RandomScale(ratio_range=(scale, scale),
                    interpolation='nearest').transform(r)
    assert r['img'].shape[:2] == (round(H * scale), round(W * scale))
    r = MultiTaskRandomCrop(crop_size=(10, 14),
                            cat_max_ratio=0.75).transform(r)
    assert r['img'].shape[:2] == (min(10, round(H * scale)),
                                  min(14, round(W * scale)))
    r = MultiTaskRandomFlip(prob=1.0, direction='horizontal').transform(r)
    assert r['flip'] and r['flip_direction'] == 'horizontal'
    check_aligned(r, scale, flipped=True)


def test_depth_divided_by_scale():
    r = RandomScale(ratio_range=(2.0, 2.0)).transform(coordinate_sample())
    # nearest: output pixel (2i, 2j) comes from (i, j)
    np.testing.assert_allclose(r['gt_depth_map'][::2, ::2],
                               coordinate_sample()['gt_depth_map'] / 2)
    r = RandomScale(ratio_range=(0.5, 2.0), step=0.25)
    assert {r._random_ratio() for _ in range(200)} <= \
        {0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0}


def test_horizontal_flip_twice_is_identity():
    r0 = coordinate_sample()
    flip = MultiTaskRandomFlip(prob=1.0, direction='horizontal')
    r1 = flip.transform(coordinate_sample())
    np.testing.assert_array_equal(r1['gt_normal_map'][..., 0],
                                  -r0['gt_normal_map'][:, ::-1, 0])
    np.testing.assert_array_equal(r1['gt_normal_map'][..., 1:],
                                  r0['gt_normal_map'][:, ::-1, 1:])
    check_aligned(r1, 1.0, flipped=True)
    r2 = flip.transform(r1)
    for key in r0['seg_fields'] + ['img']:
        np.testing.assert_array_equal(r2[key], r0[key])


def test_crop_without_semseg():
    r = coordinate_sample()
    r.pop('gt_seg_map')
    r['seg_fields'].remove('gt_seg_map')
    r = MultiTaskRandomCrop(crop_size=(8, 8), cat_max_ratio=0.75).transform(r)
    # the window the image shows, in every map
    x0, y0 = int(r['img'][0, 0, 0]), int(r['img'][0, 0, 1])
    full = coordinate_sample()
    for key in ('img', 'gt_parts_map', 'gt_depth_map', 'gt_normal_map'):
        np.testing.assert_array_equal(r[key],
                                      full[key][y0:y0 + 8, x0:x0 + 8])


_FLIPS = dict(horizontal=lambda a: a[:, ::-1], vertical=lambda a: a[::-1],
              diagonal=lambda a: a[::-1, ::-1])


@pytest.mark.parametrize('direction,negated', [
    ('horizontal', (0, )), ('vertical', (1, )), ('diagonal', (0, 1))])
def test_flip_negates_the_components_of_the_flipped_axes(direction,
                                                         negated):
    r0 = coordinate_sample()
    r = MultiTaskRandomFlip(prob=1.0, direction=direction).transform(
        coordinate_sample())
    flip = _FLIPS[direction]
    expected = flip(r0['gt_normal_map']).copy()
    expected[..., list(negated)] *= -1
    np.testing.assert_array_equal(r['gt_normal_map'], expected)
    assert not np.signbit(r['gt_normal_map'][r['gt_normal_map'] == 0]).any()
    # scalar maps move, their values do not change
    np.testing.assert_array_equal(r['gt_depth_map'],
                                  flip(r0['gt_depth_map']))


@pytest.mark.parametrize('direction', ['horizontal', 'vertical', 'diagonal'])
def test_segmentor_undoes_the_flip_of_the_transform(direction):
    """A map flipped by the pipeline and restored by the segmentor is the
    original map, signs of the normals' components included."""
    r0 = coordinate_sample()
    r = MultiTaskRandomFlip(prob=1.0, direction=direction).transform(
        coordinate_sample())
    meta = dict(flip=True, flip_direction=direction, ori_shape=(H, W))
    for key, task in (('gt_normal_map', 'normals'),
                      ('gt_depth_map', 'depth')):
        chw = torch.from_numpy(np.atleast_3d(r[key]).transpose(2, 0, 1)
                               .copy())
        back = restore_original_frame(chw, meta, get_task_spec(task))
        np.testing.assert_array_equal(
            back.numpy(), np.atleast_3d(r0[key]).transpose(2, 0, 1))


def _sample(h, w):
    s = SegDataSample()
    s.gt_sem_seg = PixelData(data=torch.zeros(1, h, w, dtype=torch.int64))
    s.gt_edge_map = PixelData(data=torch.ones(1, h, w, dtype=torch.int64))
    s.gt_depth_map = PixelData(data=torch.full((1, h, w), 3.0))
    s.gt_normal_map = PixelData(data=torch.ones(3, h, w))
    s.gt_sal_map = PixelData(data=torch.ones(1, h, w, dtype=torch.int64))
    return s


def test_preprocessor_pads_each_field_with_its_value():
    pre = MultiTaskDataPreProcessor(mean=[0, 0, 0], std=[1, 1, 1],
                                    bgr_to_rgb=True, size=(8, 10),
                                    test_cfg=dict(size_divisor=4))
    inputs = [torch.full((3, 6, 7), 5, dtype=torch.uint8),
              torch.full((3, 8, 10), 5, dtype=torch.uint8)]
    out = pre(dict(inputs=inputs, data_samples=[_sample(6, 7),
                                                _sample(8, 10)]),
              training=True)
    assert out['inputs'].shape == (2, 3, 8, 10)
    assert (out['inputs'][0, :, 6:] == 0).all()
    s = out['data_samples'][0]
    assert s.metainfo['padding_size'] == (0, 3, 0, 2)
    assert s.metainfo['img_shape'] == (6, 7)
    assert s.metainfo['pad_shape'] == (8, 10)
    assert s.gt_sem_seg.data.dtype == torch.int64
    assert s.gt_depth_map.data.dtype == torch.float32
    assert (s.gt_sem_seg.data[:, 6:] == 255).all()
    assert (s.gt_sem_seg.data[:, :6, :7] == 0).all()
    assert (s.gt_edge_map.data[:, :, 7:] == 255).all()
    assert (s.gt_sal_map.data[:, 6:] == 255).all()
    assert (s.gt_depth_map.data[:, 6:] == 0).all()
    assert (s.gt_depth_map.data[:, :6, :7] == 3).all()
    assert s.gt_normal_map.data.shape == (3, 8, 10)
    assert (s.gt_normal_map.data[:, :, 7:] == 0).all()
    assert out['data_samples'][1].metainfo['padding_size'] == (0, 0, 0, 0)
    # testing: images padded (size_divisor 4), ground truth untouched
    out = pre(dict(inputs=[torch.zeros(3, 6, 7, dtype=torch.uint8)],
                   data_samples=[_sample(6, 7)]), training=False)
    assert out['inputs'].shape == (1, 3, 8, 8)
    s = out['data_samples'][0]
    assert s.metainfo['img_padding_size'] == (0, 1, 0, 2)
    assert s.gt_sem_seg.data.shape == (1, 6, 7)
    # mmseg's one pad value for labels is no option here
    with pytest.raises(TypeError, match='seg_pad_val is not read'):
        MultiTaskDataPreProcessor(seg_pad_val=0)


def test_a_padded_test_batch_without_samples_is_predicted_at_image_size():
    """``model.test_step(dict(inputs=...))``, no data samples, images of two
    sizes padded to a multiple of 32: each prediction comes back at its
    image's size and equals the one made with samples that carry only the
    image's size."""
    from mmtlsi.apis.builder import build_model
    torch.manual_seed(0)
    model = build_model('configs/demo/mtlsi_tiny_synthetic-nyud.py')
    images = [torch.randint(0, 256, (3, 40, 52), dtype=torch.uint8),
              torch.randint(0, 256, (3, 64, 64), dtype=torch.uint8)]
    with torch.no_grad():
        bare = model.test_step(dict(inputs=images))
        given = model.test_step(dict(inputs=images, data_samples=[
            SegDataSample(metainfo=dict(ori_shape=tuple(x.shape[1:])))
            for x in images]))
    assert [s.metainfo['img_padding_size'] for s in bare] == \
        [(0, 12, 0, 24), (0, 0, 0, 0)]
    specs = model.decode_head.task_specs
    for sample, other, image in zip(bare, given, images):
        for spec in specs.values():
            pred = sample.get(spec.pred_field).data
            assert pred.shape[-2:] == image.shape[1:]
            torch.testing.assert_close(pred, other.get(spec.pred_field).data)
