"""One description per dense-prediction task.

Every other part of mmtlsi (datasets, transforms, data preprocessor, head,
losses, metrics, visualizer) reads what it needs about a task from its
:class:`TaskSpec` here, so adding a task means adding one entry to
``TASK_SPECS`` (plus, for a dataset, how to read its files).

Ground truth and predictions travel in ``SegDataSample`` fields as
``PixelData`` with a ``data`` tensor of shape (C, H, W):

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
from typing import Iterable, Mapping

IGNORE_INDEX = 255

#: What the head's raw output means, and how it is turned into a prediction.
#: 'classes': C logits -> argmax; 'scalar': 1 channel, clamped at 0;
#: 'vector': 3 channels, L2-normalised; 'binary': 1 logit -> sigmoid.
OUTPUT_KINDS = ('classes', 'scalar', 'vector', 'binary')


@dataclass(frozen=True)
class TaskSpec:
    """Everything mmtlsi needs to know about one task."""

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
    metric: str                # main metric, e.g. 'mIoU'
    higher_is_better: bool     # direction of the main metric
    visual: str                # 'palette', 'colormap', 'normals', 'gray'
    scale_divides_values: bool = False   # depth: values / s when resized by s
    flip_negates_x: bool = False         # normals: x component negated
    extra: dict = field(default_factory=dict)

    @property
    def is_label_map(self) -> bool:
        return self.gt_dtype == 'int64'

    def with_overrides(self, **overrides) -> TaskSpec:
        """A copy with some fields replaced (unknown keys go to ``extra``)."""
        known = {f.name for f in dataclasses.fields(self)}
        fields = {k: v for k, v in overrides.items() if k in known}
        extra = dict(self.extra)
        extra.update({k: v for k, v in overrides.items() if k not in known})
        if 'out_channels' not in fields and 'num_classes' in extra \
                and self.output == 'classes':
            fields['out_channels'] = int(extra['num_classes'])
        return dataclasses.replace(self, extra=extra, **fields)


TASK_SPECS: dict[str, TaskSpec] = OrderedDict(
    semseg=TaskSpec(
        name='semseg', title='Seg.',
        gt_field='gt_sem_seg', pred_field='pred_sem_seg',
        results_key='gt_seg_map', output='classes', out_channels=40,
        gt_channels=1, gt_dtype='int64', ignore_index=IGNORE_INDEX,
        pad_value=IGNORE_INDEX,
        loss=dict(type='TaskCrossEntropyLoss'), loss_weight=1.0,
        metric='mIoU', higher_is_better=True, visual='palette'),
    depth=TaskSpec(
        name='depth', title='Depth',
        gt_field='gt_depth_map', pred_field='pred_depth_map',
        results_key='gt_depth_map', output='scalar', out_channels=1,
        gt_channels=1, gt_dtype='float32', ignore_index=None, pad_value=0.0,
        loss=dict(type='DepthL1Loss'), loss_weight=1.0,
        metric='rmse', higher_is_better=False, visual='colormap',
        scale_divides_values=True),
    normals=TaskSpec(
        name='normals', title='Normal',
        gt_field='gt_normal_map', pred_field='pred_normal_map',
        results_key='gt_normal_map', output='vector', out_channels=3,
        gt_channels=3, gt_dtype='float32', ignore_index=None, pad_value=0.0,
        loss=dict(type='NormalL1Loss'), loss_weight=10.0,
        metric='mean', higher_is_better=False, visual='normals',
        flip_negates_x=True),
    edge=TaskSpec(
        name='edge', title='Bound.',
        gt_field='gt_edge_map', pred_field='pred_edge_map',
        results_key='gt_edge_map', output='binary', out_channels=1,
        gt_channels=1, gt_dtype='int64', ignore_index=IGNORE_INDEX,
        pad_value=IGNORE_INDEX,
        loss=dict(type='BalancedBCELoss', pos_weight=0.95),
        loss_weight=50.0, metric='odsF', higher_is_better=True,
        visual='gray'),
    human_parts=TaskSpec(
        name='human_parts', title='Parsing',
        gt_field='gt_parts_map', pred_field='pred_parts_map',
        results_key='gt_parts_map', output='classes', out_channels=7,
        gt_channels=1, gt_dtype='int64', ignore_index=IGNORE_INDEX,
        pad_value=IGNORE_INDEX,
        loss=dict(type='TaskCrossEntropyLoss'), loss_weight=2.0,
        metric='mIoU', higher_is_better=True, visual='palette'),
    sal=TaskSpec(
        name='sal', title='Sal.',
        gt_field='gt_sal_map', pred_field='pred_sal_map',
        results_key='gt_sal_map', output='binary', out_channels=1,
        gt_channels=1, gt_dtype='int64', ignore_index=IGNORE_INDEX,
        pad_value=IGNORE_INDEX,
        loss=dict(type='BalancedBCELoss', pos_weight=None),
        loss_weight=5.0, metric='maxF', higher_is_better=True,
        visual='gray'),
)


def get_task_spec(name: str, **overrides) -> TaskSpec:
    """The spec of task ``name``, with optional field overrides."""
    if name not in TASK_SPECS:
        raise KeyError(f'unknown task {name!r}; known tasks: '
                       f'{", ".join(TASK_SPECS)}')
    spec = TASK_SPECS[name]
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
            config selects a subset through ``tasks``.
    """
    if isinstance(tasks, str):
        tasks = [tasks]
    if isinstance(tasks, Mapping):
        items = [(k, dict(v or {})) for k, v in tasks.items()]
    else:
        items = [(k, {}) for k in tasks]
    if not items:
        raise ValueError('at least one task must be selected')
    specs = OrderedDict()
    for name, overrides in items:
        merged = copy.deepcopy(dict((task_cfg or {}).get(name) or {}))
        merged.update(overrides)
        if name in specs:
            raise ValueError(f'task {name!r} selected twice')
        specs[name] = get_task_spec(name, **merged)
    return specs
