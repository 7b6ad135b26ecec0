"""Paper-style result tables (plain text, Markdown, JSON).

API (used by ``tools/test.py`` and
``tools/analysis_tools/collect_results.py``)::

    record = results_record(metrics, tasks=None, params_head=None,
                            params_total=None, macs=None, name='')
    text = format_results_table(metrics, tasks=None, params_head=None,
                                params_total=None, macs=None, name='',
                                fmt='text')          # or 'markdown'
    json_path, md_path = dump_results(path_prefix, metrics, tasks=None,
                                      params_head=None, params_total=None,
                                      macs=None, name='')
    record = load_results('run.json')
    table = comparison_table([record1, record2, ...], fmt='markdown')
    text, json_path, md_path = write_benchmark_table(
        runner, cfg, metrics, name, out_dir)   # a tested model's table

- ``metrics``: the dict ``MultiTaskMetric`` returns (``'semseg/mIoU'``, ...);
  keys with an evaluator prefix such as ``'test/semseg/mIoU'`` are accepted.
- ``tasks``: the columns to show, in order: task names (registered specs,
  with the overrides of the optional ``task_cfg``) or a mapping name ->
  :class:`~mmtlsi.tasks.TaskSpec` (e.g. a model's ``task_specs``, overrides
  included); ``None`` = every registered task with a main metric in
  ``metrics``.
- ``params_head``: parameters excluding the backbone (the paper's "Params");
  ``params_total``: all parameters; counts of parameters (not millions).
- ``macs``: multiply-adds of one forward of the whole network (a count;
  shown in G as ``MACs (G)``; what mmengine's and fvcore's counters call
  "FLOPs", :func:`mmtlsi.utils.count_flops`).
- ``name``: the row label (model / config).

Columns: one per task, its spec's main metric (``spec.metric_key``) under
``spec.column`` with an arrow for ``spec.higher_is_better`` and
``spec.decimals`` decimals (Seg. mIoU↑, Depth RMSE↓, Normal mErr↓, Bound.
odsF↑, Parsing mIoU↑, Sal. maxF↑ for the built-in tasks); then Δm↑ (%) when
``multi_task/delta_m`` is present, Params (M, head), Params total (M) when
given, MACs (G).

The JSON record holds ``name``, ``tasks``, ``task_columns`` (per task: metric
key, title, direction, decimals, so that a record is shown without its
specs), ``columns`` (the shown values), ``metrics`` (every metric, numbers
only), ``params_head``, ``params_total``, ``macs``; ``comparison_table``
builds Table I-like comparisons from several.
"""
from __future__ import annotations

import json
import math
import os
import os.path as osp
from typing import Iterable, Mapping, Sequence

from mmengine.logging import print_log
from mmengine.model import is_model_wrapper

from mmtlsi.tasks import TaskSpec, task_specs_for
from mmtlsi.utils.complexity import count_flops, count_parameters
from mmtlsi.utils.files import naming_path
from mmtlsi.utils.tables import render_table

__all__ = ['task_column', 'results_record', 'format_results_table',
           'dump_results', 'load_results', 'comparison_table',
           'macs_input_shape', 'write_benchmark_table']

DELTA_KEY = 'multi_task/delta_m'
#: header of the multiply-add column (in 1e9)
MACS_HEADER = 'MACs (G)'


def task_column(spec: TaskSpec) -> dict:
    """How a task's column is shown: its spec's main metric key, title,
    direction and decimals."""
    return dict(key=spec.metric_key, title=spec.column,
                higher_is_better=bool(spec.higher_is_better),
                decimals=int(spec.decimals))


def _header(col: dict) -> str:
    return f'{col["title"]} {"↑" if col["higher_is_better"] else "↓"}'


def _strip_prefix(metrics: Mapping, task_names) -> dict:
    """Drop evaluator prefixes: ``'test/semseg/mIoU'`` -> ``'semseg/mIoU'``."""
    heads = set(task_names) | {'multi_task'}
    out = {}
    for k, v in metrics.items():
        parts = k.split('/')
        start = next((i for i in range(len(parts) - 1) if parts[i] in heads),
                     0)
        out['/'.join(parts[start:])] = v
    return out


def _number(v):
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def _task_specs(tasks, task_cfg=None) -> dict:
    """Specs of ``tasks`` (names: with the run's ``task_cfg``; None: every
    registered task); a mapping of specs is taken as it is."""
    if isinstance(tasks, Mapping) and \
            all(isinstance(v, TaskSpec) for v in tasks.values()):
        if task_cfg:
            raise ValueError('results_record: task_cfg is for task names; '
                             'the specs given already hold their settings')
        return dict(tasks)
    return dict(task_specs_for(tasks, task_cfg))


def results_record(metrics: Mapping,
                   tasks: Sequence[str] | Mapping[str, TaskSpec] | None = None,
                   params_head: int | None = None,
                   params_total: int | None = None,
                   macs: float | None = None, name: str = '',
                   task_cfg: Mapping | None = None) -> dict:
    """The JSON-serialisable record of one run; ``task_cfg``: the run's
    overrides of the named tasks (e.g. their ``column``)."""
    specs = _task_specs(tasks, task_cfg)
    m = _strip_prefix(metrics, specs)
    if tasks is None:
        specs = {t: s for t, s in specs.items() if s.metric_key in m}
    task_columns = {t: task_column(s) for t, s in specs.items()}
    columns = {_header(c): _number(m.get(c['key']))
               for c in task_columns.values()}
    return dict(
        name=name, tasks=list(specs), task_columns=task_columns,
        columns=columns, delta_m=_number(m.get(DELTA_KEY)),
        metrics={k: _number(v) for k, v in m.items()
                 if _number(v) is not None},
        params_head=None if params_head is None else int(params_head),
        params_total=None if params_total is None else int(params_total),
        macs=None if macs is None else float(macs))


def _fmt(v, decimals):
    return '-' if v is None else f'{v:.{decimals}f}'


def _rows(records: Sequence[dict]):
    columns = {}
    for r in records:
        for t, col in r['task_columns'].items():
            columns.setdefault(t, col)
    header = ['Model'] + [_header(c) for c in columns.values()]
    show_dm = any(r.get('delta_m') is not None for r in records)
    show_ph = any(r.get('params_head') is not None for r in records)
    show_pt = any(r.get('params_total') is not None for r in records)
    show_macs = any(r.get('macs') is not None for r in records)
    if show_dm:
        header.append('Δm ↑ (%)')
    if show_ph:
        header.append('Params (M)')
    if show_pt:
        header.append('Params total (M)')
    if show_macs:
        header.append(MACS_HEADER)
    rows = []
    for r in records:
        m = r.get('metrics', {})
        row = [r.get('name') or '-']
        for col in columns.values():
            row.append(_fmt(m.get(col['key']), col['decimals']))
        if show_dm:
            row.append(_fmt(r.get('delta_m'), 2))
        if show_ph:
            ph = r.get('params_head')
            row.append(_fmt(None if ph is None else ph / 1e6, 2))
        if show_pt:
            pt = r.get('params_total')
            row.append(_fmt(None if pt is None else pt / 1e6, 2))
        if show_macs:
            macs = r.get('macs')
            row.append(_fmt(None if macs is None else macs / 1e9, 1))
        rows.append(row)
    return header, rows


def format_results_table(metrics: Mapping,
                         tasks: Sequence[str] | Mapping[str, TaskSpec]
                         | None = None,
                         params_head: int | None = None,
                         params_total: int | None = None,
                         macs: float | None = None, name: str = '',
                         fmt: str = 'text',
                         task_cfg: Mapping | None = None) -> str:
    """One run as a paper-style table (``fmt`` 'text' or 'markdown')."""
    rec = results_record(metrics, tasks, params_head, params_total, macs,
                         name, task_cfg)
    return comparison_table([rec], fmt)


def dump_results(path_prefix: str, metrics: Mapping,
                 tasks: Sequence[str] | Mapping[str, TaskSpec] | None = None,
                 params_head: int | None = None,
                 params_total: int | None = None,
                 macs: float | None = None, name: str = '',
                 extra: Mapping | None = None,
                 task_cfg: Mapping | None = None) -> tuple[str, str]:
    """Write ``<path_prefix>.json`` (the record) and ``<path_prefix>.md``.

    ``extra`` (e.g. config path, checkpoint) is stored under ``extra``.
    Returns both paths.
    """
    rec = results_record(metrics, tasks, params_head, params_total, macs,
                         name, task_cfg)
    if extra:
        rec['extra'] = dict(extra)
    d = osp.dirname(osp.abspath(path_prefix))
    os.makedirs(d, exist_ok=True)
    json_path, md_path = path_prefix + '.json', path_prefix + '.md'
    with naming_path(json_path), open(json_path, 'w', encoding='utf-8') as f:
        json.dump(rec, f, indent=2, ensure_ascii=False)
    with naming_path(md_path), open(md_path, 'w', encoding='utf-8') as f:
        f.write(comparison_table([rec], 'markdown') + '\n')
    return json_path, md_path


def load_results(path: str) -> dict:
    """Read a record written by :func:`dump_results`.

    A plain metrics dict (e.g. MMEngine's ``--out`` JSON) is wrapped into a
    record named after the file.
    """
    with open(path, encoding='utf-8') as f:
        data = json.load(f)
    if 'metrics' in data and 'tasks' in data:
        if 'task_columns' not in data:
            raise ValueError(f'{path}: a results record without '
                             f'task_columns (write it with dump_results)')
        return data
    name = osp.splitext(osp.basename(path))[0]
    return results_record(data, name=name)


def comparison_table(records: Iterable[dict], fmt: str = 'markdown') -> str:
    """Several runs' records as one table, one row each."""
    header, rows = _rows(list(records))
    return render_table(header, rows, fmt)


def macs_input_shape(cfg) -> tuple[int, int]:
    """The input size multiply-adds are counted at: the config's
    ``crop_size`` (448x576 on NYUDv2, 512x512 on PASCAL-Context, as in the
    paper), else the data preprocessor's ``size``."""
    crop = cfg.get('crop_size')
    if crop is None:
        crop = cfg.model.get('data_preprocessor', {}).get('size')
    if crop is None:
        raise ValueError(f'{cfg.filename}: set `crop_size` to count the '
                         f'multiply-adds (or skip them)')
    return int(crop[0]), int(crop[1])


def write_benchmark_table(runner, cfg, metrics: dict, name: str,
                          out_dir: str, count_flops_too: bool = True
                          ) -> tuple[str, str, str]:
    """Print the table of a tested model: ``metrics`` with its parameters
    (without and with the backbone) and multiply-adds at
    :func:`macs_input_shape`; write it as ``<out_dir>/<name>.json`` / ``.md``.

    ``runner`` is what holds the model (an mmengine ``Runner``: its
    ``model``, wrapped or not); ``count_flops_too=False`` skips counting
    the multiply-adds. Returns (text table, json path, markdown path).
    """
    model = runner.model.module if is_model_wrapper(runner.model) \
        else runner.model
    params = count_parameters(model)
    shape = macs_input_shape(cfg) if count_flops_too else None
    macs = count_flops(model, shape)['total'] if count_flops_too else None
    tasks = getattr(model.decode_head, 'task_specs', None) or None
    table = format_results_table(
        metrics, tasks=tasks, params_head=params['head'],
        params_total=params['total'], macs=macs, name=name)
    json_path, md_path = dump_results(
        osp.join(out_dir, name), metrics, tasks=tasks,
        params_head=params['head'], params_total=params['total'],
        macs=macs, name=name,
        extra=dict(config=cfg.filename, checkpoint=cfg.get('load_from'),
                   macs_input_shape=None if shape is None else list(shape)))
    print_log('\n' + table, logger='current')
    print_log(f'results table written to {json_path} and {md_path}',
              logger='current')
    return table, json_path, md_path
