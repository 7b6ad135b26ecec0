"""mmengine's scalar logs: read them, draw their curves, time the training.

The logs are the scalar files mmengine writes, one JSON object per line:
``<work_dir>/<timestamp>/vis_data/scalars.json`` (or ``<timestamp>.json``
next to it). Training lines hold ``loss``, ``lr``, ``time``, ``data_time``,
``iter`` and ``step``; validation lines hold the metrics (``semseg/mIoU``,
``depth/rmse``...) and ``step``. A work directory is searched for the newest
such file. Curves are drawn against ``step`` (``iter`` when a line has no
``step``), one sub-plot per key. ``python -m mmtlsi.tools.analyze_logs`` is
the command line.
"""
import glob
import json
import math
import os
import os.path as osp
import statistics
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

#: keys of a log line that are counters, not curves
COUNTER_KEYS = ('step', 'iter', 'epoch')
#: training bookkeeping, not plotted by default
BOOKKEEPING_KEYS = ('lr', 'time', 'data_time', 'memory', 'grad_norm',
                    'base_lr')

Curve = Tuple[List[float], List[float]]


def find_scalar_log(path: str) -> str:
    """The scalar log of ``path``: the file itself, or in a work directory
    the newest ``vis_data/scalars.json`` (else ``vis_data/<timestamp>.json``)
    found at most two levels down."""
    if osp.isfile(path):
        return path
    if not osp.isdir(path):
        raise FileNotFoundError(f'{path} is neither a file nor a directory')
    candidates = []
    for pattern in ('vis_data/scalars.json', '*/vis_data/scalars.json',
                    'vis_data/*.json', '*/vis_data/*.json'):
        candidates = [f for f in glob.glob(osp.join(path, pattern))
                      if osp.basename(f) != 'config.json']
        if candidates:
            break
    if not candidates:
        raise FileNotFoundError(f'no vis_data/*.json log under {path}')
    return max(candidates, key=osp.getmtime)


def load_scalar_log(path: str) -> List[dict]:
    """The records of a JSON-lines scalar log (blank / broken lines are
    skipped)."""
    records = []
    with open(find_scalar_log(path)) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict):
                records.append(record)
    return records


def _x_of(record: dict) -> Optional[float]:
    for key in ('step', 'iter'):
        if isinstance(record.get(key), (int, float)):
            return record[key]
    return None


def parse_curves(records: Sequence[dict],
                 keys: Optional[Sequence[str]] = None
                 ) -> 'OrderedDict[str, Curve]':
    """``key -> (xs, ys)`` for every numeric key (or the given ``keys``),
    x being the record's ``step`` (or ``iter``). A later record at the same
    x for the same key replaces the earlier one (a resumed run)."""
    curves: Dict[str, Dict[float, float]] = OrderedDict()
    for record in records:
        x = _x_of(record)
        if x is None:
            continue
        for key, value in record.items():
            if key in COUNTER_KEYS or (keys is not None and key not in keys):
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            if isinstance(value, float) and not math.isfinite(value):
                continue
            curves.setdefault(key, {})[x] = float(value)
    order = list(keys) if keys is not None else list(curves)
    out = OrderedDict()
    for key in order:
        if key in curves:
            points = sorted(curves[key].items())
            out[key] = ([p[0] for p in points], [p[1] for p in points])
    return out


def default_keys(records: Sequence[dict]) -> List[str]:
    """``loss`` and every metric of the validation lines."""
    keys = []
    for record in records:
        for key, value in record.items():
            if key in keys or key in COUNTER_KEYS or \
                    key in BOOKKEEPING_KEYS:
                continue
            if not isinstance(value, (int, float)) or \
                    isinstance(value, bool):
                continue
            if key == 'loss' or 'lr' not in record:
                keys.append(key)
    return sorted(keys, key=lambda k: (k != 'loss', k))


def plot_curve(paths: Sequence[str],
               keys: Optional[Sequence[str]] = None,
               out: Optional[str] = None,
               title: Optional[str] = None,
               legend: Optional[Sequence[str]] = None):
    """Plot ``keys`` of every log, one sub-plot per key; save to ``out``
    (or show). Returns ``{legend: curves}``."""
    import matplotlib
    if out:
        matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    logs = [load_scalar_log(p) for p in paths]
    if not keys:
        keys = []
        for records in logs:
            keys += [k for k in default_keys(records) if k not in keys]
    if not keys:
        raise ValueError('no numeric key found in the logs')
    names = list(legend) if legend else [
        osp.basename(osp.normpath(p)) for p in paths]
    if len(names) != len(paths):
        raise ValueError('give one --legend per log')
    cols = min(3, len(keys))
    rows = math.ceil(len(keys) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.5 * rows),
                             squeeze=False)
    all_curves = OrderedDict()
    for name, records in zip(names, logs):
        curves = parse_curves(records, keys)
        all_curves[name] = curves
        for i, key in enumerate(keys):
            if key not in curves:
                print(f'{name}: no {key!r} in the log')
                continue
            xs, ys = curves[key]
            ax = axes[i // cols][i % cols]
            many = len(xs) > 30
            ax.plot(xs, ys, label=name, linewidth=1 if many else 1.5,
                    marker=None if many else 'o', markersize=3)
    for i, key in enumerate(keys):
        ax = axes[i // cols][i % cols]
        ax.set_title(key)
        ax.set_xlabel('step')
        ax.grid(alpha=0.3)
        if len(paths) > 1:
            ax.legend()
    for j in range(len(keys), rows * cols):
        axes[j // cols][j % cols].axis('off')
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if out:
        os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
        fig.savefig(out, dpi=100)
        print(f'curves saved to {out}')
    else:
        plt.show()
    plt.close(fig)
    return all_curves


def cal_train_time(records: Sequence[dict],
                   include_outliers: bool = False) -> dict:
    """Statistics of the per-iteration ``time`` of the training lines
    (those with ``lr`` or ``loss``; validation lines have their own
    ``time``).

    The first logged line is dropped unless ``include_outliers`` (it holds
    start-up costs). ``total_h_estimate`` is the mean time times the last
    logged iteration.
    """
    train = [r for r in records
             if isinstance(r.get('time'), (int, float))
             and ('lr' in r or 'loss' in r)]  # not the validation lines
    if not include_outliers:
        train = train[1:]
    if not train:
        raise ValueError('no training line with a "time" field')
    times = [float(r['time']) for r in train]
    last_iter = max(int(r.get('iter', r.get('step', 0)) or 0)
                    for r in train)
    stats = dict(
        num_lines=len(times),
        mean_s_per_iter=statistics.fmean(times),
        std_s_per_iter=statistics.pstdev(times),
        slowest_s_per_iter=max(times),
        fastest_s_per_iter=min(times),
        last_iter=last_iter,
    )
    data = [float(r['data_time']) for r in train
            if isinstance(r.get('data_time'), (int, float))]
    if data:
        stats['mean_data_s_per_iter'] = statistics.fmean(data)
    stats['total_h_estimate'] = stats['mean_s_per_iter'] * last_iter / 3600
    return stats
