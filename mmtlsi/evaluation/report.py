"""Paper-style result tables (plain text, Markdown, JSON).

API (used by ``tools/test.py`` and
``tools/analysis_tools/collect_results.py``)::

    record = results_record(metrics, tasks=None, params_head=None,
                            params_total=None, flops=None, name='')
    text = format_results_table(metrics, tasks=None, params_head=None,
                                params_total=None, flops=None, name='',
                                fmt='text')          # or 'markdown'
    json_path, md_path = dump_results(path_prefix, metrics, tasks=None,
                                      params_head=None, params_total=None,
                                      flops=None, name='')
    record = load_results('run.json')
    table = comparison_table([record1, record2, ...], fmt='markdown')

- ``metrics``: the dict ``MultiTaskMetric`` returns (``'semseg/mIoU'``, ...);
  keys with an evaluator prefix such as ``'test/semseg/mIoU'`` are accepted.
- ``tasks``: the columns to show, in the paper's order; ``None`` = every task
  with a main metric in ``metrics``.
- ``params_head``: parameters excluding the backbone (the paper's "Params");
  ``params_total``: all parameters; counts of parameters (not millions).
- ``flops``: FLOPs of the whole network (a count; shown in G).
- ``name``: the row label (model / config).

Columns: Seg. mIoU↑, Depth RMSE↓, Normal mErr↓, Bound. odsF↑,
Parsing mIoU↑, Sal. maxF↑, then Δm↑ (%) when ``multi_task/delta_m`` is
present, Params (M, head), Params total (M) when given, FLOPs (G).

The JSON record holds ``name``, ``tasks``, ``columns`` (the shown values),
``metrics`` (every metric, numbers only), ``params_head``, ``params_total``,
``flops``; ``comparison_table`` builds Table I-like comparisons from several.
"""
from __future__ import annotations

import json
import math
import os
import os.path as osp
from typing import Iterable, Mapping, Sequence

__all__ = ['TASK_COLUMNS', 'results_record', 'format_results_table',
           'dump_results', 'load_results', 'comparison_table']

#: task -> (metric key, column title, higher is better, decimals)
TASK_COLUMNS = {
    'semseg': ('semseg/mIoU', 'Seg. mIoU', True, 2),
    'depth': ('depth/rmse', 'Depth RMSE', False, 4),
    'normals': ('normals/mean', 'Normal mErr', False, 2),
    'edge': ('edge/odsF', 'Bound. odsF', True, 2),
    'human_parts': ('human_parts/mIoU', 'Parsing mIoU', True, 2),
    'sal': ('sal/maxF', 'Sal. maxF', True, 2),
}
DELTA_KEY = 'multi_task/delta_m'


def _strip_prefix(metrics: Mapping) -> dict:
    known = {v[0] for v in TASK_COLUMNS.values()} | {DELTA_KEY}
    out = {}
    for k, v in metrics.items():
        key = k
        parts = k.split('/')
        for i in range(len(parts) - 1):
            cand = '/'.join(parts[i:])
            if cand in known or parts[i] in TASK_COLUMNS or \
                    parts[i] == 'multi_task':
                key = cand
                break
        out[key] = v
    return out


def _number(v):
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def results_record(metrics: Mapping, tasks: Sequence[str] | None = None,
                   params_head: int | None = None,
                   params_total: int | None = None,
                   flops: float | None = None, name: str = '') -> dict:
    """The JSON-serialisable record of one run."""
    m = _strip_prefix(metrics)
    if tasks is None:
        tasks = [t for t, c in TASK_COLUMNS.items() if c[0] in m]
    columns = {}
    for t in tasks:
        if t not in TASK_COLUMNS:
            continue
        key, title, hib, _ = TASK_COLUMNS[t]
        columns[f'{title} {"↑" if hib else "↓"}'] = _number(m.get(key))
    return dict(
        name=name, tasks=list(tasks), columns=columns,
        delta_m=_number(m.get(DELTA_KEY)),
        metrics={k: _number(v) for k, v in m.items()
                 if _number(v) is not None},
        params_head=None if params_head is None else int(params_head),
        params_total=None if params_total is None else int(params_total),
        flops=None if flops is None else float(flops))


def _fmt(v, decimals):
    return '-' if v is None else f'{v:.{decimals}f}'


def _rows(records: Sequence[dict]):
    tasks = []
    for r in records:
        tasks += [t for t in r['tasks']
                  if t in TASK_COLUMNS and t not in tasks]
    tasks = [t for t in TASK_COLUMNS if t in tasks]
    header = ['Model'] + [
        f'{TASK_COLUMNS[t][1]} {"↑" if TASK_COLUMNS[t][2] else "↓"}'
        for t in tasks]
    show_dm = any(r.get('delta_m') is not None for r in records)
    show_ph = any(r.get('params_head') is not None for r in records)
    show_pt = any(r.get('params_total') is not None for r in records)
    show_fl = any(r.get('flops') is not None for r in records)
    if show_dm:
        header.append('Δm ↑ (%)')
    if show_ph:
        header.append('Params (M)')
    if show_pt:
        header.append('Params total (M)')
    if show_fl:
        header.append('FLOPs (G)')
    rows = []
    for r in records:
        m = r.get('metrics', {})
        row = [r.get('name') or '-']
        for t in tasks:
            key, _, _, dec = TASK_COLUMNS[t]
            row.append(_fmt(m.get(key), dec))
        if show_dm:
            row.append(_fmt(r.get('delta_m'), 2))
        if show_ph:
            ph = r.get('params_head')
            row.append(_fmt(None if ph is None else ph / 1e6, 2))
        if show_pt:
            pt = r.get('params_total')
            row.append(_fmt(None if pt is None else pt / 1e6, 2))
        if show_fl:
            fl = r.get('flops')
            row.append(_fmt(None if fl is None else fl / 1e9, 1))
        rows.append(row)
    return header, rows


def _render(header, rows, fmt):
    if fmt == 'markdown':
        lines = ['| ' + ' | '.join(header) + ' |',
                 '|' + '|'.join(['---'] + ['---:'] * (len(header) - 1)) + '|']
        lines += ['| ' + ' | '.join(r) + ' |' for r in rows]
        return '\n'.join(lines)
    if fmt != 'text':
        raise ValueError(f"fmt must be 'text' or 'markdown', not {fmt!r}")
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
    def line(cells):
        return '  '.join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths)))
    sep = '-' * len(line(header))
    return '\n'.join([sep, line(header), sep] + [line(r) for r in rows]
                     + [sep])


def format_results_table(metrics: Mapping, tasks: Sequence[str] | None = None,
                         params_head: int | None = None,
                         params_total: int | None = None,
                         flops: float | None = None, name: str = '',
                         fmt: str = 'text') -> str:
    """One run as a paper-style table (``fmt`` 'text' or 'markdown')."""
    rec = results_record(metrics, tasks, params_head, params_total, flops,
                         name)
    return comparison_table([rec], fmt)


def dump_results(path_prefix: str, metrics: Mapping,
                 tasks: Sequence[str] | None = None,
                 params_head: int | None = None,
                 params_total: int | None = None,
                 flops: float | None = None, name: str = '',
                 extra: Mapping | None = None) -> tuple[str, str]:
    """Write ``<path_prefix>.json`` (the record) and ``<path_prefix>.md``.

    ``extra`` (e.g. config path, checkpoint) is stored under ``extra``.
    Returns both paths.
    """
    rec = results_record(metrics, tasks, params_head, params_total, flops,
                         name)
    if extra:
        rec['extra'] = dict(extra)
    d = osp.dirname(osp.abspath(path_prefix))
    os.makedirs(d, exist_ok=True)
    json_path, md_path = path_prefix + '.json', path_prefix + '.md'
    with open(json_path, 'w', encoding='utf-8') as f:
        json.dump(rec, f, indent=2, ensure_ascii=False)
    with open(md_path, 'w', encoding='utf-8') as f:
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
        return data
    name = osp.splitext(osp.basename(path))[0]
    return results_record(data, name=name)


def comparison_table(records: Iterable[dict], fmt: str = 'markdown') -> str:
    """Several runs' records as one table, one row each."""
    header, rows = _rows(list(records))
    return _render(header, rows, fmt)
