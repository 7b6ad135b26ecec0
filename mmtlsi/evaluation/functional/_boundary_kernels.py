"""Compiled (numba) kernels of the boundary metric; see ``boundary.py``.

Three entry points, compiled on first use and cached on disk (see
:func:`mmtlsi.utils.jit.njit_cached`):

- :func:`radius_graph`: candidate pairs (left pixel, right pixel) within a
  radius, from an offset list, as a CSR adjacency of the left pixels;
- :func:`max_matching`: maximum-cardinality bipartite matching
  (Hopcroft-Karp) of the active left vertices, continuing from a given
  matching;
- :func:`rematch`: the matching of the next threshold's pixels, from the
  previous one.

The kernels call only each other: numba's disk cache does not notice changes
to a compiled function of another module that a cached kernel calls.
"""
import numpy as np

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
def rematch(kept, indptr, indices, match_l, match_r):
    """Maximum matching of the left vertices ``kept`` (a new, smaller or
    larger, set), starting from ``match_l`` / ``match_r`` less the pairs whose
    left vertex is not kept any more (updated in place); returns its size.
    Left vertices without an edge do not take part."""
    n_left = match_l.size
    is_kept = np.zeros(n_left, dtype=np.bool_)
    active = np.empty(kept.size, dtype=np.int64)
    n_act = 0
    for i in range(kept.size):
        u = kept[i]
        if indptr[u + 1] > indptr[u]:           # has a GT pixel in reach
            active[n_act] = u
            n_act += 1
            is_kept[u] = True
    for u in range(n_left):
        v = match_l[u]
        if v >= 0 and not is_kept[u]:
            match_l[u] = -1
            match_r[v] = -1
    return max_matching(indptr, indices, active[:n_act], match_l, match_r)
