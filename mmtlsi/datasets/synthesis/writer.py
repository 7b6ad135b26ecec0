"""Synthetic datasets on disk, in the NYUDv2 (ETH/ATRC) or PASCAL-Context
(PASCAL_MT) layout, so that the real datasets' loaders read them.

:func:`generate_synthetic_dataset` renders every sample
(:mod:`.scene`, seeded per sample) and writes its files;
:func:`ensure_synthetic_dataset` does it on first use into a temporary folder
that is renamed into place when complete.
"""
from __future__ import annotations

import io
import json
import os
import os.path as osp
import shutil
import tempfile
from typing import Tuple

import cv2
import numpy as np
from mmengine.logging import MMLogger

from mmtlsi.utils.files import naming_path

from .scene import render_scene, sample_scene

MARKER = 'synthetic.json'
FORMAT_VERSION = 1

#: synthetic classes (NYUDv2-like variant)
NYUD_CLASSES = ('wall', 'floor', 'ceiling', 'cabinet', 'table', 'box',
                'ball')
#: synthetic classes (PASCAL-like variant); room surfaces are background
PASCAL_CLASSES = ('background', 'cabinet', 'table', 'box', 'ball', 'person')
#: PASCAL-Context (459-class) ids written to the LabelMap
CONTEXT_IDS = dict(wall=440, floor=158, ceiling=68, cabinet=46, table=397,
                   box=37, ball=10, person=284)
PERSON_CLASS_IND = 15
OBJECT_CLASS_IND = dict(cabinet=18, table=11, box=20, ball=5)  # VOC ids


# --------------------------------------------------------------------------
# writers
# --------------------------------------------------------------------------
def _write_bytes(path: str, data: bytes) -> None:
    with naming_path(path), open(path, 'wb') as f:
        f.write(data)


def _write_text(path: str, text: str) -> None:
    with naming_path(path), open(path, 'w', encoding='utf-8') as f:
        f.write(text)


def _write_png(path: str, arr: np.ndarray) -> None:
    if arr.ndim == 3:
        arr = arr[..., ::-1]            # RGB -> BGR for OpenCV
    ok, buf = cv2.imencode('.png', np.ascontiguousarray(arr))
    assert ok, path
    _write_bytes(path, buf.tobytes())


def _write_jpg(path: str, rgb: np.ndarray) -> None:
    ok, buf = cv2.imencode('.jpg', np.ascontiguousarray(rgb[..., ::-1]),
                           [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok, path
    _write_bytes(path, buf.tobytes())


def _write_npy(path: str, arr: np.ndarray) -> None:
    with naming_path(path):
        np.save(path, arr)


def write_mat(path: str, variables: dict) -> None:
    """``scipy.io.savemat`` with a fixed header (no creation date), so the
    same content gives the same bytes."""
    from scipy.io import savemat
    buf = io.BytesIO()
    savemat(buf, variables, do_compression=True)
    data = bytearray(buf.getvalue())
    header = b'MATLAB 5.0 MAT-file, written by mmtlsi'
    data[:116] = header.ljust(116, b' ')
    _write_bytes(path, bytes(data))


def encode_normals(normals: np.ndarray) -> np.ndarray:
    """Unit vectors -> uint8 RGB with v = (n + 1) / 2 * 255."""
    return np.clip(np.round((normals + 1.0) * 127.5), 0, 255).astype(
        np.uint8)


def parts_annotation(surface: np.ndarray, scene: dict) -> dict:
    """A PASCAL-Part-like ``anno`` struct for :func:`write_mat`, from the
    scene's surface map (surface index a pixel)."""
    obj_dtype = [('class', 'O'), ('class_ind', 'O'), ('mask', 'O'),
                 ('parts', 'O')]
    part_dtype = [('part_name', 'O'), ('mask', 'O')]
    objects = []
    person_ids = [i for i, s in enumerate(scene['surfaces'])
                  if s['cls'] == 'person']
    if person_ids:
        mask = np.isin(surface, person_ids)
        plist = []
        for i in person_ids:
            pm = surface == i
            if pm.any():
                plist.append((scene['surfaces'][i]['part_name'],
                              pm.astype(np.uint8)))
        parr = np.zeros((1, len(plist)), dtype=part_dtype) if plist else \
            np.zeros((0, 0))
        for j, (name, pm) in enumerate(plist):
            parr[0, j] = (name, pm)
        if mask.any():
            objects.append(('person', np.array([[PERSON_CLASS_IND]],
                                               np.uint8),
                            mask.astype(np.uint8), parr))
    for i, s in enumerate(scene['surfaces']):
        if s['cls'] in OBJECT_CLASS_IND and (surface == i).any():
            objects.append((s['cls'],
                            np.array([[OBJECT_CLASS_IND[s['cls']]]],
                                     np.uint8),
                            (surface == i).astype(np.uint8),
                            np.zeros((0, 0))))
    arr = np.zeros((1, len(objects)), dtype=obj_dtype)
    for j, obj in enumerate(objects):
        arr[0, j] = obj
    return dict(anno=dict(imname='synthetic', objects=arr))


# --------------------------------------------------------------------------
# dataset generation
# --------------------------------------------------------------------------
def _sample_rng(seed: int, split: str, index: int) -> np.random.Generator:
    code = {'train': 0, 'val': 1}.get(split, 2)
    return np.random.default_rng(np.random.SeedSequence([seed, code, index]))


def _nyud_sample(root: str, img_id: str, out: dict) -> None:
    cls_of = {c: i for i, c in enumerate(NYUD_CLASSES)}
    labels = np.array([cls_of[c] for c in out['surface_cls']])
    seg = labels[out['surface']] + 1              # 0 = void in the layout
    _write_png(osp.join(root, 'images', img_id + '.png'), out['image'])
    _write_png(osp.join(root, 'segmentation', img_id + '.png'),
               seg.astype(np.uint8))
    _write_npy(osp.join(root, 'depth', img_id + '.npy'), out['depth'])
    _write_png(osp.join(root, 'normals', img_id + '.png'),
               encode_normals(out['normals']))
    _write_png(osp.join(root, 'edge', img_id + '.png'),
               out['edge'].astype(np.uint8) * 255)


def _pascal_sample(root: str, img_id: str, out: dict, scene: dict) -> None:
    cls_of = {c: i for i, c in enumerate(PASCAL_CLASSES)}
    sem = np.array([cls_of.get(c, 0) for c in out['surface_cls']])
    ctx = np.array([CONTEXT_IDS[c] for c in out['surface_cls']])
    semseg = sem[out['surface']].astype(np.uint8)
    label_map = ctx[out['surface']].astype(np.uint16)
    salient = semseg > 0
    _write_jpg(osp.join(root, 'JPEGImages', img_id + '.jpg'), out['image'])
    _write_png(osp.join(root, 'semseg', 'pascal-context', img_id + '.png'),
               semseg)
    _write_png(osp.join(root, 'normals_distill', img_id + '.png'),
               encode_normals(out['normals']))
    _write_png(osp.join(root, 'sal_distill', img_id + '.png'),
               salient.astype(np.uint8) * 255)
    write_mat(osp.join(root, 'pascal-context', 'trainval', img_id + '.mat'),
              dict(LabelMap=label_map))
    write_mat(osp.join(root, 'human_parts', img_id + '.mat'),
              parts_annotation(out['surface'], scene))


LAYOUT_DIRS = dict(
    nyud=('images', 'segmentation', 'depth', 'normals', 'edge', 'gt_sets'),
    pascal=('JPEGImages', 'semseg/pascal-context', 'normals_distill',
            'sal_distill', 'pascal-context/trainval', 'human_parts',
            'ImageSets/Context'))


def generate_synthetic_dataset(root: str, kind: str = 'nyud',
                               num_train: int = 200, num_val: int = 50,
                               img_size: Tuple[int, int] = (96, 128),
                               seed: int = 0,
                               person_prob: float = 0.7) -> dict:
    """Write a synthetic dataset into the (new or empty) folder ``root``.

    Args:
        kind: 'nyud' (NYUDv2 layout: semseg, depth, normals, edge) or
            'pascal' (PASCAL-Context layout: semseg, human parts, normals,
            saliency, boundaries).
        img_size: (height, width).
        person_prob: chance that a PASCAL-like scene holds a person.

    Returns:
        The description written to ``root/synthetic.json``.
    """
    if kind not in LAYOUT_DIRS:
        raise ValueError(f'kind must be "nyud" or "pascal", got {kind!r}')
    h, w = img_size
    for d in LAYOUT_DIRS[kind]:
        os.makedirs(osp.join(root, d), exist_ok=True)
    intrinsics = None
    for split, count in (('train', num_train), ('val', num_val)):
        ids = [f'{split}_{i:05d}' for i in range(count)]
        split_dir = 'gt_sets' if kind == 'nyud' else 'ImageSets/Context'
        _write_text(osp.join(root, split_dir, split + '.txt'),
                    ''.join(i + '\n' for i in ids))
        for i, img_id in enumerate(ids):
            rng = _sample_rng(seed, split, i)
            with_person = kind == 'pascal' and rng.random() < person_prob
            scene = sample_scene(rng, with_person)
            out = render_scene(scene, h, w, rng)
            intrinsics = out['intrinsics']
            if kind == 'nyud':
                _nyud_sample(root, img_id, out)
            else:
                _pascal_sample(root, img_id, out, scene)
    info = dict(format_version=FORMAT_VERSION, kind=kind, seed=seed,
                num_train=num_train, num_val=num_val, img_size=[h, w],
                person_prob=person_prob if kind == 'pascal' else None,
                intrinsics=dict(zip(('fx', 'fy', 'cx', 'cy'), intrinsics)),
                normals='camera frame: x right, y up, z towards the camera',
                classes=list(NYUD_CLASSES if kind == 'nyud'
                             else PASCAL_CLASSES))
    _write_text(osp.join(root, MARKER),
                json.dumps(info, indent=1, sort_keys=True))
    return info


def ensure_synthetic_dataset(root: str, **params) -> dict:
    """Generate the dataset at ``root`` unless it is already there.

    Generation writes into a temporary sibling folder that is renamed to
    ``root`` only when complete, so an interrupted run never leaves a
    partial dataset. An existing folder that is not empty and has no
    ``synthetic.json`` is refused.
    """
    logger = MMLogger.get_current_instance()
    marker = osp.join(root, MARKER)
    if osp.isfile(marker):
        with open(marker) as f:
            info = json.load(f)
        wanted = {k: list(v) if isinstance(v, tuple) else v
                  for k, v in params.items()}
        differs = {k: (info.get(k), v) for k, v in wanted.items()
                   if info.get(k) != v}
        if differs:
            logger.warning(
                f'synthetic dataset at {root} was generated with other '
                f'settings (found, requested): {differs}; using it as is '
                f'(delete the folder to regenerate)')
        return info
    if osp.isdir(root) and os.listdir(root):
        raise RuntimeError(
            f'{root} exists, is not empty and is not a complete synthetic '
            f'dataset (no {MARKER}); remove it or point data_root at an '
            f'empty or missing folder')
    parent = osp.dirname(osp.abspath(root))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix='.' + osp.basename(osp.abspath(root)) +
                           '.tmp-', dir=parent)
    logger.info(f'generating synthetic dataset {params} into {root}')
    try:
        info = generate_synthetic_dataset(tmp, **params)
        if osp.isdir(root):
            os.rmdir(root)                 # empty (checked above)
        os.rename(tmp, root)
    except OSError:
        if osp.isfile(marker):             # another process finished first
            shutil.rmtree(tmp, ignore_errors=True)
            with open(marker) as f:
                return json.load(f)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return info
