import json
import os
import os.path as osp

import numpy as np
import pytest
from mt_data_helpers import TEST_PIPELINE
from PIL import Image

from mmtlsi.datasets.synthesis import (
    ensure_synthetic_dataset,
    generate_synthetic_dataset,
    writer,
)
from mmtlsi.datasets.synthetic import (
    SyntheticNYUDv2Dataset,
    SyntheticPascalContextDataset,
)

SMALL = dict(num_train=3, num_val=1, img_size=(48, 64))


def _files(root):
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            p = osp.join(d, f)
            with open(p, 'rb') as fh:
                out[osp.relpath(p, root)] = fh.read()
    return out


@pytest.mark.parametrize('kind', ['nyud', 'pascal'])
def test_deterministic(tmp_path, kind):
    a, b, c = (str(tmp_path / n) for n in 'abc')
    generate_synthetic_dataset(a, kind, seed=1, **SMALL)
    generate_synthetic_dataset(b, kind, seed=1, **SMALL)
    generate_synthetic_dataset(c, kind, seed=2, **SMALL)
    fa, fb, fc = _files(a), _files(b), _files(c)
    assert len(fa) > 10 and fa == fb
    assert fa.keys() == fc.keys() and fa != fc


def _normals_from_depth(depth, fx, fy, cx, cy):
    h, w = depth.shape
    v, u = np.mgrid[0:h, 0:w]
    pts = np.stack([(u - cx) / fx * depth, -(v - cy) / fy * depth, -depth],
                   -1)
    du = np.zeros_like(pts)
    dv = np.zeros_like(pts)
    du[:, 1:-1] = pts[:, 2:] - pts[:, :-2]
    dv[1:-1] = pts[2:] - pts[:-2]
    n = np.cross(dv, du)
    n /= np.linalg.norm(n, axis=-1, keepdims=True) + 1e-12
    facing = np.einsum('ijk,ijk->ij', n, pts) > 0
    n[facing] *= -1                       # point towards the camera
    return n


def test_consistent_nyud(tmp_path):
    root = str(tmp_path / 'syn')
    info = generate_synthetic_dataset(root, 'nyud', seed=0, **SMALL)
    k = info['intrinsics']
    for img_id in ('train_00000', 'train_00001', 'val_00000'):
        depth = np.load(osp.join(root, 'depth', img_id + '.npy'))
        seg = np.array(Image.open(osp.join(root, 'segmentation',
                                           img_id + '.png'))).astype(int)
        edge = np.array(Image.open(osp.join(root, 'edge',
                                            img_id + '.png'))) > 0
        normals = 2 * np.array(Image.open(osp.join(
            root, 'normals', img_id + '.png'))).astype(float) / 255 - 1
        assert (depth > 0).all() and seg.min() >= 1
        # boundaries sit on every label change (towards right / bottom)
        change = np.zeros_like(edge)
        change[:, :-1] |= seg[:, :-1] != seg[:, 1:]
        change[:-1] |= seg[:-1] != seg[1:]
        assert change.any() and (edge[change]).all()
        # normals agree with the depth gradient inside planar regions
        est = _normals_from_depth(depth, k['fx'], k['fy'], k['cx'], k['cy'])
        from scipy.ndimage import binary_dilation
        inner = ~binary_dilation(edge | change, iterations=2)
        inner[[0, -1]] = False
        inner[:, [0, -1]] = False
        planar = inner & (seg <= 3)          # wall, floor, ceiling
        unit = normals / np.linalg.norm(normals, axis=-1, keepdims=True)
        cos = np.einsum('ijk,ijk->ij', est, unit)[planar]
        assert planar.sum() > 500
        assert np.degrees(np.arccos(np.clip(cos, -1, 1))).max() < 3.0


def test_pascal_variant_loads(tmp_path):
    root = str(tmp_path / 'syn_pascal')
    ds = SyntheticPascalContextDataset(data_root=root, split='train',
                                       person_prob=1.0, pipeline=TEST_PIPELINE,
                                       **SMALL)
    assert ds.tasks == ['semseg', 'human_parts', 'normals', 'sal', 'edge']
    seen = 0
    for i in range(len(ds)):
        sample = ds[i]['data_samples']
        sem = sample.gt_sem_seg.data[0].numpy()
        parts = sample.gt_parts_map.data[0].numpy()
        sal = sample.gt_sal_map.data[0].numpy()
        person = sem == 5
        seen += person.sum()
        if person.any():
            assert (parts[person] >= 1).all() and (parts[~person] == 0).all()
        else:
            assert (parts == 255).all()
        np.testing.assert_array_equal(sal, (sem > 0).astype(np.int64))
        assert sample.gt_edge_map.data.sum() > 0
    assert seen > 50


def test_generated_on_first_use_atomically(tmp_path, monkeypatch):
    root = tmp_path / 'data' / 'synthetic_nyud'
    calls = []

    def broken(path, **kwargs):
        calls.append(path)
        os.makedirs(osp.join(path, 'images'))
        raise KeyboardInterrupt

    monkeypatch.setattr(writer, 'generate_synthetic_dataset', broken)
    with pytest.raises(KeyboardInterrupt):
        ensure_synthetic_dataset(str(root), kind='nyud', **SMALL)
    assert not root.exists() and os.listdir(tmp_path / 'data') == []
    monkeypatch.undo()

    root.mkdir()                              # an empty folder is fine
    ds = SyntheticNYUDv2Dataset(data_root=str(root), split='val',
                                pipeline=TEST_PIPELINE, **SMALL)
    assert len(ds) == 1
    assert json.load(open(root / 'synthetic.json'))['num_train'] == 3
    assert os.listdir(tmp_path / 'data') == ['synthetic_nyud']
    assert ds[0]['data_samples'].gt_depth_map.data.shape == (1, 48, 64)

    other = tmp_path / 'not_synthetic'
    other.mkdir()
    (other / 'x.txt').write_text('x')
    with pytest.raises(RuntimeError, match='not a complete synthetic'):
        ensure_synthetic_dataset(str(other), kind='nyud', **SMALL)
