"""Read one task's ground truth from the files of a dataset layout.

Each decoder is a plain function ``decode(path, **kwargs) -> np.ndarray``
registered under a name in :data:`DECODERS`. Datasets put the decoder's name
and its arguments into each sample's ``ann_info`` (so samples stay
picklable), and :class:`~mmtlsi.datasets.transforms.LoadMultiTaskAnnotations`
calls them. Every decoder returns the array that the pipeline carries under
``spec.results_key`` (see ``docs/CONTRACTS.md``):

- label maps: HxW ``uint8``, 255 = ignore;
- depth: HxW ``float32`` metres, 0 = invalid;
- normals: HxWx3 ``float32``, the zero vector = invalid.

Every error names the file that caused it.
"""
from __future__ import annotations

import json
import os.path as osp
from functools import cache
from typing import Callable, Dict

import cv2
import numpy as np
from PIL import Image

from mmtlsi.utils.edge_maps import thin

IGNORE = 255
META_DIR = osp.join(osp.dirname(osp.abspath(__file__)), 'meta')

DECODERS: Dict[str, Callable[..., np.ndarray]] = {}


class AnnotationError(ValueError):
    """An annotation file is missing, unreadable or holds invalid values."""


def register_decoder(name: str):
    def wrap(fn):
        if name in DECODERS:
            raise KeyError(f'decoder {name!r} registered twice')
        DECODERS[name] = fn
        return fn
    return wrap


def decode(name: str, path: str, **kwargs) -> np.ndarray:
    """Run decoder ``name`` on ``path``; errors name the path."""
    if name not in DECODERS:
        raise KeyError(f'unknown annotation decoder {name!r}; known: '
                       f'{", ".join(sorted(DECODERS))}')
    if not osp.isfile(path):
        raise FileNotFoundError(f'annotation file not found: {path}')
    try:
        return DECODERS[name](path, **kwargs)
    except (AnnotationError, FileNotFoundError):
        raise
    except Exception as e:  # corrupt file, wrong structure, ...
        raise AnnotationError(
            f'cannot read annotation {path} with decoder {name!r}: '
            f'{type(e).__name__}: {e}') from e


@cache
def load_meta(name: str) -> dict:
    """A JSON file shipped in ``mmtlsi/datasets/meta`` (class names, ...)."""
    with open(osp.join(META_DIR, name + '.json'), encoding='utf-8') as f:
        return json.load(f)


# --------------------------------------------------------------------------
# file readers
# --------------------------------------------------------------------------
def read_png_array(path: str) -> np.ndarray:
    """Pixel values of an image file as stored (palette indices for 'P')."""
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode not in ('L', 'P', 'I', 'I;16', 'RGB', 'RGBA', '1'):
                im = im.convert('RGB')
            arr = np.array(im)
    except Exception as e:
        raise AnnotationError(f'cannot read image file {path}: {e}') from e
    if arr.dtype == bool:
        arr = arr.astype(np.uint8)
    return arr


def read_npy(path: str) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except Exception as e:
        raise AnnotationError(f'cannot read .npy file {path}: {e}') from e


def read_mat(path: str) -> dict:
    from scipy.io import loadmat
    try:
        return loadmat(path)
    except Exception as e:
        raise AnnotationError(f'cannot read .mat file {path}: {e}') from e


def _gray(arr: np.ndarray) -> np.ndarray:
    if arr.ndim == 3:
        arr = arr[..., :3].mean(axis=2)
    return arr


def _as_label_map(arr: np.ndarray, path: str) -> np.ndarray:
    if arr.ndim != 2:
        raise AnnotationError(
            f'label map {path} must be single-channel, got shape {arr.shape}')
    return arr


# --------------------------------------------------------------------------
# generic decoders
# --------------------------------------------------------------------------
def decode_normals_png(path: str) -> np.ndarray:
    """RGB PNG -> n = 2 * v / 255 - 1 per channel; all-zero pixels invalid.

    A pixel stored as (0, 0, 0) or (127/128, 127/128, 127/128) would be a
    vector far from unit length; only the exact zero vector after decoding
    is treated as invalid (so encoding with ``(n + 1) * 255 / 2`` and the
    reference decoding agree).
    """
    arr = read_png_array(path)
    if arr.ndim != 3 or arr.shape[2] < 3:
        raise AnnotationError(
            f'normal map {path} must be an RGB image, got shape {arr.shape}')
    normals = 2.0 * arr[..., :3].astype(np.float32) / 255.0 - 1.0
    return np.ascontiguousarray(normals, dtype=np.float32)


def check_depth(depth: np.ndarray, path: str) -> np.ndarray:
    depth = np.asarray(depth)
    if depth.ndim == 3 and depth.shape[2] == 1:
        depth = depth[..., 0]
    if depth.ndim != 2:
        raise AnnotationError(
            f'depth map {path} must be HxW, got shape {depth.shape}')
    depth = depth.astype(np.float32)
    bad = ~np.isfinite(depth)
    if bad.any():
        ys, xs = np.nonzero(bad)
        raise AnnotationError(
            f'depth map {path} holds {int(bad.sum())} NaN/inf values '
            f'(first at row {ys[0]}, column {xs[0]})')
    if (depth < 0).any():
        raise AnnotationError(
            f'depth map {path} holds negative values (min {depth.min()})')
    return depth


# --------------------------------------------------------------------------
# NYUDv2 (ETH / ATRC archive: png + npy depth; and the NYUD_MT copy)
# --------------------------------------------------------------------------
@register_decoder('nyud_semseg')
def nyud_semseg(path: str) -> np.ndarray:
    """``segmentation/<id>.png``: label 0 = void; class = label - 1."""
    arr = _as_label_map(read_png_array(path), path).astype(np.int64)
    out = arr - 1
    out[arr == 0] = IGNORE
    if out.max(initial=0) > IGNORE:
        raise AnnotationError(
            f'segmentation {path} holds label {arr.max()} > 255')
    return out.astype(np.uint8)


@register_decoder('nyud_depth')
def nyud_depth(path: str) -> np.ndarray:
    """``depth/<id>.npy``: metres, 0 = invalid."""
    return check_depth(read_npy(path), path)


@register_decoder('nyud_normals_png')
def nyud_normals_png(path: str) -> np.ndarray:
    return decode_normals_png(path)


@register_decoder('nyud_normals_npy')
def nyud_normals_npy(path: str) -> np.ndarray:
    """NYUD_MT ``normals/<id>.npy``: HxWx3 floats in [-1, 1]."""
    arr = read_npy(path)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise AnnotationError(
            f'normal map {path} must be HxWx3, got shape {arr.shape}')
    arr = arr.astype(np.float32)
    if not np.isfinite(arr).all():
        raise AnnotationError(f'normal map {path} holds NaN/inf values')
    if arr.min() >= 0 and arr.max() > 1.5:   # stored as 0..255
        arr = 2.0 * arr / 255.0 - 1.0
    return np.ascontiguousarray(arr)


@register_decoder('nyud_edge_png')
def nyud_edge_png(path: str) -> np.ndarray:
    """``edge/<id>.png``: 0 / 255 -> {0, 1}."""
    arr = _gray(read_png_array(path))
    return (arr > 127).astype(np.uint8)


@register_decoder('nyud_edge_npy')
def nyud_edge_npy(path: str) -> np.ndarray:
    """NYUD_MT ``edge/<id>.npy``: {0, 1} (or 0 / 255) -> {0, 1}."""
    arr = read_npy(path).astype(np.float32)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    _as_label_map(arr, path)
    thr = 127.0 if arr.max(initial=0) > 1 else 0.5
    return (arr > thr).astype(np.uint8)


# --------------------------------------------------------------------------
# PASCAL-Context multi-task (PASCAL_MT archive)
# --------------------------------------------------------------------------
@register_decoder('pascal_semseg')
def pascal_semseg(path: str) -> np.ndarray:
    """``semseg/{VOC12,pascal-context}/<id>.png``: 0..20, 255 = ignore."""
    arr = _as_label_map(read_png_array(path), path)
    if arr.max(initial=0) > IGNORE:
        raise AnnotationError(f'segmentation {path} holds label > 255')
    return arr.astype(np.uint8)


def _mat_struct_field(record, name, index):
    """Field of a loadmat struct record, by name when present."""
    names = getattr(record.dtype, 'names', None)
    if names and name in names:
        return record[name]
    return record[index]


@register_decoder('pascal_human_parts')
def pascal_human_parts(path: str, num_parts: int = 6) -> np.ndarray:
    """``human_parts/<id>.mat`` -> 0 = background, 1..6 parts.

    Parts of every person object (class 15) with part annotations are
    painted with their part group (``meta/pascal_human_parts.json``: head,
    torso, upper arms, lower arms, upper legs, lower legs). An image without
    any annotated person is entirely ignored (255).
    """
    if num_parts != 6:
        raise ValueError('only the 6-part grouping is shipped')
    meta = load_meta('pascal_human_parts')
    mapping = meta['part_to_label']
    person = meta['person_class_ind']
    mat = read_mat(path)
    if 'anno' not in mat:
        raise AnnotationError(f'{path} has no "anno" struct')
    anno = mat['anno'][0, 0]
    objects = _mat_struct_field(anno, 'objects', 1)
    objects = objects[0] if objects.size else []
    target = None
    for obj in objects:
        class_ind = int(np.asarray(_mat_struct_field(obj, 'class_ind', 1))
                        .ravel()[0])
        mask = np.asarray(_mat_struct_field(obj, 'mask', 2))
        parts = np.asarray(_mat_struct_field(obj, 'parts', 3))
        if class_ind != person or parts.size == 0:
            continue
        if target is None:
            target = np.zeros(mask.shape, dtype=np.uint8)
        for part in parts[0]:
            name = str(np.asarray(_mat_struct_field(part, 'part_name', 0))
                       .ravel()[0])
            if name not in mapping:
                raise AnnotationError(
                    f'{path}: unknown human part name {name!r}')
            pmask = np.asarray(_mat_struct_field(part, 'mask', 1)).astype(bool)
            if pmask.shape != target.shape:
                raise AnnotationError(
                    f'{path}: part mask {name!r} has shape {pmask.shape}, '
                    f'object mask has {target.shape}')
            target[pmask] = mapping[name]
    if target is None:
        shape = _label_map_shape_from_mat(objects)
        if shape is None:
            return np.full((0, 0), IGNORE, np.uint8)   # resized by loader
        return np.full(shape, IGNORE, np.uint8)
    return target


def _label_map_shape_from_mat(objects):
    for obj in objects:
        mask = np.asarray(_mat_struct_field(obj, 'mask', 2))
        if mask.ndim == 2 and mask.size:
            return mask.shape
    return None


def read_label_map(path: str) -> np.ndarray:
    """``pascal-context/trainval/<id>.mat``: the 459-class ``LabelMap``."""
    mat = read_mat(path)
    if 'LabelMap' not in mat:
        raise AnnotationError(f'{path} has no "LabelMap" variable')
    return _as_label_map(np.asarray(mat['LabelMap']), path)


@register_decoder('pascal_normals')
def pascal_normals(path: str, label_map_path: str | None = None
                   ) -> np.ndarray:
    """``normals_distill/<id>.png`` decoded like NYUDv2's normals, zeroed
    (= invalid) on PASCAL-Context classes that NYUDv2 does not have
    (``meta/pascal_context.json``: ``nyud_shared_context_classes``)."""
    normals = decode_normals_png(path)
    if label_map_path is None:
        return normals
    if not osp.isfile(label_map_path):
        raise FileNotFoundError(
            f'annotation file not found: {label_map_path}')
    labels = read_label_map(label_map_path)
    if labels.shape != normals.shape[:2]:
        raise AnnotationError(
            f'{label_map_path} is {labels.shape[1]}x{labels.shape[0]} but '
            f'{path} is {normals.shape[1]}x{normals.shape[0]}')
    valid = np.array(sorted(load_meta('pascal_context')
                            ['nyud_shared_context_classes'].values()))
    keep = np.isin(labels, valid)
    normals[~keep] = 0
    return normals


@register_decoder('pascal_sal')
def pascal_sal(path: str, threshold: float = 0.5) -> np.ndarray:
    """``sal_distill/<id>.png`` / 255 > 0.5 -> {0, 1}."""
    arr = _gray(read_png_array(path)).astype(np.float32) / 255.0
    return (arr > threshold).astype(np.uint8)


@register_decoder('pascal_edge')
def pascal_edge(path: str) -> np.ndarray:
    """``pascal-context/trainval/<id>.mat`` LabelMap -> thin boundaries.

    The 3x3 Laplacian of the label map (OpenCV, reflected border) is non-zero
    wherever a pixel differs from a 4-neighbour; that band is thinned to one
    pixel width (:func:`mmtlsi.utils.edge_maps.thin`, ``bwmorph 'thin'``).
    """
    labels = read_label_map(path).astype(np.float64)
    lap = cv2.Laplacian(labels, cv2.CV_64F)
    return thin(np.abs(lap) > 0).astype(np.uint8)
