"""Semantic segmentation / human parts: pooled confusion matrix and mIoU.

``confusion_matrix`` counts (gt, pred) pairs of one image; matrices of disjoint
image sets add up, so the dataset's matrix is exact under any split. ``miou``
turns the pooled matrix into IoU per class (TP / (TP + FP + FN)), their mean
over classes that occur in the ground truth or the prediction (mmseg's nanmean;
on NYUDv2 / PASCAL-Context every class occurs, so this equals the plain mean
the reference code takes), pixel accuracy and mean class accuracy.
"""
from __future__ import annotations

import numpy as np

__all__ = ['confusion_matrix', 'miou']


def confusion_matrix(pred: np.ndarray, gt: np.ndarray, num_classes: int,
                     ignore_index: int | None = 255) -> np.ndarray:
    """(num_classes, num_classes) int64 counts, rows = ground truth.

    Pixels whose GT equals ``ignore_index`` or lies outside ``[0,
    num_classes)`` are skipped; predictions outside the range are an error.
    """
    pred = np.asarray(pred).reshape(-1).astype(np.int64)
    gt = np.asarray(gt).reshape(-1).astype(np.int64)
    if pred.shape != gt.shape:
        raise ValueError(f'prediction and ground truth differ in size: '
                         f'{pred.size} vs {gt.size}')
    valid = (gt >= 0) & (gt < num_classes)
    if ignore_index is not None:
        valid &= gt != ignore_index
    pred, gt = pred[valid], gt[valid]
    if pred.size and (pred.min() < 0 or pred.max() >= num_classes):
        raise ValueError(f'predicted class outside [0, {num_classes})')
    return np.bincount(gt * num_classes + pred,
                       minlength=num_classes ** 2).reshape(
                           num_classes, num_classes)


def miou(conf: np.ndarray) -> dict:
    """Scores (fractions in [0, 1]) from a pooled confusion matrix.

    Returns ``mIoU``, ``IoU`` (per class, NaN where the class occurs in
    neither GT nor prediction), ``aAcc`` (pixel accuracy), ``mAcc``.
    """
    conf = np.asarray(conf, dtype=np.float64)
    tp = np.diag(conf)
    gt_count = conf.sum(1)
    pred_count = conf.sum(0)
    union = gt_count + pred_count - tp
    with np.errstate(divide='ignore', invalid='ignore'):
        iou = np.where(union > 0, tp / union, np.nan)
        acc = np.where(gt_count > 0, tp / gt_count, np.nan)
    total = conf.sum()
    return dict(
        mIoU=float(np.nanmean(iou)) if np.isfinite(iou).any() else 0.0,
        IoU=iou,
        aAcc=float(tp.sum() / total) if total else 0.0,
        mAcc=float(np.nanmean(acc)) if np.isfinite(acc).any() else 0.0)
