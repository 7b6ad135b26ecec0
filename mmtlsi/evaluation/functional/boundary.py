"""Boundary detection: odsF / oisF with the SEISM protocol (NumPy, numba).

The multi-task literature (ATRC, InvPT, TaskPrompter, ...) scores boundaries
with the SEISM MATLAB toolbox. This module reproduces that procedure without
MATLAB, step by step as SEISM's ``read_one_cont_png.m`` and
``edgesEvalImg.m`` run it:

1. **Quantise** the probability map as the PNG the reference code writes and
   SEISM reads back: ``single(uint8(trunc(255 p))) / 255``
   (:func:`~mmtlsi.utils.edge_maps.quantize_edge_map`).
2. **Edge NMS** of the Structured Edge toolbox, float32 operation by operation
   (:func:`~.boundary_nms.edge_nms`; see ``boundary_nms.py``): orientation
   from the second derivatives of ``convTri(E, 4)``, suppression against the
   bilinearly interpolated neighbours at distance 1 across the edge with
   multiplier ``1.01``, linear damping of the 5 pixels next to the border.
3. **Thresholds** (:func:`edge_thresholds`): 101 by default, SEISM's HED
   parameter list ``0.001, 0.01, 0.02, ..., 0.99, 0.999``. A pixel is an edge
   where ``value > t``: the float32 map against the double threshold, compared
   exactly (as MATLAB compares single with double).
4. **Thinning** of every thresholded map, ``bwmorph(E, 'thin', Inf)``
   (:func:`~mmtlsi.utils.edge_maps.thin`).
5. **Ground truth**: ``bwmorph(seg2bmap(G), 'thin', Inf)`` (:func:`seg2bmap`:
   a pixel is a boundary where its label differs from its east, south or
   south-east neighbour), even when ``G`` already is a boundary map.
6. **Matching** of prediction and ground-truth pixels within
   ``max_dist * diagonal`` (Euclidean, ``<=``), one to one
   (:func:`match_count`). BSDS' ``correspondPixels`` solves a min-cost
   assignment (CSA) on a sparse graph whose outlier edges are drawn at random,
   with an outlier cost of 100 times the radius, so it nearly always returns a
   maximum-cardinality matching; here a maximum-cardinality matching is
   computed exactly (Hopcroft-Karp, ``_boundary_kernels.py``). The count can
   only be >= CSA's; MATLAB's own runs differ by about +-5e-4 odsF. Steps 1-5
   are deterministic and reproduced operation by operation (the remaining
   caveats are listed in ``docs/evaluation.md``); only this one is random.
7. Per image and threshold the counts ``(cntR, sumR, cntP, sumP)`` = (matched
   GT pixels, GT pixels, matched predicted pixels, predicted pixels) are kept
   (:func:`boundary_counts`). **odsF** is the best F over thresholds of the
   dataset-summed counts, **oisF** the F of the counts summed at each image's
   own best threshold (the first one on ties, as MATLAB's ``max``), see
   :func:`boundary_scores`. F is 0 where precision + recall is 0; SEISM's
   corner cases (no GT: P=0, R=1; no prediction: P=1, R=0) are kept.

Counts are integers, so ``boundary_counts`` on disjoint image sets can be
summed (or concatenated) and pooled exactly. Thresholds are swept from the
highest down; each matching starts from the previous one, less the pixels
that thinning no longer keeps (the size of a maximum matching does not depend
on where the search starts). The tests compare the counts with an
independent max-flow matcher.

Speed: see ``docs/evaluation.md``.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from mmtlsi.utils.edge_maps import (
    THIN_LUTS,
    quantize_edge_map,
    thin,
    thin_points,
)

from . import _boundary_kernels as _kernels
from .boundary_nms import edge_nms

__all__ = [
    'edge_thresholds', 'seg2bmap', 'gt_boundary_map', 'match_count',
    'boundary_counts', 'f_measure', 'boundary_scores',
]


# ----------------------------------------------------------------------------
# thresholds
# ----------------------------------------------------------------------------
def edge_thresholds(n: int | Sequence[float] = 101) -> np.ndarray:
    """Thresholds: ``n`` evenly spaced on [0, 1], ends moved to 0.001 / 0.999.

    ``n = 101`` gives SEISM's HED list (0.001, 0.01, 0.02, ..., 0.99, 0.999),
    each the double nearest to its decimal (what ``str2double`` returns).
    A sequence is returned as given (float64).
    """
    if np.ndim(n) == 0:
        n = int(n)
        if n < 1:
            raise ValueError('need at least one threshold')
        if n == 1:
            return np.array([0.5])
        thr = np.round(np.linspace(0.0, 1.0, n), 10)
        thr[0], thr[-1] = 0.001, 0.999
        return thr
    return np.asarray(n, dtype=np.float64).ravel()


# ----------------------------------------------------------------------------
# ground truth
# ----------------------------------------------------------------------------
def seg2bmap(seg: np.ndarray) -> np.ndarray:
    """Boundary map of a label map (same size): label differs E / S / SE.

    The last row compares east only, the last column south only, and the
    bottom-right pixel is never a boundary (BSDS' ``seg2bmap.m``).
    """
    seg = np.asarray(seg)
    h, w = seg.shape
    b = np.zeros((h, w), dtype=bool)
    b[:, :-1] |= seg[:, :-1] != seg[:, 1:]
    b[:-1, :] |= seg[:-1, :] != seg[1:, :]
    b[:-1, :-1] |= seg[:-1, :-1] != seg[1:, 1:]
    b[-1, :-1] = seg[-1, :-1] != seg[-1, 1:]
    b[:-1, -1] = seg[:-1, -1] != seg[1:, -1]
    b[-1, -1] = False
    return b


def gt_boundary_map(gt: np.ndarray, ignore_index: int | None = 255,
                    use_seg2bmap: bool = True) -> np.ndarray:
    """Ground-truth boundary pixels as SEISM sees them: thin(seg2bmap(gt)).

    ``ignore_index`` pixels are treated as background first (padding must be
    cropped away before; the metric crops the GT to the prediction's size).
    """
    gt = np.asarray(gt)
    if gt.ndim == 3:
        gt = gt[0]
    gt = gt.astype(np.int64)
    if ignore_index is not None:
        gt = np.where(gt == ignore_index, 0, gt)
    bmap = seg2bmap(gt) if use_seg2bmap else gt > 0
    return thin(bmap)


# ----------------------------------------------------------------------------
# matching and counts
# ----------------------------------------------------------------------------
def _radius_offsets(radius: float) -> tuple[np.ndarray, np.ndarray]:
    """(row, column) offsets within Euclidean ``radius`` (inclusive, with a
    1e-9 margin so that radii equal to a distance keep it)."""
    r = radius + 1e-9
    k = int(np.floor(r))
    dr, dc = np.mgrid[-k:k + 1, -k:k + 1]
    keep = (dr * dr + dc * dc).astype(np.float64) <= r * r
    return dr[keep].astype(np.int64), dc[keep].astype(np.int64)


def _radius_graph(left_map: np.ndarray, right_map: np.ndarray,
                  radius: float) -> tuple[np.ndarray, np.ndarray]:
    """CSR graph of the ``left_map`` pixels to the ``right_map`` pixels within
    ``radius``, both numbered in ``np.argwhere`` (row-major) order."""
    lidx = np.full(left_map.shape, -1, dtype=np.int64)
    n_left = int(left_map.sum())
    lidx[left_map] = np.arange(n_left)
    rr, rc = np.nonzero(right_map)
    off_r, off_c = _radius_offsets(radius)
    return _kernels.radius_graph(lidx, rr.astype(np.int64),
                                 rc.astype(np.int64), off_r, off_c, n_left)


def match_count(pred: np.ndarray, gt: np.ndarray,
                max_dist: float = 0.011) -> int:
    """Size of a maximum one-to-one matching between two binary maps.

    Pixels match when their Euclidean distance is <= ``max_dist`` times the
    image diagonal.
    """
    pred = np.asarray(pred, dtype=bool)
    gt = np.asarray(gt, dtype=bool)
    n_pred, n_gt = int(pred.sum()), int(gt.sum())
    if not n_pred or not n_gt:
        return 0
    radius = max_dist * float(np.hypot(*pred.shape))
    indptr, indices = _radius_graph(pred, gt, radius)
    return int(_kernels.max_matching(
        indptr, indices, np.arange(n_pred), np.full(n_pred, -1, np.int64),
        np.full(n_gt, -1, np.int64)))


def boundary_counts(prob: np.ndarray, gt: np.ndarray,
                    thresholds: int | Sequence[float] = 101,
                    max_dist: float = 0.011, nms: bool = True,
                    quantize: bool = True, gt_is_boundary: bool = False,
                    ignore_index: int | None = 255) -> np.ndarray:
    """Per-threshold counts of one image, shape (T, 4), int64.

    Columns: ``cntR`` (matched GT pixels), ``sumR`` (GT pixels), ``cntP``
    (matched predicted pixels), ``sumP`` (predicted pixels).

    Args:
        prob: (H, W) edge probabilities in [0, 1].
        gt: (H, W) ground truth (labels or a 0/1 boundary map); cropped to
            ``prob``'s size when larger.
        thresholds: see :func:`edge_thresholds`.
        max_dist: matching tolerance, fraction of the image diagonal
            (0.011 NYUDv2, 0.0075 PASCAL-Context).
        nms: apply :func:`~.boundary_nms.edge_nms` (SEISM protocol: yes).
        quantize: quantise first (SEISM protocol: yes).
        gt_is_boundary: when True, ``gt > 0`` pixels are used as they are
            (thinned), skipping seg2bmap; the protocol default is False.
        ignore_index: GT value treated as background.
    """
    prob = np.asarray(prob, dtype=np.float32)
    if prob.ndim == 3:
        prob = prob[0]
    gt = np.asarray(gt)
    if gt.ndim == 3:
        gt = gt[0]
    h, w = prob.shape
    if gt.shape != prob.shape:
        if gt.shape[0] < h or gt.shape[1] < w:
            raise ValueError(f'ground truth {gt.shape} smaller than the '
                             f'prediction {prob.shape}')
        gt = gt[:h, :w]
    thr = edge_thresholds(thresholds)
    edge = quantize_edge_map(prob) if quantize else prob
    if nms:
        edge = edge_nms(edge)
    gt_map = gt_boundary_map(gt, ignore_index, use_seg2bmap=not gt_is_boundary)

    counts = np.zeros((thr.size, 4), dtype=np.int64)
    n_gt = int(gt_map.sum())
    counts[:, 1] = n_gt
    # candidate prediction pixels: above the lowest threshold, numbered in
    # row-major order (as the graph's left vertices)
    cand_map = edge.astype(np.float64) > thr.min()     # exact, as MATLAB
    cand = np.flatnonzero(cand_map)
    if cand.size == 0:
        return counts
    cand_val = edge.reshape(-1)[cand].astype(np.float64)
    cr, cc = np.divmod(cand, w)
    cand_pad = (cr + 1) * (w + 2) + (cc + 1)    # in the zero-framed buffer
    buf = np.zeros((h + 2) * (w + 2), dtype=np.uint8)
    lookup = np.full(buf.size, -1, dtype=np.int64)
    lookup[cand_pad] = np.arange(cand.size)

    radius = max_dist * float(np.hypot(h, w))
    indptr, indices = _radius_graph(cand_map, gt_map, radius)
    match_l = np.full(cand.size, -1, dtype=np.int64)
    match_r = np.full(n_gt, -1, dtype=np.int64)
    prev = None
    # highest threshold first: each matching starts from the previous one
    for k in np.argsort(-thr, kind='stable'):
        above = cand_pad[cand_val > thr[k]]
        if prev is not None and above.size == prev[0]:
            counts[k, [0, 2, 3]] = prev[1]
            continue
        buf[above] = 1
        kept = thin_points(buf, above, w, THIN_LUTS[0], THIN_LUTS[1], -1)
        buf[kept] = 0
        matched = _kernels.rematch(lookup[kept], indptr, indices, match_l,
                                   match_r)
        prev = above.size, (matched, matched, kept.size)
        counts[k, [0, 2, 3]] = prev[1]
    return counts


# ----------------------------------------------------------------------------
# scores
# ----------------------------------------------------------------------------
def f_measure(cnt_r, sum_r, cnt_p, sum_p):
    """Precision, recall and F (arrays), with SEISM's corner cases."""
    cnt_r, sum_r, cnt_p, sum_p = (np.asarray(a, dtype=np.float64)
                                  for a in (cnt_r, sum_r, cnt_p, sum_p))
    with np.errstate(divide='ignore', invalid='ignore'):
        rec = np.where(sum_r > 0, cnt_r / np.maximum(sum_r, 1), 1.0)
        prec = np.where(sum_p > 0, cnt_p / np.maximum(sum_p, 1), 0.0)
        # SEISM: no GT -> P=0, R=1; GT but no prediction -> P=1, R=0
        prec = np.where(sum_r == 0, 0.0, np.where(sum_p == 0, 1.0, prec))
        rec = np.where((sum_r > 0) & (sum_p == 0), 0.0, rec)
        f = np.where(prec + rec > 0, 2 * prec * rec / (prec + rec), 0.0)
    return prec, rec, f


def boundary_scores(counts: np.ndarray | Sequence[np.ndarray],
                    thresholds: int | Sequence[float] = 101) -> dict:
    """odsF / oisF (fractions in [0, 1]) from per-image counts (N, T, 4).

    Returns ``odsF``, ``ods_precision``, ``ods_recall``, ``ods_threshold``,
    ``oisF``, ``ois_precision``, ``ois_recall`` and ``num_images``.
    """
    counts = np.asarray(counts, dtype=np.int64)
    if counts.ndim == 2:
        counts = counts[None]
    thr = edge_thresholds(thresholds)
    if counts.shape[1] != thr.size:
        thr = np.full(counts.shape[1], np.nan)
    total = counts.sum(0)
    p, r, f = f_measure(*total.T)
    best = int(np.argmax(f))
    _, _, f_img = f_measure(*np.moveaxis(counts, 2, 0))     # (N, T)
    best_img = np.argmax(f_img, axis=1)
    ois = counts[np.arange(counts.shape[0]), best_img].sum(0)
    op, orr, of = f_measure(*ois)
    return dict(odsF=float(f[best]), ods_precision=float(p[best]),
                ods_recall=float(r[best]), ods_threshold=float(thr[best]),
                oisF=float(of), ois_precision=float(op),
                ois_recall=float(orr), num_images=int(counts.shape[0]))
