"""Depth: errors pooled over every valid pixel of the dataset.

Valid pixels have ``gt > 0``; predictions are clamped to ``>= 0`` (and to
``LOG_EPS`` inside logarithms and ratios). :func:`depth_stats` returns sums
over one image; sums of disjoint image sets add up, and :func:`depth_metrics`
turns the pooled sums into

- ``rmse`` = sqrt(sum (gt - pred)^2 / N) (the field's RMSE: pooled, not a mean
  of per-image RMSEs), ``mae``,
- ``abs_rel`` = sum |gt - pred| / gt / N, ``sq_rel``,
- ``log_rmse`` = sqrt(sum (log gt - log pred)^2 / N),
- ``delta1..3`` = fraction with max(pred/gt, gt/pred) < 1.25^k.
"""
from __future__ import annotations

import numpy as np

__all__ = ['LOG_EPS', 'DEPTH_STAT_KEYS', 'depth_stats', 'depth_metrics']

LOG_EPS = 1e-9
DEPTH_STAT_KEYS = ('n', 'sq_err', 'abs_err', 'abs_rel', 'sq_rel', 'sq_log_err',
                   'delta1', 'delta2', 'delta3')


def depth_stats(pred: np.ndarray, gt: np.ndarray) -> dict:
    """Sufficient statistics of one image (``n``, ``delta*``: counts)."""
    pred = np.asarray(pred, dtype=np.float64).reshape(-1)
    gt = np.asarray(gt, dtype=np.float64).reshape(-1)
    if pred.shape != gt.shape:
        raise ValueError(f'prediction and ground truth differ in size: '
                         f'{pred.size} vs {gt.size}')
    valid = gt > 0
    p = np.maximum(pred[valid], 0.0)
    g = gt[valid]
    diff = g - p
    pl = np.maximum(p, LOG_EPS)
    ratio = np.maximum(pl / g, g / pl)
    return dict(
        n=int(valid.sum()),
        sq_err=float((diff ** 2).sum()),
        abs_err=float(np.abs(diff).sum()),
        abs_rel=float((np.abs(diff) / g).sum()),
        sq_rel=float((diff ** 2 / g).sum()),
        sq_log_err=float(((np.log(g) - np.log(pl)) ** 2).sum()),
        delta1=int((ratio < 1.25).sum()),
        delta2=int((ratio < 1.25 ** 2).sum()),
        delta3=int((ratio < 1.25 ** 3).sum()))


def depth_metrics(stats: dict) -> dict:
    """Pooled metrics from summed :func:`depth_stats` (NaN when no pixel)."""
    n = stats['n']
    if n == 0:
        return {k: float('nan') for k in ('rmse', 'mae', 'abs_rel', 'sq_rel',
                                          'log_rmse', 'delta1', 'delta2',
                                          'delta3')}
    return dict(
        rmse=float(np.sqrt(stats['sq_err'] / n)),
        mae=stats['abs_err'] / n,
        abs_rel=stats['abs_rel'] / n,
        sq_rel=stats['sq_rel'] / n,
        log_rmse=float(np.sqrt(stats['sq_log_err'] / n)),
        delta1=stats['delta1'] / n,
        delta2=stats['delta2'] / n,
        delta3=stats['delta3'] / n)
