"""NYUDv2 for multi-task dense prediction (semseg, depth, normals, edge)."""
from __future__ import annotations

import os.path as osp
from typing import List

from mmtlsi.registry import DATASETS

from .base import MultiTaskSegDataset
from .decoders import load_meta

_NYUD = load_meta('nyudv2')

#: where each layout keeps each task: (folder, extension, decoder)
NYUD_LAYOUTS = {
    # the ETH / ATRC "NYUDv2" archive (MTI-Net, ATRC, InvPT's NYUDv2 loader)
    'atrc': dict(
        image=('images', '.png'),
        semseg=('segmentation', '.png', 'nyud_semseg'),
        depth=('depth', '.npy', 'nyud_depth'),
        normals=('normals', '.png', 'nyud_normals_png'),
        edge=('edge', '.png', 'nyud_edge_png')),
    # the circulating "NYUD_MT" copy: jpg images, npy normals / edges
    'nyud_mt': dict(
        image=('images', '.jpg'),
        semseg=('segmentation', '.png', 'nyud_semseg'),
        depth=('depth', '.npy', 'nyud_depth'),
        normals=('normals', '.npy', 'nyud_normals_npy'),
        edge=('edge', '.npy', 'nyud_edge_npy')),
}


def detect_nyud_layout(data_root: str, img_id: str) -> str:
    """Which NYUDv2 copy ``data_root`` holds, judged from one sample."""
    def has(folder, ext):
        return osp.isfile(osp.join(data_root, folder, img_id + ext))

    if has('images', '.png'):
        return 'atrc'
    if has('images', '.jpg') or has('normals', '.npy') \
            or has('edge', '.npy'):
        return 'nyud_mt'
    raise FileNotFoundError(
        f'NYUDv2: neither {osp.join(data_root, "images", img_id + ".png")} '
        f'(ETH/ATRC archive) nor {img_id}.jpg (NYUD_MT copy) exists')


@DATASETS.register_module()
class NYUDv2Dataset(MultiTaskSegDataset):
    """NYUDv2 multi-task (795 train / 654 val; 40 classes).

    Layout (``data_root``)::

        gt_sets/{train,val}.txt          one image id a line
        images/<id>.png                  RGB
        segmentation/<id>.png            0 = void, class = label - 1
        depth/<id>.npy                   metres, 0 = invalid
        normals/<id>.png                 n = 2 v / 255 - 1
        edge/<id>.png                    0 / 255

    The "NYUD_MT" copy (``images/<id>.jpg``, ``normals/<id>.npy`` in
    [-1, 1], ``edge/<id>.npy`` in {0, 1}, other files as above) is detected
    automatically; the layout found is written to the log. Pass
    ``layout='atrc'`` or ``'nyud_mt'`` to force one.

    Images are read by the pipeline's ``LoadImageFromFile`` (BGR, converted
    to RGB by the data preprocessor with ``bgr_to_rgb=True``).
    """

    METAINFO = dict(classes=tuple(_NYUD['classes']),
                    palette=[list(c) for c in _NYUD['palette']])
    TASKS = ('semseg', 'depth', 'normals', 'edge')

    def __init__(self, *args, layout: str = 'auto', **kwargs) -> None:
        if layout != 'auto' and layout not in NYUD_LAYOUTS:
            raise ValueError(f'layout must be "auto" or one of '
                             f'{list(NYUD_LAYOUTS)}, got {layout!r}')
        self.layout = layout
        super().__init__(*args, **kwargs)

    def layout_name(self) -> str:
        return {'atrc': 'NYUDv2 ETH/ATRC archive (png)',
                'nyud_mt': 'NYUD_MT copy (jpg + npy)'}.get(self.layout,
                                                           self.layout)

    def load_ids(self) -> List[str]:
        ids = self.read_split_file(self._path('gt_sets', self.split + '.txt'))
        if self.layout == 'auto':
            self.layout = detect_nyud_layout(self.data_root, ids[0])
        return ids

    def image_path(self, img_id: str) -> str:
        folder, ext = NYUD_LAYOUTS[self.layout]['image']
        return self._path(folder, img_id + ext)

    def task_annotation(self, task: str, img_id: str) -> dict:
        folder, ext, decoder = NYUD_LAYOUTS[self.layout][task]
        return dict(decoder=decoder, path=self._path(folder, img_id + ext))
