"""Compiled (numba) kernels of the boundary metric; see ``boundary.py``.

Three entry points, compiled on first use and cached on disk (see
:func:`mmtlsi.utils.jit.njit_cached`):

- :func:`radius_graph`: candidate pairs (left pixel, right pixel) within a
  radius, from an offset list, as a CSR adjacency of the left pixels;
- :func:`max_matching`: maximum-cardinality bipartite matching
  (Hopcroft-Karp) of the active left vertices, continuing from a given
  matching;
- :func:`sweep`: thinning (:func:`mmtlsi.utils.edge_maps.thin_points`) and
  matching for every threshold of one image.
"""
import numpy as np

from mmtlsi.utils.edge_maps import thin_points
from mmtlsi.utils.jit import njit_cached


@njit_cached
def radius_graph(left_index, rows, cols, off_r, off_c, n_left):
    """CSR adjacency (indptr, indices) of the left pixels (``left_index``
    >= 0, their index) to the right pixels j (``rows[j], cols[j]``) whose
    offset from them is one of (``off_r``, ``off_c``) (a symmetric list)."""
    h, w = left_index.shape
    indptr = np.zeros(n_left + 1, dtype=np.int64)
    for j in range(rows.size):
        for k in range(off_r.size):
            r = rows[j] + off_r[k]
            c = cols[j] + off_c[k]
            if 0 <= r < h and 0 <= c < w and left_index[r, c] >= 0:
                indptr[left_index[r, c] + 1] += 1
    for i in range(n_left):
        indptr[i + 1] += indptr[i]
    fill = indptr[:-1].copy()
    indices = np.empty(indptr[n_left], dtype=np.int64)
    for j in range(rows.size):
        for k in range(off_r.size):
            r = rows[j] + off_r[k]
            c = cols[j] + off_c[k]
            if 0 <= r < h and 0 <= c < w and left_index[r, c] >= 0:
                i = left_index[r, c]
                indices[fill[i]] = j
                fill[i] += 1
    return indptr, indices


@njit_cached
def max_matching(indptr, indices, active, match_l, match_r):
    """Grow ``match_l`` / ``match_r`` to a maximum matching; return its size.

    ``active`` lists the left vertices taking part; on entry the matching
    (-1 = free) may only use active left vertices. Hopcroft-Karp phases:
    a BFS layers the alternating graph from the free left vertices, then a
    depth-first search along the layers augments vertex by vertex; it stops
    when no free right vertex is reachable (Berge: the matching is maximum).
    """
    big = np.iinfo(np.int64).max
    n_left = indptr.size - 1
    dist = np.empty(n_left, dtype=np.int64)
    it = np.empty(n_left, dtype=np.int64)
    queue = np.empty(active.size, dtype=np.int64)
    stack = np.empty(active.size, dtype=np.int64)
    size = 0
    for k in range(active.size):
        if match_l[active[k]] >= 0:
            size += 1
    while True:
        # BFS from all free left vertices
        qt = 0
        for k in range(active.size):
            u = active[k]
            it[u] = indptr[u]
            if match_l[u] < 0:
                dist[u] = 0
                queue[qt] = u
                qt += 1
            else:
                dist[u] = big
        limit = big
        qh = 0
        while qh < qt:
            u = queue[qh]
            qh += 1
            if dist[u] >= limit:
                continue
            for e in range(indptr[u], indptr[u + 1]):
                w = match_r[indices[e]]
                if w < 0:
                    limit = dist[u] + 1
                elif dist[w] == big:
                    dist[w] = dist[u] + 1
                    queue[qt] = w
                    qt += 1
        if limit == big:
            return size
        # augment along the layers, one DFS per free left vertex
        for k in range(active.size):
            u = active[k]
            if match_l[u] >= 0 or dist[u] != 0:
                continue
            stack[0] = u
            sp = 1
            found = False
            while sp > 0 and not found:
                x = stack[sp - 1]
                pushed = False
                while it[x] < indptr[x + 1]:
                    w = match_r[indices[it[x]]]
                    if w < 0:
                        found = True
                        break
                    if dist[w] == dist[x] + 1:
                        stack[sp] = w
                        sp += 1
                        pushed = True
                        break
                    it[x] += 1
                if found or pushed:
                    continue
                dist[x] = big           # dead end for this phase
                sp -= 1
                if sp > 0:
                    it[stack[sp - 1]] += 1
            if found:
                for i in range(sp):
                    a = stack[i]
                    v = indices[it[a]]
                    match_l[a] = v
                    match_r[v] = a
                size += 1


@njit_cached
def sweep(cand_pad, cand_val, thr_desc, buf, width, lut1, lut2, lookup,
          indptr, indices, n_right):
    """Matched and predicted pixel counts for each threshold of
    ``thr_desc`` (non-increasing).

    Candidates (padded flat index ``cand_pad``, value ``cand_val``) above a
    threshold are thinned in ``buf`` (zero on entry and exit); the thinned
    pixels are matched to the right vertices (ground truth) of the CSR graph
    (left vertex = candidate index, ``lookup`` maps a padded flat index to
    it). The matching of the previous threshold, less the pixels that are
    gone, is the starting point of the next one.
    """
    n_thr = thr_desc.size
    n_cand = cand_pad.size
    matched = np.zeros(n_thr, dtype=np.int64)
    n_pred = np.zeros(n_thr, dtype=np.int64)
    match_l = np.full(n_cand, -1, dtype=np.int64)
    match_r = np.full(n_right, -1, dtype=np.int64)
    is_active = np.zeros(n_cand, dtype=np.bool_)
    above = np.empty(n_cand, dtype=np.int64)
    prev_n = -1
    for t in range(n_thr):
        n_above = 0
        for i in range(n_cand):
            if cand_val[i] > thr_desc[t]:
                above[n_above] = cand_pad[i]
                n_above += 1
        if n_above == prev_n:
            matched[t] = matched[t - 1]
            n_pred[t] = n_pred[t - 1]
            continue
        prev_n = n_above
        pts = above[:n_above]
        for i in range(n_above):
            buf[pts[i]] = 1
        kept = thin_points(buf, pts, width, lut1, lut2, -1)
        n_pred[t] = kept.size
        is_active[:] = False
        active = np.empty(kept.size, dtype=np.int64)
        n_act = 0
        for i in range(kept.size):
            buf[kept[i]] = 0
            u = lookup[kept[i]]
            if indptr[u + 1] > indptr[u]:       # has a GT pixel in reach
                active[n_act] = u
                n_act += 1
                is_active[u] = True
        for u in range(n_cand):
            v = match_l[u]
            if v >= 0 and not is_active[u]:
                match_l[u] = -1
                match_r[v] = -1
        matched[t] = max_matching(indptr, indices, active[:n_act], match_l,
                                  match_r)
    return matched, n_pred
