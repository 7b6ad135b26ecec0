"""One description per dense-prediction task, and the registry of tasks.

Every other part of mmtlsi (datasets, transforms, data preprocessor, head,
losses, segmentor, metric, results table, Delta_m, visualizer) reads what it
needs about a task from its :class:`TaskSpec`; none of them names a task.
A new task is one :func:`register_task` call, from any module (a config
loads it with ``custom_imports = dict(imports=['my_tasks'])``), e.g. a
boundary-like task evaluated like ``edge``::

    from mmtlsi.tasks import get_task_spec, register_task
    register_task(get_task_spec('edge').with_overrides(
        name='occlusion', title='Occl.', gt_field='gt_occlusion_map',
        pred_field='pred_occlusion_map', results_key='gt_occlusion_map'))

A dataset then lists the task in its ``TASKS`` and says how to read its
files (``task_annotation``, a decoder of ``mmtlsi/datasets/decoders.py``).

Ground truth and predictions travel in ``SegDataSample`` fields as
``PixelData`` with a ``data`` tensor of shape (C, H, W). The built-in tasks:

============  ===============  ================  ====  =========  ==========
task          gt field         pred field        C     gt dtype   invalid
============  ===============  ================  ====  =========  ==========
semseg        gt_sem_seg       pred_sem_seg      1     int64      255
depth         gt_depth_map     pred_depth_map    1     float32    0 (metres)
normals       gt_normal_map    pred_normal_map   3     float32    (0, 0, 0)
edge          gt_edge_map      pred_edge_map     1     int64      255
human_parts   gt_parts_map     pred_parts_map    1     int64      255
sal           gt_sal_map       pred_sal_map      1     int64      255
============  ===============  ================  ====  =========  ==========

Predictions: class maps (int64) for semseg / human_parts, depth in metres
(>= 0), unit normal vectors, and probabilities in [0, 1] for edge / sal.
"""
from __future__ import annotations

import copy
import dataclasses
from collections import OrderedDict
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Iterable, Mapping

IGNORE_INDEX = 255

#: What the head's raw output means, and how the segmentor turns it into a
#: prediction: 'classes': C logits -> argmax; 'scalar': 1 channel, clamped
#: at 0; 'vector': L2-normalised; 'binary': 1 logit -> sigmoid.
OUTPUT_KINDS = ('classes', 'scalar', 'vector', 'binary')
FLIP_DIRECTIONS = ('horizontal', 'vertical')


@dataclass(frozen=True)
class TaskSpec:
    """Everything mmtlsi needs to know about one task.

    Evaluation: ``metric_kind`` names how the task is scored (a kind of
    :data:`mmtlsi.evaluation.metrics.METRIC_KINDS`: ``'confusion'`` mIoU,
    ``'depth'`` errors, ``'angular'`` normal errors, ``'maxf'``,
    ``'boundary'`` odsF / oisF), with ``metric_options`` (e.g. the boundary
    tolerance ``max_dist``); ``metric`` is the main result of that kind, shown
    in the results table under ``column`` with ``decimals`` decimals and
    used by Delta_m with the direction ``higher_is_better``.
    """

    name: str
    title: str                 # for tables and pictures, e.g. 'Seg.'
    gt_field: str              # SegDataSample field holding the ground truth
    pred_field: str            # SegDataSample field holding the prediction
    results_key: str           # key in the pipeline's results dict
    output: str                # one of OUTPUT_KINDS
    out_channels: int          # channels of the head's output
    gt_channels: int           # channels of the ground-truth map
    gt_dtype: str              # 'int64' or 'float32'
    ignore_index: int | None   # label value that is ignored (label maps)
    pad_value: float           # value used to pad the ground truth
    loss: dict                 # loss config (mmseg MODELS registry)
    loss_weight: float         # weight in the multi-task sum (ATRC's)
    metric_kind: str           # how it is evaluated, e.g. 'confusion'
    metric: str                # main result of the kind, e.g. 'mIoU'
    higher_is_better: bool     # direction of the main result
    visual: str                # 'palette', 'colormap', 'normals', 'gray'
    metric_options: dict = field(default_factory=dict)  # of the metric kind
    column: str = ''           # results table title; default title + metric
    decimals: int = 2          # decimals of the main result in tables
    background_class: bool = False  # label 0 is a background class
    scale_divides_values: bool = False  # depth: values / s when resized by s
    #: flip direction -> channels whose sign that flip negates (vectors in
    #: image axes: normals negate x (0) on horizontal, y (1) on vertical
    #: flips); a diagonal flip is both
    flip_negated_channels: dict = field(default_factory=dict)

    def __post_init__(self):
        problems = []
        if self.output not in OUTPUT_KINDS:
            problems.append(f'output {self.output!r} is not one of '
                            f'{OUTPUT_KINDS}')
        if self.gt_dtype not in ('int64', 'float32'):
            problems.append(f"gt_dtype {self.gt_dtype!r} is not 'int64' or "
                            "'float32'")
        bad = set(self.flip_negated_channels) - set(FLIP_DIRECTIONS)
        if bad:
            problems.append(f'flip_negated_channels has directions '
                            f'{sorted(bad)}; known: {FLIP_DIRECTIONS}')
        if problems:
            raise ValueError(f'task {self.name!r}: ' + '; '.join(problems))
        if not self.column:
            object.__setattr__(self, 'column', f'{self.title} {self.metric}')

    @property
    def is_label_map(self) -> bool:
        return self.gt_dtype == 'int64'

    @property
    def metric_key(self) -> str:
        """Key of the main result in the metrics, e.g. ``'semseg/mIoU'``."""
        return f'{self.name}/{self.metric}'

    def channels_negated_by_flip(self, direction: str) -> tuple[int, ...]:
        """Channels whose sign a flip in ``direction`` ('horizontal',
        'vertical' or 'diagonal' = both) negates."""
        table = self.flip_negated_channels
        if direction == 'diagonal':
            return tuple(table.get('horizontal', ())) + \
                tuple(table.get('vertical', ()))
        if direction not in FLIP_DIRECTIONS:
            raise ValueError(f'unknown flip direction {direction!r}')
        return tuple(table.get(direction, ()))

    def with_overrides(self, **overrides) -> TaskSpec:
        """A copy with some settings replaced.

        Keys are :class:`TaskSpec` fields, ``num_classes`` (the output
        channels of a 'classes' task) or options of the task's metric kind
        (e.g. ``max_dist``; merged into ``metric_options``, as is a
        ``metric_options`` dict). Anything else is an error. A new ``title``
        or ``metric`` without a ``column`` gives the column
        ``'<title> <metric>'``.
        """
        known = {f.name for f in dataclasses.fields(self)}
        fields = {k: v for k, v in overrides.items() if k in known}
        options = dict(self.metric_options)
        options.update(fields.pop('metric_options', None) or {})
        kind = fields.get('metric_kind', self.metric_kind)
        for key, value in overrides.items():
            if key in known:
                continue
            if key == 'num_classes':
                if fields.get('output', self.output) != 'classes':
                    raise ValueError(
                        f'task {self.name!r}: num_classes is set, but its '
                        f'output is {self.output!r}, not classes')
                fields['out_channels'] = int(value)
            elif key in options or \
                    key in _METRIC_KIND_OPTIONS.get(kind, ()):
                options[key] = value
            else:
                option_names = set(options) | set(_metric_kind_options(kind))
                raise ValueError(
                    f'task {self.name!r}: unknown setting {key!r}; settings '
                    f'are TaskSpec fields, num_classes, or options of its '
                    f'metric kind {kind!r}: {sorted(option_names)}')
        if 'column' not in fields and ({'title', 'metric'} & set(fields)):
            fields['column'] = ''   # derived again from the new title
        return dataclasses.replace(self, metric_options=options, **fields)


_METRIC_KIND_OPTIONS: dict[str, tuple[str, ...]] = {}

#: metric kind -> the option names it reads from ``metric_options``. The
#: kinds live with the evaluation, above this module: each one adds itself
#: here when it is registered (``register_metric_kind`` of
#: :mod:`mmtlsi.evaluation.metrics`), so this module imports no kind.
METRIC_KIND_OPTIONS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    _METRIC_KIND_OPTIONS)


def register_metric_kind_options(kind: str, options: Iterable[str]) -> None:
    """Declare the option names of metric kind ``kind``, so that
    :meth:`TaskSpec.with_overrides` accepts them as task settings."""
    options = tuple(options)
    old = _METRIC_KIND_OPTIONS.get(kind)
    if old is not None and old != options:
        raise KeyError(f'metric kind {kind!r} already has the options '
                       f'{list(old)}, not {list(options)}')
    _METRIC_KIND_OPTIONS[kind] = options


def _metric_kind_options(kind: str) -> tuple[str, ...]:
    """Option names of metric kind ``kind``; an error naming the known
    kinds when it is not registered."""
    if kind not in _METRIC_KIND_OPTIONS:
        raise ValueError(
            f'metric kind {kind!r} is not registered (known: '
            f'{", ".join(_METRIC_KIND_OPTIONS) or "none"}; a kind registers '
            f'when its module is imported, e.g. mmtlsi.evaluation)')
    return _METRIC_KIND_OPTIONS[kind]


def _label_map_task(**fields) -> TaskSpec:
    """A task whose ground truth is a (1, H, W) int64 label map, 255 =
    ignored (and padding)."""
    return TaskSpec(gt_channels=1, gt_dtype='int64',
                    ignore_index=IGNORE_INDEX, pad_value=IGNORE_INDEX,
                    **fields)


def _float_map_task(channels: int, **fields) -> TaskSpec:
    """A task predicting and given a (channels, H, W) float32 map, 0 (the
    zero vector) = invalid (and padding)."""
    return TaskSpec(out_channels=channels, gt_channels=channels,
                    gt_dtype='float32', ignore_index=None, pad_value=0.0,
                    **fields)


def _class_map_task(num_classes: int, **fields) -> TaskSpec:
    """A label-map task predicting one of ``num_classes`` classes a pixel
    (argmax of logits, cross-entropy), scored by mIoU, drawn with a
    palette."""
    return _label_map_task(output='classes', out_channels=num_classes,
                           loss=dict(type='TaskCrossEntropyLoss'),
                           metric_kind='confusion', metric='mIoU',
                           higher_is_better=True, visual='palette', **fields)


def _binary_map_task(pos_weight: float | None, **fields) -> TaskSpec:
    """A label-map task predicting one probability a pixel (sigmoid of a
    logit, class-balanced BCE with ``pos_weight``), drawn in gray; the
    caller names its metric kind, whose main result is higher-is-better."""
    return _label_map_task(output='binary', out_channels=1,
                           loss=dict(type='BalancedBCELoss',
                                     pos_weight=pos_weight),
                           higher_is_better=True, visual='gray', **fields)


def _builtin_specs() -> list[TaskSpec]:
    return [
        _class_map_task(
            40, name='semseg', title='Seg.',
            gt_field='gt_sem_seg', pred_field='pred_sem_seg',
            results_key='gt_seg_map', loss_weight=1.0),
        _float_map_task(
            1, name='depth', title='Depth',
            gt_field='gt_depth_map', pred_field='pred_depth_map',
            results_key='gt_depth_map', output='scalar',
            loss=dict(type='DepthL1Loss'), loss_weight=1.0,
            metric_kind='depth', metric='rmse', higher_is_better=False,
            column='Depth RMSE', decimals=4, visual='colormap',
            scale_divides_values=True),
        _float_map_task(
            3, name='normals', title='Normal',
            gt_field='gt_normal_map', pred_field='pred_normal_map',
            results_key='gt_normal_map', output='vector',
            loss=dict(type='NormalL1Loss'), loss_weight=10.0,
            metric_kind='angular', metric='mean', higher_is_better=False,
            metric_options=dict(bin_width=0.01), column='Normal mErr',
            visual='normals',
            flip_negated_channels=dict(horizontal=(0, ), vertical=(1, ))),
        _binary_map_task(
            0.95, name='edge', title='Bound.',
            gt_field='gt_edge_map', pred_field='pred_edge_map',
            results_key='gt_edge_map', loss_weight=50.0,
            metric_kind='boundary', metric='odsF',
            metric_options=dict(max_dist=0.011, thresholds=101, nms=True,
                                gt_is_boundary=False)),
        _class_map_task(
            7, name='human_parts', title='Parsing',
            gt_field='gt_parts_map', pred_field='pred_parts_map',
            results_key='gt_parts_map', loss_weight=2.0,
            background_class=True),
        _binary_map_task(
            None, name='sal', title='Sal.',
            gt_field='gt_sal_map', pred_field='pred_sal_map',
            results_key='gt_sal_map', loss_weight=5.0,
            metric_kind='maxf', metric='maxF',
            metric_options=dict(double_sigmoid=False)),
    ]


_REGISTRY: dict[str, TaskSpec] = OrderedDict()

#: Every registered task, name -> spec, in registration order (the built-in
#: ones first). Read-only: add tasks with :func:`register_task`.
TASK_SPECS: Mapping[str, TaskSpec] = MappingProxyType(_REGISTRY)


def register_task(spec: TaskSpec, force: bool = False) -> TaskSpec:
    """Add ``spec`` to :data:`TASK_SPECS`; returns it.

    Its name and its ground-truth, prediction and results keys must not be
    used by another task (a second registration of the same spec is
    allowed, so that a module may be imported twice). ``force`` replaces a
    task of the same name.
    """
    if not isinstance(spec, TaskSpec):
        raise TypeError(f'register_task takes a TaskSpec, got '
                        f'{type(spec).__name__}')
    old = _REGISTRY.get(spec.name)
    if old is not None and old != spec and not force:
        raise KeyError(f'task {spec.name!r} is already registered with '
                       f'another spec (pass force=True to replace it)')
    for other in _REGISTRY.values():
        if other.name == spec.name:
            continue
        for attr in ('gt_field', 'pred_field', 'results_key'):
            if getattr(other, attr) == getattr(spec, attr):
                raise ValueError(
                    f'task {spec.name!r}: {attr} {getattr(spec, attr)!r} is '
                    f'already used by task {other.name!r}')
    _REGISTRY[spec.name] = spec
    return spec


for _spec in _builtin_specs():
    register_task(_spec)
del _spec


def spec_of_results_key(key: str) -> TaskSpec | None:
    """The registered task whose pipeline key is ``key`` (None if none)."""
    return next((s for s in _REGISTRY.values() if s.results_key == key),
                None)


def task_metainfo(dataset_meta: Mapping | None, spec: TaskSpec, key: str):
    """``key`` ('classes' or 'palette') of a task in a dataset's meta.

    Read from ``task_metainfo[task][key]`` (mmtlsi's datasets) and, for the
    task stored in mmseg's own field ``gt_sem_seg``, from mmseg's top-level
    ``classes`` / ``palette``. None when absent.
    """
    meta = dataset_meta or {}
    per_task = meta.get('task_metainfo')
    if isinstance(per_task, Mapping) and \
            isinstance(per_task.get(spec.name), Mapping) and \
            per_task[spec.name].get(key) is not None:
        return per_task[spec.name][key]
    if spec.gt_field == 'gt_sem_seg' and meta.get(key) is not None:
        return meta[key]
    return None


def get_task_spec(name: str, **overrides) -> TaskSpec:
    """The spec of task ``name``, with optional field overrides."""
    if name not in _REGISTRY:
        raise KeyError(f'unknown task {name!r}; known tasks: '
                       f'{", ".join(_REGISTRY)} (add one with '
                       f'mmtlsi.tasks.register_task)')
    spec = _REGISTRY[name]
    return spec.with_overrides(**overrides) if overrides else spec


def build_task_specs(tasks: Iterable[str] | Mapping[str, dict | None],
                     task_cfg: Mapping[str, dict] | None = None
                     ) -> OrderedDict[str, TaskSpec]:
    """Resolve a config's task selection into specs, in the given order.

    Args:
        tasks: task names (``['semseg', 'depth']``), or a mapping from name to
            overrides (``dict(semseg=dict(num_classes=21), depth=None)``).
        task_cfg: per-task overrides that apply only to selected tasks; lets a
            dataset config describe all of its tasks once while a model
            config selects a subset through ``tasks``. A name in it that is
            no registered task is an error (a misspelt task would otherwise
            keep its registered settings unnoticed).
    """
    if isinstance(tasks, str):
        tasks = [tasks]
    if isinstance(tasks, Mapping):
        items = [(k, dict(v or {})) for k, v in tasks.items()]
    else:
        items = [(k, {}) for k in tasks]
    if not items:
        raise ValueError('at least one task must be selected')
    unknown = [t for t in (task_cfg or {}) if t not in _REGISTRY]
    if unknown:
        raise KeyError(f'task_cfg names unknown task(s) {unknown}; known '
                       f'tasks: {", ".join(_REGISTRY)}')
    specs = OrderedDict()
    for name, overrides in items:
        merged = copy.deepcopy(dict((task_cfg or {}).get(name) or {}))
        merged.update(overrides)
        if name in specs:
            raise ValueError(f'task {name!r} selected twice')
        specs[name] = get_task_spec(name, **merged)
    return specs


def task_specs_for(tasks: Iterable[str] | Mapping[str, dict | None] | None
                   = None, task_cfg: Mapping[str, dict] | None = None
                   ) -> OrderedDict[str, TaskSpec]:
    """:func:`build_task_specs` of ``tasks``, or, when ``tasks`` is None, of
    every registered task (in :data:`TASK_SPECS` order), with ``task_cfg``
    applied: what a component that handles any task it meets (packing,
    padding) uses."""
    if tasks is None:
        tasks = list(_REGISTRY)
    return build_task_specs(tasks, task_cfg)


def check_task_specs_agree(reference: Mapping[str, TaskSpec],
                           other: Mapping[str, TaskSpec],
                           fields: Iterable[str], reference_name: str,
                           other_name: str) -> None:
    """Raise ``ValueError`` unless every task of ``reference`` is in
    ``other`` with the same value of each of ``fields``.

    Two components of one run that read the same spec field must read the
    same value; the error names the task, the field, both values and both
    components, so that an override given to one of them (``task_cfg``)
    cannot be ignored by the other unnoticed.
    """
    fields = tuple(fields)
    problems = []
    for name, spec in reference.items():
        if name not in other:
            problems.append(f'task {name!r} is not among the tasks of '
                            f'{other_name} ({list(other)})')
            continue
        for f in fields:
            mine, theirs = getattr(spec, f), getattr(other[name], f)
            if mine != theirs:
                problems.append(f'task {name!r}: {f} is {mine!r} in '
                                f'{reference_name} but {theirs!r} in '
                                f'{other_name}')
    if problems:
        raise ValueError(
            '; '.join(problems) + f'. Give {reference_name} and '
            f'{other_name} the same task_cfg (the configs pass one shared '
            f'`task_cfg` variable to both).')
