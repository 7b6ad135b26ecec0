"""Draw a multi-task sample (image + every task's ground truth) as one
picture; used by ``tools/misc/browse_dataset.py``."""
from __future__ import annotations

from typing import List, Optional

import cv2
import numpy as np

from mmtlsi.tasks import TASK_SPECS

_BY_FIELD = {s.gt_field: s for s in TASK_SPECS.values()}


def _palette_for(spec, metainfo: dict) -> np.ndarray:
    pal = None
    if spec.name == 'semseg':
        pal = metainfo.get('palette')
    else:
        pal = (metainfo.get('task_metainfo') or {}).get(spec.name, {}) \
            .get('palette')
    if not pal:
        rng = np.random.default_rng(spec.out_channels)
        pal = rng.integers(0, 256, (256, 3)).tolist()
    pal = np.array(list(pal) + [[0, 0, 0]] * (256 - len(pal)), np.uint8)
    pal[255] = 0
    return pal[:256]


def colourise(spec, data: np.ndarray, metainfo: Optional[dict] = None
              ) -> np.ndarray:
    """One task's (C, H, W) ground truth -> HxWx3 uint8 RGB."""
    metainfo = metainfo or {}
    if spec.visual == 'palette':
        lab = data[0].astype(np.int64).clip(0, 255)
        return _palette_for(spec, metainfo)[lab]
    if spec.visual == 'colormap':
        d = data[0].astype(np.float32)
        valid = d > 0
        out = np.zeros(d.shape + (3,), np.uint8)
        if valid.any():
            lo, hi = np.percentile(d[valid], [1, 99])
            norm = np.clip((d - lo) / max(hi - lo, 1e-6), 0, 1)
            cmap = cv2.applyColorMap((norm * 255).astype(np.uint8),
                                     cv2.COLORMAP_MAGMA)[..., ::-1]
            out[valid] = cmap[valid]
        return out
    if spec.visual == 'normals':
        n = data.transpose(1, 2, 0).astype(np.float32)
        out = np.clip((n + 1) * 127.5, 0, 255).astype(np.uint8)
        out[(n == 0).all(-1)] = 0
        return out
    # gray: binary maps, ignore in red
    lab = data[0].astype(np.int64)
    out = np.repeat((np.clip(lab, 0, 1) * 255).astype(np.uint8)[..., None],
                    3, -1)
    out[lab == 255] = (255, 0, 0)
    return out


def draw_multi_task_sample(inputs, data_sample, metainfo: Optional[dict]
                           = None, bgr: bool = True,
                           scale: int = 2) -> np.ndarray:
    """A row of panels: the image, then each task's ground truth, titled.

    Args:
        inputs: (3, H, W) image tensor or array (as packed).
        data_sample: ``SegDataSample`` with ``gt_*`` fields.
        bgr: the image is in BGR order (``LoadImageFromFile``).
        scale: integer upscaling of small images.

    Returns:
        HxWx3 uint8 RGB picture.
    """
    img = np.asarray(inputs.cpu() if hasattr(inputs, 'cpu') else inputs)
    img = img.transpose(1, 2, 0).clip(0, 255).astype(np.uint8)
    if bgr:
        img = img[..., ::-1]
    panels: List[tuple] = [('image', img)]
    for field, spec in _BY_FIELD.items():
        if field in data_sample:
            data = getattr(data_sample, field).data.cpu().numpy()
            panels.append((spec.title, colourise(spec, data, metainfo)))
    h = max(p.shape[0] for _, p in panels)
    tiles = []
    for title, p in panels:
        p = np.ascontiguousarray(p)
        if p.shape[0] != h:
            p = np.pad(p, ((0, h - p.shape[0]), (0, 0), (0, 0)))
        if scale > 1:
            p = cv2.resize(p, (p.shape[1] * scale, p.shape[0] * scale),
                           interpolation=cv2.INTER_NEAREST)
        bar = np.full((18, p.shape[1], 3), 255, np.uint8)
        cv2.putText(bar, title, (3, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                    (0, 0, 0), 1, cv2.LINE_AA)
        tiles.append(np.vstack([bar, p]))
        tiles.append(np.full((tiles[-1].shape[0], 4, 3), 255, np.uint8))
    return np.hstack(tiles[:-1])
