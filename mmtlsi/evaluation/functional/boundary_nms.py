"""Edge non-maximum suppression as SEISM runs it, float32 operation by
operation.

SEISM (``read_one_cont_png.m``) reads the saved 8-bit map ``E`` with
``im2single`` and suppresses it with the Structured Edge toolbox::

    [Ox, Oy] = gradient2(convTri(E, 4));
    [Oxx, ~] = gradient2(Ox);  [Oxy, Oyy] = gradient2(Oy);
    O = mod(atan(Oyy .* sign(-Oxy) ./ (Oxx + 1e-5)), pi);
    E = edgesNmsMex(E, O, 1, 5, 1.01, 1);

Everything is single precision. MATLAB casts a double operand of a mixed
single/double operation to single first (``1e-5``, ``pi``), and the C code
works in float (its binary calls ``cosf`` / ``sinf``, ``mulss`` / ``addss``).
This module repeats each of these float32 operations in the same order, so
that the ties the multiplier 1.01 creates on quantised maps (``100/255`` next
to ``101/255``, say) fall the same way:

- :func:`conv_tri`: ``convConst('convTri', I, 4, 1)``, the toolbox's
  running-sum triangle filter (symmetric border), not a direct convolution:
  a first pass along rows accumulates two running sums per column and
  normalises by ``1 / (r+1)^4``, a second pass does the same down each column.
  Maps smaller than 10 pixels take ``convTri.m``'s non-mex path (a direct
  convolution of the symmetric-padded map).
- :func:`gradient2`: ``gradientMex``; central differences times ``0.5f``
  inside, one-sided differences at the first and last row / column.
- :func:`edge_orientation`: the line above; ``atan``, ``cos`` and ``sin`` are
  correctly rounded float32 values (computed in float64, then rounded).
- :func:`edge_nms`: ``edgesNmsMex``. A non-zero pixel ``e`` is set to 0 when
  ``e * 1.01f`` is smaller than the bilinearly interpolated map at ``d = -1``
  or ``d = +1`` pixels along ``(cos O, sin O)`` (column, row), the sample
  point clamped to ``[0, w - 1.001] x [0, h - 1.001]`` (the bound computed in
  double, rounded to float); then the ``s = min(5, w // 2, h // 2)`` columns
  and afterwards rows next to each border are multiplied by
  ``i / s`` (``i`` = distance to the border, float division).
"""
from __future__ import annotations

import numpy as np

__all__ = ['conv_tri', 'gradient2', 'edge_orientation', 'edge_nms']

_F = np.float32


def _f32(x) -> np.float32:
    return np.float32(x)


# ----------------------------------------------------------------------------
# convTri
# ----------------------------------------------------------------------------
def _tri_pass(img: np.ndarray, radius: int, nrm: np.float32 | None
              ) -> np.ndarray:
    """One pass of ``convConst``'s triangle filter along axis 0 of ``img``
    (all the other positions at once).

    The C loop keeps two float32 running sums per position: ``t += (left +
    right) - 2 * mid`` and ``u += nrm * t`` (first pass, ``convTri``) or
    ``u += t`` (second pass, ``convTriY``). Both are sequential sums, which
    ``np.add.accumulate`` computes in the same order (not pairwise).
    """
    img = np.asarray(img, dtype=_F)
    n = img.shape[0]
    r = radius + 1
    # initial sums: t = I0 + .. + I_{r-1}, u = sum of the partial sums of t
    t = img[0].copy()
    u = img[0].copy()
    for i in range(1, r):
        t = t + img[i]
        u = u + t
    u = _f32(2) * u - t
    if nrm is not None:
        u = nrm * u
    # increments for j = 1..n-1: left = I[j-1-r] (mirrored: I[r-j]),
    # mid = I[j-1], right = I[j-1+r] (mirrored: I[2n-r-j])
    j = np.arange(1, n)
    left = np.where(j <= r, r - j, j - 1 - r)
    right = np.where(j - 1 + r < n, j - 1 + r, 2 * n - r - j)
    inc = (img[left] + img[right]) - _f32(2) * img[j - 1]
    t = np.add.accumulate(inc, axis=0, dtype=_F)
    if nrm is not None:
        t = nrm * t
    return np.add.accumulate(np.concatenate([u[None], t]), axis=0, dtype=_F)


def conv_tri(img: np.ndarray, radius: int = 4) -> np.ndarray:
    """``convTri(I, r)`` of a 2-D float32 map, integer ``radius >= 1``.

    The kernel is ``[1, 2, .., r+1, .., 2, 1] / (r+1)^2`` along each axis,
    with symmetric padding (``abc|cba``). SEISM uses ``radius = 4``; for
    ``radius = 1`` MATLAB runs a separate ``[1 2 1]`` routine
    (``convTri1``) whose rounding is not reproduced here.
    """
    img = np.asarray(img, dtype=_F)
    if img.ndim != 2:
        raise ValueError(f'conv_tri needs a 2-D map, got shape {img.shape}')
    if radius < 1 or int(radius) != radius:
        raise ValueError(f'radius must be an integer >= 1, got {radius}')
    radius = int(radius)
    if min(img.shape) < 4 or 2 * radius + 1 >= min(img.shape):
        return _conv_tri_direct(img, radius)
    r = radius + 1
    nrm = _f32(1) / _f32(r * r * r * r)
    # MATLAB arrays are column-major: the mex first runs along the columns
    # index (axis 1) with whole columns as vectors, then down each column.
    rows_done = _tri_pass(img.T, radius, nrm)        # (W, H)
    return np.ascontiguousarray(_tri_pass(rows_done.T, radius, None))


def _conv_tri_direct(img: np.ndarray, radius: int) -> np.ndarray:
    # convTri.m without the mex (maps under 10 pixels): symmetric padding and
    # two 'valid' convolutions with f = [1:r r+1 r:-1:1] / (r+1)^2
    ramp = np.arange(1, radius + 2, dtype=np.float64)
    f = (np.concatenate([ramp, ramp[-2::-1]]) / (radius + 1) ** 2).astype(_F)
    pad = np.pad(img, radius, mode='symmetric')
    h, w = img.shape
    out = np.zeros((pad.shape[0], w), dtype=_F)
    for k in range(f.size):
        out = out + f[k] * pad[:, k:k + w]
    res = np.zeros((h, w), dtype=_F)
    for k in range(f.size):
        res = res + f[k] * out[k:k + h]
    return res


# ----------------------------------------------------------------------------
# gradient2 and orientation
# ----------------------------------------------------------------------------
def _diff(img: np.ndarray, axis: int) -> np.ndarray:
    a = np.moveaxis(img, axis, 0)
    g = np.empty_like(a)
    if a.shape[0] < 2:
        g[:] = 0
    else:
        g[1:-1] = (a[2:] - a[:-2]) * _f32(0.5)
        g[0] = a[1] - a[0]
        g[-1] = a[-1] - a[-2]
    return np.moveaxis(g, 0, axis)


def gradient2(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``[Gx, Gy] = gradient2(I)``: along columns (x) and rows (y)."""
    img = np.asarray(img, dtype=_F)
    return _diff(img, 1), _diff(img, 0)


def edge_orientation(edge: np.ndarray, radius: int = 4) -> np.ndarray:
    """``mod(atan(Oyy .* sign(-Oxy) ./ (Oxx + 1e-5)), pi)`` (float32) of the
    ``convTri(E, radius)``-smoothed map, in [0, pi]."""
    ox, oy = gradient2(conv_tri(edge, radius))
    oxx, _ = gradient2(ox)
    oxy, oyy = gradient2(oy)
    with np.errstate(divide='ignore', invalid='ignore'):
        ratio = (oyy * np.sign(-oxy)) / (oxx + _f32(1e-5))
    # 0 / 0 (Oxx = -1e-5f exactly where Oyy or Oxy is 0) would make the C
    # code read outside the map; such a pixel gets orientation 0 here
    ratio = np.where(np.isnan(ratio), _f32(0), ratio)
    angle = np.arctan(ratio.astype(np.float64)).astype(_F)
    # mod(x, single(pi)) of x in [-pi/2, pi/2]: x + pi for negative x
    return np.where(angle < 0, angle + _f32(np.pi), angle).astype(_F)


# ----------------------------------------------------------------------------
# edgesNmsMex
# ----------------------------------------------------------------------------
def _interp(img: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``interp(I, h, w, x, y)`` of edgesNmsMex at float32 points."""
    h, w = img.shape
    xmax, ymax = w - 1.001, h - 1.001              # double, as in C
    x = np.where(x < 0, _f32(0),
                 np.where(x.astype(np.float64) > xmax, _f32(xmax), x))
    y = np.where(y < 0, _f32(0),
                 np.where(y.astype(np.float64) > ymax, _f32(ymax), y))
    x0 = x.astype(np.int64)                        # truncation, x >= 0
    y0 = y.astype(np.int64)
    dx0 = x - x0.astype(_F)
    dy0 = y - y0.astype(_F)
    dx1 = _f32(1) - dx0
    dy1 = _f32(1) - dy0
    # ((a + b) + c) + d, each term (I * dx) * dy, all float32, as in C
    a = (img[y0, x0] * dx1) * dy1
    b = (img[y0, x0 + 1] * dx0) * dy1
    c = (img[y0 + 1, x0] * dx1) * dy0
    d = (img[y0 + 1, x0 + 1] * dx0) * dy0
    return ((a + b) + c) + d


def edge_nms(edge: np.ndarray, orientation: np.ndarray | None = None,
             radius: int = 1, border: int = 5, multiplier: float = 1.01,
             smooth_radius: int = 4) -> np.ndarray:
    """``edgesNmsMex(E, O, radius, border, multiplier)`` (float32 result).

    ``orientation`` defaults to :func:`edge_orientation` of ``edge`` with
    ``smooth_radius``. Maps narrower than 2 pixels have no NMS (the C code
    would read outside them) and are returned damped only.
    """
    e0 = np.asarray(edge, dtype=_F)
    if e0.ndim != 2:
        raise ValueError(f'edge_nms needs a 2-D map, got shape {e0.shape}')
    h, w = e0.shape
    out = e0.copy()
    if h >= 2 and w >= 2:
        if orientation is None:
            orientation = edge_orientation(e0, smooth_radius)
        rows, cols = np.nonzero(e0)
        o = np.asarray(orientation, dtype=_F)[rows, cols].astype(np.float64)
        cos_o = np.cos(o).astype(_F)          # cosf / sinf, correctly rounded
        sin_o = np.sin(o).astype(_F)
        val = e0[rows, cols] * _f32(multiplier)
        xs, ys = cols.astype(_F), rows.astype(_F)
        suppress = np.zeros(rows.size, dtype=bool)
        for d in range(-radius, radius + 1):
            if d == 0:
                continue
            fd = _f32(d)
            nb = _interp(e0, xs + fd * cos_o, ys + fd * sin_o)
            suppress |= val < nb
        out[rows[suppress], cols[suppress]] = 0
    s = min(border, w // 2, h // 2)
    for i in range(s):
        f = _f32(i) / _f32(s)
        out[:, i] *= f
        out[:, w - 1 - i] *= f
    for i in range(s):
        f = _f32(i) / _f32(s)
        out[i, :] *= f
        out[h - 1 - i, :] *= f
    return out
