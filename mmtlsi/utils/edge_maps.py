"""Edge-map primitives shared by the datasets and the boundary metric.

- **8-bit quantisation** of an edge probability map, as the multi-task
  reference code saves it and SEISM reads it back:
  :func:`edge_to_uint8` (``uint8(trunc(255 p))``, the PNG),
  :func:`edge_from_uint8` (the PNG read back as MATLAB's ``im2single`` does,
  ``single(v) / 255``) and :func:`quantize_edge_map` (both).
- **Thinning** (:func:`thin`): MATLAB's ``bwmorph(bw, 'thin', n)``, the
  parallel two-subiteration algorithm that Lam, Lee & Suen (1992, p. 879)
  describe (Guo & Hall's A1). Used for the ground-truth and predicted boundary
  maps of the metric and for PASCAL-Context's boundary labels.

Thinning, in the survey's terms: ``x1 .. x8`` are the 8 neighbours of ``p``,
starting with the east one and counter-clockwise (``x1`` E, ``x2`` NE, ``x3``
N, ``x4`` NW, ``x5`` W, ``x6`` SW, ``x7`` S, ``x8`` SE; north is the previous
row; ``x9 = x1``). With ``b_i = 1`` when ``x_{2i-1} = 0`` and
``x_{2i} or x_{2i+1}``:

- G1: ``X_H(p) = b_1 + b_2 + b_3 + b_4 = 1``;
- G2: ``2 <= min(n1, n2) <= 3``, ``n1 = sum_k (x_{2k-1} or x_{2k})``,
  ``n2 = sum_k (x_{2k} or x_{2k+1})``, ``k = 1..4``;
- G3: ``(x2 or x3 or not x8) and x1`` is false (first subiteration);
- G3': ``(x6 or x7 or not x4) and x5`` is false (second subiteration).

A subiteration deletes, at once, every set pixel that meets G1, G2 and its G3
in the image as it was when the subiteration started. One iteration is the
two subiterations; ``n = Inf`` repeats until an iteration deletes nothing.
Pixels outside the image are 0.
"""
from __future__ import annotations

import numpy as np

from .arrays import to_numpy
from .jit import njit_cached

__all__ = ['EDGE_LEVELS', 'edge_to_uint8', 'edge_from_uint8',
           'quantize_edge_map', 'thin', 'THIN_LUTS', 'thin_points']

#: the grey levels of a saved edge map
EDGE_LEVELS = 255


# ----------------------------------------------------------------------------
# quantisation
# ----------------------------------------------------------------------------
def edge_to_uint8(prob) -> np.ndarray:
    """``uint8(trunc(255 * clip(p, 0, 1)))`` of an (H, W) map (or (1, H, W),
    or a torch tensor): the 8-bit PNG an edge prediction is saved as."""
    prob = to_numpy(prob).astype(np.float64)
    if prob.ndim == 3 and prob.shape[0] == 1:
        prob = prob[0]
    if prob.ndim != 2:
        raise ValueError(f'an edge map must be (H, W) or (1, H, W), got '
                         f'shape {prob.shape}')
    return np.floor(np.clip(prob, 0.0, 1.0) * EDGE_LEVELS).astype(np.uint8)


def edge_from_uint8(values) -> np.ndarray:
    """A saved 8-bit edge map as SEISM reads it: ``im2single``, i.e.
    ``single(v) / 255`` (a correctly rounded float32 division)."""
    return np.asarray(values, dtype=np.uint8).astype(np.float32) / np.float32(
        EDGE_LEVELS)


def quantize_edge_map(prob) -> np.ndarray:
    """``edge_from_uint8(edge_to_uint8(prob))``: the float32 map SEISM works
    on when ``prob`` is saved as a PNG."""
    return edge_from_uint8(edge_to_uint8(prob))


# ----------------------------------------------------------------------------
# thinning
# ----------------------------------------------------------------------------
def _deletable(x: list[int]) -> tuple[bool, bool]:
    """(first, second subiteration) deletion of a pixel whose neighbours are
    ``x = [x1, .., x8]``, from conditions G1, G2, G3 / G3'."""
    x = [None] + list(x) + [x[0]]            # 1-based, x9 = x1
    x_h = sum(1 for i in range(1, 5)
              if not x[2 * i - 1] and (x[2 * i] or x[2 * i + 1]))
    n1 = sum(1 for k in range(1, 5) if x[2 * k - 1] or x[2 * k])
    n2 = sum(1 for k in range(1, 5) if x[2 * k] or x[2 * k + 1])
    g12 = x_h == 1 and 2 <= min(n1, n2) <= 3
    g3 = not ((x[2] or x[3] or not x[8]) and x[1])
    g3p = not ((x[6] or x[7] or not x[4]) and x[5])
    return g12 and g3, g12 and g3p


def _thin_luts() -> np.ndarray:
    luts = np.zeros((2, 256), dtype=np.bool_)
    for code in range(256):
        luts[:, code] = _deletable([(code >> k) & 1 for k in range(8)])
    return luts


#: deletion table of each subiteration, indexed by the neighbour code
#: (bit k-1 holds x_k)
THIN_LUTS = _thin_luts()


@njit_cached
def thin_points(buf, pts, width, lut1, lut2, max_iter):
    """Thin the pixels ``pts`` (flat indices into the zero-framed ``buf``).

    ``buf`` (uint8, flat, (H+2)*(W+2)) holds 1 at ``pts`` and 0 elsewhere and
    is updated in place; ``max_iter < 0``: until an iteration deletes
    nothing. Each subiteration decides on all pixels from the same state,
    then deletes. Returns the remaining indices, in the order of ``pts``.
    """
    stride = width + 2
    n = pts.size
    cur = pts.copy()
    delete = np.zeros(n, dtype=np.bool_)
    it = 0
    while n > 0 and it != max_iter:
        it += 1
        changed = False
        for sub in range(2):
            lut = lut1 if sub == 0 else lut2
            hit = False
            for i in range(n):
                p = cur[i]
                code = (buf[p + 1] | (buf[p - stride + 1] << 1)
                        | (buf[p - stride] << 2)
                        | (buf[p - stride - 1] << 3) | (buf[p - 1] << 4)
                        | (buf[p + stride - 1] << 5)
                        | (buf[p + stride] << 6)
                        | (buf[p + stride + 1] << 7))
                d = lut[code]
                delete[i] = d
                hit = hit or d
            if hit:
                changed = True
                m = 0
                for i in range(n):
                    if delete[i]:
                        buf[cur[i]] = 0
                    else:
                        cur[m] = cur[i]
                        m += 1
                n = m
        if not changed:
            break
    return cur[:n].copy()


def thin(mask: np.ndarray, max_iter: int | None = None) -> np.ndarray:
    """``bwmorph(mask, 'thin', n)`` of a 2-D binary map (a new bool array).

    Args:
        mask: (H, W), non-zero = set.
        max_iter: ``n``, the number of iterations; ``None`` (``Inf``): until
            nothing changes.
    """
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f'thin needs a 2-D map, got shape {mask.shape}')
    if max_iter is not None and max_iter < 1:
        raise ValueError(f'max_iter must be >= 1 or None, got {max_iter}')
    h, w = mask.shape
    buf = np.zeros((h + 2, w + 2), dtype=np.uint8)
    buf[1:-1, 1:-1] = mask != 0
    pts = np.flatnonzero(buf)
    thin_points(buf.reshape(-1), pts, w, THIN_LUTS[0], THIN_LUTS[1],
                -1 if max_iter is None else int(max_iter))
    return buf[1:-1, 1:-1].astype(bool)
