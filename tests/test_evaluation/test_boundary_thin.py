"""Thinning (``bwmorph(bw, 'thin', Inf)``, Lam-Lee-Suen 1992 p. 879).

Expected outputs are derived by hand from the conditions (notation of
``mmtlsi/utils/edge_maps.py``): for each set pixel list x1..x8 (E, NE, N, NW,
W, SW, S, SE), X_H = number of i with x_{2i-1} = 0 and (x_{2i} or x_{2i+1}),
n1 = sum (x_{2k-1} or x_{2k}), n2 = sum (x_{2k} or x_{2k+1}); delete in the
first subiteration when X_H = 1, 2 <= min(n1, n2) <= 3 and
(x2 or x3 or not x8) and x1 is false; in the second the same with
(x6 or x7 or not x4) and x5.
"""
import numpy as np
import pytest
from boundary_oracle import thin_by_definition
from scipy import ndimage

from mmtlsi.datasets import decoders
from mmtlsi.evaluation.functional import thin as metric_thin
from mmtlsi.utils.edge_maps import THIN_LUTS, thin


def _mask(shape, pixels):
    m = np.zeros(shape, bool)
    for r, c in pixels:
        m[r, c] = True
    return m


def test_one_implementation():
    # the dataset decoders and the metric use the same function
    assert decoders.thin is thin and metric_thin is thin


def test_isolated_pixel_kept():
    # all neighbours 0: X_H = 0, G1 fails -> kept (also at the image corner,
    # outside pixels being 0)
    for pix in [(2, 3), (0, 0), (4, 6)]:
        m = _mask((5, 7), [pix])
        assert np.array_equal(thin(m), m)


def test_two_pixel_thick_horizontal_line():
    # rows 2-3, columns 2..7.
    # Subiteration 1:
    # - top interior (E,W,SW,S,SE set): X_H=1 (only b2), n1=n2=3,
    #   G3: (x2|x3|~x8)&x1 = (0|0|0)&1 = 0 -> deleted;
    # - top-left corner (E,S,SE): X_H=1, n1=n2=2, G3: (0|0|0)&1=0 -> deleted;
    # - top-right corner (W,SW,S): x1=0 -> G3 holds; X_H=1, n1=n2=2 ->
    #   deleted;
    # - bottom interior (E,NE,N,NW,W): X_H=1, n1=n2=3, but
    #   G3: (x2|x3|~x8)&x1 = 1 -> kept; bottom-left likewise kept;
    # - bottom-right corner (N,NW,W): x1=0, X_H=1, n1=n2=2 -> deleted.
    # Subiteration 2 sees the 1-pixel row 3, columns 2..6: interior X_H=2,
    # ends min(n1,n2)=1 -> nothing deleted; the next iteration neither.
    m = np.zeros((6, 10), bool)
    m[2:4, 2:8] = True
    assert np.array_equal(thin(m), _mask((6, 10), [(3, c) for c in
                                                   range(2, 7)]))


def test_two_pixel_thick_vertical_line():
    # columns 3-4, rows 1..6. Subiteration 1:
    # - left interior (E,NE,N,S,SE): G3: (x2|x3|~x8)&x1 = 1 -> kept;
    # - right interior (N,NW,W,SW,S): x1=0, X_H=1 (b1), n1=n2=3 -> deleted;
    # - top-left (E,S,SE): X_H=1, n1=n2=2, G3 holds -> deleted;
    #   top-right (W,SW,S) and bottom-right (N,NW,W): deleted;
    #   bottom-left (E,NE,N): G3 fails -> kept.
    # Left column rows 2..6 is left; a 1-pixel vertical line is stable
    # (interior X_H=2, ends min(n1,n2)=1).
    m = np.zeros((8, 8), bool)
    m[1:7, 3:5] = True
    assert np.array_equal(thin(m), _mask((8, 8), [(r, 3) for r in
                                                  range(2, 7)]))


def test_line_on_the_image_border():
    # the same 2-pixel-thick line, touching the top and left image borders:
    # pixels outside the image count as 0, so the derivation above holds:
    # the lower row without its last pixel remains
    m = np.zeros((4, 6), bool)
    m[0:2, 0:5] = True
    assert np.array_equal(thin(m), _mask((4, 6), [(1, c) for c in
                                                  range(0, 4)]))


def test_two_by_two_square_to_one_pixel():
    # top-left (E,S,SE), top-right (W,SW,S), bottom-right (N,NW,W) are
    # deleted in subiteration 1 (see the thick line); bottom-left (E,NE,N)
    # fails G3; one pixel is left (an 8-connected component is kept)
    m = _mask((4, 4), [(1, 1), (1, 2), (2, 1), (2, 2)])
    assert np.array_equal(thin(m), _mask((4, 4), [(2, 1)]))


def test_diagonal_staircase():
    # 4-connected staircase (1,1),(1,2),(2,2),(2,3),(3,3),(3,4).
    # Subiteration 1:
    # (1,1) x=[E,SE]: n2=1 -> kept;  (1,2) x=[W,S,SE]: x1=0, X_H=1, n1=2,
    # n2=3 -> deleted;  (2,2) x=[E,N,NW,SE]: G3=(0|1|0)&1 -> kept;
    # (2,3) x=[NW,W,S,SE]: x1=0, X_H=1, n1=n2=3 -> deleted;
    # (3,3) x=[E,N,NW]: G3=(0|1|1)&1 -> kept;  (3,4) x=[NW,W]: n2=1 -> kept.
    # Subiteration 2 and the next iteration: (1,1) n1=1, (2,2) and (3,3)
    # X_H=2, (3,4) n1=1 -> nothing more: an 8-connected diagonal.
    stair = [(1, 1), (1, 2), (2, 2), (2, 3), (3, 3), (3, 4)]
    assert np.array_equal(
        thin(_mask((6, 7), stair)),
        _mask((6, 7), [(1, 1), (2, 2), (3, 3), (3, 4)]))


def test_one_pixel_line_and_empty_map_unchanged():
    line = np.zeros((10, 10), bool)
    line[5, 2:8] = True
    assert np.array_equal(thin(line), line)
    diag = np.eye(6, dtype=bool)
    assert np.array_equal(thin(diag), diag)
    assert not thin(np.zeros((5, 5), bool)).any()


def test_max_iter():
    # a 5-wide bar needs more than one iteration; one iteration removes a
    # layer only, and the result is a subset of the input
    m = np.zeros((12, 20), bool)
    m[3:8, 2:18] = True
    one = thin(m, max_iter=1)
    full = thin(m)
    assert (one <= m).all() and one.sum() < m.sum()
    assert full.sum() < one.sum() and (full <= one).all()
    assert np.array_equal(thin(full), full)
    with pytest.raises(ValueError):
        thin(m, max_iter=0)
    with pytest.raises(ValueError):
        thin(np.zeros((2, 2, 2), bool))


def test_lut_matches_conditions_on_a_few_codes():
    # code bit k-1 = x_k. 0b10000011 = x1,x2,x8 (E, NE, SE): X_H=1
    # (b2: x3=0 and x4|x5 -> 0; b4: x7=0 and (x8|x9) -> 1; b1: x1=1 -> 0;
    # b3: x5=0, x6|x7=0 -> 0) ... n1=(1)+(0)+(0)+(0|1)=2, n2=(1)+(0)+(0)+(1)=2;
    # G3: (x2|x3|~x8)&x1 = 1 -> not in subiteration 1; G3': x5=0 -> deleted
    # in subiteration 2
    assert not THIN_LUTS[0][0b10000011] and THIN_LUTS[1][0b10000011]
    # isolated (code 0) and interior (code 255) pixels are never deleted
    assert not THIN_LUTS[:, 0].any() and not THIN_LUTS[:, 255].any()


def _random_masks(seed, n):
    rng = np.random.default_rng(seed)
    for case in range(n):
        h, w = rng.integers(3, 40, size=2)
        if case % 3 == 0:
            yield rng.random((h, w)) < rng.uniform(0.05, 0.9)
        else:
            img = ndimage.gaussian_filter(rng.random((h, w)),
                                          rng.uniform(0.5, 3))
            yield img > np.quantile(img, rng.uniform(0.2, 0.8))


def test_matches_definition_on_random_maps():
    for k, mask in enumerate(_random_masks(0, 40)):
        assert np.array_equal(thin(mask), thin_by_definition(mask)), k


def test_matches_scikit_image():
    # scikit-image's thin implements the same algorithm (its pull request
    # #2294 replicates bwmorph 'thin'); an independent cross-check
    skm = pytest.importorskip('skimage.morphology')
    for k, mask in enumerate(_random_masks(1, 60)):
        assert np.array_equal(thin(mask), skm.thin(mask)), k
