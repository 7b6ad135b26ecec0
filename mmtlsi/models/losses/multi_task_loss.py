"""Weighted sum of per-task losses, for coarse and final predictions."""
from __future__ import annotations

from typing import Mapping

import torch.nn.functional as F
from torch import Tensor, nn

from mmtlsi.registry import MODELS
from mmtlsi.tasks import TaskSpec


class MultiTaskLoss(nn.Module):
    """One loss per task, built from ``TaskSpec.loss`` and weighted by
    ``TaskSpec.loss_weight``; label losses get the spec's ignore index.

    Predictions are bilinearly upsampled to the ground truth's size first.
    Returns ``loss_<task><suffix>`` keys, already weighted (mmengine sums every
    key that contains 'loss'); e.g. ``loss_semseg`` and
    ``loss_semseg_coarse``.
    """

    def __init__(self, task_specs: Mapping[str, TaskSpec]):
        super().__init__()
        self.weights = {}
        self.losses = nn.ModuleDict()
        for name, spec in task_specs.items():
            cfg = dict(spec.loss)
            if spec.ignore_index is not None:
                cfg.setdefault('ignore_index', spec.ignore_index)
            self.losses[name] = MODELS.build(cfg)
            self.weights[name] = float(spec.loss_weight)

    def forward(self, preds: Mapping[str, Tensor],
                targets: Mapping[str, Tensor], weight: float = 1.0,
                suffix: str = '') -> dict:
        out = {}
        for name, pred in preds.items():
            target = targets[name]
            if pred.shape[2:] != target.shape[2:]:
                pred = F.interpolate(pred, size=target.shape[2:],
                                     mode='bilinear', align_corners=False)
            value = self.losses[name](pred, target)
            out[f'loss_{name}{suffix}'] = value * self.weights[name] * weight
        return out
