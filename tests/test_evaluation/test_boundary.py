import numpy as np

from mmtlsi.evaluation.functional import (
    boundary_counts,
    boundary_scores,
    edge_nms,
    edge_thresholds,
    match_count,
    seg2bmap,
    thin,
)


def _scene(h=60, w=80):
    seg = np.zeros((h, w), np.int64)
    seg[15:45, 20:60] = 1
    return seg


def _pred_from(bmap, width=1.0):
    from scipy import ndimage
    p = ndimage.gaussian_filter(bmap.astype(np.float32), width) * 2.5
    return np.clip(p, 0, 1)


def test_thresholds_default():
    t = edge_thresholds(101)
    assert t.size == 101 and t[0] == 0.001 and t[-1] == 0.999
    assert np.allclose(t[1:-1], np.arange(1, 100) / 100)


def test_thin_ridge_and_nms():
    img = np.zeros((30, 30), np.float32)
    img[:, 12:17] = [0.3, 0.6, 0.9, 0.6, 0.3]     # thick vertical ridge
    out = edge_nms(img)
    rows = out[8:22]
    assert (rows[:, 14] > 0).all()
    assert (np.count_nonzero(rows, axis=1) == 1).all()
    t = thin(np.pad(np.ones((5, 20), bool), 3))
    assert t.sum() > 0 and t.sum() < 40
    # a one-pixel line is left as it is
    line = np.zeros((10, 10), bool)
    line[5, 2:8] = True
    assert (thin(line) == line).all()


def test_perfect_prediction():
    seg = _scene()
    gt_b = thin(seg2bmap(seg))
    c = boundary_counts(_pred_from(gt_b), seg)
    s = boundary_scores([c])
    assert s['odsF'] == 1.0 and s['oisF'] == 1.0


def test_shift_within_and_beyond_tolerance():
    seg = _scene()
    gt_b = thin(seg2bmap(seg))
    near = boundary_counts(_pred_from(np.roll(gt_b, 1, axis=1)), seg)
    assert boundary_scores([near])['odsF'] == 1.0
    far = boundary_counts(_pred_from(np.roll(gt_b, 12, axis=1)), seg,
                          max_dist=0.011)
    assert boundary_scores([far])['odsF'] < 0.6


def test_below_all_thresholds_no_detection():
    seg = _scene()
    prob = np.full(seg.shape, 0.0005, np.float32)
    c = boundary_counts(prob, seg)
    assert (c[:, 3] == 0).all() and (c[:, 0] == 0).all()
    assert (c[:, 1] > 0).all()
    # strict '>' of the float32 map against a float64 threshold
    v = np.float32(128) / np.float32(255)
    c = boundary_counts(np.full(seg.shape, v, np.float32), seg,
                        thresholds=[0.5, float(v)], nms=False)
    assert c[0, 3] > 0 and c[1, 3] == 0


def test_match_count_one_to_one():
    a = np.zeros((10, 10), bool)
    b = np.zeros((10, 10), bool)
    a[5, 5] = True
    b[5, 6] = b[5, 4] = True
    assert match_count(a, b, max_dist=0.1) == 1
    assert match_count(b, b, max_dist=0.1) == 2


def test_thresholds_are_seism_parameter_strings():
    # SEISM reads parameters/HED.txt ('0.001', '0.01', ..., '0.99',
    # '0.999') with str2double: the doubles nearest to the decimals
    strings = ['0.001'] + [f'0.{k:02d}' for k in range(1, 100)] + ['0.999']
    assert edge_thresholds(101).tolist() == [float(s) for s in strings]


def test_threshold_compares_float32_with_double_exactly():
    # 51/255 is 0.2000000030f; MATLAB's `contour > 0.2` compares it with the
    # double 0.2 exactly -> above. (Rounding the threshold to float32 first
    # would make them equal -> not above.)
    seg = _scene()
    v = np.float32(51) / np.float32(255)
    c = boundary_counts(np.full(seg.shape, v, np.float32), seg,
                        thresholds=[0.2, 0.21], nms=False, quantize=False)
    assert c[0, 3] > 0 and c[1, 3] == 0


def test_seg2bmap_by_hand():
    # a pixel is a boundary where its label differs from E, S or SE; the
    # last row looks east only, the last column south only, and the
    # bottom-right pixel never is
    seg = np.array([[1, 1, 2],
                    [1, 1, 2],
                    [3, 3, 3]])
    want = np.array([[0, 1, 0],
                     [1, 1, 1],
                     [0, 0, 0]], bool)
    assert np.array_equal(seg2bmap(seg), want)
