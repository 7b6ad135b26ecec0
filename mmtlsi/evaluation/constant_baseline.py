"""The constant predictor: the floor every trained model must clear.

For each task it predicts one value everywhere, fitted on the training split
with the statistic that is optimal (or conventional) for the task's metric:

* semseg / human_parts: the most frequent class;
* depth: the mean valid depth (minimises the RMSE);
* normals: the mean ground-truth direction, normalised;
* edge / sal: the fraction of positive pixels, as a probability.

``make demo`` reports the trained model's metrics next to this predictor's.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmtlsi.tasks import TaskSpec


class ConstantPredictor:
    """Fit per-task constants on ground-truth samples, then predict them."""

    def __init__(self, specs: dict[str, TaskSpec]):
        self.specs = specs
        self.values: dict[str, np.ndarray] = {}

    def fit(self, samples: Iterable[SegDataSample]) -> ConstantPredictor:
        counts: dict[str, np.ndarray] = {}
        sums: dict[str, np.ndarray] = {}
        totals: dict[str, float] = {}
        for sample in samples:
            for name, spec in self.specs.items():
                if spec.gt_field not in sample:
                    continue
                gt = sample.get(spec.gt_field).data.numpy()
                if spec.output == 'classes':
                    labels = gt[gt != spec.ignore_index].astype(np.int64)
                    hist = np.bincount(labels, minlength=spec.out_channels)
                    counts[name] = counts.get(name, 0) + hist
                elif spec.output == 'scalar':
                    valid = gt[gt > 0]
                    sums[name] = sums.get(name, 0.0) + valid.sum()
                    totals[name] = totals.get(name, 0.0) + valid.size
                elif spec.output == 'vector':
                    vec = gt.reshape(gt.shape[0], -1)
                    vec = vec[:, np.abs(vec).sum(0) > 0]
                    sums[name] = sums.get(name, 0.0) + vec.sum(1)
                else:  # binary
                    valid = gt[gt != spec.ignore_index]
                    sums[name] = sums.get(name, 0.0) + (valid > 0).sum()
                    totals[name] = totals.get(name, 0.0) + valid.size
        for name, spec in self.specs.items():
            if spec.output == 'classes' and name in counts:
                self.values[name] = np.array(int(np.argmax(counts[name])))
            elif spec.output in ('scalar', 'binary') and totals.get(name):
                self.values[name] = np.array(sums[name] / totals[name],
                                             dtype=np.float32)
            elif spec.output == 'vector' and name in sums:
                vec = np.asarray(sums[name], dtype=np.float64)
                self.values[name] = (vec / max(np.linalg.norm(vec), 1e-12)
                                     ).astype(np.float32)
        missing = set(self.specs) - set(self.values)
        if missing:
            raise ValueError(f'no ground truth seen for {sorted(missing)}')
        return self

    def predict(self, sample: SegDataSample) -> SegDataSample:
        """Add every task's constant prediction, at the sample's size."""
        height, width = sample.metainfo['ori_shape'][:2]
        for name, spec in self.specs.items():
            value = torch.from_numpy(np.asarray(self.values[name]))
            if spec.output == 'classes':
                data = torch.full((1, height, width), int(value),
                                  dtype=torch.int64)
            elif spec.output == 'vector':
                data = value.view(-1, 1, 1).expand(-1, height, width).clone()
            else:
                data = torch.full((1, height, width), float(value),
                                  dtype=torch.float32)
            sample.set_field(PixelData(data=data), spec.pred_field)
        return sample
