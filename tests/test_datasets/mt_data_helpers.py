"""Write tiny datasets in the real layouts (values chosen by the tests)."""
import os
import os.path as osp

import cv2
import numpy as np

from mmtlsi.datasets.synthesis import write_mat

H, W = 24, 32


def write_png(path, arr):
    os.makedirs(osp.dirname(path), exist_ok=True)
    if arr.ndim == 3:
        arr = arr[..., ::-1]
    assert cv2.imwrite(path, np.ascontiguousarray(arr))


def write_jpg(path, rgb):
    os.makedirs(osp.dirname(path), exist_ok=True)
    assert cv2.imwrite(path, np.ascontiguousarray(rgb[..., ::-1]))


def write_npy(path, arr):
    os.makedirs(osp.dirname(path), exist_ok=True)
    np.save(path, arr)


def write_split(path, ids):
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write('\n'.join(ids) + '\n')


def nyud_arrays(seed=0):
    rng = np.random.default_rng(seed)
    return dict(
        image=rng.integers(0, 256, (H, W, 3), dtype=np.uint8),
        seg=rng.integers(0, 41, (H, W)).astype(np.uint8),   # 0 = void
        depth=rng.uniform(0.5, 9.0, (H, W)).astype(np.float32),
        normals=rng.integers(0, 256, (H, W, 3), dtype=np.uint8),
        edge=(rng.random((H, W)) > 0.8).astype(np.uint8) * 255)


def make_nyud(root, layout='atrc', ids=('0001', '0002'), split='train'):
    arrays = {}
    for k, img_id in enumerate(ids):
        a = nyud_arrays(k)
        arrays[img_id] = a
        write_png(osp.join(root, 'segmentation', img_id + '.png'), a['seg'])
        write_npy(osp.join(root, 'depth', img_id + '.npy'), a['depth'])
        if layout == 'atrc':
            write_png(osp.join(root, 'images', img_id + '.png'), a['image'])
            write_png(osp.join(root, 'normals', img_id + '.png'),
                      a['normals'])
            write_png(osp.join(root, 'edge', img_id + '.png'), a['edge'])
        else:
            write_jpg(osp.join(root, 'images', img_id + '.jpg'), a['image'])
            write_npy(osp.join(root, 'normals', img_id + '.npy'),
                      2 * a['normals'].astype(np.float32) / 255 - 1)
            write_npy(osp.join(root, 'edge', img_id + '.npy'),
                      (a['edge'] > 0).astype(np.float32))
    write_split(osp.join(root, 'gt_sets', split + '.txt'), ids)
    return arrays


def parts_mat(path, objects, shape=(H, W)):
    """objects: list of (class_ind, mask, [(part_name, mask), ...])."""
    obj_dtype = [('class', 'O'), ('class_ind', 'O'), ('mask', 'O'),
                 ('parts', 'O')]
    arr = np.zeros((1, len(objects)), dtype=obj_dtype)
    for j, (ind, mask, parts) in enumerate(objects):
        if parts:
            p = np.zeros((1, len(parts)),
                         dtype=[('part_name', 'O'), ('mask', 'O')])
            for i, (name, pm) in enumerate(parts):
                p[0, i] = (name, pm.astype(np.uint8))
        else:
            p = np.zeros((0, 0))
        arr[0, j] = ('obj', np.array([[ind]], np.uint8),
                     mask.astype(np.uint8), p)
    os.makedirs(osp.dirname(path), exist_ok=True)
    write_mat(path, dict(anno=dict(imname='x', objects=arr)))


def make_pascal(root, ids=('2008_000001', '2008_000002'), split='train'):
    """Image 0: person with parts, semseg in VOC12; image 1: no person,
    semseg only in pascal-context."""
    rng = np.random.default_rng(3)
    out = {}
    for k, img_id in enumerate(ids):
        img = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
        write_jpg(osp.join(root, 'JPEGImages', img_id + '.jpg'), img)
        seg = rng.integers(0, 21, (H, W)).astype(np.uint8)
        seg[0, 0] = 255
        sub = 'VOC12' if k == 0 else 'pascal-context'
        write_png(osp.join(root, 'semseg', sub, img_id + '.png'), seg)
        # LabelMap: left half wall (440, shared with NYUD), right half sky
        # (360, not shared)
        label_map = np.full((H, W), 440, np.uint16)
        label_map[:, W // 2:] = 360
        lm_dir = osp.join(root, 'pascal-context', 'trainval')
        os.makedirs(lm_dir, exist_ok=True)
        write_mat(osp.join(lm_dir, img_id + '.mat'),
                  dict(LabelMap=label_map))
        normals = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
        write_png(osp.join(root, 'normals_distill', img_id + '.png'),
                  normals)
        sal = np.zeros((H, W), np.uint8)
        sal[:, :8], sal[:, 8:16], sal[:, 16:24] = 127, 128, 255
        write_png(osp.join(root, 'sal_distill', img_id + '.png'), sal)
        mask = np.zeros((H, W), bool)
        mask[2:20, 4:12] = True
        if k == 0:
            head = np.zeros((H, W), bool)
            head[2:6, 4:12] = True
            neck = np.zeros((H, W), bool)
            neck[6:8, 4:12] = True
            llarm = np.zeros((H, W), bool)
            llarm[8:12, 4:6] = True
            ruleg = np.zeros((H, W), bool)
            ruleg[14:20, 8:12] = True
            objects = [(15, mask, [('head', head), ('neck', neck),
                                   ('llarm', llarm), ('ruleg', ruleg)]),
                       (9, ~mask, [])]
        else:
            objects = [(9, mask, [])]
        parts_mat(osp.join(root, 'human_parts', img_id + '.mat'), objects)
        out[img_id] = dict(image=img, seg=seg, normals=normals,
                           label_map=label_map, sal=sal)
    write_split(osp.join(root, 'ImageSets', 'Context', split + '.txt'), ids)
    return out


TEST_PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadMultiTaskAnnotations'),
    dict(type='PackMultiTaskInputs'),
]
