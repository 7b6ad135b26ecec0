"""Boundary detection: odsF / oisF with the SEISM protocol (NumPy, numba).

The multi-task literature (ATRC, InvPT, TaskPrompter, ...) scores boundaries
with the SEISM MATLAB toolbox. This module reproduces that procedure without
MATLAB:

1. **Quantise** the probability map as the PNG the reference code writes:
   ``uint8(trunc(255 * p)) / 255`` (:func:`quantize_edge_map`).
2. **Edge NMS** as in the Structured Edge toolbox (:func:`edge_nms`):
   orientation (second derivatives) of the map smoothed by a triangle filter
   of radius 4,
   suppression of pixels that are weaker than a bilinearly interpolated
   neighbour at distance ``1`` across the edge (multiplier ``1.01``), and
   linear damping of the ``5`` pixels next to the image border; float32
   throughout.
3. **Thresholds** (:func:`edge_thresholds`): 101 by default, ``0.01 k`` for
   ``k = 0..100`` with the end points moved in to ``0.001`` and ``0.999``, the
   list of SEISM's HED parameter file. A pixel is an edge where ``value > t``
   (strict), the float32 map being compared with a float64 threshold.
4. **Thinning** of every thresholded map to convergence (:func:`thin`), the
   two-subiteration algorithm of Lam, Lee and Suen (1992) that MATLAB's
   ``bwmorph(bw, 'thin', Inf)`` implements.
5. **Ground truth** through ``seg2bmap`` (:func:`seg2bmap`, a pixel is a
   boundary where its label differs from its east, south or south-east
   neighbour) and thinning, even when it already is a boundary map.
6. **Matching** of prediction and ground-truth pixels within
   ``max_dist * diagonal`` (Euclidean, ``<=``), one to one
   (:func:`match_count`). BSDS' ``correspondPixels`` solves a min-cost
   assignment (CSA) on a sparse graph whose outlier edges are drawn at random,
   with an outlier cost of 100 times the radius, so it nearly always returns a
   maximum-cardinality matching; here a maximum-cardinality matching is
   computed exactly. The count can only be >= CSA's; MATLAB's own runs differ
   by about +-5e-4 odsF.
7. Per image and threshold the counts ``(cntR, sumR, cntP, sumP)`` = (matched
   GT pixels, GT pixels, matched predicted pixels, predicted pixels) are kept
   (:func:`boundary_counts`). **odsF** is the best F over thresholds of the
   dataset-summed counts, **oisF** the F of the counts summed at each image's
   own best threshold (the first one on ties, as MATLAB's ``max``), see
   :func:`boundary_scores`. F is 0 where precision + recall is 0; SEISM's
   corner cases (no GT: P=0, R=1; no prediction: P=1, R=0) are kept.

Counts are integers, so ``boundary_counts`` on disjoint image sets can be
summed (or concatenated) and pooled exactly.

Two backends give identical counts (the size of a maximum matching is unique;
the tests compare them):

- ``'numba'`` (default when numba is importable): compiled thinning and
  Hopcroft-Karp matching (``_boundary_kernels.py``); candidate pairs from a
  list of pixel offsets within the radius; thresholds are swept from the
  highest down and each matching starts from the previous one, less the
  pixels that thinning no longer keeps.
- ``'scipy'``: thinning in NumPy and, per threshold, an exact unit-capacity
  max flow (``scipy.sparse.csgraph.maximum_flow``, Dinic) on candidate pairs
  from a k-d tree. Several times slower; kept as the reference.

Speed: see ``docs/evaluation.md``.
"""
from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
from scipy import ndimage
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_flow
from scipy.spatial import cKDTree

try:
    from . import _boundary_kernels as _kernels
except ImportError:          # numba missing: the scipy backend only
    _kernels = None

__all__ = [
    'quantize_edge_map', 'conv_tri', 'edge_orientation', 'edge_nms',
    'edge_thresholds', 'thin', 'seg2bmap', 'gt_boundary_map', 'match_count',
    'boundary_counts', 'f_measure', 'boundary_scores', 'BACKENDS',
    'resolve_backend',
]

#: implementations of thinning and matching (identical results)
BACKENDS = ('numba', 'scipy')
_warned_no_numba = False


def resolve_backend(backend: str | None = None) -> str:
    """``backend`` checked; ``None``: ``'numba'`` when importable, else
    ``'scipy'`` (warning once per process)."""
    global _warned_no_numba
    if backend is None:
        if _kernels is not None:
            return 'numba'
        if not _warned_no_numba:
            _warned_no_numba = True
            warnings.warn('numba is not installed: the boundary metric uses '
                          'its scipy backend, several times slower '
                          '(pip install numba)', stacklevel=2)
        return 'scipy'
    if backend not in BACKENDS:
        raise ValueError(f'backend must be one of {BACKENDS}, got '
                         f'{backend!r}')
    if backend == 'numba' and _kernels is None:
        raise ImportError('the numba backend needs numba (pip install numba)')
    return backend


# ----------------------------------------------------------------------------
# prediction pre-processing
# ----------------------------------------------------------------------------
def quantize_edge_map(prob: np.ndarray) -> np.ndarray:
    """``uint8(trunc(255 * p)) / 255`` as float32 (what a saved PNG holds)."""
    prob = np.clip(np.asarray(prob, dtype=np.float64), 0.0, 1.0)
    return (np.floor(prob * 255.0).astype(np.uint8)
            .astype(np.float32) / np.float32(255.0))


def conv_tri(img: np.ndarray, radius: int) -> np.ndarray:
    """Separable triangle filter of integer ``radius`` (symmetric padding).

    The kernel is ``[1, 2, ..., r+1, ..., 2, 1] / (r+1)^2`` along each axis.
    """
    img = np.asarray(img, dtype=np.float32)
    if radius <= 0:
        return img.copy()
    ramp = np.arange(1, radius + 2, dtype=np.float64)
    kernel = np.concatenate([ramp, ramp[-2::-1]]) / (radius + 1) ** 2
    out = ndimage.correlate1d(img, kernel, axis=0, mode='reflect',
                              output=np.float32)
    return ndimage.correlate1d(out, kernel, axis=1, mode='reflect',
                               output=np.float32)


def _grad(img: np.ndarray, axis: int) -> np.ndarray:
    # central differences inside, one-sided at the borders (MATLAB gradient)
    if img.shape[axis] < 2:
        return np.zeros_like(img)
    return np.gradient(img, axis=axis).astype(np.float32, copy=False)


def edge_orientation(edge: np.ndarray, radius: int = 4) -> np.ndarray:
    """Edge orientation in [0, pi) from second derivatives of the smoothed
    map."""
    smooth = conv_tri(edge, radius)
    ox, oy = _grad(smooth, 1), _grad(smooth, 0)
    oxx = _grad(ox, 1)
    oxy, oyy = _grad(oy, 1), _grad(oy, 0)
    with np.errstate(divide='ignore', invalid='ignore'):
        ratio = (oyy * np.sign(-oxy)) / (oxx + np.float32(1e-5))
    ratio = np.nan_to_num(ratio.astype(np.float32), nan=0.0)
    return np.mod(np.arctan(ratio), np.float32(np.pi)).astype(np.float32)


def _interp(img: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bilinear lookup at column ``x`` / row ``y``, clamped to the image."""
    h, w = img.shape
    x = np.clip(x, 0, np.float32(w - 1.001)).astype(np.float32)
    y = np.clip(y, 0, np.float32(h - 1.001)).astype(np.float32)
    x0 = x.astype(np.int64)
    y0 = y.astype(np.int64)
    x1 = np.minimum(x0 + 1, w - 1)
    y1 = np.minimum(y0 + 1, h - 1)
    dx0 = x - x0
    dy0 = y - y0
    dx1 = np.float32(1) - dx0
    dy1 = np.float32(1) - dy0
    return (img[y0, x0] * dx1 * dy1 + img[y0, x1] * dx0 * dy1
            + img[y1, x0] * dx1 * dy0 + img[y1, x1] * dx0 * dy0)


def edge_nms(edge: np.ndarray, orientation: np.ndarray | None = None,
             radius: int = 1, border: int = 5, multiplier: float = 1.01,
             smooth_radius: int = 4) -> np.ndarray:
    """Structured-Edge-style non-maximum suppression (float32).

    A non-zero pixel is set to 0 when ``multiplier * e`` is smaller than the
    map sampled at ``d`` pixels across the edge (``d = -radius..radius``,
    d != 0,
    along ``(cos o, sin o)`` in (column, row)); then the ``border`` pixels next
    to each side are multiplied by ``distance / border``.
    """
    e0 = np.asarray(edge, dtype=np.float32)
    h, w = e0.shape
    if orientation is None:
        orientation = edge_orientation(e0, smooth_radius)
    out = e0.copy()
    rows, cols = np.nonzero(e0)
    if rows.size:
        o = orientation[rows, cols].astype(np.float32)
        cos_o, sin_o = np.cos(o), np.sin(o)
        val = e0[rows, cols] * np.float32(multiplier)
        keep = np.ones(rows.size, dtype=bool)
        xs, ys = cols.astype(np.float32), rows.astype(np.float32)
        for d in range(-radius, radius + 1):
            if d == 0:
                continue
            nb = _interp(e0, xs + np.float32(d) * cos_o,
                         ys + np.float32(d) * sin_o)
            keep &= ~(val < nb)
        out[rows[~keep], cols[~keep]] = 0
    s = min(border, w // 2, h // 2)
    for i in range(s):
        f = np.float32(i / s)
        out[:, i] *= f
        out[:, w - 1 - i] *= f
    for i in range(s):
        f = np.float32(i / s)
        out[i, :] *= f
        out[h - 1 - i, :] *= f
    return out


def edge_thresholds(n: int | Sequence[float] = 101) -> np.ndarray:
    """Thresholds: ``n`` evenly spaced on [0, 1], ends moved to 0.001 / 0.999.

    ``n = 101`` gives SEISM's HED list (0.001, 0.01, 0.02, ..., 0.99, 0.999).
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
# thinning (Lam, Lee & Suen 1992, as MATLAB bwmorph 'thin')
# ----------------------------------------------------------------------------
def _thin_luts() -> tuple[np.ndarray, np.ndarray]:
    # neighbour bit k holds x_{k+1}: x1=E, x2=NE, x3=N, x4=NW, x5=W, x6=SW,
    # x7=S, x8=SE (N = previous row)
    lut1 = np.zeros(256, dtype=bool)
    lut2 = np.zeros(256, dtype=bool)
    for code in range(256):
        x = [(code >> k) & 1 for k in range(8)]
        x = x + [x[0]]                        # x9 = x1
        xh = sum(1 for i in range(4)
                 if x[2 * i] == 0 and (x[2 * i + 1] or x[2 * i + 2]))
        n1 = sum(1 for k in range(4) if x[2 * k] or x[2 * k + 1])
        n2 = sum(1 for k in range(4) if x[2 * k + 1] or x[2 * k + 2])
        g12 = xh == 1 and 2 <= min(n1, n2) <= 3
        x1, x2, x3, x4, x5, x6, x7, x8 = x[:8]
        g3 = ((x2 or x3 or not x8) and x1) == 0
        g3p = ((x6 or x7 or not x4) and x5) == 0
        lut1[code] = g12 and g3
        lut2[code] = g12 and g3p
    return lut1, lut2


_LUT1, _LUT2 = _thin_luts()


def _thin_flat(buf: np.ndarray, pts: np.ndarray, width: int) -> np.ndarray:
    """Thin the set ``pts`` (flat indices into the zero-bordered ``buf``).

    ``buf`` holds 1 at ``pts`` and 0 elsewhere (including a 1-pixel frame);
    it is updated in place. Returns the remaining indices.
    """
    buf = buf.reshape(-1)
    stride = width + 2
    offsets = (1, -stride + 1, -stride, -stride - 1, -1, stride - 1, stride,
               stride + 1)
    while pts.size:
        changed = False
        for lut in (_LUT1, _LUT2):
            code = np.zeros(pts.size, dtype=np.uint8)
            for k, off in enumerate(offsets):
                code |= buf[pts + off] << np.uint8(k)
            delete = lut[code]
            if delete.any():
                buf[pts[delete]] = 0
                pts = pts[~delete]
                changed = True
        if not changed:
            break
    return pts


def thin(mask: np.ndarray, backend: str | None = None) -> np.ndarray:
    """Morphological thinning to convergence of a binary map (a new array)."""
    mask = np.asarray(mask, dtype=bool)
    h, w = mask.shape
    buf = np.zeros((h + 2, w + 2), dtype=np.uint8)
    buf[1:-1, 1:-1] = mask
    pts = np.flatnonzero(buf)
    # both work in place on buf
    if resolve_backend(backend) == 'numba':
        _kernels.thin_points(buf.reshape(-1), pts, w, _LUT1, _LUT2)
    else:
        _thin_flat(buf, pts, w)
    return buf[1:-1, 1:-1].astype(bool)


# ----------------------------------------------------------------------------
# ground truth
# ----------------------------------------------------------------------------
def seg2bmap(seg: np.ndarray) -> np.ndarray:
    """Boundary map of a label map (same size): label differs E / S / SE."""
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
                    use_seg2bmap: bool = True,
                    backend: str | None = None) -> np.ndarray:
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
    return thin(bmap, backend)


# ----------------------------------------------------------------------------
# matching and counts
# ----------------------------------------------------------------------------
def match_count(pred: np.ndarray, gt: np.ndarray, max_dist: float = 0.011,
                backend: str | None = None) -> int:
    """Size of a maximum one-to-one matching between two binary maps.

    Pixels match when their Euclidean distance is <= ``max_dist`` times the
    image diagonal.
    """
    pred = np.asarray(pred, dtype=bool)
    gt = np.asarray(gt, dtype=bool)
    radius = max_dist * float(np.hypot(*pred.shape))
    pp, gp = np.argwhere(pred), np.argwhere(gt)
    if not len(pp) or not len(gp):
        return 0
    if resolve_backend(backend) == 'numba':
        indptr, indices = _radius_graph(pred, gt, radius)
        return int(_kernels.max_matching(
            indptr, indices, np.arange(len(pp)),
            np.full(len(pp), -1, np.int64), np.full(len(gp), -1, np.int64)))
    rows, cols = _pairs(gp, pp, radius)
    return _max_matching(rows, cols)


def _radius_offsets(radius: float) -> tuple[np.ndarray, np.ndarray]:
    """(row, column) offsets within ``radius`` (inclusive, with the k-d
    tree's 1e-9 margin and its squared-distance test)."""
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


def _pairs(a: np.ndarray, b: np.ndarray, radius: float):
    """Index pairs (i into a, j into b) within ``radius``, sorted by i."""
    ta, tb = cKDTree(a), cKDTree(b)
    coo = ta.sparse_distance_matrix(tb, radius + 1e-9, output_type='ndarray')
    order = np.lexsort((coo['j'], coo['i']))
    return coo['i'][order].astype(np.int64), coo['j'][order].astype(np.int64)


def _max_matching(rows: np.ndarray, cols: np.ndarray) -> int:
    """Maximum matching size of the bipartite graph with edges (rows, cols).

    Solved as a unit-capacity max flow with Dinic's algorithm (what
    Hopcroft-Karp is on bipartite graphs). ``rows`` must be sorted.
    """
    if rows.size == 0:
        return 0
    # compact both sides to the vertices that have an edge
    rmap = np.cumsum(np.bincount(rows) > 0) - 1
    cmap = np.cumsum(np.bincount(cols) > 0) - 1
    ri, ci = rmap[rows], cmap[cols]
    nr, nc = int(rmap[-1]) + 1, int(cmap[-1]) + 1
    if nr == 1 or nc == 1:
        return 1
    n = nr + nc + 2
    src, dst = n - 2, n - 1
    # CSR rows in order: GT vertices 0..nr-1, pred vertices, source, sink
    per_row = np.concatenate([np.bincount(ri, minlength=nr) ,
                              np.ones(nc, dtype=np.int64), [nr], [0]])
    indptr = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(per_row, out=indptr[1:])
    indices = np.concatenate([nr + ci, np.full(nc, dst),
                              np.arange(nr)]).astype(np.int32)
    data = np.ones(indices.size, dtype=np.int32)
    graph = csr_matrix((data, indices, indptr), shape=(n, n))
    return int(maximum_flow(graph, src, dst, method='dinic').flow_value)


def boundary_counts(prob: np.ndarray, gt: np.ndarray,
                    thresholds: int | Sequence[float] = 101,
                    max_dist: float = 0.011, nms: bool = True,
                    quantize: bool = True, gt_is_boundary: bool = False,
                    ignore_index: int | None = 255,
                    backend: str | None = None) -> np.ndarray:
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
        nms: apply :func:`edge_nms` (SEISM protocol: yes).
        quantize: apply :func:`quantize_edge_map` first (SEISM protocol: yes).
        gt_is_boundary: when True, ``gt > 0`` pixels are used as they are
            (thinned), skipping seg2bmap; the protocol default is False.
        ignore_index: GT value treated as background.
        backend: ``'numba'`` or ``'scipy'`` (identical counts), ``None`` for
            numba when installed.
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
    backend = resolve_backend(backend)
    gt_map = gt_boundary_map(gt, ignore_index, use_seg2bmap=not gt_is_boundary,
                             backend=backend)

    counts = np.zeros((thr.size, 4), dtype=np.int64)
    gpts = np.argwhere(gt_map)
    counts[:, 1] = len(gpts)

    # candidate prediction pixels: above the lowest threshold
    buf = np.zeros((h + 2, w + 2), dtype=np.uint8)
    flat_all = buf.reshape(-1)
    cand = np.flatnonzero(edge > thr.min())   # unpadded flat indices
    if cand.size == 0:
        return counts
    cand_val = edge.reshape(-1)[cand].astype(np.float64)
    cr, cc = np.divmod(cand, w)
    cand_pad = (cr + 1) * (w + 2) + (cc + 1)
    # padded flat index -> candidate index
    lookup = np.full(buf.size, -1, dtype=np.int64)
    lookup[cand_pad] = np.arange(cand.size)

    radius = max_dist * float(np.hypot(h, w))
    if backend == 'numba':
        # candidates are numbered in row-major order, as edge > thr.min()
        indptr, indices = _radius_graph(edge > thr.min(), gt_map, radius)
        order = np.argsort(-thr, kind='stable')
        matched, n_pred = _kernels.sweep(
            cand_pad.astype(np.int64), cand_val, thr[order], flat_all, w,
            _LUT1, _LUT2, lookup, indptr, indices, len(gpts))
        counts[order, 0] = counts[order, 2] = matched
        counts[order, 3] = n_pred
        return counts

    if len(gpts):
        pr, pc = _pairs(gpts, np.stack([cr, cc], 1), radius)
    else:
        pr = pc = np.zeros(0, dtype=np.int64)

    prev_n, prev_result = -1, None
    for t_i, t in enumerate(thr):
        above = cand_val > t
        n_above = int(above.sum())
        if n_above == prev_n:
            counts[t_i, [0, 2, 3]] = prev_result
            continue
        prev_n = n_above
        pts = cand_pad[above]
        flat_all[:] = 0
        flat_all[pts] = 1
        pts = _thin_flat(flat_all, pts, w)
        n_pred = pts.size
        matched = 0
        if n_pred and pr.size:
            keep = np.zeros(cand.size, dtype=bool)
            keep[lookup[pts]] = True
            sel = keep[pc]
            if sel.any():
                matched = _max_matching(pr[sel], pc[sel])
        prev_result = (matched, matched, n_pred)
        counts[t_i, [0, 2, 3]] = prev_result
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
