"""``MultiTaskMetric``: every task's metric in one MMEngine evaluator.

Each task is scored by the metric kind its spec names
(:mod:`~mmtlsi.evaluation.metrics.metric_kinds`). ``process`` turns each
sample into the kinds' small per-task sufficient statistics and appends them
to ``self.results``, one entry per sample; ``compute_metrics`` pools them.
MMEngine's ``collect_results`` gathers the entries of all processes and drops
the sampler's padding duplicates by sample count, so the pooled numbers are
exactly those of a single process.

Keys are ``<task>/<result>``, the results of the task's kind (units as in the
papers), e.g. ``semseg/mIoU`` (percent), ``depth/rmse`` (metres),
``normals/mean`` (degrees), ``edge/odsF``, ``sal/maxF`` (percent); and
``multi_task/delta_m`` (percent) when single-task references are configured.
"""
from __future__ import annotations

import os.path as osp
from collections import OrderedDict
from typing import Any, Sequence

from mmengine.evaluator import BaseMetric

from mmtlsi.registry import METRICS
from mmtlsi.tasks import (
    TASK_SPECS,
    TaskSpec,
    build_task_specs,
    task_metainfo,
    task_specs_for,
)
from mmtlsi.utils import to_numpy

from ..functional import delta_m, load_references
from .metric_kinds import (
    MetricKind,
    build_metric_kind,
    result_higher_is_better,
)


def _crop(gt, shape: tuple):
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
    """Pooled metrics of any set of registered tasks.

    How a task is scored (metric kind and its options, e.g. the boundary
    tolerance ``max_dist``) comes from its :class:`~mmtlsi.tasks.TaskSpec`,
    with ``task_cfg`` overrides: ``task_cfg=dict(edge=dict(max_dist=0.0075))``.

    Args:
        tasks: task names to evaluate; ``None`` = every registered task whose
            prediction field is present in the first sample processed.
        task_cfg: per-task overrides (as for
            :func:`mmtlsi.tasks.build_task_specs`), e.g.
            ``dict(semseg=dict(num_classes=21), edge=dict(max_dist=0.0075))``.
            The class count of a 'classes' task not given here comes from
            ``dataset_meta`` (the task's ``classes``), else from its spec.
            A sample whose label map was packed with another
            ``ignore_index`` (its metainfo ``gt_ignore_index``) is an
            error.
        delta_m_ref: single-task references (dict, JSON / YAML path, results
            files of ``tools/test.py``) keyed by metric key
            (``'semseg/mIoU'``) or task name (its main metric).
        nproc: worker processes a metric kind may use (the boundary kind
            then matches in ``compute_metrics``, on ``nproc`` processes).
    """

    default_prefix: str | None = ''

    def __init__(self,
                 tasks: Sequence[str] | None = None,
                 task_cfg: dict | None = None,
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
                raise KeyError(f'unknown tasks {unknown}; registered: '
                               f'{list(TASK_SPECS)}')
        self.tasks = tasks
        self.task_cfg = dict(task_cfg or {})
        task_specs_for(tasks, self.task_cfg)   # bad settings fail here
        self.delta_m_ref = load_references(delta_m_ref)
        self.nproc = max(1, int(nproc))
        self._kinds: OrderedDict[str, MetricKind] | None = None

    # -- configuration --------------------------------------------------------
    def _spec(self, name: str) -> TaskSpec:
        spec = build_task_specs([name], self.task_cfg)[name]
        explicit = 'num_classes' in (self.task_cfg.get(name) or {})
        classes = task_metainfo(self.dataset_meta, spec, 'classes')
        if spec.output == 'classes' and not explicit and classes:
            spec = spec.with_overrides(num_classes=len(classes))
        return spec

    def kinds(self, sample: dict | None = None) -> OrderedDict:
        """Task -> its :class:`MetricKind`, built on first use; without
        ``tasks``, the tasks are those with a prediction in ``sample``."""
        if self._kinds is None:
            tasks = self.tasks
            if tasks is None:
                specs = task_specs_for(None, self.task_cfg)
                tasks = [n for n, s in specs.items()
                         if sample is not None and s.pred_field in sample]
                if not tasks:
                    raise ValueError(
                        f'no prediction of a registered task in the sample '
                        f'(it has {sorted(sample or {})}; the tasks predict '
                        f'{[s.pred_field for s in specs.values()]})')
            self._kinds = OrderedDict(
                (t, build_metric_kind(self._spec(t), self.nproc))
                for t in tasks)
        return self._kinds

    # -- per sample --------------------------------------------------------
    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            entry = {}
            # task -> ignore_index its label map was packed with
            recorded = sample.get('gt_ignore_index') or {}
            for name, kind in self.kinds(sample).items():
                spec = kind.spec
                if spec.pred_field not in sample or \
                        spec.gt_field not in sample:
                    continue
                if name in recorded and \
                        recorded[name] != spec.ignore_index:
                    raise ValueError(
                        f'task {name!r}: ignore_index is {recorded[name]!r} '
                        f'in the data (the dataset\'s specs, '
                        f'{sample.get("img_path")}) but '
                        f'{spec.ignore_index!r} in MultiTaskMetric; give the '
                        f'evaluator the dataset\'s task_cfg')
                pred = to_numpy(sample[spec.pred_field])
                gt = _crop(to_numpy(sample[spec.gt_field]), pred.shape)
                entry[name] = kind.sample_stats(pred, gt)
            self.results.append(entry)

    # -- pooling -----------------------------------------------------------
    def compute_metrics(self, results: list) -> dict:
        present = {t for entry in results for t in entry}
        out = OrderedDict()
        if self._kinds is None and self.tasks is None:   # nothing processed
            return out
        for task, kind in self.kinds().items():
            if task not in present:
                continue
            items = [e[task] for e in results if task in e]
            for key, value in kind.pool(items).items():
                out[f'{task}/{key}'] = value
        if self.delta_m_ref:
            out['multi_task/delta_m'] = self.compute_delta_m(out)
        return out

    def compute_delta_m(self, metrics: dict) -> float:
        """Delta_m over every reference; a reference without a result (a
        task not evaluated, a result its kind does not have) is an error, as
        Delta_m over fewer tasks is another number."""
        specs = {t: k.spec for t, k in self.kinds().items()}
        refs, higher, missing = {}, {}, []
        for key, value in self.delta_m_ref.items():
            task, _, result = key.partition('/')
            result = result or (specs[task].metric if task in specs else '')
            if f'{task}/{result}' not in metrics:
                missing.append(key)
                continue
            key = f'{task}/{result}'
            refs[key] = value
            higher[key] = result_higher_is_better(specs[task], result)
        if missing:
            raise ValueError(
                f'MultiTaskMetric: Delta_m references {missing} have no '
                f'result (results of the tasks {list(specs)}: '
                f'{sorted(k for k in metrics if k.split("/")[0] in specs)})')
        return delta_m(metrics, refs, {k: not v for k, v in higher.items()})
