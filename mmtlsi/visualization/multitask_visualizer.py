"""A visualizer that draws every task of a multi-task data sample at once."""
from __future__ import annotations

from typing import Dict, List, Mapping, Optional, Sequence, Union

import cv2
import mmcv
import numpy as np
from mmengine.dist import master_only
from mmseg.registry import VISUALIZERS
from mmseg.structures import SegDataSample
from mmseg.utils import get_classes, get_palette
from mmseg.visualization import SegLocalVisualizer

from mmtlsi.tasks import TASK_SPECS, TaskSpec, build_task_specs, task_metainfo

from .colors import (
    colorize_depth,
    colorize_gray,
    colorize_labels,
    colorize_normals,
    depth_range,
    palette_for_task,
    resize_to,
    to_hw,
)

#: Colour of a panel whose task has no map in this row.
EMPTY_PANEL_COLOR = (48, 48, 48)


@VISUALIZERS.register_module()
class MultiTaskVisualizer(SegLocalVisualizer):
    """Draws the input image and every task's map in one picture.

    The picture is a grid: one column for the image, then one per task found
    in the data sample (in ``tasks`` order, default the order of
    :data:`mmtlsi.tasks.TASK_SPECS`, registered tasks included); one row for
    the predictions and, below it, one for the ground truth (each only when
    the sample has one and ``draw_pred`` / ``draw_gt`` ask for it). Each
    panel is as large as the image and has a title strip above it
    (``'<task title> pred'`` / ``'<task title> GT'``) unless
    ``with_labels=False``.

    How a task is drawn follows its ``TaskSpec.visual``:

    - ``'palette'`` (semseg, human_parts): class colours from the dataset's
      palette (``dataset_meta['task_metainfo'][task]['palette']`` as mmtlsi's
      datasets set it, mmseg's ``dataset_meta['palette']`` for the task in
      ``gt_sem_seg``, see
      :func:`~mmtlsi.visualization.colors.palette_for_task`), completed with
      a default palette; the ignore index is black.
      ``alpha`` < 1 blends the colours over the image.
    - ``'colormap'`` (depth): ``cmap`` colour map over a range shared by the
      prediction and the ground truth; invalid pixels (0) are black.
    - ``'normals'``: RGB = (n + 1) / 2; zero vectors are black.
    - ``'gray'`` (edge, sal): probability or 0 / 1 label in gray levels.

    It is a drop-in for mmseg's :class:`SegLocalVisualizer` (``visualizer``
    in a config, used by ``SegVisualizationHook`` and ``--show-dir``); the
    picture goes to every vis backend (``LocalVisBackend``,
    ``TensorboardVisBackend``...) through ``add_image``, or to ``out_file``.

    Args:
        name, image, vis_backends, save_dir: as in mmengine's ``Visualizer``.
        classes, palette, dataset_name: semseg classes and palette, as in
            mmseg's ``SegLocalVisualizer`` (the dataset's ``metainfo`` replaces
            them when a runner sets ``dataset_meta``).
        tasks: tasks to draw and their order (default: all that are present).
        task_cfg: per-task overrides (e.g. ``semseg=dict(num_classes=40)``),
            the dataset's (the configs pass it one shared ``task_cfg``); a
            ground truth packed with another ``ignore_index`` (metainfo
            ``gt_ignore_index``) is an error.
        alpha: opacity of class colours over the image (1: colours only).
        cmap: OpenCV colour map name for depth.
        depth_percentile: if set, the depth range is the
            ``[p, 100 - p]`` percentile range instead of min / max.
        font_scale: title size; default grows with the image width.
    """

    def __init__(self,
                 name: str = 'visualizer',
                 image: Optional[np.ndarray] = None,
                 vis_backends: Optional[List[Dict]] = None,
                 save_dir: Optional[str] = None,
                 classes: Optional[Sequence[str]] = None,
                 palette: Optional[Sequence] = None,
                 dataset_name: Optional[str] = None,
                 tasks: Optional[Sequence[str]] = None,
                 task_cfg: Optional[Mapping[str, dict]] = None,
                 alpha: float = 1.0,
                 cmap: str = 'viridis',
                 depth_percentile: Optional[float] = None,
                 font_scale: Optional[float] = None,
                 **kwargs):
        super().__init__(name, image, vis_backends, save_dir, alpha=alpha,
                         **kwargs)
        self.set_dataset_meta(classes, palette, dataset_name)
        self.tasks = list(tasks) if tasks is not None else None
        self.task_cfg = dict(task_cfg or {})
        self.cmap = cmap
        self.depth_percentile = depth_percentile
        self.font_scale = font_scale

    # ------------------------------------------------------------------
    # meta
    # ------------------------------------------------------------------
    def set_dataset_meta(self,
                         classes: Optional[Sequence[str]] = None,
                         palette: Optional[Sequence] = None,
                         dataset_name: Optional[str] = None) -> None:
        """Set the semseg classes / palette; unlike mmseg's, nothing defaults
        to Cityscapes: missing palettes are generated per task."""
        if dataset_name is not None:
            classes = classes or get_classes(dataset_name)
            palette = palette or get_palette(dataset_name)
        meta = {}
        if classes:
            meta['classes'] = list(classes)
        if palette:
            meta['palette'] = [list(c) for c in palette]
        self.dataset_meta = meta

    # ------------------------------------------------------------------
    # panels
    # ------------------------------------------------------------------
    def tasks_in(self, data_sample: SegDataSample, draw_gt: bool = True,
                 draw_pred: bool = True) -> List[str]:
        """Tasks with a prediction or ground truth in ``data_sample``."""
        order = self.tasks if self.tasks is not None else list(TASK_SPECS)
        # task -> ignore_index its label map was packed with
        recorded = data_sample.metainfo.get('gt_ignore_index') or {}
        found = []
        for task in order:
            spec = self.task_spec(task)
            if draw_gt and spec.gt_field in data_sample and \
                    task in recorded and \
                    recorded[task] != spec.ignore_index:
                raise ValueError(
                    f'task {task!r}: ignore_index is {recorded[task]!r} in '
                    f'the data (the dataset\'s specs) but '
                    f'{spec.ignore_index!r} in MultiTaskVisualizer; give '
                    f'the visualizer the dataset\'s task_cfg')
            if (draw_pred and spec.pred_field in data_sample) or \
                    (draw_gt and spec.gt_field in data_sample):
                found.append(task)
        return found

    def task_spec(self, task: str) -> TaskSpec:
        """The registered spec of ``task`` with this visualizer's
        ``task_cfg`` overrides."""
        return build_task_specs([task], self.task_cfg)[task]

    def _num_classes(self, spec: TaskSpec, maps: Sequence) -> int:
        n = spec.out_channels if spec.output == 'classes' else 0
        meta = self.dataset_meta or {}
        classes = task_metainfo(meta, spec, 'classes')
        if classes:
            n = max(n, len(classes))
        for m in maps:
            valid = m[(m >= 0) & (m != spec.ignore_index)]
            if valid.size:
                n = max(n, int(valid.max()) + 1)
        return n

    def draw_task(self, spec: TaskSpec, maps: Dict[str, object],
                  image: np.ndarray) -> Dict[str, np.ndarray]:
        """Paint the 'pred' and / or 'gt' map of one task, at image size."""
        hw = image.shape[:2]
        out = {}
        if spec.visual == 'palette':
            arrays = {k: to_hw(v).astype(np.int64) for k, v in maps.items()}
            palette = palette_for_task(
                spec, self.dataset_meta,
                self._num_classes(spec, list(arrays.values())))
            for key, labels in arrays.items():
                if spec.ignore_index is not None:
                    labels = np.where(labels == spec.ignore_index, -1,
                                      labels)
                color = resize_to(colorize_labels(labels, palette), hw)
                if self.alpha < 1:
                    color = (image * (1 - self.alpha) +
                             color * self.alpha).astype(np.uint8)
                out[key] = color
        elif spec.visual == 'colormap':
            arrays = {k: to_hw(v) for k, v in maps.items()}
            vmin, vmax = depth_range(*arrays.values(),
                                     percentile=self.depth_percentile)
            for key, depth in arrays.items():
                out[key] = resize_to(
                    colorize_depth(depth, vmin, vmax, self.cmap), hw)
        elif spec.visual == 'normals':
            for key, normals in maps.items():
                out[key] = resize_to(colorize_normals(normals), hw)
        elif spec.visual == 'gray':
            for key, values in maps.items():
                out[key] = resize_to(
                    colorize_gray(values, spec.ignore_index), hw)
        else:
            raise ValueError(f'task {spec.name!r}: unknown visual '
                             f'{spec.visual!r}')
        return out

    # ------------------------------------------------------------------
    # layout
    # ------------------------------------------------------------------
    def _font_scale(self, width: int) -> float:
        if self.font_scale is not None:
            return self.font_scale
        return float(np.clip(width / 480.0, 0.3, 1.5))

    def title_height(self, width: int) -> int:
        """Height of the title strip above a panel ``width`` pixels wide."""
        scale = self._font_scale(width)
        (_, h), baseline = cv2.getTextSize('Ag', cv2.FONT_HERSHEY_SIMPLEX,
                                           scale, 1)
        return int(h + baseline + 6)

    def _titled(self, panel: np.ndarray, title: Optional[str]) -> np.ndarray:
        if title is None:
            return panel
        w = panel.shape[1]
        scale = self._font_scale(w)
        strip = np.zeros((self.title_height(w), w, 3), np.uint8)
        (_, h), _ = cv2.getTextSize(title, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        cv2.putText(strip, title, (3, 3 + h), cv2.FONT_HERSHEY_SIMPLEX,
                    scale, (255, 255, 255), 1, cv2.LINE_AA)
        return np.concatenate([strip, panel], axis=0)

    def draw_multitask(self,
                       image: np.ndarray,
                       data_sample: Optional[SegDataSample],
                       draw_gt: bool = True,
                       draw_pred: bool = True,
                       with_labels: bool = True) -> np.ndarray:
        """The grid picture (RGB uint8) of ``image`` and ``data_sample``."""
        image = np.asarray(image)
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=-1)
        image = image[..., :3].astype(np.uint8)
        sample = data_sample if data_sample is not None else SegDataSample()
        tasks = self.tasks_in(sample, draw_gt, draw_pred)
        rows = {'pred': [], 'gt': []}
        for task in tasks:
            spec = self.task_spec(task)
            maps = {}
            if draw_pred and spec.pred_field in sample:
                maps['pred'] = sample.get(spec.pred_field).data
            if draw_gt and spec.gt_field in sample:
                maps['gt'] = sample.get(spec.gt_field).data
            painted = self.draw_task(spec, maps, image)
            for key in rows:
                rows[key].append((spec.title, painted.get(key)))
        row_names = [k for k in ('pred', 'gt')
                     if any(p is not None for _, p in rows[k])]
        if not row_names:
            row_names = ['pred']
        suffix = {'pred': 'pred', 'gt': 'GT'}
        empty = np.empty_like(image)
        empty[:] = EMPTY_PANEL_COLOR
        lines = []
        for key in row_names:
            panels = [self._titled(image, 'Image' if with_labels else None)]
            for title, panel in rows[key]:
                panels.append(self._titled(
                    panel if panel is not None else empty,
                    f'{title} {suffix[key]}' if with_labels else None))
            lines.append(np.concatenate(panels, axis=1))
        return np.ascontiguousarray(np.concatenate(lines, axis=0))

    def expected_shape(self, image_hw, num_tasks: int, num_rows: int,
                       with_labels: bool = True) -> tuple:
        """(H, W, 3) of the picture for ``num_tasks`` tasks and rows."""
        h, w = int(image_hw[0]), int(image_hw[1])
        strip = self.title_height(w) if with_labels else 0
        return ((h + strip) * num_rows, w * (num_tasks + 1), 3)

    @master_only
    def add_datasample(self,
                       name: str,
                       image: np.ndarray,
                       data_sample: Optional[SegDataSample] = None,
                       draw_gt: bool = True,
                       draw_pred: bool = True,
                       show: bool = False,
                       wait_time: float = 0,
                       out_file: Optional[str] = None,
                       step: int = 0,
                       with_labels: Optional[bool] = True
                       ) -> Union[np.ndarray, None]:
        """Draw ``data_sample`` over ``image`` (RGB) as one grid picture.

        With ``show`` the picture is displayed; with ``out_file`` it is
        written there (and not to the backends); otherwise it goes to every
        vis backend under ``name`` at ``step``. Returns the picture.
        """
        drawn = self.draw_multitask(image, data_sample, draw_gt, draw_pred,
                                    bool(with_labels))
        self.set_image(drawn)
        if show:
            self.show(drawn, win_name=name, wait_time=wait_time)
        if out_file is not None:
            mmcv.imwrite(mmcv.rgb2bgr(drawn), out_file)
        else:
            self.add_image(name, drawn, step)
        return drawn
