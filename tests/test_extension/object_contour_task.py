"""A task, its decoders and a dataset that a config loads with
``custom_imports = dict(imports=['object_contour_task'])``; nothing in mmtlsi/
names them (see test_other_task_sets.py).

``object_contour``: object contours given as one-pixel boundary maps,
scored by the 'boundary' metric kind with the GT taken as it is
(``gt_is_boundary``) and 21 thresholds. ``RangeContourDataset``: depth and
object_contour, ``<root>/{rgb,range,contour}/<id>.*`` with
``lists/<split>.lst``.
"""
import numpy as np

from mmtlsi.datasets import MultiTaskSegDataset
from mmtlsi.datasets.decoders import read_npy, read_png_array, register_decoder
from mmtlsi.registry import DATASETS
from mmtlsi.tasks import get_task_spec, register_task

CONTOUR = register_task(get_task_spec('edge').with_overrides(
    name='object_contour', title='Contour',
    gt_field='gt_object_contour_map',
    pred_field='pred_object_contour_map',
    results_key='gt_object_contour_map',
    loss_weight=10.0, decimals=3,
    metric_options=dict(thresholds=21, gt_is_boundary=True)))


@register_decoder('range_depth_mm')
def _range_depth_mm(path):
    return read_npy(path).astype(np.float32) / 1000.0    # mm -> m, 0 = none


@register_decoder('contour_png')
def _contour_png(path):
    return (read_png_array(path) > 0).astype(np.uint8)


@DATASETS.register_module()
class RangeContourDataset(MultiTaskSegDataset):
    METAINFO = dict(classes=(), palette=[])
    TASKS = ('depth', 'object_contour')
    FILES = dict(depth=('range', '.npy', 'range_depth_mm'),
                 object_contour=('contour', '.png', 'contour_png'))

    def load_ids(self):
        return self.read_split_file(self._path('lists', self.split + '.lst'))

    def image_path(self, img_id):
        return self._path('rgb', img_id + '.png')

    def task_annotation(self, task, img_id):
        folder, ext, decoder = self.FILES[task]
        return dict(decoder=decoder, path=self._path(folder, img_id + ext))
