"""Procedurally generated multi-task scenes, written in the real layouts.

A scene is a box-shaped room (floor, walls, ceiling: planes) seen by a
pinhole camera, with boxes and spheres on the floor and, in the PASCAL-like
variant, a person built from primitives (head, torso, arms, legs). Every
pixel's ray is intersected with every surface; the nearest hit gives

- depth: the hit point's z in the camera frame (metres);
- normals: the surface's normal in the camera frame, x right, y up,
  z towards the camera (so a wall facing the camera is (0, 0, 1));
- semantic class, human part and saliency (objects and person);
- boundaries: where the surface changes or depth jumps.

The image is textured per class (checkered floor, striped walls, drawers on
cabinets, wood grain on tables, ...) in world coordinates and lit by a
point light, so its shading follows the normals. Everything is drawn from
``numpy.random.default_rng`` seeded per sample: the same seed gives the same
bytes on every run.

The generated folder uses the NYUDv2 (ETH/ATRC) or PASCAL-Context (PASCAL_MT)
layout, so the real datasets' loaders read it. Generation runs on first use
into a temporary folder that is renamed into place when complete.
"""
from __future__ import annotations

import io
import json
import os
import os.path as osp
import shutil
import tempfile
from typing import Dict, Optional, Sequence, Tuple

import cv2
import numpy as np
from mmengine.logging import MMLogger

from mmtlsi.registry import DATASETS

from .decoders import load_meta
from .nyud import NYUDv2Dataset
from .pascal_context import PascalContextMTDataset

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

_BASE_COLOURS = dict(wall=(200, 190, 170), floor=(150, 110, 70),
                     ceiling=(235, 235, 230), cabinet=(120, 80, 50),
                     table=(180, 140, 90), box=(60, 110, 170),
                     ball=(200, 60, 50), skin=(225, 180, 150),
                     shirt=(60, 140, 80), trousers=(50, 50, 90))

#: person parts: (part label, mat names, box half sizes or sphere radius,
#: centre (x, y) in units of the person's height)
_PERSON_PARTS = (
    (1, ('head',), 'sphere', (0.065,), (0.0, 0.9)),
    (2, ('torso',), 'box', (0.13, 0.15, 0.08), (0.0, 0.67)),
    (3, ('luarm', 'ruarm'), 'box', (0.035, 0.10, 0.04), (0.17, 0.72)),
    (4, ('llarm', 'rlarm'), 'box', (0.03, 0.09, 0.035), (0.17, 0.53)),
    (5, ('luleg', 'ruleg'), 'box', (0.055, 0.12, 0.06), (0.065, 0.40)),
    (6, ('llleg', 'rlleg'), 'box', (0.045, 0.14, 0.05), (0.06, 0.14)),
)


def _rot_y(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _rot_x(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


# --------------------------------------------------------------------------
# geometry
# --------------------------------------------------------------------------
class _Hits:
    """Nearest hit per ray: distance, world normal, surface index."""

    def __init__(self, n: int) -> None:
        self.t = np.full(n, np.inf)
        self.normal = np.zeros((n, 3))
        self.surface = np.full(n, -1, dtype=np.int64)

    def update(self, t: np.ndarray, normal: np.ndarray, idx: int) -> None:
        closer = t < self.t
        self.t[closer] = t[closer]
        self.normal[closer] = normal[closer]
        self.surface[closer] = idx


def _hit_plane(origin, dirs, n, c):
    """Plane n . P = c, visible side where n . d < 0."""
    nd = dirs @ n
    with np.errstate(divide='ignore', invalid='ignore'):
        t = (c - origin @ n) / nd
    t = np.where((nd < -1e-9) & (t > 1e-6), t, np.inf)
    return t, np.broadcast_to(n, dirs.shape)


def _hit_box(origin, dirs, centre, half, yaw):
    rot = _rot_y(yaw)
    o = rot.T @ (origin - centre)
    d = dirs @ rot                       # rows: rot.T @ d
    with np.errstate(divide='ignore', invalid='ignore'):
        inv = 1.0 / np.where(np.abs(d) < 1e-12, 1e-12, d)
        t1 = (-np.asarray(half) - o) * inv
        t2 = (np.asarray(half) - o) * inv
    near = np.minimum(t1, t2)
    far = np.maximum(t1, t2)
    t_near = near.max(axis=1)
    t_far = far.min(axis=1)
    axis = near.argmax(axis=1)
    hit = (t_far >= t_near) & (t_near > 1e-6)
    n_local = np.zeros_like(d)
    rows = np.arange(len(d))
    n_local[rows, axis] = -np.sign(d[rows, axis])
    return np.where(hit, t_near, np.inf), n_local @ rot.T


def _hit_sphere(origin, dirs, centre, radius):
    oc = origin - centre
    a = np.einsum('ij,ij->i', dirs, dirs)
    b = dirs @ oc
    c = oc @ oc - radius ** 2
    disc = b * b - a * c
    with np.errstate(invalid='ignore'):
        t = (-b - np.sqrt(np.maximum(disc, 0))) / a
    t = np.where((disc >= 0) & (t > 1e-6), t, np.inf)
    p = origin + dirs * np.where(np.isfinite(t), t, 0)[:, None]
    return t, (p - centre) / radius


# --------------------------------------------------------------------------
# scene sampling and rendering
# --------------------------------------------------------------------------
def _sample_scene(rng: np.random.Generator, with_person: bool) -> dict:
    room_w, room_h, room_d = rng.uniform(4, 7), rng.uniform(2.6, 3.2), \
        rng.uniform(5, 8)
    front = 0.8
    surfaces = [
        dict(kind='plane', n=(0, 1, 0), c=0.0, cls='floor'),
        dict(kind='plane', n=(0, -1, 0), c=-room_h, cls='ceiling'),
        dict(kind='plane', n=(1, 0, 0), c=-room_w / 2, cls='wall'),
        dict(kind='plane', n=(-1, 0, 0), c=-room_w / 2, cls='wall'),
        dict(kind='plane', n=(0, 0, 1), c=-room_d, cls='wall'),
        dict(kind='plane', n=(0, 0, -1), c=-front, cls='wall'),
    ]

    cam_h = rng.uniform(1.2, 1.6)
    camera = dict(origin=(rng.uniform(-0.5, 0.5), cam_h, 0.0),
                  yaw=rng.uniform(-0.35, 0.35),
                  pitch=rng.uniform(-0.3, 0.0))

    def spot(margin):
        return (rng.uniform(-room_w / 2 + margin, room_w / 2 - margin),
                rng.uniform(-room_d + margin, -1.8))

    for _ in range(int(rng.integers(2, 5))):
        cls = str(rng.choice(['cabinet', 'table', 'box', 'ball']))
        x, z = spot(0.7)
        yaw = rng.uniform(-0.6, 0.6)
        if cls == 'cabinet':
            half = (rng.uniform(0.3, 0.6), rng.uniform(0.5, 1.0),
                    rng.uniform(0.2, 0.35))
        elif cls == 'table':
            half = (rng.uniform(0.4, 0.8), rng.uniform(0.3, 0.4),
                    rng.uniform(0.3, 0.5))
        elif cls == 'box':
            s = rng.uniform(0.15, 0.35)
            half = (s, s, s)
        if cls == 'ball':
            r = rng.uniform(0.15, 0.4)
            surfaces.append(dict(kind='sphere', centre=(x, r, z), r=r,
                                 cls=cls))
        else:
            surfaces.append(dict(kind='box', centre=(x, half[1], z),
                                 half=half, yaw=yaw, cls=cls))
    if with_person:
        # in front of the camera, within the central part of the view
        height = rng.uniform(1.5, 1.85)
        angle = camera['yaw'] + rng.uniform(-0.25, 0.25)
        dist = rng.uniform(2.0, 3.5)
        px = float(np.clip(camera['origin'][0] - dist * np.sin(angle),
                           -room_w / 2 + 0.5, room_w / 2 - 0.5))
        pz = -dist * np.cos(angle)
        yaw = rng.uniform(-0.5, 0.5)
        rot = _rot_y(yaw)
        for label, names, kind, size, (cx, cy) in _PERSON_PARTS:
            sides = (-1, 1) if len(names) == 2 else (0,)
            for side, name in zip(sides, names):
                offset = rot @ np.array([side * cx * height, 0.0, 0.0])
                centre = (px + offset[0], cy * height, pz + offset[2])
                part = dict(cls='person', part=label, part_name=name)
                if kind == 'sphere':
                    part.update(kind='sphere', centre=centre,
                                r=size[0] * height)
                else:
                    part.update(kind='box', centre=centre,
                                half=tuple(s * height for s in size),
                                yaw=yaw)
                surfaces.append(part)
    light = (rng.uniform(-room_w / 3, room_w / 3), room_h - 0.3,
             rng.uniform(-room_d * 0.6, -0.5))
    tint = rng.uniform(0.85, 1.15, size=(len(surfaces), 3))
    return dict(surfaces=surfaces, camera=camera, light=light, tint=tint,
                room=(room_w, room_h, room_d))


def _texture(cls: str, p: np.ndarray, n_world: np.ndarray,
             part: int) -> Tuple[np.ndarray, np.ndarray]:
    """Base colour (N, 3) and a pattern factor (N,) from world points."""
    x, y, z = p[:, 0], p[:, 1], p[:, 2]
    colour = np.asarray(_BASE_COLOURS.get(cls, (128, 128, 128)), float)
    pattern = np.ones(len(p))
    if cls == 'floor':
        pattern = np.where((np.floor(x / 0.5) + np.floor(z / 0.5)) % 2,
                           0.75, 1.0)
    elif cls == 'wall':
        along = np.where(np.abs(n_world[:, 0]) > 0.5, z, x)
        pattern = 0.9 + 0.1 * (np.sin(along * 2 * np.pi / 0.3) > 0)
    elif cls == 'ceiling':
        pattern = 0.97 + 0.03 * np.sin(x * 3) * np.sin(z * 3)
    elif cls == 'cabinet':
        pattern = np.where((y % 0.35) < 0.04, 0.55, 1.0)
    elif cls == 'table':
        pattern = 0.8 + 0.2 * np.sin(25 * x + 4 * np.sin(6 * z) + 3 * y)
    elif cls == 'box':
        pattern = np.where(((x + y + z) / 0.12).astype(int) % 2, 0.7, 1.0)
    elif cls == 'ball':
        pattern = 0.85 + 0.15 * np.sin(10 * y)
    elif cls == 'person':
        key = {1: 'skin', 2: 'shirt', 3: 'shirt', 4: 'skin'}.get(part,
                                                                'trousers')
        colour = np.asarray(_BASE_COLOURS[key], float)
        if part == 2:
            pattern = np.where((y % 0.12) < 0.06, 0.8, 1.0)
    return np.broadcast_to(colour, p.shape), pattern


def render_scene(scene: dict, height: int, width: int,
                 rng: np.random.Generator) -> Dict[str, np.ndarray]:
    """Ray-cast ``scene``; returns per-pixel maps (see the module doc)."""
    focal = 0.85 * width
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    v, u = np.mgrid[0:height, 0:width].astype(np.float64)
    # camera frame with x right, y up, z towards the viewer: the ray of a
    # pixel at depth 1 is ((u - cx) / f, -(v - cy) / f, -1)
    rays_cam = np.stack([(u - cx) / focal, -(v - cy) / focal,
                         -np.ones_like(u)], axis=-1).reshape(-1, 3)
    cam = scene['camera']
    rot = _rot_y(cam['yaw']) @ _rot_x(cam['pitch'])   # camera -> world
    origin = np.asarray(cam['origin'], float)
    dirs = rays_cam @ rot.T
    hits = _Hits(len(dirs))
    for i, s in enumerate(scene['surfaces']):
        if s['kind'] == 'plane':
            t, n = _hit_plane(origin, dirs, np.asarray(s['n'], float), s['c'])
        elif s['kind'] == 'box':
            t, n = _hit_box(origin, dirs, np.asarray(s['centre'], float),
                            s['half'], s['yaw'])
        else:
            t, n = _hit_sphere(origin, dirs, np.asarray(s['centre'], float),
                               s['r'])
        hits.update(t, n, i)
    assert np.isfinite(hits.t).all(), 'a ray left the room'
    depth = hits.t                      # rays have z = -1 in the camera
    points = origin + dirs * depth[:, None]
    n_world = hits.normal / np.linalg.norm(hits.normal, axis=1,
                                           keepdims=True)
    n_cam = n_world @ rot               # rows: rot.T @ n

    colour = np.zeros((len(dirs), 3))
    light = np.asarray(scene['light'], float)
    to_light = light - points
    dist = np.linalg.norm(to_light, axis=1)
    lambert = np.clip(np.einsum('ij,ij->i', n_world, to_light / dist[:, None]),
                      0, 1)
    shade = 0.3 + 0.8 * lambert / (1 + 0.02 * dist ** 2)
    cls_names, parts = [], np.zeros(len(dirs), dtype=np.int64)
    for i, s in enumerate(scene['surfaces']):
        sel = hits.surface == i
        cls_names.append(s['cls'])
        if not sel.any():
            continue
        parts[sel] = s.get('part', 0)
        base, pattern = _texture(s['cls'], points[sel], n_world[sel],
                                 s.get('part', 0))
        colour[sel] = base * pattern[:, None] * scene['tint'][i]
    colour *= shade[:, None]
    colour += rng.normal(0, 2.0, size=colour.shape)
    image = np.clip(np.round(colour), 0, 255).astype(np.uint8)

    surface = hits.surface.reshape(height, width)
    depth = depth.reshape(height, width)
    # boundaries: the surface changes, or depth jumps, towards the right /
    # bottom neighbour (one pixel wide)
    edge = np.zeros((height, width), bool)
    for dy, dx in ((0, 1), (1, 0)):
        a = surface[:height - dy, :width - dx]
        b = surface[dy:, dx:]
        da = depth[:height - dy, :width - dx]
        db = depth[dy:, dx:]
        change = (a != b) | (np.abs(da - db) > 0.05 * np.minimum(da, db))
        edge[:height - dy, :width - dx] |= change
    return dict(image=image.reshape(height, width, 3),
                depth=depth.astype(np.float32),
                normals=n_cam.reshape(height, width, 3).astype(np.float32),
                surface=surface,
                surface_cls=np.array(cls_names),
                parts=parts.reshape(height, width),
                edge=edge,
                intrinsics=(focal, focal, cx, cy))


# --------------------------------------------------------------------------
# writers
# --------------------------------------------------------------------------
def _write_png(path: str, arr: np.ndarray) -> None:
    if arr.ndim == 3:
        arr = arr[..., ::-1]            # RGB -> BGR for OpenCV
    ok, buf = cv2.imencode('.png', np.ascontiguousarray(arr))
    assert ok, path
    with open(path, 'wb') as f:
        f.write(buf.tobytes())


def _write_jpg(path: str, rgb: np.ndarray) -> None:
    ok, buf = cv2.imencode('.jpg', np.ascontiguousarray(rgb[..., ::-1]),
                           [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok, path
    with open(path, 'wb') as f:
        f.write(buf.tobytes())


def _write_npy(path: str, arr: np.ndarray) -> None:
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
    with open(path, 'wb') as f:
        f.write(bytes(data))


def encode_normals(normals: np.ndarray) -> np.ndarray:
    """Unit vectors -> uint8 RGB with v = (n + 1) / 2 * 255."""
    return np.clip(np.round((normals + 1.0) * 127.5), 0, 255).astype(
        np.uint8)


def parts_annotation(parts: np.ndarray, surface: np.ndarray,
                     scene: dict) -> dict:
    """A PASCAL-Part-like ``anno`` struct for :func:`write_mat`."""
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
              parts_annotation(out['parts'], out['surface'], scene))


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
        with open(osp.join(root, split_dir, split + '.txt'), 'w') as f:
            f.write(''.join(i + '\n' for i in ids))
        for i, img_id in enumerate(ids):
            rng = _sample_rng(seed, split, i)
            with_person = kind == 'pascal' and rng.random() < person_prob
            scene = _sample_scene(rng, with_person)
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
    with open(osp.join(root, MARKER), 'w') as f:
        json.dump(info, f, indent=1, sort_keys=True)
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


class _SyntheticMixin:
    KIND = 'nyud'

    def _init_synthetic(self, num_train, num_val, img_size, seed,
                        extra: Optional[dict] = None) -> None:
        self.synthetic_params = dict(kind=self.KIND, num_train=num_train,
                                     num_val=num_val,
                                     img_size=tuple(img_size), seed=seed,
                                     **(extra or {}))

    def prepare_data_root(self) -> None:
        ensure_synthetic_dataset(self.data_root, **self.synthetic_params)


@DATASETS.register_module()
class SyntheticNYUDv2Dataset(_SyntheticMixin, NYUDv2Dataset):
    """Synthetic rooms in the NYUDv2 layout (semseg, depth, normals, edge).

    Generated into ``data_root`` on first use (see
    :func:`generate_synthetic_dataset`). 7 classes: wall, floor, ceiling,
    cabinet, table, box, ball.

    Args:
        num_train, num_val: samples per split (default 200 / 50).
        img_size: (height, width), default (96, 128).
        seed: the generator's seed.
    """

    KIND = 'nyud'
    METAINFO = dict(classes=NYUD_CLASSES,
                    palette=[list(c) for c in
                             load_meta('nyudv2')['palette'][:7]])

    def __init__(self, data_root: str = 'data/synthetic_nyud',
                 num_train: int = 200, num_val: int = 50,
                 img_size: Sequence[int] = (96, 128), seed: int = 0,
                 **kwargs) -> None:
        self._init_synthetic(num_train, num_val, img_size, seed)
        kwargs.setdefault('layout', 'atrc')
        super().__init__(data_root=data_root, **kwargs)

    def layout_name(self) -> str:
        return 'synthetic, NYUDv2 ETH/ATRC layout'


@DATASETS.register_module()
class SyntheticPascalContextDataset(_SyntheticMixin, PascalContextMTDataset):
    """Synthetic rooms with people in the PASCAL-Context layout (semseg,
    human parts, normals, saliency, boundaries).

    6 semantic classes: background (room), cabinet, table, box, ball,
    person; human parts as PASCAL-Context (7 classes, all 255 without a
    person); saliency = objects and people.

    Args:
        num_train, num_val, img_size, seed: as
            :class:`SyntheticNYUDv2Dataset`.
        person_prob: chance that a scene holds a person (default 0.7).
    """

    KIND = 'pascal'
    METAINFO = dict(classes=PASCAL_CLASSES,
                    palette=[list(c) for c in
                             load_meta('pascal_context')['palette'][:6]])

    def __init__(self, data_root: str = 'data/synthetic_pascal',
                 num_train: int = 200, num_val: int = 50,
                 img_size: Sequence[int] = (96, 128), seed: int = 0,
                 person_prob: float = 0.7, **kwargs) -> None:
        self._init_synthetic(num_train, num_val, img_size, seed,
                             dict(person_prob=person_prob))
        super().__init__(data_root=data_root, **kwargs)

    def layout_name(self) -> str:
        return 'synthetic, PASCAL-Context layout'
