"""Edge NMS of the Structured Edge toolbox as SEISM runs it (float32).

Expected values are derived from edgesNmsMex / convTri / gradient2 as
written (see ``boundary_nms.py``); float32 constants are spelled out where a
tie depends on them.
"""
import numpy as np
import pytest
from boundary_oracle import conv_tri_loops

from mmtlsi.evaluation.functional.boundary_nms import (
    conv_tri,
    edge_nms,
    edge_orientation,
    gradient2,
)
from mmtlsi.utils.edge_maps import quantize_edge_map

F = np.float32


def test_conv_tri_impulse_and_symmetric_border():
    # kernel [1 2 3 4 5 4 3 2 1] / 25 per axis. An impulse at (6, 7) of a
    # 14x16 map spreads as the outer product of the kernel; an impulse at
    # (0, 0) is reflected (symmetric padding abc|cba): row/column 0 weigh
    # 5 + 4 = 9, 1: 4 + 3 = 7, 2: 3 + 2 = 5, 3: 2 + 1 = 3, 4: 1 (/25 each)
    k = np.array([1, 2, 3, 4, 5, 4, 3, 2, 1]) / 25
    img = np.zeros((14, 16), F)
    img[6, 7] = 1
    ref = np.zeros((14, 16))
    ref[2:11, 3:12] = np.outer(k, k)
    out = conv_tri(img, 4)
    assert out.dtype == F
    np.testing.assert_allclose(out, ref, atol=1e-7)
    img = np.zeros((14, 16), F)
    img[0, 0] = 1
    edge_w = np.array([9, 7, 5, 3, 1]) / 25
    ref = np.zeros((14, 16))
    ref[:5, :5] = np.outer(edge_w, edge_w)
    np.testing.assert_allclose(conv_tri(img, 4), ref, atol=1e-7)
    # small maps take convTri.m's non-mex path, same filter
    img = np.zeros((7, 9), F)
    img[3, 4] = 1
    small = conv_tri(img, 1)
    np.testing.assert_allclose(small[2:5, 3:6],
                               np.outer([1, 2, 1], [1, 2, 1]) / 16, atol=1e-7)


def test_conv_tri_is_a_float32_running_sum():
    # the toolbox accumulates running sums in float32, so on a long row the
    # result drifts from a float64 convolution by ~1e-5, not ~1e-7
    rng = np.random.default_rng(0)
    img = rng.random((40, 560)).astype(F)
    ramp = np.arange(1, 6, dtype=np.float64)
    k = np.concatenate([ramp, ramp[-2::-1]]) / 25
    pad = np.pad(img.astype(np.float64), 4, mode='symmetric')
    rows = sum(k[i] * pad[:, i:i + 560] for i in range(9))
    ref = sum(k[i] * rows[i:i + 40] for i in range(9))
    err = np.abs(conv_tri(img, 4) - ref).max()
    assert 1e-6 < err < 1e-4


def test_gradient2_borders():
    # central differences times 0.5 inside, one-sided at the borders
    img = np.array([[0, 1, 4, 9], [2, 2, 2, 2], [5, 0, 5, 0]], F)
    gx, gy = gradient2(img)
    np.testing.assert_array_equal(gx[0], [1, 2, 4, 5])
    np.testing.assert_array_equal(gy[:, 0], [2, 2.5, 3])
    np.testing.assert_array_equal(gy[:, 3], [-7, -4.5, -2])
    assert gx.dtype == gy.dtype == F


def test_orientation_of_axis_aligned_ridges_is_zero():
    # vertical ridge (constant down each column): the smoothed map is
    # constant along rows exactly (equal float operations), so Oy = Oxy =
    # Oyy = 0 and O = atan(0 / (Oxx + 1e-5)) = 0: NMS looks across the ridge.
    # Horizontal ridge: Ox = Oxx = 0 and Oxy = 0, so sign(-Oxy) = 0 and again
    # O = 0: NMS looks *along* the ridge (the toolbox's formula, kept).
    ridge = np.array([0.3, 0.6, 0.9, 0.6, 0.3], F)
    vert = np.zeros((20, 24), F)
    vert[:, 10:15] = ridge
    horiz = np.ascontiguousarray(vert[:, 2:22].T)      # 20x20, rows 8..12
    for img in (vert, horiz):
        o = edge_orientation(img)
        assert o.dtype == F and not o.any()
    # so NMS thins the vertical ridge to its crest and keeps the horizontal
    # one 5 rows thick (neighbours along the ridge are equal: e * 1.01 > e)
    v = edge_nms(vert)
    assert (v[5:15, 12] > 0).all() and not v[5:15, [10, 11, 13, 14]].any()
    h = edge_nms(horiz)
    assert (h[8:13, 5:15] > 0).all()


def test_nms_tie_is_kept():
    # O = 0: the samples at d = -1, +1 fall exactly on the left / right
    # neighbours (dx0 = dy0 = 0, weights 1 and 0). A pixel of 100/255 next
    # to 101/255: e * 1.01f = 0.39215687f * 1.00999999f = 0.39607844f, and
    # 101/255 is 0.39607844f too (0x3ECACACB): e < e0 is false -> kept.
    # The same for 200/255 next to 202/255. 102/255 > 0.39607844 suppresses.
    for k, k_nb, kept in ((100, 101, True), (200, 202, True),
                          (100, 102, False)):
        img = np.zeros((12, 12), F)
        img[6, 5] = F(k) / F(255)
        img[6, 6] = F(k_nb) / F(255)
        out = edge_nms(img, orientation=np.zeros_like(img), border=0)
        assert (out[6, 5] > 0) == kept, (k, k_nb)
        assert out[6, 6] == img[6, 6]


def test_nms_clamp_at_the_right_border():
    # w = 8, pixel (6, 6) (column w-2) with O = 0: the sample at d = +1 is
    # x = 7, beyond w - 1.001 = 6.999, so x = 6.99900007f, x0 = 6,
    # dx0 = 0.99900007, dx1 = 0.00099993: the sample is
    # 0.5 * 0.00099993 + 0.505002 * 0.99900007 = 0.50499698 < 0.5 * 1.01f
    # = 0.505 -> kept, although the right neighbour itself (0.505002) is
    # above 0.505. Damping: s = min(5, 8 // 2, 12 // 2) = 4; column 6 is
    # w-1-1 -> factor 1/4; row 6 is more than 4 rows from both borders.
    img = np.zeros((12, 8), F)
    img[6, 6] = 0.5
    img[6, 7] = F(0.505002)
    out = edge_nms(img, orientation=np.zeros_like(img))
    assert out[6, 6] == F(0.5) * (F(1) / F(4))
    assert out[6, 7] == 0                         # column w-1: factor 0/4
    # one column further in, the neighbour is read unclamped: suppressed
    img = np.zeros((12, 10), F)
    img[6, 6] = 0.5
    img[6, 7] = F(0.505002)
    assert edge_nms(img, orientation=np.zeros_like(img))[6, 6] == 0


def test_border_damping():
    # constant map: all derivatives 0 -> O = 0, equal neighbours -> all
    # kept; then columns i and w-1-i (i < s) times i/s, afterwards rows
    # likewise, float32 products in that order
    v = F(128) / F(255)
    img = np.full((12, 14), v, F)
    out = edge_nms(img)
    f = [F(i) / F(5) for i in range(5)]

    def fac(i, n):
        return f[min(i, n - 1 - i)] if min(i, n - 1 - i) < 5 else None

    for r in range(12):
        for c in range(14):
            want = v
            if fac(c, 14) is not None:
                want = want * fac(c, 14)
            if fac(r, 12) is not None:
                want = want * fac(r, 12)
            assert out[r, c] == want, (r, c)
    # s is capped by half the size: 6 rows -> s = 3, factors i / 3
    out = edge_nms(np.full((6, 20), v, F))
    assert out[1, 10] == v * (F(1) / F(3)) and out[2, 10] == v * (F(2) / F(3))


def test_isolated_pixel_survives():
    # every interpolated neighbour of an isolated pixel is 0 (or a fraction
    # of the pixel less than 1.01 times it): kept, whatever the orientation
    img = np.zeros((15, 15), F)
    img[7, 7] = F(37) / F(255)
    out = edge_nms(img)
    assert out[7, 7] == img[7, 7] and np.count_nonzero(out) == 1


def test_quantisation():
    # trunc(255 p), then single(v) / 255
    p = np.array([[0.0, 0.0039, 0.5, 0.99999, 1.0, 1.5]])
    q = quantize_edge_map(p)
    assert q.dtype == F
    np.testing.assert_array_equal(
        q, np.array([[0, 0, 127, 254, 255, 255]], F) / F(255))
    with pytest.raises(ValueError):
        quantize_edge_map(np.zeros((2, 3, 4)))


def test_conv_tri_equals_the_c_loops_bit_for_bit():
    rng = np.random.default_rng(5)
    for h, w in ((10, 10), (23, 41), (64, 37)):
        img = (np.floor(rng.random((h, w)) * 256) / 255).astype(F)
        assert np.array_equal(conv_tri(img, 4), conv_tri_loops(img, 4))
