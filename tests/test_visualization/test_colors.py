import numpy as np
import pytest
import torch

from mmtlsi.tasks import get_task_spec
from mmtlsi.visualization.colors import (
    colorize_depth,
    colorize_gray,
    colorize_labels,
    colorize_normals,
    default_palette,
    depth_range,
    label_color,
    palette_for_task,
)


def test_normals_to_rgb():
    n = np.zeros((3, 2, 2), np.float32)
    n[2] = 1.0                      # (0, 0, 1) everywhere ...
    n[:, 1, 1] = (-1, 0, 0)         # ... but one pixel (-1, 0, 0)
    n[:, 0, 1] = 0                  # ... and one invalid
    rgb = colorize_normals(torch.from_numpy(n))
    assert rgb.dtype == np.uint8 and rgb.shape == (2, 2, 3)
    assert rgb[0, 0].tolist() == [128, 128, 255]
    assert rgb[1, 1].tolist() == [0, 128, 128]
    assert rgb[0, 1].tolist() == [0, 0, 0]


def test_palette_lookup():
    assert label_color(0) == (0, 0, 0)
    assert label_color(1) == (128, 0, 0)
    assert label_color(2) == (0, 128, 0)
    assert label_color(3) == (128, 128, 0)
    assert label_color(8) == (64, 0, 0)
    pal = default_palette(50)
    assert len({tuple(c) for c in pal}) == 50   # all distinct
    assert [0, 0, 0] not in pal                 # black is for invalid
    assert default_palette(3, background=True)[0] == [0, 0, 0]

    semseg, parts = get_task_spec('semseg'), get_task_spec('human_parts')
    meta = dict(palette=[[1, 2, 3], [4, 5, 6]])
    assert palette_for_task(semseg, meta, 2) == [[1, 2, 3], [4, 5, 6]]
    # completed from the default palette when too short
    assert palette_for_task(semseg, meta, 3)[2] == default_palette(3)[2]
    meta = dict(task_metainfo=dict(human_parts=dict(palette=[[5, 5, 5]])))
    assert palette_for_task(parts, meta, 1) == [[5, 5, 5]]
    # mmseg's `palette` belongs to the task in gt_sem_seg only; human_parts
    # has a background class, drawn black
    assert palette_for_task(parts, dict(palette=[[1, 2, 3]]), 2) == \
        default_palette(2, background=True) == [[0, 0, 0], [128, 0, 0]]
    # a registered task in gt_sem_seg's place would take mmseg's palette:
    # the rule follows the field, not the name
    renamed = semseg.with_overrides(name='city')
    assert palette_for_task(renamed, dict(palette=[[1, 2, 3]]), 1) == \
        [[1, 2, 3]]

    labels = np.array([[0, 1], [255, 1]])
    rgb = colorize_labels(labels, [[10, 20, 30], [40, 50, 60]])
    assert rgb[0, 0].tolist() == [10, 20, 30]
    assert rgb[0, 1].tolist() == [40, 50, 60]
    assert rgb[1, 0].tolist() == [0, 0, 0]


def test_depth_colormap_invalid_black_and_monotone():
    depth = np.linspace(0.5, 10, 64, dtype=np.float32)[None]
    depth[0, 10] = 0
    depth[0, 20] = np.nan
    rgb = colorize_depth(depth, cmap='viridis')
    assert rgb.shape == (1, 64, 3)
    assert rgb[0, 10].tolist() == [0, 0, 0]
    assert rgb[0, 20].tolist() == [0, 0, 0]
    valid = np.ones(64, bool)
    valid[[10, 20]] = False
    luma = rgb[0].astype(float) @ np.array([0.299, 0.587, 0.114])
    assert np.all(np.diff(luma[valid]) >= -1e-6)     # monotone
    assert luma[valid][-1] - luma[valid][0] > 150     # and spans the map
    # a shared range: the same value gets the same colour in both maps
    a = np.array([[1.0, 2.0]])
    b = np.array([[2.0, 4.0]])
    lo, hi = depth_range(a, b)
    assert (lo, hi) == (1.0, 4.0)
    assert colorize_depth(a, lo, hi)[0, 1].tolist() == \
        colorize_depth(b, lo, hi)[0, 0].tolist()
    assert depth_range(np.zeros((2, 2))) == (0.0, 1.0)


def test_gray():
    prob = colorize_gray(torch.tensor([[[0.0, 0.5, 1.0]]]))
    assert prob[0, :, 0].tolist() == [0, 128, 255]
    lab = colorize_gray(np.array([[0, 1, 255]]), ignore_index=255)
    assert lab[0, :, 0].tolist() == [0, 255, 0]


def test_bad_normals():
    with pytest.raises(ValueError):
        colorize_normals(np.zeros((2, 4, 4)))
