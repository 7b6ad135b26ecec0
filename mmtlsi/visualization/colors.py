"""Pure colour helpers that turn task maps into RGB uint8 pictures.

Every function takes and returns numpy arrays (torch tensors are accepted
where noted) and has no state, so each can be tested and reused alone.
All pictures are ``(H, W, 3)`` ``uint8`` in RGB order.
"""
from __future__ import annotations

from typing import Mapping, Optional, Sequence, Tuple

import cv2
import numpy as np

from mmtlsi.tasks import TaskSpec, task_metainfo
from mmtlsi.utils import to_numpy

Color = Tuple[int, int, int]

#: Colour of pixels without a valid value (ignore label, depth 0,
#: zero normal vector).
INVALID_COLOR: Color = (0, 0, 0)

def to_hw(data) -> np.ndarray:
    """A (1, H, W) / (H, W) map as (H, W); a (3, H, W) map as (H, W, 3)."""
    arr = to_numpy(data)
    if arr.ndim == 3 and arr.shape[0] == 1:
        return arr[0]
    if arr.ndim == 3 and arr.shape[0] == 3 and arr.shape[-1] != 3:
        return arr.transpose(1, 2, 0)
    return arr


def label_color(label: int) -> Color:
    """Colour of class ``label`` in the PASCAL VOC bit-interleaving scheme.

    Bit ``k`` of the label's lowest three bits lands in the ``7 - j``-th bit
    of red, green and blue respectively, ``j`` counting groups of three bits.
    Label 0 is black.
    """
    r = g = b = 0
    value = int(label)
    for shift in range(7, -1, -1):
        r |= (value & 1) << shift
        g |= ((value >> 1) & 1) << shift
        b |= ((value >> 2) & 1) << shift
        value >>= 3
        if value == 0:
            break
    return (r, g, b)


def default_palette(num_classes: int, background: bool = False
                    ) -> list:
    """A palette of ``num_classes`` distinct colours.

    Args:
        num_classes: number of classes.
        background: when True, class 0 is black (a background class);
            otherwise class ``i`` takes the colour of VOC label ``i + 1`` so
            that no class is black, the colour of invalid pixels.
    """
    offset = 0 if background else 1
    return [list(label_color(i + offset)) for i in range(int(num_classes))]


def palette_for_task(spec: TaskSpec,
                     dataset_meta: Optional[Mapping] = None,
                     num_classes: int = 0) -> list:
    """The palette used to draw the label map of task ``spec``.

    The dataset's (:func:`mmtlsi.tasks.task_metainfo`: the task's
    ``task_metainfo`` palette, or mmseg's ``palette`` for the task in
    ``gt_sem_seg``), completed with :func:`default_palette` when missing or
    shorter than ``num_classes`` (class 0 black if ``spec.background_class``).
    """
    palette = task_metainfo(dataset_meta, spec, 'palette')
    palette = [list(map(int, c)) for c in (palette or [])]
    if len(palette) < num_classes:
        extra = default_palette(num_classes,
                                background=spec.background_class)
        palette = palette + extra[len(palette):]
    return palette


def colorize_labels(labels,
                    palette: Sequence[Sequence[int]],
                    invalid_color: Color = INVALID_COLOR) -> np.ndarray:
    """Paint a (H, W) class map; labels outside the palette get
    ``invalid_color`` (that includes the ignore index 255 unless the palette
    has 256 colours)."""
    labels = to_hw(labels).astype(np.int64)
    lut = np.zeros((len(palette) + 1, 3), np.uint8)
    if len(palette):
        lut[:-1] = np.asarray(palette, np.int64).reshape(-1, 3)
    lut[-1] = invalid_color
    index = np.where((labels >= 0) & (labels < len(palette)), labels,
                     len(palette))
    return lut[index]


def depth_range(*maps, percentile: Optional[float] = None
                ) -> Tuple[float, float]:
    """(min, max) of the valid (> 0, finite) values of all ``maps`` together.

    With ``percentile`` (e.g. 2), the range is the ``percentile`` and
    ``100 - percentile`` percentiles instead, which ignores outliers.
    Returns (0, 1) when no map has a valid pixel.
    """
    values = []
    for m in maps:
        if m is None:
            continue
        arr = to_numpy(m).astype(np.float64).ravel()
        values.append(arr[np.isfinite(arr) & (arr > 0)])
    values = np.concatenate(values) if values else np.zeros(0)
    if values.size == 0:
        return 0.0, 1.0
    if percentile:
        lo, hi = np.percentile(values, [percentile, 100 - percentile])
    else:
        lo, hi = values.min(), values.max()
    return float(lo), float(hi)


def _cv2_colormap(name: str) -> int:
    key = f'COLORMAP_{name.upper()}'
    if not hasattr(cv2, key):
        raise ValueError(f'unknown colour map {name!r} (OpenCV has no {key})')
    return getattr(cv2, key)


def colorize_depth(depth,
                   vmin: Optional[float] = None,
                   vmax: Optional[float] = None,
                   cmap: str = 'viridis',
                   invalid_color: Color = INVALID_COLOR) -> np.ndarray:
    """Paint a depth map with an OpenCV colour map.

    Values are scaled linearly from ``[vmin, vmax]`` (default: the valid
    range of this map; pass a shared range to compare two maps) to the colour
    map, so with the default ``'viridis'`` a larger depth is brighter.
    Pixels that are 0, negative or not finite get ``invalid_color``.
    """
    depth = to_hw(depth).astype(np.float64)
    valid = np.isfinite(depth) & (depth > 0)
    if vmin is None or vmax is None:
        lo, hi = depth_range(np.where(valid, depth, 0))
        vmin = lo if vmin is None else vmin
        vmax = hi if vmax is None else vmax
    scale = (vmax - vmin) if vmax > vmin else 1.0
    norm = np.clip((np.where(valid, depth, vmin) - vmin) / scale, 0, 1)
    gray = np.rint(norm * 255).astype(np.uint8)
    bgr = cv2.applyColorMap(gray, _cv2_colormap(cmap))
    rgb = bgr[..., ::-1].copy()
    rgb[~valid] = invalid_color
    return rgb


def colorize_normals(normals,
                     invalid_color: Color = INVALID_COLOR) -> np.ndarray:
    """Paint a (3, H, W) or (H, W, 3) normal map as RGB = (n + 1) / 2 * 255.

    The zero vector (invalid pixel) gets ``invalid_color``.
    """
    n = to_hw(normals).astype(np.float64)
    if n.ndim != 3 or n.shape[-1] != 3:
        raise ValueError(f'normals must have 3 channels, got {n.shape}')
    valid = np.isfinite(n).all(-1) & (np.abs(n).sum(-1) > 0)
    rgb = np.rint(np.clip((np.nan_to_num(n) + 1) / 2, 0, 1) * 255)
    rgb = rgb.astype(np.uint8)
    rgb[~valid] = invalid_color
    return rgb


def colorize_gray(values,
                  ignore_index: Optional[int] = 255,
                  invalid_color: Color = INVALID_COLOR) -> np.ndarray:
    """Paint a probability map (float, [0, 1]) or a binary label map
    (integers 0 / 1, ``ignore_index`` = unknown) in gray levels."""
    arr = to_hw(values)
    if np.issubdtype(arr.dtype, np.floating):
        level = np.rint(np.clip(np.nan_to_num(arr), 0, 1) * 255)
        invalid = np.zeros(arr.shape, bool)
    else:
        arr = arr.astype(np.int64)
        invalid = arr == ignore_index if ignore_index is not None \
            else np.zeros(arr.shape, bool)
        level = np.clip(arr, 0, 1) * 255
    rgb = np.repeat(level.astype(np.uint8)[..., None], 3, axis=-1)
    rgb[invalid] = invalid_color
    return rgb


def resize_to(picture: np.ndarray, hw: Tuple[int, int]) -> np.ndarray:
    """Resize a painted (H, W, 3) picture to ``hw`` (nearest neighbour, so
    colours stay those of the map)."""
    h, w = int(hw[0]), int(hw[1])
    if picture.shape[:2] == (h, w):
        return picture
    return cv2.resize(picture, (w, h), interpolation=cv2.INTER_NEAREST)
