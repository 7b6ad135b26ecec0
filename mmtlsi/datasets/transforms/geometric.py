"""Geometric transforms that keep every task's values consistent.

mmseg's ``Resize``, ``RandomCrop`` and ``RandomFlip`` already move every key
in ``seg_fields`` (nearest interpolation for maps); what they miss is what
the values mean: depth shrinks when the image is magnified, and a mirrored
surface normal points the other way. Each transform reads that from the
task specs (``scale_divides_values``, ``flip_negated_channels``): its
``task_cfg``'s, or its dataset's (:mod:`.task_specs`).
"""
from __future__ import annotations

from typing import Mapping, Optional, Tuple

import numpy as np
from mmcv.transforms.utils import cache_randomness
from mmseg.datasets.transforms import RandomCrop, RandomFlip, Resize

from mmtlsi.registry import TRANSFORMS
from mmtlsi.tasks import TaskSpec, task_specs_for

from .task_specs import TaskSpecsMixin


def _task_fields(results: dict, specs: Mapping[str, TaskSpec]):
    """(key, spec) of every ``seg_fields`` map that belongs to a task."""
    by_key = {s.results_key: s for s in specs.values()}
    for key in results.get('seg_fields', []):
        spec = by_key.get(key)
        if spec is not None and results.get(key) is not None:
            yield key, spec


def divide_scaled_values(results: dict, scale: float,
                         specs: Optional[Mapping[str, TaskSpec]] = None
                         ) -> None:
    """Divide the fields whose values scale with magnification (depth);
    ``specs`` default to the registered ones."""
    specs = task_specs_for() if specs is None else specs
    for key, spec in _task_fields(results, specs):
        if spec.scale_divides_values:
            results[key] = (results[key] / np.float32(scale)).astype(
                np.float32)


@TRANSFORMS.register_module()
class MultiTaskResize(TaskSpecsMixin, Resize):
    """mmseg's ``Resize`` that also divides depth by the scale factor.

    The image is resized bilinearly, every ``seg_fields`` map with nearest
    interpolation (so invalid depth / normals stay invalid), and the values
    of each task with ``scale_divides_values`` (depth) are divided by the
    geometric mean of the x / y scale factors: magnifying an image by ``s``
    looks like the scene moved ``s`` times closer.

    Args:
        task_cfg: per-task overrides (default: its dataset's specs).
        **kwargs: as mmseg's ``Resize``.
    """

    SPEC_FIELDS = ('results_key', 'scale_divides_values')

    def __init__(self, *args, task_cfg: Optional[dict] = None,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._init_task_specs(task_cfg)

    def transform(self, results: dict) -> dict:
        results = super().transform(results)
        w_scale, h_scale = results['scale_factor']
        divide_scaled_values(results, float(np.sqrt(w_scale * h_scale)),
                             self.task_specs)
        return results


@TRANSFORMS.register_module()
class RandomScale(MultiTaskResize):
    """Scale the sample by a random factor of its own size.

    Args:
        ratio_range: (min, max) of the factor, drawn uniformly.
        step: when set, the factor is drawn from ``min, min + step, ...,
            max`` instead (ATRC's discrete scales use 0.25).
        **kwargs: ``interpolation``, ``backend`` of ``Resize``.

    Depth values are divided by the drawn factor.
    """

    def __init__(self, ratio_range: Tuple[float, float] = (0.5, 2.0),
                 step: Optional[float] = None,
                 task_cfg: Optional[dict] = None, **kwargs) -> None:
        kwargs.setdefault('keep_ratio', False)
        super().__init__(scale=None, scale_factor=1.0, task_cfg=task_cfg,
                         **kwargs)
        lo, hi = ratio_range
        assert 0 < lo <= hi, f'invalid ratio_range {ratio_range}'
        self.ratio_range = (float(lo), float(hi))
        self.step = step

    @cache_randomness
    def _random_ratio(self) -> float:
        lo, hi = self.ratio_range
        if self.step:
            n = int(np.floor((hi - lo) / self.step + 1e-6))
            return lo + self.step * np.random.randint(0, n + 1)
        return float(np.random.uniform(lo, hi))

    def transform(self, results: dict) -> dict:
        ratio = self._random_ratio()
        h, w = results['img'].shape[:2]
        new_size = (max(1, int(round(w * ratio))),
                    max(1, int(round(h * ratio))))
        self.scale = new_size
        try:
            results = Resize.transform(self, results)
        finally:
            self.scale = None
        results['scale_ratio'] = ratio
        divide_scaled_values(results, ratio, self.task_specs)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(ratio_range={self.ratio_range}, '
                f'step={self.step}, interpolation={self.interpolation})')


@TRANSFORMS.register_module()
class MultiTaskRandomCrop(TaskSpecsMixin, RandomCrop):
    """mmseg's ``RandomCrop`` (crops every ``seg_fields`` map); the
    ``cat_max_ratio`` check uses ``gt_seg_map``, skipping the
    ``ignore_index`` of the task stored there, and is skipped when the
    sample has no semantic segmentation.

    Args:
        crop_size, cat_max_ratio: as mmseg's ``RandomCrop``.
        task_cfg: per-task overrides (default: its dataset's specs).
        ignore_index: not an option here (an error when given): it is the
            spec's.
    """

    SPEC_FIELDS = ('results_key', 'ignore_index')

    def __init__(self, crop_size, cat_max_ratio: float = 1.,
                 task_cfg: Optional[dict] = None,
                 ignore_index: Optional[int] = None) -> None:
        if ignore_index is not None:
            raise TypeError(
                'MultiTaskRandomCrop: ignore_index is not an option; the '
                "ignore_index of the task in gt_seg_map is its TaskSpec's "
                '(set it with task_cfg)')
        super().__init__(crop_size, cat_max_ratio=cat_max_ratio)
        self._init_task_specs(task_cfg)

    def _seg_ignore_index(self) -> Optional[int]:
        spec = next((s for s in self.task_specs.values()
                     if s.results_key == 'gt_seg_map'), None)
        return None if spec is None else spec.ignore_index

    def transform(self, results: dict) -> dict:
        # mmseg's check skips the labels equal to self.ignore_index
        self.ignore_index = self._seg_ignore_index()
        if self.cat_max_ratio < 1. and 'gt_seg_map' not in results:
            ratio, self.cat_max_ratio = self.cat_max_ratio, 1.
            try:
                return super().transform(results)
            finally:
                self.cat_max_ratio = ratio
        return super().transform(results)


@TRANSFORMS.register_module()
class MultiTaskRandomFlip(TaskSpecsMixin, RandomFlip):
    """mmseg's ``RandomFlip`` plus the sign of mirrored vectors.

    A flip negates the channels its task's ``flip_negated_channels`` names
    for the direction: for surface normals the x component (channel 0) on a
    horizontal flip, the y component (channel 1) on a vertical one, both on
    a diagonal one.

    Args:
        task_cfg: per-task overrides (default: its dataset's specs).
        **kwargs: as mmseg's ``RandomFlip``.
    """

    SPEC_FIELDS = ('results_key', 'flip_negated_channels')

    def __init__(self, *args, task_cfg: Optional[dict] = None,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._init_task_specs(task_cfg)

    def _flip(self, results: dict) -> None:
        super()._flip(results)
        direction = results['flip_direction']
        for key, spec in _task_fields(results, self.task_specs):
            channels = spec.channels_negated_by_flip(direction)
            if not channels:
                continue
            vec = np.array(results[key], dtype=np.float32, copy=True)
            for c in channels:
                vec[..., c] = -vec[..., c]
            vec[vec == 0] = 0.0   # no negative zeros
            results[key] = vec
