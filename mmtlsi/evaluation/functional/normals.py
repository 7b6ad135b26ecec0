"""Surface normals: angular error pooled over every valid pixel.

Both vectors are L2-normalised; valid pixels have a non-zero GT vector. Error
``= degrees(arccos(clip(<p, g>, -1, 1)))``. :func:`normal_stats` returns, for
one image, the count, sum and sum of squares of the errors, counts under 11.25
/ 22.5 / 30 degrees and a histogram of the errors in bins of ``bin_width``
degrees (stored sparsely: bin indices and counts). These add up across images.

Exactness: count, mean, RMSE and the threshold percentages are exact (float64
sums). The median is read from the pooled histogram and interpolated linearly
inside its bin, so it is within ``bin_width`` (default 0.01 degree) of the
exact pooled median the reference code computes from all errors.
"""
from __future__ import annotations

import numpy as np

__all__ = ['NORMAL_THRESHOLDS', 'angular_error', 'normal_stats',
           'merge_normal_stats', 'normal_metrics']

NORMAL_THRESHOLDS = (11.25, 22.5, 30.0)


def angular_error(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Errors in degrees of the valid pixels; inputs (3, H, W) or (H, W, 3)."""
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if pred.shape != gt.shape:
        raise ValueError(f'shapes differ: {pred.shape} vs {gt.shape}')
    if pred.shape[0] == 3 and pred.ndim == 3:
        pred = pred.reshape(3, -1).T
        gt = gt.reshape(3, -1).T
    else:
        pred = pred.reshape(-1, 3)
        gt = gt.reshape(-1, 3)
    gn = np.linalg.norm(gt, axis=1)
    valid = gn > 0
    g = gt[valid] / gn[valid, None]
    p = pred[valid]
    pn = np.linalg.norm(p, axis=1)
    p = p / np.maximum(pn, 1e-12)[:, None]
    cos = np.clip((p * g).sum(1), -1.0, 1.0)
    return np.degrees(np.arccos(cos))


def normal_stats(pred: np.ndarray, gt: np.ndarray, bin_width: float = 0.01
                 ) -> dict:
    """Sufficient statistics of one image."""
    err = angular_error(pred, gt)
    bins = np.minimum((err / bin_width).astype(np.int64),
                      int(np.ceil(180.0 / bin_width)) - 1)
    idx, cnt = np.unique(bins, return_counts=True)
    out = dict(n=int(err.size), sum=float(err.sum()),
               sum_sq=float((err ** 2).sum()), bin_width=float(bin_width),
               hist_idx=idx.astype(np.int32), hist_cnt=cnt.astype(np.int64))
    for t in NORMAL_THRESHOLDS:
        out[f'under_{t}'] = int((err < t).sum())
    return out


def merge_normal_stats(stats_list) -> dict:
    """Sum per-image statistics (dense pooled histogram under ``hist``)."""
    stats_list = list(stats_list)
    bw = stats_list[0]['bin_width'] if stats_list else 0.01
    nbins = int(np.ceil(180.0 / bw))
    hist = np.zeros(nbins, dtype=np.int64)
    out = dict(n=0, sum=0.0, sum_sq=0.0, bin_width=bw)
    for t in NORMAL_THRESHOLDS:
        out[f'under_{t}'] = 0
    for s in stats_list:
        if s['bin_width'] != bw:
            raise ValueError('histograms with different bin widths')
        for k in out:
            if k != 'bin_width':
                out[k] += s[k]
        np.add.at(hist, s['hist_idx'], s['hist_cnt'])
    out['hist'] = hist
    return out


def normal_metrics(merged: dict) -> dict:
    """mean, median, rmse (degrees) and 11.25 / 22.5 / 30 (percent)."""
    n = merged['n']
    if n == 0:
        nan = float('nan')
        return dict(mean=nan, median=nan, rmse=nan,
                    **{f'{t}': nan for t in NORMAL_THRESHOLDS})
    hist = merged['hist']
    bw = merged['bin_width']
    cum = np.cumsum(hist)
    half = n / 2.0
    b = int(np.searchsorted(cum, half))
    below = cum[b - 1] if b > 0 else 0
    median = (b + (half - below) / max(hist[b], 1)) * bw
    out = dict(mean=merged['sum'] / n, median=float(median),
               rmse=float(np.sqrt(merged['sum_sq'] / n)))
    for t in NORMAL_THRESHOLDS:
        out[f'{t}'] = 100.0 * merged[f'under_{t}'] / n
    return out
