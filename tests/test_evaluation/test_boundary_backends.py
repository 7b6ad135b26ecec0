"""The numba and scipy backends of the boundary metric give identical
results."""
import warnings

import numpy as np
import pytest
from scipy import ndimage

from mmtlsi.evaluation.functional import boundary as fb

pytest.importorskip('numba')


def _blobs(rng, h, w, sigma, level):
    img = ndimage.gaussian_filter(rng.random((h, w)), sigma)
    return img > np.quantile(img, level)


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


def test_thin_backends_equal():
    rng = np.random.default_rng(0)
    for case in range(60):
        h, w = rng.integers(3, 60, size=2)
        if case % 3 == 0:
            mask = rng.random((h, w)) < rng.uniform(0.05, 0.9)
        else:
            mask = _blobs(rng, h, w, rng.uniform(0.5, 3), rng.uniform(.2, .8))
        ref = fb.thin(mask, backend='scipy')
        assert np.array_equal(fb.thin(mask, backend='numba'), ref), case
    # all set and empty maps
    for mask in (np.ones((7, 9), bool), np.zeros((5, 5), bool)):
        assert np.array_equal(fb.thin(mask, backend='numba'),
                              fb.thin(mask, backend='scipy'))


def test_match_count_backends_equal():
    rng = np.random.default_rng(1)
    sizes = []
    for case in range(80):
        h, w = rng.integers(5, 70, size=2)
        a = rng.random((h, w)) < rng.uniform(0.01, 0.4)
        if case % 2:
            b = rng.random((h, w)) < rng.uniform(0.01, 0.4)
        else:                  # a shifted, partly erased copy of a
            b = np.roll(a, tuple(rng.integers(-3, 4, size=2)), axis=(0, 1))
            b &= rng.random((h, w)) < 0.8
        d = rng.uniform(0.005, 0.08)
        ref = fb.match_count(a, b, d, backend='scipy')
        assert fb.match_count(a, b, d, backend='numba') == ref, case
        sizes.append(ref)
    assert max(sizes) > 100 and min(sizes) < 5
    empty = np.zeros((9, 9), bool)
    assert fb.match_count(empty, ~empty, backend='numba') == 0


def test_radius_pairs_as_kd_tree():
    # the offset list holds exactly the k-d tree's pairs, radii next to
    # square roots of integers included
    rng = np.random.default_rng(2)
    a = rng.random((40, 40)) < 0.2
    b = rng.random((40, 40)) < 0.2
    for radius in (0.5, 1.0, 2 ** 0.5, 2.5, 5.0, 50 ** 0.5 - 1e-10, 7.7):
        indptr, indices = fb._radius_graph(a, b, radius)
        rows = np.repeat(np.arange(indptr.size - 1), np.diff(indptr))
        got = set(zip(rows.tolist(), indices.tolist()))
        i, j = fb._pairs(np.argwhere(a), np.argwhere(b), radius)
        assert got == set(zip(i.tolist(), j.tolist())), radius


def test_boundary_counts_backends_equal():
    rng = np.random.default_rng(3)
    for case in range(4):
        h, w = rng.integers(60, 110, size=2)
        pred, seg = _scene(rng, h, w)
        kw = dict(max_dist=0.011 if case % 2 else 0.03)
        ref = fb.boundary_counts(pred, seg, backend='scipy', **kw)
        got = fb.boundary_counts(pred, seg, backend='numba', **kw)
        assert np.array_equal(got, ref), case
        assert ref[:, 0].max() > 0
    pred, seg = _scene(rng, 50, 70)
    variants = [
        dict(thresholds=[0.7, 0.05, 0.3, 0.3, 0.9]),   # unsorted, repeated
        dict(gt_is_boundary=True, nms=False, quantize=False),
        dict(thresholds=11, max_dist=0.05),
    ]
    for kw in variants:
        gt = fb.seg2bmap(seg) if kw.get('gt_is_boundary') else seg
        assert np.array_equal(fb.boundary_counts(pred, gt, backend='numba',
                                                 **kw),
                              fb.boundary_counts(pred, gt, backend='scipy',
                                                 **kw)), kw
    # no ground-truth boundary; no candidate above the thresholds
    for p, g in ((pred, np.zeros_like(seg)), (pred * 0, seg)):
        assert np.array_equal(fb.boundary_counts(p, g, backend='numba'),
                              fb.boundary_counts(p, g, backend='scipy'))


def test_resolve_backend(monkeypatch):
    assert fb.resolve_backend() == 'numba'
    assert fb.resolve_backend('scipy') == 'scipy'
    with pytest.raises(ValueError):
        fb.resolve_backend('cuda')
    monkeypatch.setattr(fb, '_kernels', None)
    monkeypatch.setattr(fb, '_warned_no_numba', False)
    with pytest.warns(UserWarning, match='numba'):
        assert fb.resolve_backend() == 'scipy'
    with warnings.catch_warnings():
        warnings.simplefilter('error')          # only once
        assert fb.resolve_backend(None) == 'scipy'
    with pytest.raises(ImportError):
        fb.resolve_backend('numba')


def test_jit_without_cache_dir(monkeypatch):
    # no writable cache directory: numba refuses cache=True when decorating;
    # the kernels are then compiled in memory
    from mmtlsi.evaluation.functional import _boundary_kernels as k
    real = k.numba.njit

    def njit(*args, **kwargs):
        if kwargs.get('cache'):
            raise RuntimeError('cannot cache function: no locator available')
        return real(*args, **kwargs)

    monkeypatch.setattr(k.numba, 'njit', njit)
    add = k._jit(lambda x: x + 1)
    assert add(1) == 2
    assert type(add._cache).__name__ == 'NullCache'
