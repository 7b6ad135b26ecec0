"""PASCAL-Context for multi-task dense prediction."""
from __future__ import annotations

import os.path as osp
from typing import List

from mmtlsi.registry import DATASETS

from .base import MultiTaskSegDataset
from .decoders import load_meta

_PASCAL = load_meta('pascal_context')
_PARTS = load_meta('pascal_human_parts')


@DATASETS.register_module()
class PascalContextMTDataset(MultiTaskSegDataset):
    """PASCAL-Context multi-task (4998 train / 5105 val).

    Layout (``data_root``, the ``PASCAL_MT`` archive)::

        ImageSets/Context/{train,val}.txt
        JPEGImages/<id>.jpg
        semseg/VOC12/<id>.png           21 classes (else semseg/pascal-context)
        human_parts/<id>.mat            PASCAL-Part annotations
        normals_distill/<id>.png        like NYUDv2's normals
        sal_distill/<id>.png            saliency, / 255 > 0.5
        pascal-context/trainval/<id>.mat  459-class LabelMap

    Decoding (``mmtlsi/datasets/decoders.py``): human parts grouped into 6
    parts + background (images without an annotated person: all 255);
    normals kept only on PASCAL-Context classes that NYUDv2 also has;
    boundaries from the LabelMap (Laplacian != 0, thinned).
    """

    METAINFO = dict(classes=tuple(_PASCAL['classes']),
                    palette=[list(c) for c in _PASCAL['palette']])
    TASKS = ('semseg', 'human_parts', 'normals', 'sal', 'edge')
    TASK_METAINFO = dict(
        human_parts=dict(classes=tuple(_PARTS['classes']),
                         palette=[list(c) for c in _PARTS['palette']]),
        sal=dict(classes=('background', 'salient')),
        edge=dict(classes=('background', 'boundary')))

    def __init__(self, *args, mask_normals: bool = True, **kwargs) -> None:
        self.mask_normals = mask_normals
        super().__init__(*args, **kwargs)

    def layout_name(self) -> str:
        return 'PASCAL-Context multi-task (PASCAL_MT)'

    def load_ids(self) -> List[str]:
        return self.read_split_file(
            self._path('ImageSets', 'Context', self.split + '.txt'))

    def image_path(self, img_id: str) -> str:
        return self._path('JPEGImages', img_id + '.jpg')

    def _label_map_path(self, img_id: str) -> str:
        return self._path('pascal-context', 'trainval', img_id + '.mat')

    def task_annotation(self, task: str, img_id: str) -> dict:
        if task == 'semseg':
            voc = self._path('semseg', 'VOC12', img_id + '.png')
            path = voc if osp.isfile(voc) else \
                self._path('semseg', 'pascal-context', img_id + '.png')
            return dict(decoder='pascal_semseg', path=path)
        if task == 'human_parts':
            return dict(decoder='pascal_human_parts',
                        path=self._path('human_parts', img_id + '.mat'))
        if task == 'normals':
            ann = dict(decoder='pascal_normals',
                       path=self._path('normals_distill', img_id + '.png'))
            if self.mask_normals:
                ann['label_map_path'] = self._label_map_path(img_id)
            return ann
        if task == 'sal':
            return dict(decoder='pascal_sal',
                        path=self._path('sal_distill', img_id + '.png'))
        if task == 'edge':
            return dict(decoder='pascal_edge',
                        path=self._label_map_path(img_id))
        raise KeyError(task)
