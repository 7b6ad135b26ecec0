"""Load every task's ground truth of a sample."""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
from mmcv.transforms import BaseTransform

from mmtlsi.registry import TRANSFORMS
from mmtlsi.tasks import IGNORE_INDEX, get_task_spec

from ..decoders import AnnotationError, decode


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


@TRANSFORMS.register_module()
class LoadMultiTaskAnnotations(BaseTransform):
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

    Args:
        tasks: load only these tasks (default: the sample's ``tasks``).
        check_shape: raise if a map's size differs from the image's (the
            error names both files).
    """

    def __init__(self, tasks: Optional[Sequence[str]] = None,
                 check_shape: bool = True) -> None:
        self.tasks = list(tasks) if tasks is not None else None
        self.check_shape = check_shape

    def transform(self, results: dict) -> dict:
        tasks = self.tasks if self.tasks is not None else results['tasks']
        ann_info = results['ann_info']
        img_shape = results['img'].shape[:2] if 'img' in results else None
        seg_fields = list(results.get('seg_fields', []))
        num_classes = results.get('num_classes', {})
        for task in tasks:
            if task not in ann_info:
                raise KeyError(
                    f'sample {results.get("img_path")} has no annotation for '
                    f'task {task!r} (it has {list(ann_info)})')
            spec = get_task_spec(task)
            ann = dict(ann_info[task])
            name, path = ann.pop('decoder'), ann.pop('path')
            arr = decode(name, path, **ann)
            if arr.size == 0 and spec.is_label_map and img_shape is not None:
                arr = np.full(img_shape, IGNORE_INDEX, np.uint8)
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
