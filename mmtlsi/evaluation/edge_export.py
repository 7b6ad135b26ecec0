"""Write edge predictions as the 8-bit PNGs that SEISM reads.

Each prediction becomes ``DIR/<image id>.png`` holding ``uint8(trunc(255 p))``
(:func:`mmtlsi.utils.edge_maps.edge_to_uint8`, the reference code's
``uint8(255 * p)``), ``<image id>`` being the basename of
``img_path`` without extension. ``docs/evaluation.md`` explains how to run
SEISM on such a folder.

- :func:`save_edge_png` writes one map;
- :func:`export_edge_predictions` writes the ``pred_edge_map`` of a list of
  data samples (dicts or ``SegDataSample``), usable directly by
  ``tools/test.py --export-edges DIR`` on the model's outputs;
- :class:`EdgeExportHook` does it during ``runner.test()``
  (``custom_hooks = [dict(type='EdgeExportHook',
  out_dir='work_dirs/edges')]``).
"""
from __future__ import annotations

import os
import os.path as osp
from typing import Sequence

from mmengine.hooks import Hook

from mmtlsi.registry import HOOKS
from mmtlsi.utils.edge_maps import edge_to_uint8

__all__ = ['save_edge_png', 'export_edge_predictions', 'EdgeExportHook']


def save_edge_png(prob, path: str) -> str:
    """Write one edge map as an 8-bit grey PNG; returns the path."""
    import cv2
    d = osp.dirname(osp.abspath(path))
    os.makedirs(d, exist_ok=True)
    if not cv2.imwrite(path, edge_to_uint8(prob)):
        raise OSError(f'could not write {path}')
    return path


def _get(sample, key):
    if isinstance(sample, dict):
        return sample.get(key)
    return getattr(sample, key, None) if key in sample else None


def export_edge_predictions(data_samples: Sequence, out_dir: str,
                            pred_field: str = 'pred_edge_map') -> list[str]:
    """Write each sample's edge prediction to ``out_dir/<id>.png``."""
    from .metrics.multi_task_metric import image_id
    paths = []
    for i, sample in enumerate(data_samples):
        pred = _get(sample, pred_field)
        if pred is None:
            continue
        meta = sample if isinstance(sample, dict) else sample.metainfo
        paths.append(save_edge_png(pred, osp.join(out_dir,
                                                  image_id(meta, i) + '.png')))
    return paths


@HOOKS.register_module()
class EdgeExportHook(Hook):
    """Save edge predictions as SEISM PNGs during testing."""

    priority = 'LOW'

    def __init__(self, out_dir: str, pred_field: str = 'pred_edge_map'):
        self.out_dir = out_dir
        self.pred_field = pred_field

    def after_test_iter(self, runner, batch_idx, data_batch=None,
                        outputs=None) -> None:
        if outputs:
            export_edge_predictions(outputs, self.out_dir,
                                    self.pred_field)
