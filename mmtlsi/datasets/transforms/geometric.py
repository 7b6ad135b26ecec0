"""Geometric transforms that keep every task's values consistent.

mmseg's ``Resize``, ``RandomCrop`` and ``RandomFlip`` already move every key
in ``seg_fields`` (nearest interpolation for maps); what they miss is what
the values mean: depth shrinks when the image is magnified, and a mirrored
surface normal points the other way.
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
from mmcv.transforms.utils import cache_randomness
from mmseg.datasets.transforms import RandomCrop, RandomFlip, Resize

from mmtlsi.registry import TRANSFORMS
from mmtlsi.tasks import spec_of_results_key


def _task_fields(results: dict):
    """(key, spec) of every ``seg_fields`` map that belongs to a task."""
    for key in results.get('seg_fields', []):
        spec = spec_of_results_key(key)
        if spec is not None and results.get(key) is not None:
            yield key, spec


def divide_scaled_values(results: dict, scale: float) -> None:
    """Divide the fields whose values scale with magnification (depth)."""
    for key, spec in _task_fields(results):
        if spec.scale_divides_values:
            results[key] = (results[key] / np.float32(scale)).astype(
                np.float32)


@TRANSFORMS.register_module()
class MultiTaskResize(Resize):
    """mmseg's ``Resize`` that also divides depth by the scale factor.

    The image is resized bilinearly, every ``seg_fields`` map with nearest
    interpolation (so invalid depth / normals stay invalid), and depth
    values are divided by the geometric mean of the x / y scale factors:
    magnifying an image by ``s`` looks like the scene moved ``s`` times
    closer.
    """

    def transform(self, results: dict) -> dict:
        results = super().transform(results)
        w_scale, h_scale = results['scale_factor']
        divide_scaled_values(results, float(np.sqrt(w_scale * h_scale)))
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
                 step: Optional[float] = None, **kwargs) -> None:
        kwargs.setdefault('keep_ratio', False)
        super().__init__(scale=None, scale_factor=1.0, **kwargs)
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
        divide_scaled_values(results, ratio)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(ratio_range={self.ratio_range}, '
                f'step={self.step}, interpolation={self.interpolation})')


@TRANSFORMS.register_module()
class MultiTaskRandomCrop(RandomCrop):
    """mmseg's ``RandomCrop`` (crops every ``seg_fields`` map); the
    ``cat_max_ratio`` check uses ``gt_seg_map`` and is skipped when the
    sample has no semantic segmentation."""

    def transform(self, results: dict) -> dict:
        if self.cat_max_ratio < 1. and 'gt_seg_map' not in results:
            ratio, self.cat_max_ratio = self.cat_max_ratio, 1.
            try:
                return super().transform(results)
            finally:
                self.cat_max_ratio = ratio
        return super().transform(results)


@TRANSFORMS.register_module()
class MultiTaskRandomFlip(RandomFlip):
    """mmseg's ``RandomFlip`` plus the sign of mirrored vectors.

    A flip negates the channels its task's ``flip_negated_channels`` names
    for the direction: for surface normals the x component (channel 0) on a
    horizontal flip, the y component (channel 1) on a vertical one, both on
    a diagonal one.
    """

    def _flip(self, results: dict) -> None:
        super()._flip(results)
        direction = results['flip_direction']
        for key, spec in _task_fields(results):
            channels = spec.channels_negated_by_flip(direction)
            if not channels:
                continue
            vec = np.array(results[key], dtype=np.float32, copy=True)
            for c in channels:
                vec[..., c] = -vec[..., c]
            vec[vec == 0] = 0.0   # no negative zeros
            results[key] = vec
