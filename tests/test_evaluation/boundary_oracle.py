"""Reference implementations the boundary metric is checked against.

Written for clarity, not speed, and independent of the package's kernels:

- :func:`thin_by_definition`: Lam-Lee-Suen thinning evaluated pixel by pixel
  from conditions G1, G2, G3 / G3' (no lookup table, no compiled code);
- :func:`match_count_maxflow`: maximum bipartite matching as a unit-capacity
  max flow (``scipy.sparse.csgraph.maximum_flow``) on pairs from a k-d tree;
- :func:`boundary_counts_reference`: the per-threshold counts, each threshold
  thinned and matched from scratch.
"""
import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_flow
from scipy.spatial import cKDTree

from mmtlsi.evaluation.functional import (
    edge_nms,
    edge_thresholds,
    gt_boundary_map,
    quantize_edge_map,
)
from mmtlsi.utils.edge_maps import thin

# x1 .. x8: E, NE, N, NW, W, SW, S, SE as (row, column) offsets
_OFFSETS = [(0, 1), (-1, 1), (-1, 0), (-1, -1), (0, -1), (1, -1), (1, 0),
            (1, 1)]


def _neighbours(img, r, c):
    h, w = img.shape
    return [int(img[r + dr, c + dc]) if 0 <= r + dr < h and 0 <= c + dc < w
            else 0 for dr, dc in _OFFSETS]


def _g1_g2(x):
    x = x + [x[0]]                                   # x9 = x1, 0-based
    x_h = sum(x[2 * i] == 0 and (x[2 * i + 1] == 1 or x[2 * i + 2] == 1)
              for i in range(4))
    n1 = sum(x[2 * k] == 1 or x[2 * k + 1] == 1 for k in range(4))
    n2 = sum(x[2 * k + 1] == 1 or x[2 * k + 2] == 1 for k in range(4))
    return x_h == 1 and 2 <= min(n1, n2) <= 3


def thin_by_definition(mask):
    img = np.asarray(mask, dtype=np.uint8).copy()
    while True:
        changed = False
        for sub in (1, 2):
            delete = []
            for r, c in zip(*np.nonzero(img)):
                x1, x2, x3, x4, x5, x6, x7, x8 = x = _neighbours(img, r, c)
                if sub == 1:
                    g3 = not ((x2 or x3 or not x8) and x1)
                else:
                    g3 = not ((x6 or x7 or not x4) and x5)
                if g3 and _g1_g2(x):
                    delete.append((r, c))
            for r, c in delete:
                img[r, c] = 0
            changed |= bool(delete)
        if not changed:
            return img.astype(bool)


def match_count_maxflow(pred, gt, max_dist):
    pred, gt = np.asarray(pred, bool), np.asarray(gt, bool)
    radius = max_dist * float(np.hypot(*pred.shape))
    pp, gp = np.argwhere(pred), np.argwhere(gt)
    if not len(pp) or not len(gp):
        return 0
    coo = cKDTree(pp).sparse_distance_matrix(cKDTree(gp), radius + 1e-9,
                                             output_type='ndarray')
    if coo.size == 0:
        return 0
    n_p, n_g = len(pp), len(gp)
    src, dst = n_p + n_g, n_p + n_g + 1
    rows = np.concatenate([np.full(n_p, src), coo['i'], n_p + np.arange(n_g)])
    cols = np.concatenate([np.arange(n_p), n_p + coo['j'], np.full(n_g, dst)])
    graph = csr_matrix((np.ones(rows.size, np.int32), (rows, cols)),
                       shape=(dst + 1, dst + 1))
    return int(maximum_flow(graph, src, dst).flow_value)


def boundary_counts_reference(prob, gt, thresholds=101, max_dist=0.011,
                              nms=True, quantize=True, gt_is_boundary=False,
                              ignore_index=255):
    prob = np.asarray(prob, np.float32)
    thr = edge_thresholds(thresholds)
    edge = quantize_edge_map(prob) if quantize else prob
    if nms:
        edge = edge_nms(edge)
    gmap = gt_boundary_map(gt[:prob.shape[0], :prob.shape[1]], ignore_index,
                           use_seg2bmap=not gt_is_boundary)
    out = np.zeros((thr.size, 4), np.int64)
    for k, t in enumerate(thr):
        pred = thin(edge.astype(np.float64) > t)
        m = match_count_maxflow(pred, gmap, max_dist)
        out[k] = (m, gmap.sum(), m, pred.sum())
    return out


def conv_tri_loops(img, radius):
    """``convConst``'s ``convTri`` / ``convTriY`` (s = 1) transcribed loop by
    loop, one float32 operation at a time (column-major like MATLAB)."""
    f = np.float32
    img = np.asarray(img, f)
    h, w = img.shape
    r = radius + 1
    nrm = f(1) / f(r * r * r * r)
    col = [img[:, i] for i in range(w)]
    out = np.zeros((h, w), f)

    def tri_y(vec):                     # convTriY(I, O, h, r - 1, 1)
        o = np.zeros(h, f)
        t = u = vec[0]
        for j in range(1, r):
            t = f(t + vec[j])
            u = f(u + t)
        u = f(f(2) * u - t)
        t = f(0)
        o[0] = u
        for j in range(1, h):
            a = vec[r - j] if j < r + 1 else vec[j - r - 1]
            b = vec[r - 1 + j] if j < h - r + 1 else vec[2 * h - r - j]
            t = f(t + f(f(a + b) - f(2) * vec[j - 1]))
            u = f(u + t)
            o[j] = u
        return o

    t_vec = col[0].copy()
    u_vec = col[0].copy()
    for i in range(1, r):
        t_vec = t_vec + col[i]
        u_vec = u_vec + t_vec
    u_vec = nrm * (f(2) * u_vec - t_vec)
    t_vec = np.zeros(h, f)
    out[:, 0] = tri_y(u_vec)
    for i in range(1, w):
        left = col[r - i] if i <= r else col[i - 1 - r]
        right = col[i - 1 + r] if i <= w - r else col[2 * w - r - i]
        t_vec = t_vec + ((left + right) - f(2) * col[i - 1])
        u_vec = u_vec + nrm * t_vec
        out[:, i] = tri_y(u_vec)
    return out
