"""Per-task dense losses, named by ``TaskSpec.loss['type']``.

Every loss takes ``pred`` (B, C, H, W) raw head output, already at the ground
truth's size, and ``target`` (B, C_gt, H, W) as packed by the data pipeline,
and returns a scalar averaged over the valid pixels only. When a batch has no
valid pixel (e.g. PASCAL human parts on images without people) the loss is
zero, not NaN, and still depends on ``pred`` (DDP-safe).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmtlsi.registry import MODELS


def _masked_mean(values: Tensor, valid: Tensor) -> Tensor:
    """Mean of ``values`` over ``valid`` (same shape); 0 if nothing valid."""
    valid = valid.to(values.dtype)
    return (values * valid).sum() / valid.sum().clamp(min=1.0)


@MODELS.register_module()
class TaskCrossEntropyLoss(nn.Module):
    """Cross-entropy over C classes; labels equal to ``ignore_index`` are
    skipped. target: (B, 1, H, W) int64."""

    def __init__(self, ignore_index: int = 255):
        super().__init__()
        self.ignore_index = ignore_index

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        target = target[:, 0].long()
        valid = target != self.ignore_index
        ce = F.cross_entropy(pred, torch.where(valid, target, 0),
                             reduction='none')
        return _masked_mean(ce, valid)


@MODELS.register_module()
class DepthL1Loss(nn.Module):
    """|pred - gt| averaged over pixels with gt > 0 (0 marks missing depth)."""

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        valid = target > 0
        return _masked_mean((pred - target).abs(), valid)


@MODELS.register_module()
class NormalL1Loss(nn.Module):
    """L1 between the L2-normalised prediction and the ground-truth unit
    normal, averaged over the components of valid pixels (gt not the zero
    vector)."""

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        pred = F.normalize(pred, p=2, dim=1)
        valid = (target.abs().sum(dim=1, keepdim=True) > 0).expand_as(target)
        return _masked_mean((pred - target).abs(), valid)


@MODELS.register_module()
class BalancedBCELoss(nn.Module):
    """Class-balanced binary cross-entropy on one logit.

    loss = (w * sum_pos -log p + (1 - w) * sum_neg -log(1 - p)) / n_valid,
    with w = ``pos_weight``, or, when ``pos_weight`` is None, the fraction of
    negatives among the batch's valid pixels (per-batch balancing).
    """

    def __init__(self, pos_weight: float | None = None,
                 ignore_index: int = 255):
        super().__init__()
        self.pos_weight = pos_weight
        self.ignore_index = ignore_index

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        valid = target != self.ignore_index
        pos = (target == 1) & valid
        neg = (target == 0) & valid
        if self.pos_weight is None:
            w = neg.sum().float() / valid.sum().clamp(min=1).float()
        else:
            w = torch.tensor(float(self.pos_weight), device=pred.device)
        loss_pos = F.softplus(-pred)   # -log(sigmoid(x))
        loss_neg = F.softplus(pred)    # -log(1 - sigmoid(x))
        total = (w * (loss_pos * pos).sum()
                 + (1 - w) * (loss_neg * neg).sum())
        return total / valid.sum().clamp(min=1).to(pred.dtype)
