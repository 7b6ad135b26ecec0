"""Saliency: maxF with pooled counts (the field's protocol).

Thresholds 0.05, 0.10, ..., 0.95; a pixel is salient where ``p >= t``;
TP / FP / FN are summed over the dataset per threshold; F_beta with
beta^2 = 0.3;
maxF = best F over thresholds (0 where undefined). GT pixels equal to
``ignore_index`` are skipped; GT > 0 (after ignoring) is salient.

``double_sigmoid=True`` applies a sigmoid to the probabilities again, as
InvPT's reference code does by mistake (its published numbers carry it);
ATRC / DeMT and the default here use a single sigmoid.
"""
from __future__ import annotations

import numpy as np

__all__ = ['SAL_THRESHOLDS', 'saliency_counts', 'saliency_metrics']

SAL_THRESHOLDS = np.round(np.arange(1, 20) * 0.05, 10)


def saliency_counts(prob: np.ndarray, gt: np.ndarray,
                    ignore_index: int | None = 255,
                    double_sigmoid: bool = False,
                    thresholds: np.ndarray = SAL_THRESHOLDS) -> np.ndarray:
    """(T, 3) int64 array of TP, FP, FN per threshold for one image."""
    prob = np.asarray(prob, dtype=np.float64).reshape(-1)
    gt = np.asarray(gt).reshape(-1)
    if prob.shape != gt.shape:
        raise ValueError('prediction and ground truth differ in size')
    valid = np.ones_like(gt, dtype=bool) if ignore_index is None \
        else gt != ignore_index
    prob, pos = prob[valid], gt[valid] > 0
    if double_sigmoid:
        prob = 1.0 / (1.0 + np.exp(-prob))
    pred = prob[None, :] >= np.asarray(thresholds)[:, None]
    tp = (pred & pos).sum(1)
    fp = (pred & ~pos).sum(1)
    fn = pos.sum() - tp
    return np.stack([tp, fp, fn], 1).astype(np.int64)


def saliency_metrics(counts: np.ndarray, beta2: float = 0.3,
                     thresholds: np.ndarray = SAL_THRESHOLDS) -> dict:
    """maxF (fraction) and its threshold, precision and recall."""
    tp, fp, fn = (np.asarray(counts, dtype=np.float64).reshape(-1, 3).T)
    with np.errstate(divide='ignore', invalid='ignore'):
        prec = tp / (tp + fp)
        rec = tp / (tp + fn)
        f = (1 + beta2) * prec * rec / (beta2 * prec + rec)
    f = np.nan_to_num(f, nan=0.0)
    best = int(np.argmax(f))
    return dict(maxF=float(f[best]), threshold=float(thresholds[best]),
                precision=float(np.nan_to_num(prec[best])),
                recall=float(np.nan_to_num(rec[best])))
