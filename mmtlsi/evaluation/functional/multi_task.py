"""Multi-task performance Delta_m (Maninis et al. / MTI-Net).

``Delta_m = 1/T sum_i (-1)^{l_i} (M_mt,i - M_st,i) / M_st,i * 100`` with
``l_i = 1`` when lower is better for metric i. References (single-task numbers)
come as a dict or a JSON / YAML file mapping metric keys to values, in the same
units as the multi-task metrics (e.g. ``{'semseg/mIoU': 47.5, 'depth/rmse':
0.55}``), or as the result files ``tools/test.py`` writes for single-task
models (one per task; their main metrics are taken), or a list of these.
"""
from __future__ import annotations

import json
import os
from typing import Mapping

__all__ = ['delta_m', 'load_references']


def load_references(ref) -> dict:
    """References from a dict, a ``.json`` / ``.yaml`` path, a results file
    of ``tools/test.py`` (its tasks' main metrics), or a list of these.

    A results file gives the main metric of each of its tasks (its
    ``task_columns``, as its task specs said)."""
    if ref is None:
        return {}
    if isinstance(ref, (list, tuple)):
        merged = {}
        for item in ref:
            merged.update(load_references(item))
        return merged
    if isinstance(ref, Mapping):
        data = ref
    else:
        path = os.fspath(ref)
        with open(path) as f:
            if path.endswith(('.yaml', '.yml')):
                import yaml
                data = yaml.safe_load(f)
            else:
                data = json.load(f)
    if 'metrics' in data and 'tasks' in data:  # a tools/test.py record
        columns = data.get('task_columns')
        if columns is None:
            raise ValueError(f'{ref}: a results record without '
                             f'task_columns (write it with dump_results)')
        return {columns[t]['key']: float(data['metrics'][columns[t]['key']])
                for t in data['tasks']}
    return {str(k): float(v) for k, v in data.items()}


def delta_m(metrics: Mapping[str, float], references: Mapping[str, float],
            lower_is_better: Mapping[str, bool]) -> float:
    """Delta_m in percent over the keys of ``references``.

    Args:
        metrics: multi-task results, key -> value.
        references: single-task results, key -> value (the keys define the
            metrics averaged).
        lower_is_better: key -> True where lower is better.
    """
    if not references:
        raise ValueError('no single-task references given')
    terms = []
    for key, ref in references.items():
        if key not in metrics:
            raise KeyError(f'metric {key!r} has a reference but no result')
        if ref == 0:
            raise ValueError(f'reference of {key!r} is 0')
        sign = -1.0 if lower_is_better[key] else 1.0
        terms.append(sign * (float(metrics[key]) - ref) / ref * 100.0)
    return sum(terms) / len(terms)
