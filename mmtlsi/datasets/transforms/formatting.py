"""Pack a multi-task sample into mmseg's ``SegDataSample``."""
from __future__ import annotations

import numpy as np
import torch
from mmengine.structures import PixelData
from mmseg.datasets.transforms import PackSegInputs

from mmtlsi.registry import TRANSFORMS
from mmtlsi.tasks import TaskSpec

from .task_specs import TaskSpecsMixin

#: metainfo key: task -> ``ignore_index`` of each label map packed
GT_IGNORE_KEY = 'gt_ignore_index'
DEFAULT_META_KEYS = ('img_path', 'img_id', 'seg_map_path', 'ori_shape',
                     'img_shape', 'pad_shape', 'scale_factor', 'flip',
                     'flip_direction', 'reduce_zero_label', 'tasks')


def to_pixel_data(arr: np.ndarray, spec: TaskSpec) -> PixelData:
    """(H, W) or (H, W, C) array -> ``PixelData`` with a (C, H, W) tensor of
    the task's dtype."""
    arr = np.asarray(arr)
    if arr.ndim == 2:
        arr = arr[None]
    else:
        arr = arr.transpose(2, 0, 1)
    if arr.shape[0] != spec.gt_channels:
        raise ValueError(f'{spec.name}: expected {spec.gt_channels} '
                         f'channel(s), got {arr.shape[0]}')
    dtype = np.int64 if spec.gt_dtype == 'int64' else np.float32
    data = torch.from_numpy(np.ascontiguousarray(arr.astype(dtype)))
    return PixelData(data=data)


@TRANSFORMS.register_module()
class PackMultiTaskInputs(TaskSpecsMixin, PackSegInputs):
    """Pack the image (as ``PackSegInputs``) and every task's ground truth.

    For each task whose ``results_key`` is in the results (every registered
    task, with ``task_cfg`` or its dataset's specs), a ``PixelData`` is set
    at ``spec.gt_field`` (``gt_sem_seg``, ``gt_depth_map``, ...): a
    (C, H, W) tensor of ``spec.gt_dtype`` (``int64`` for label maps,
    ``float32`` for depth / normals) with ``spec.gt_channels`` channels.
    The metainfo ``gt_ignore_index`` records task -> ``ignore_index`` of
    the label maps packed.
    """

    SPEC_FIELDS = ('results_key', 'gt_field', 'gt_channels', 'gt_dtype')

    def __init__(self, meta_keys=DEFAULT_META_KEYS,
                 task_cfg=None) -> None:
        super().__init__(meta_keys=meta_keys)
        self._init_task_specs(task_cfg)

    def transform(self, results: dict) -> dict:
        specs = self.task_specs
        task_keys = {s.results_key for s in specs.values()}
        base = {k: v for k, v in results.items() if k not in task_keys}
        packed = super().transform(base)
        sample = packed['data_samples']
        ignore = {}
        for spec in specs.values():
            if results.get(spec.results_key) is not None:
                sample.set_field(
                    to_pixel_data(results[spec.results_key], spec),
                    spec.gt_field)
                if spec.is_label_map:
                    ignore[spec.name] = spec.ignore_index
        # what an ignored label is in this ground truth: the data
        # preprocessor checks that the model reads the same
        sample.set_metainfo({GT_IGNORE_KEY: ignore})
        return packed
