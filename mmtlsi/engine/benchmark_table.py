"""The paper-style table ``tools/test.py`` prints after testing."""
from __future__ import annotations

import os.path as osp

from mmengine.logging import print_log
from mmengine.model import is_model_wrapper

from mmtlsi.evaluation.report import dump_results, format_results_table
from mmtlsi.utils.complexity import count_flops, count_parameters


def flops_input_shape(cfg) -> tuple[int, int]:
    """The input size FLOPs are counted at: the config's ``crop_size``
    (448x576 on NYUDv2, 512x512 on PASCAL-Context, as in the paper)."""
    crop = cfg.get('crop_size')
    if crop is None:
        crop = cfg.model.get('data_preprocessor', {}).get('size')
    if crop is None:
        raise ValueError('set `crop_size` in the config to count FLOPs')
    return int(crop[0]), int(crop[1])


def write_benchmark_table(runner, cfg, metrics: dict, name: str,
                          out_dir: str, count_flops_too: bool = True
                          ) -> tuple[str, str, str]:
    """Print the table of ``metrics`` with parameters (without and with the
    backbone) and FLOPs, and write it as ``<out_dir>/<name>.json`` / ``.md``.

    Returns (text table, json path, markdown path).
    """
    model = runner.model.module if is_model_wrapper(runner.model) \
        else runner.model
    params = count_parameters(model)
    flops = None
    if count_flops_too:
        shape = flops_input_shape(cfg)
        flops = count_flops(model, shape)['total']
    tasks = getattr(model.decode_head, 'task_specs', None) or None
    table = format_results_table(
        metrics, tasks=tasks, params_head=params['head'],
        params_total=params['total'], flops=flops, name=name)
    json_path, md_path = dump_results(
        osp.join(out_dir, name), metrics, tasks=tasks,
        params_head=params['head'], params_total=params['total'],
        flops=flops, name=name,
        extra=dict(config=cfg.filename, checkpoint=cfg.get('load_from'),
                   flops_input_shape=list(flops_input_shape(cfg))
                   if count_flops_too else None))
    print_log('\n' + table, logger='current')
    print_log(f'results table written to {json_path} and {md_path}',
              logger='current')
    return table, json_path, md_path
