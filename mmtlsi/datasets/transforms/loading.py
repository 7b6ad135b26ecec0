"""Load every task's ground truth of a sample."""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
from mmcv.transforms import BaseTransform

from mmtlsi.registry import TRANSFORMS

from ..decoders import IGNORE, AnnotationError, decode
from .task_specs import TaskSpecsMixin


def check_class_ids(arr: np.ndarray, num_classes: int,
                    ignore_index: Optional[int], task: str,
                    path: str) -> None:
    """Raise ``AnnotationError`` if ``arr`` holds an id outside
    ``0..num_classes - 1`` other than ``ignore_index``."""
    bad = (arr < 0) | (arr >= num_classes)
    if ignore_index is not None:
        bad &= arr != ignore_index
    if bad.any():
        values = np.unique(arr[bad])
        shown = ', '.join(str(v) for v in values[:10].tolist())
        more = f' and {values.size - 10} more' if values.size > 10 else ''
        ignore = f', {ignore_index} = ignore' if ignore_index is not None \
            else ''
        raise AnnotationError(
            f'{path}: {task} class id(s) {shown}{more} outside the '
            f'dataset\'s {num_classes} classes (0..{num_classes - 1}'
            f'{ignore}); {int(bad.sum())} pixel(s)')


def _with_ignore_index(arr: np.ndarray, ignore_index: Optional[int],
                       img_shape) -> np.ndarray:
    """A decoded label map with the decoders' ignore value (255) replaced
    by the task's ``ignore_index``; an empty map becomes an all-ignored one
    of ``img_shape``."""
    if arr.size == 0 and img_shape is not None:
        arr = np.full(img_shape, IGNORE, np.uint8)
    if ignore_index is None or ignore_index == IGNORE:
        return arr
    dtype = arr.dtype if np.can_cast(np.min_scalar_type(ignore_index),
                                     arr.dtype) else np.int64
    out = arr.astype(dtype)
    out[arr == IGNORE] = ignore_index
    return out


@TRANSFORMS.register_module()
class LoadMultiTaskAnnotations(TaskSpecsMixin, BaseTransform):
    """Decode each task's files with the dataset's decoders.

    Required keys: ``ann_info`` (task -> ``dict(decoder, path, **kwargs)``,
    written by the dataset), ``tasks``; ``img`` when ``check_shape``.
    Optional: ``num_classes`` (task -> class count, written by the dataset):
    a class id outside ``0..num_classes - 1`` (other than the ignore index)
    raises ``AnnotationError`` naming the file and the values, in training
    and testing alike, so no loss or metric ever sees it.

    Added keys: one per task at ``spec.results_key`` (``gt_seg_map``,
    ``gt_depth_map``, ``gt_normal_map``, ``gt_edge_map``, ``gt_parts_map``,
    ``gt_sal_map``), and ``seg_fields`` lists them so that mmseg's geometric
    transforms move them all.

    Label maps: the decoders mark ignored pixels with 255; a task whose
    ``ignore_index`` is another value (``task_cfg``) gets them as that
    value, and an empty annotation (no file for this sample) is all
    ``ignore_index``.

    Args:
        tasks: load only these tasks (default: the sample's ``tasks``).
        check_shape: raise if a map's size differs from the image's (the
            error names both files).
        task_cfg: per-task overrides (default: its dataset's specs).
    """

    SPEC_FIELDS = ('results_key', 'gt_dtype', 'ignore_index')

    def __init__(self, tasks: Optional[Sequence[str]] = None,
                 check_shape: bool = True, task_cfg=None) -> None:
        self.tasks = list(tasks) if tasks is not None else None
        self.check_shape = check_shape
        self._init_task_specs(task_cfg)

    def transform(self, results: dict) -> dict:
        tasks = self.tasks if self.tasks is not None else results['tasks']
        ann_info = results['ann_info']
        img_shape = results['img'].shape[:2] if 'img' in results else None
        seg_fields = list(results.get('seg_fields', []))
        num_classes = results.get('num_classes', {})
        specs = self.task_specs
        for task in tasks:
            if task not in ann_info:
                raise KeyError(
                    f'sample {results.get("img_path")} has no annotation for '
                    f'task {task!r} (it has {list(ann_info)})')
            if task not in specs:
                raise KeyError(f'sample {results.get("img_path")}: task '
                               f'{task!r} is not registered (known: '
                               f'{list(specs)})')
            spec = specs[task]
            ann = dict(ann_info[task])
            name, path = ann.pop('decoder'), ann.pop('path')
            arr = decode(name, path, **ann)
            if spec.is_label_map:
                arr = _with_ignore_index(arr, spec.ignore_index, img_shape)
            if self.check_shape and img_shape is not None \
                    and tuple(arr.shape[:2]) != tuple(img_shape):
                raise AnnotationError(
                    f'{task} annotation {path} is {arr.shape[1]}x'
                    f'{arr.shape[0]} (WxH) but image {results["img_path"]} '
                    f'is {img_shape[1]}x{img_shape[0]}')
            if task in num_classes:
                check_class_ids(arr, num_classes[task], spec.ignore_index,
                                task, path)
            results[spec.results_key] = arr
            if spec.results_key not in seg_fields:
                seg_fields.append(spec.results_key)
        results['seg_fields'] = seg_fields
        results['tasks'] = list(tasks)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(tasks={self.tasks}, '
                f'check_shape={self.check_shape})')
