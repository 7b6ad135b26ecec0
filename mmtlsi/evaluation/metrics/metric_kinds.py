"""Metric kinds: how a task is scored, chosen by its spec's ``metric_kind``.

A kind is built for one task (:func:`build_metric_kind`) from its
:class:`~mmtlsi.tasks.TaskSpec`, whose ``metric_options`` are the kind's
options. It turns one image into small sufficient statistics
(:meth:`MetricKind.sample_stats`) that add up over images, and pools a list of
them into results (:meth:`MetricKind.pool`) named by :attr:`MetricKind.results`
(result -> True where higher is better, None for a value that is not a
score). :class:`~mmtlsi.evaluation.MultiTaskMetric` only dispatches to the
kinds of its tasks, so a new task reuses a kind by naming it, and a new kind
is one class decorated with :func:`register_metric_kind`.

- ``confusion``: ``mIoU``, ``aAcc``, ``mAcc`` (percent) of a pooled
  confusion matrix of ``spec.out_channels`` classes;
- ``depth``: ``rmse``, ``mae``, ``abs_rel``, ``sq_rel``, ``log_rmse``,
  ``delta1..3`` (percent) over valid (gt > 0) pixels;
- ``angular``: ``mean``, ``median``, ``rmse`` (degrees), ``11.25``,
  ``22.5``, ``30.0`` (percent); option ``bin_width``;
- ``maxf``: ``maxF`` (percent), ``threshold``; option ``double_sigmoid``;
- ``boundary``: ``odsF``, ``oisF``, ``ods_precision``, ``ods_recall``
  (percent), ``ods_threshold``; options ``max_dist``, ``thresholds``,
  ``nms``, ``gt_is_boundary``.
"""
from __future__ import annotations

import os
from collections import OrderedDict
from typing import Any, ClassVar, Mapping, Sequence

import numpy as np

from mmtlsi.tasks import TaskSpec, register_metric_kind_options
from mmtlsi.utils.edge_maps import edge_from_uint8, edge_to_uint8

from ..functional import boundary as fb
from ..functional import (
    confusion_matrix,
    depth_metrics,
    depth_stats,
    merge_normal_stats,
    miou,
    normal_metrics,
    normal_stats,
    saliency_counts,
    saliency_metrics,
)
from ..functional.depth import DEPTH_STAT_KEYS
from ..functional.normals import NORMAL_THRESHOLDS

__all__ = ['METRIC_KINDS', 'MetricKind', 'register_metric_kind',
           'build_metric_kind', 'result_higher_is_better']

#: kind name -> class
METRIC_KINDS: dict[str, type[MetricKind]] = OrderedDict()


def register_metric_kind(cls: type[MetricKind]) -> type[MetricKind]:
    """Class decorator: make ``cls`` available as ``metric_kind=cls.name``
    (and its ``options`` settings of the tasks scored by it)."""
    if cls.name in METRIC_KINDS and METRIC_KINDS[cls.name] is not cls:
        raise KeyError(f'metric kind {cls.name!r} registered twice')
    register_metric_kind_options(cls.name, cls.options)
    METRIC_KINDS[cls.name] = cls
    return cls


def _kind_class(name: str) -> type[MetricKind]:
    if name not in METRIC_KINDS:
        raise KeyError(f'unknown metric kind {name!r}; known: '
                       f'{", ".join(METRIC_KINDS)}')
    return METRIC_KINDS[name]


def build_metric_kind(spec: TaskSpec, nproc: int = 1) -> MetricKind:
    """The evaluator of task ``spec`` (``nproc``: worker processes a kind
    may use when pooling)."""
    return _kind_class(spec.metric_kind)(spec, nproc=nproc)


def result_higher_is_better(spec: TaskSpec, result: str) -> bool:
    """Direction of result ``result`` of task ``spec`` (e.g. ``'rmse'``)."""
    results = _kind_class(spec.metric_kind).results
    if result not in results:
        raise KeyError(f'task {spec.name!r} ({spec.metric_kind}) has no '
                       f'result {result!r}; it has {list(results)}')
    if results[result] is None:
        raise ValueError(f'{spec.name}/{result} is not a score (it has no '
                         f'better direction)')
    return results[result]


def _hw(x: np.ndarray) -> np.ndarray:
    """(1, H, W) -> (H, W); other shapes unchanged."""
    return x[0] if x.ndim == 3 and x.shape[0] == 1 else x


class MetricKind:
    """Evaluator of one task; subclasses set ``name``, ``results`` and
    ``options`` and implement :meth:`sample_stats` and :meth:`pool`.

    Args:
        spec: the task; ``spec.metric_options`` must name only ``options``
            and ``spec.metric`` must be one of ``results``, with the
            direction ``spec.higher_is_better``.
        nproc: worker processes the kind may use.
    """

    name: ClassVar[str]
    #: result name -> True if higher is better (None: not a score)
    results: ClassVar[Mapping[str, bool | None]]
    #: option names the kind reads from ``spec.metric_options``
    options: ClassVar[Sequence[str]] = ()

    def __init__(self, spec: TaskSpec, nproc: int = 1) -> None:
        unknown = set(spec.metric_options) - set(self.options)
        if unknown:
            raise ValueError(
                f'task {spec.name!r}: metric kind {self.name!r} has no '
                f'option(s) {sorted(unknown)}; its options: '
                f'{list(self.options)}')
        if spec.metric not in self.results:
            raise ValueError(
                f'task {spec.name!r}: main metric {spec.metric!r} is not a '
                f'result of metric kind {self.name!r} ({list(self.results)})')
        if self.results[spec.metric] is not spec.higher_is_better:
            raise ValueError(
                f'task {spec.name!r}: higher_is_better='
                f'{spec.higher_is_better} contradicts {self.name!r}, where '
                f'{spec.metric!r} is better when '
                f'{"higher" if self.results[spec.metric] else "lower"}')
        self.spec = spec
        self.nproc = max(1, int(nproc))

    def sample_stats(self, pred: np.ndarray, gt: np.ndarray) -> Any:
        """Statistics of one image: prediction and ground truth as (C, H, W)
        arrays of the same size."""
        raise NotImplementedError

    def pool(self, items: list) -> dict:
        """Results (``results`` keys, no task prefix) of a list of
        :meth:`sample_stats` outputs."""
        raise NotImplementedError


@register_metric_kind
class ConfusionKind(MetricKind):
    """Pooled confusion matrix of ``spec.out_channels`` classes -> mIoU."""

    name = 'confusion'
    results = dict(mIoU=True, aAcc=True, mAcc=True)

    def sample_stats(self, pred, gt):
        return confusion_matrix(_hw(pred), _hw(gt), self.spec.out_channels,
                                self.spec.ignore_index)

    def pool(self, items):
        r = miou(np.sum(items, axis=0))
        return {k: 100 * r[k] for k in self.results}


@register_metric_kind
class DepthKind(MetricKind):
    """Depth errors pooled over every valid (gt > 0) pixel."""

    name = 'depth'
    results = dict(rmse=False, mae=False, abs_rel=False, sq_rel=False,
                   log_rmse=False, delta1=True, delta2=True, delta3=True)

    def sample_stats(self, pred, gt):
        return depth_stats(_hw(pred), _hw(gt))

    def pool(self, items):
        total = {k: sum(it[k] for it in items) for k in DEPTH_STAT_KEYS}
        return {k: 100 * v if k.startswith('delta') else v
                for k, v in depth_metrics(total).items()}


@register_metric_kind
class AngularKind(MetricKind):
    """Angular errors of unit vectors (degrees), pooled; the median from a
    histogram of ``bin_width`` degrees."""

    name = 'angular'
    results = dict(mean=False, median=False, rmse=False,
                   **{f'{t}': True for t in NORMAL_THRESHOLDS})
    options = ('bin_width', )

    def sample_stats(self, pred, gt):
        return normal_stats(pred, gt,
                            self.spec.metric_options.get('bin_width', 0.01))

    def pool(self, items):
        return normal_metrics(merge_normal_stats(items))


@register_metric_kind
class MaxFKind(MetricKind):
    """Best F-measure (beta^2 = 0.3) over thresholds of pooled counts."""

    name = 'maxf'
    results = dict(maxF=True, threshold=None)
    options = ('double_sigmoid', )

    def sample_stats(self, pred, gt):
        return saliency_counts(
            _hw(pred), _hw(gt), self.spec.ignore_index,
            bool(self.spec.metric_options.get('double_sigmoid', False)))

    def pool(self, items):
        r = saliency_metrics(np.sum(items, axis=0))
        return dict(maxF=100 * r['maxF'], threshold=r['threshold'])


@register_metric_kind
class BoundaryKind(MetricKind):
    """odsF / oisF of the SEISM protocol (``functional/boundary.py``).

    Options: ``max_dist`` (matching tolerance, fraction of the image
    diagonal), ``thresholds`` (a count, 101 = SEISM's list, or a list),
    ``nms`` (the protocol's edge NMS), ``gt_is_boundary`` (skip seg2bmap on
    the GT; not the protocol). With ``nproc`` > 1 the per-image statistics
    are the quantised prediction and the packed GT boundary, and the
    matching runs in :meth:`pool` on ``nproc`` processes.
    """

    name = 'boundary'
    results = dict(odsF=True, oisF=True, ods_precision=True, ods_recall=True,
                   ods_threshold=None)
    options = ('max_dist', 'thresholds', 'nms', 'gt_is_boundary')

    def __init__(self, spec: TaskSpec, nproc: int = 1) -> None:
        super().__init__(spec, nproc)
        opts = spec.metric_options
        self.max_dist = float(opts.get('max_dist', 0.011))
        self.thresholds = fb.edge_thresholds(opts.get('thresholds', 101))
        self.nms = bool(opts.get('nms', True))
        self.gt_is_boundary = bool(opts.get('gt_is_boundary', False))

    def sample_stats(self, pred, gt):
        pred, gt = _hw(pred), _hw(gt)
        if self.nproc > 1:
            gmap = fb.gt_boundary_map(gt, self.spec.ignore_index,
                                      use_seg2bmap=not self.gt_is_boundary)
            return dict(pred_u8=edge_to_uint8(pred),
                        gt_bits=np.packbits(gmap), shape=gmap.shape)
        return fb.boundary_counts(
            pred, gt, self.thresholds, self.max_dist, nms=self.nms,
            gt_is_boundary=self.gt_is_boundary,
            ignore_index=self.spec.ignore_index).astype(np.int32)

    def pool(self, items):
        if items and isinstance(items[0], dict):
            counts = self._deferred_counts(items)
        else:
            counts = np.stack(items)
        r = fb.boundary_scores(counts, self.thresholds)
        out = {k: 100 * r[k]
               for k in ('odsF', 'oisF', 'ods_precision', 'ods_recall')}
        out['ods_threshold'] = r['ods_threshold']
        return out

    def _deferred_counts(self, items: list) -> np.ndarray:
        args = [(it, self.thresholds, self.max_dist, self.nms)
                for it in items]
        if self.nproc > 1 and len(items) > 1:
            import multiprocessing as mp
            ctx = mp.get_context('fork') if hasattr(os, 'fork') \
                else mp.get_context()
            with ctx.Pool(self.nproc) as pool:
                counts = pool.map(_boundary_worker, args, chunksize=4)
        else:
            counts = [_boundary_worker(a) for a in args]
        return np.stack(counts)


def _boundary_worker(args) -> np.ndarray:
    item, thresholds, max_dist, nms = args
    gmap = np.unpackbits(item['gt_bits'])[:int(np.prod(item['shape']))]
    gmap = gmap.reshape(item['shape'])
    prob = edge_from_uint8(item['pred_u8'])
    # already quantised; the GT is already a thinned boundary map
    return fb.boundary_counts(prob, gmap, thresholds, max_dist, nms=nms,
                              quantize=False, gt_is_boundary=True,
                              ignore_index=None).astype(np.int32)
