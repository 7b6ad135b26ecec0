"""``MultiTaskMetric``: every task's metric in one MMEngine evaluator.

``process`` turns each sample into small per-task sufficient statistics
(confusion matrix, depth sums, normal-error sums and sparse histogram, saliency
and boundary per-threshold counts) and appends them to ``self.results``, one
entry per sample; ``compute_metrics`` sums them. MMEngine's ``collect_results``
gathers the entries of all processes and drops the sampler's padding duplicates
by sample count, so the pooled numbers are exactly those of a single process.

Keys (units as in the papers): ``semseg/mIoU``, ``semseg/aAcc``,
``semseg/mAcc`` (percent); ``depth/rmse`` (metres), ``depth/abs_rel``,
``depth/log_rmse``, ``depth/mae``, ``depth/sq_rel``, ``depth/delta1..3``
(percent); ``normals/mean``, ``normals/median``, ``normals/rmse`` (degrees),
``normals/11.25``, ``normals/22.5``, ``normals/30.0`` (percent); ``edge/odsF``,
``edge/oisF``, ``edge/ods_precision``, ``edge/ods_recall``,
``edge/ods_threshold`` (F in percent); ``human_parts/mIoU`` (+ aAcc, mAcc);
``sal/maxF`` (percent), ``sal/threshold``; ``multi_task/delta_m`` (percent)
when single-task references are configured.
"""
from __future__ import annotations

import os
import os.path as osp
from collections import OrderedDict
from typing import Any, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from mmtlsi.registry import METRICS
from mmtlsi.tasks import TASK_SPECS, build_task_specs

from ..functional import boundary as fb
from ..functional import (
    confusion_matrix,
    delta_m,
    depth_metrics,
    depth_stats,
    load_references,
    merge_normal_stats,
    miou,
    normal_metrics,
    normal_stats,
    saliency_counts,
    saliency_metrics,
)
from ..functional.depth import DEPTH_STAT_KEYS

#: metric names (after ``task/``) where lower is better
LOWER_IS_BETTER = {'rmse', 'mae', 'abs_rel', 'sq_rel', 'log_rmse', 'mean',
                   'median'}


def _np(x) -> np.ndarray:
    if isinstance(x, dict) and 'data' in x:
        x = x['data']
    elif hasattr(x, 'data') and not isinstance(x, np.ndarray):
        x = x.data
    if hasattr(x, 'detach'):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _squeeze(x: np.ndarray) -> np.ndarray:
    return x[0] if x.ndim == 3 and x.shape[0] == 1 else x


def _crop(gt: np.ndarray, shape: tuple) -> np.ndarray:
    """Crop (padded) GT to the prediction's spatial size (top-left origin)."""
    h, w = shape[-2:]
    if gt.shape[-2:] == (h, w):
        return gt
    if gt.shape[-2] < h or gt.shape[-1] < w:
        raise ValueError(f'ground truth {gt.shape} smaller than prediction '
                         f'{shape}')
    return gt[..., :h, :w]


def image_id(sample: dict, index: int | None = None) -> str:
    """Image id of a sample: its ``img_path`` basename without extension."""
    path = sample.get('img_path') or (sample.get('metainfo') or {}).get(
        'img_path')
    if path:
        return osp.splitext(osp.basename(path))[0]
    if index is not None:
        return f'{index:06d}'
    raise KeyError('sample has no img_path')


@METRICS.register_module()
class MultiTaskMetric(BaseMetric):
    """Pooled metrics of any subset of mmtlsi's tasks.

    Args:
        tasks: task names to evaluate; ``None`` = every task whose prediction
            field is present in the first samples processed.
        task_cfg: per-task overrides, e.g.
            ``dict(semseg=dict(num_classes=21))``.
            Class counts otherwise come from ``dataset_meta``
            (``<task>_classes`` or ``task_classes[task]``, and ``classes`` for
            semseg), else from the task spec's default.
        edge_max_dist: boundary matching tolerance, fraction of the image
            diagonal (0.011 NYUDv2, 0.0075 PASCAL-Context).
        edge_thresholds: number of thresholds (101 = SEISM's list) or a list.
        edge_nms: apply the edge NMS of the SEISM protocol.
        edge_gt_is_boundary: skip seg2bmap on the GT (not the protocol).
        sal_double_sigmoid: reproduce InvPT's second sigmoid on saliency.
        normals_bin_width: histogram bin (degrees) for the pooled median.
        delta_m_ref: single-task references (dict or JSON / YAML path) keyed
            by metric key (``'semseg/mIoU'``) or task name (main metric).
        nproc: >1 defers boundary evaluation to ``compute_metrics`` and runs it
            on ``nproc`` worker processes (results then hold the quantised
            prediction and the GT boundary pixels, not counts).
    """

    default_prefix: str | None = ''

    def __init__(self,
                 tasks: Sequence[str] | None = None,
                 task_cfg: dict | None = None,
                 edge_max_dist: float = 0.011,
                 edge_thresholds: int | Sequence[float] = 101,
                 edge_nms: bool = True,
                 edge_gt_is_boundary: bool = False,
                 sal_double_sigmoid: bool = False,
                 normals_bin_width: float = 0.01,
                 delta_m_ref: dict | str | None = None,
                 nproc: int = 1,
                 collect_device: str = 'cpu',
                 prefix: str | None = None,
                 **kwargs) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix,
                         **kwargs)
        if tasks is not None:
            tasks = [tasks] if isinstance(tasks, str) else list(tasks)
            unknown = [t for t in tasks if t not in TASK_SPECS]
            if unknown:
                raise KeyError(f'unknown tasks {unknown}')
        self.tasks = tasks
        self.task_cfg = dict(task_cfg or {})
        self.edge_max_dist = float(edge_max_dist)
        self.edge_thresholds = fb.edge_thresholds(edge_thresholds)
        self.edge_nms = bool(edge_nms)
        self.edge_gt_is_boundary = bool(edge_gt_is_boundary)
        self.sal_double_sigmoid = bool(sal_double_sigmoid)
        self.normals_bin_width = float(normals_bin_width)
        self.delta_m_ref = load_references(delta_m_ref)
        self.nproc = max(1, int(nproc))
        self._specs = None
        self._num_classes: dict[str, int] = {}

    # -- configuration --------------------------------------------------------
    def _resolve_tasks(self, sample: dict):
        if self._specs is not None:
            return self._specs
        tasks = self.tasks
        if tasks is None:
            tasks = [n for n, s in TASK_SPECS.items()
                     if s.pred_field in sample]
            if not tasks:
                raise ValueError('no task prediction found in the samples')
        self._specs = build_task_specs(
            tasks, {k: v for k, v in self.task_cfg.items() if k in tasks})
        return self._specs

    def num_classes(self, task: str) -> int:
        """Number of classes of a label-map task."""
        if task in self._num_classes:
            return self._num_classes[task]
        cfg = self.task_cfg.get(task) or {}
        meta = self.dataset_meta or {}
        n = cfg.get('num_classes')
        if n is None and f'{task}_classes' in meta:
            n = len(meta[f'{task}_classes'])
        if n is None and task in (meta.get('task_classes') or {}):
            n = len(meta['task_classes'][task])
        if n is None and task == 'semseg' and meta.get('classes'):
            n = len(meta['classes'])
        if n is None:
            n = TASK_SPECS[task].out_channels
        self._num_classes[task] = int(n)
        return int(n)

    # -- per sample --------------------------------------------------------
    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            specs = self._resolve_tasks(sample)
            entry = {}
            for name, spec in specs.items():
                if spec.pred_field not in sample or \
                        spec.gt_field not in sample:
                    continue
                pred = _np(sample[spec.pred_field])
                gt = _crop(_np(sample[spec.gt_field]), pred.shape)
                entry[name] = self.sample_stats(name, pred, gt,
                                                spec.ignore_index)
            self.results.append(entry)

    def sample_stats(self, task: str, pred: np.ndarray, gt: np.ndarray,
                     ignore_index: int | None = 255) -> Any:
        """Sufficient statistics of one image for one task."""
        if task in ('semseg', 'human_parts'):
            return confusion_matrix(_squeeze(pred), _squeeze(gt),
                                    self.num_classes(task), ignore_index)
        if task == 'depth':
            return depth_stats(_squeeze(pred), _squeeze(gt))
        if task == 'normals':
            return normal_stats(pred, gt, self.normals_bin_width)
        if task == 'sal':
            return saliency_counts(_squeeze(pred), _squeeze(gt), ignore_index,
                                   self.sal_double_sigmoid)
        if task == 'edge':
            if self.nproc > 1:
                return self._edge_deferred(_squeeze(pred), _squeeze(gt),
                                           ignore_index)
            return fb.boundary_counts(
                _squeeze(pred), _squeeze(gt), self.edge_thresholds,
                self.edge_max_dist, nms=self.edge_nms,
                gt_is_boundary=self.edge_gt_is_boundary,
                ignore_index=ignore_index).astype(np.int32)
        raise KeyError(f'no metric for task {task!r}')

    def _edge_deferred(self, pred, gt, ignore_index) -> dict:
        gmap = fb.gt_boundary_map(gt, ignore_index,
                                  use_seg2bmap=not self.edge_gt_is_boundary)
        q = np.floor(np.clip(pred.astype(np.float64), 0, 1) * 255).astype(
            np.uint8)
        return dict(pred_u8=q, gt_bits=np.packbits(gmap), shape=gmap.shape)

    # -- pooling -----------------------------------------------------------
    def compute_metrics(self, results: list) -> dict:
        tasks = []
        for entry in results:
            tasks += [t for t in entry if t not in tasks]
        order = [t for t in TASK_SPECS if t in tasks]
        out = OrderedDict()
        for task in order:
            items = [e[task] for e in results if task in e]
            out.update(self.pool(task, items))
        if self.delta_m_ref:
            dm = self.compute_delta_m(out)
            if dm is not None:
                out['multi_task/delta_m'] = dm
        return out

    def pool(self, task: str, items: list) -> dict:
        """Pool per-sample statistics of one task into its metrics."""
        res = OrderedDict()
        if task in ('semseg', 'human_parts'):
            r = miou(np.sum(items, axis=0))
            res[f'{task}/mIoU'] = 100 * r['mIoU']
            res[f'{task}/aAcc'] = 100 * r['aAcc']
            res[f'{task}/mAcc'] = 100 * r['mAcc']
        elif task == 'depth':
            total = {k: sum(it[k] for it in items) for k in DEPTH_STAT_KEYS}
            for k, v in depth_metrics(total).items():
                res[f'depth/{k}'] = 100 * v if k.startswith('delta') else v
        elif task == 'normals':
            for k, v in normal_metrics(merge_normal_stats(items)).items():
                res[f'normals/{k}'] = v
        elif task == 'sal':
            r = saliency_metrics(np.sum(items, axis=0))
            res['sal/maxF'] = 100 * r['maxF']
            res['sal/threshold'] = r['threshold']
        elif task == 'edge':
            if items and isinstance(items[0], dict):
                counts = self._edge_counts_parallel(items)
            else:
                counts = np.stack(items)
            r = fb.boundary_scores(counts, self.edge_thresholds)
            for k in ('odsF', 'oisF', 'ods_precision', 'ods_recall'):
                res[f'edge/{k}'] = 100 * r[k]
            res['edge/ods_threshold'] = r['ods_threshold']
        return res

    def _edge_counts_parallel(self, items: list) -> np.ndarray:
        args = [(it, self.edge_thresholds, self.edge_max_dist, self.edge_nms)
                for it in items]
        if self.nproc > 1 and len(items) > 1:
            import multiprocessing as mp
            ctx = mp.get_context('fork') if hasattr(os, 'fork') \
                else mp.get_context()
            with ctx.Pool(self.nproc) as pool:
                counts = pool.map(_edge_worker, args, chunksize=4)
        else:
            counts = [_edge_worker(a) for a in args]
        return np.stack(counts)

    def compute_delta_m(self, metrics: dict) -> float | None:
        """Delta_m over the references whose metric was computed."""
        refs, lower = {}, {}
        for key, value in self.delta_m_ref.items():
            if '/' not in key:
                if key not in TASK_SPECS:
                    continue
                key = f'{key}/{TASK_SPECS[key].metric}'
            if key not in metrics:
                continue
            refs[key] = value
            lower[key] = key.split('/', 1)[1] in LOWER_IS_BETTER
        missing = set(self.delta_m_ref) - {k.split('/')[0] for k in refs} \
            - set(refs)
        if missing:
            print_log(f'Delta_m: no result for references {sorted(missing)}; '
                      'they are left out', logger='current')
        if not refs:
            return None
        return delta_m(metrics, refs, lower)


def _edge_worker(args) -> np.ndarray:
    item, thresholds, max_dist, nms = args
    gmap = np.unpackbits(item['gt_bits'])[:int(np.prod(item['shape']))]
    gmap = gmap.reshape(item['shape'])
    prob = item['pred_u8'].astype(np.float32) / np.float32(255)
    # already quantised; the GT is already a thinned boundary map
    return fb.boundary_counts(prob, gmap, thresholds, max_dist, nms=nms,
                              quantize=False, gt_is_boundary=True,
                              ignore_index=None).astype(np.int32)
