"""Loss functions against hand-computed values."""
import math

import pytest
import torch

import mmtlsi  # noqa: F401
from mmtlsi.models.losses import (
    BalancedBCELoss,
    DepthL1Loss,
    MultiTaskLoss,
    NormalL1Loss,
    TaskCrossEntropyLoss,
)
from mmtlsi.tasks import build_task_specs


def test_cross_entropy_ignores_255():
    pred = torch.zeros(1, 2, 1, 3)
    pred[0, 0, 0, 0] = math.log(3.0)     # pixel 0: p(class 0) = 3/4
    target = torch.tensor([[[[0, 1, 255]]]])
    # pixel 0: -log(3/4); pixel 1: -log(1/2); pixel 2 ignored
    expected = (-math.log(0.75) - math.log(0.5)) / 2
    assert TaskCrossEntropyLoss()(pred, target).item() == \
        pytest.approx(expected, rel=1e-6)


def test_losses_without_valid_pixels_are_zero_with_gradient():
    pred = torch.randn(1, 3, 2, 2, requires_grad=True)
    loss = TaskCrossEntropyLoss()(pred, torch.full((1, 1, 2, 2), 255))
    assert loss.item() == 0.0
    loss.backward()
    assert pred.grad is not None


def test_depth_l1_on_valid_pixels():
    pred = torch.tensor([[[[1.0, 2.0, 5.0]]]])
    gt = torch.tensor([[[[1.5, 0.0, 3.0]]]])
    assert DepthL1Loss()(pred, gt).item() == pytest.approx((0.5 + 2.0) / 2)


def test_normal_l1_normalises_prediction():
    pred = torch.tensor([[3.0, 1.0], [0.0, 1.0], [4.0, 1.0]]).view(1, 3, 1, 2)
    gt = torch.tensor([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0]]).view(1, 3, 1, 2)
    # pixel 0: pred -> (0.6, 0, 0.8), |diff| = 0.6 + 0 + 0.2; pixel 1 invalid
    assert NormalL1Loss()(pred, gt).item() == pytest.approx(0.8 / 3)


def test_balanced_bce_fixed_and_batch_weights():
    pred = torch.tensor([[[[0.0, 0.0, 0.0, 2.0]]]])
    target = torch.tensor([[[[1, 0, 0, 255]]]])
    log2 = math.log(2.0)
    fixed = BalancedBCELoss(pos_weight=0.95)(pred, target).item()
    assert fixed == pytest.approx((0.95 * log2 + 0.05 * 2 * log2) / 3)
    # per-batch: w = negatives / valid = 2/3
    auto = BalancedBCELoss(pos_weight=None)(pred, target).item()
    assert auto == pytest.approx((2 / 3 * log2 + 1 / 3 * 2 * log2) / 3)


def test_multi_task_loss_weights_and_keys():
    specs = build_task_specs(['depth', 'edge'],
                             dict(edge=dict(loss_weight=2.0)))
    loss = MultiTaskLoss(specs)
    preds = dict(depth=torch.full((1, 1, 2, 2), 2.0),
                 edge=torch.zeros(1, 1, 2, 2))
    targets = dict(depth=torch.ones(1, 1, 4, 4),
                   edge=torch.zeros(1, 1, 4, 4, dtype=torch.long))
    out = loss(preds, targets, weight=0.5, suffix='_coarse')
    assert set(out) == {'loss_depth_coarse', 'loss_edge_coarse'}
    assert out['loss_depth_coarse'].item() == pytest.approx(1.0 * 0.5)
    # edge: all negatives, w = 0.95 -> 0.05 * log 2, weight 2.0 * 0.5
    assert out['loss_edge_coarse'].item() == pytest.approx(
        0.05 * math.log(2.0) * 2.0 * 0.5, rel=1e-5)
