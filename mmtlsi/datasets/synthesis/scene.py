"""Procedural multi-task scenes: a room seen by a pinhole camera, ray-cast.

A scene is a box-shaped room (floor, walls, ceiling: planes) with boxes and
spheres on the floor and, optionally, a person built from primitives (head,
torso, arms, legs). Every pixel's ray is intersected with every surface; the
nearest hit gives

- depth: the hit point's z in the camera frame (metres);
- normals: the surface's normal in the camera frame, x right, y up,
  z towards the camera (so a wall facing the camera is (0, 0, 1));
- the surface hit (hence semantic class, human part, saliency);
- boundaries: where the surface changes or depth jumps.

The image is textured per class (checkered floor, striped walls, drawers on
cabinets, wood grain on tables, ...) in world coordinates and lit by a
point light, so its shading follows the normals. Everything is drawn from the
``numpy.random.Generator`` given: the same seed gives the same arrays.

:func:`sample_scene` draws a scene, :func:`render_scene` renders it;
:mod:`.writer` stores the result in a real dataset's layout.
"""
from __future__ import annotations

from typing import Dict, Tuple

import numpy as np

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
def sample_scene(rng: np.random.Generator, with_person: bool) -> dict:
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
