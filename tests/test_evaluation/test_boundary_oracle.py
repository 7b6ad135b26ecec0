"""The boundary counts equal those of the reference implementations in
``boundary_oracle.py`` (an independent max-flow matcher, each threshold
thinned and matched from scratch)."""
import numpy as np
from boundary_oracle import boundary_counts_reference, match_count_maxflow
from scipy import ndimage

from mmtlsi.evaluation.functional import boundary as fb


def _scene(rng, h, w, n_rect=6):
    seg = np.zeros((h, w), np.int64)
    for k in range(n_rect):
        y0, x0 = rng.integers(0, h - 4), rng.integers(0, w - 4)
        seg[y0:y0 + int(rng.integers(4, h // 2)),
            x0:x0 + int(rng.integers(4, w // 2))] = k + 1
    bmap = np.roll(fb.seg2bmap(seg), int(rng.integers(-2, 3)), axis=1)
    pred = ndimage.gaussian_filter(bmap.astype(np.float32), 1.2) * 2.5
    noise = ndimage.gaussian_filter(rng.random((h, w)), 1.0)
    pred = pred + 0.15 * (noise - noise.mean()) / noise.std() + 0.05
    return np.clip(pred, 0, 1).astype(np.float32), seg


def test_match_count_equals_max_flow():
    rng = np.random.default_rng(1)
    sizes = []
    for case in range(60):
        h, w = rng.integers(5, 70, size=2)
        a = rng.random((h, w)) < rng.uniform(0.01, 0.4)
        if case % 2:
            b = rng.random((h, w)) < rng.uniform(0.01, 0.4)
        else:                  # a shifted, partly erased copy of a
            b = np.roll(a, tuple(rng.integers(-3, 4, size=2)), axis=(0, 1))
            b &= rng.random((h, w)) < 0.8
        d = rng.uniform(0.005, 0.08)
        ref = match_count_maxflow(a, b, d)
        assert fb.match_count(a, b, d) == ref, case
        sizes.append(ref)
    assert max(sizes) > 100 and min(sizes) < 5
    empty = np.zeros((9, 9), bool)
    assert fb.match_count(empty, ~empty) == 0


def test_match_radius_inclusive():
    # distance exactly sqrt(2) * 5 with radius max_dist * diagonal equal to
    # it: matched (<=); a hair less: not
    a = np.zeros((30, 40), bool)
    b = np.zeros((30, 40), bool)
    a[10, 10] = b[15, 15] = True
    d = np.hypot(5, 5) / np.hypot(30, 40)
    assert fb.match_count(a, b, d) == 1
    assert fb.match_count(a, b, d * (1 - 1e-6)) == 0


def test_boundary_counts_equal_reference():
    rng = np.random.default_rng(3)
    for case in range(3):
        h, w = rng.integers(60, 100, size=2)
        pred, seg = _scene(rng, h, w)
        kw = dict(max_dist=0.011 if case % 2 else 0.03, thresholds=26)
        ref = boundary_counts_reference(pred, seg, **kw)
        assert np.array_equal(fb.boundary_counts(pred, seg, **kw), ref), case
        assert ref[:, 0].max() > 0
    pred, seg = _scene(rng, 50, 70)
    variants = [
        dict(thresholds=[0.7, 0.05, 0.3, 0.3, 0.9]),   # unsorted, repeated
        dict(gt_is_boundary=True, nms=False, quantize=False, thresholds=21),
        dict(thresholds=11, max_dist=0.05),
    ]
    for kw in variants:
        gt = fb.seg2bmap(seg) if kw.get('gt_is_boundary') else seg
        assert np.array_equal(fb.boundary_counts(pred, gt, **kw),
                              boundary_counts_reference(pred, gt, **kw)), kw
    # no ground-truth boundary; no candidate above the thresholds
    for p, g in ((pred, np.zeros_like(seg)), (pred * 0, seg)):
        assert np.array_equal(fb.boundary_counts(p, g, thresholds=11),
                              boundary_counts_reference(p, g, thresholds=11))


def test_jit_without_cache_dir(monkeypatch):
    # no writable cache directory: numba refuses cache=True when decorating;
    # the kernels are then compiled in memory
    from mmtlsi.utils import jit
    real = jit.numba.njit

    def njit(*args, **kwargs):
        if kwargs.get('cache'):
            raise RuntimeError('cannot cache function: no locator available')
        return real(*args, **kwargs)

    monkeypatch.setattr(jit.numba, 'njit', njit)
    add = jit.njit_cached(lambda x: x + 1)
    assert add(1) == 2
    assert type(add._cache).__name__ == 'NullCache'
