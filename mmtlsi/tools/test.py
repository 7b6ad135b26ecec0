"""Test a model and print the benchmark table.

``python -m mmtlsi.tools.test CONFIG CHECKPOINT [--work-dir DIR]
[--show-dir DIR]``

Same flags as MMSegmentation's ``tools/test.py``, plus ``--export-edges`` (PNG
edge maps for the SEISM toolbox), ``--no-flops``, ``--compile``,
``--partial-load`` and ``--dtype fp32|bf16|auto`` (the model rewritten for
inference: bf16 weights). The checkpoint must fit the config's model exactly
(``--partial-load`` allows a part on purpose). The table (every task's
metric, Delta_m when single-task references are configured, parameters
without the backbone, FLOPs as multiply-adds) is printed and written as JSON
and Markdown to the work dir. ``--cfg-options`` accepts only keys the config
has (``+KEY=VALUE`` adds a new one).
"""
import argparse
import os.path as osp
import sys

from mmengine.config import Config
from mmengine.dist import is_main_process

from mmtlsi.apis.checkpoint import CheckpointMismatchError
from mmtlsi.apis.run_config import (
    ConfigOptionError,
    add_run_arguments,
    build_run_config,
    export_local_rank,
)
from mmtlsi.apis.runner import build_runner, check_load_from
from mmtlsi.engine import closing_process_group
from mmtlsi.evaluation.report import write_benchmark_table
from mmtlsi.utils.allocator import retain_freed_memory


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Test a multi-task model and print the benchmark table')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--out', help='directory for the results table (default: work dir)')
    parser.add_argument(
        '--show', action='store_true', help='show prediction results')
    parser.add_argument(
        '--show-dir',
        help='directory where the pictures of the predictions are saved '
        '(in DIR/vis_data/vis_image/)')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument(
        '--export-edges',
        metavar='DIR',
        help='write every edge prediction as an 8-bit PNG in DIR, as the '
        'SEISM toolbox reads them')
    parser.add_argument(
        '--no-flops', action='store_true',
        help='do not count FLOPs for the table')
    parser.add_argument(
        '--name', help='row name in the table (default: the config name)')
    parser.add_argument(
        '--dtype', choices=['fp32', 'bf16', 'auto'],
        help='test the model rewritten for inference in this dtype '
        '(InferenceDtypeHook; auto: bf16 where it is native)')
    add_run_arguments(parser)
    args = parser.parse_args(argv)
    export_local_rank(args)
    return args


def trigger_visualization_hook(cfg: Config, args) -> Config:
    default_hooks = cfg.default_hooks
    if 'visualization' not in default_hooks:
        raise RuntimeError(
            '--show/--show-dir need default_hooks.visualization, e.g. '
            "visualization=dict(type='MultiTaskVisualizationHook')")
    visualization_hook = default_hooks['visualization']
    visualization_hook['draw'] = True
    if args.show:
        visualization_hook['show'] = True
        visualization_hook['wait_time'] = args.wait_time
    if args.show_dir:
        cfg.visualizer['save_dir'] = args.show_dir
    return cfg


def build_config(args) -> Config:
    cfg = build_run_config(args.config, args.cfg_options, args.work_dir,
                           args.launcher, compile=args.compile,
                           partial_load=args.partial_load)
    if not osp.isfile(args.checkpoint) and '://' not in args.checkpoint:
        raise FileNotFoundError(f'checkpoint {args.checkpoint} not found')
    cfg.load_from = args.checkpoint
    if args.show or args.show_dir:
        cfg = trigger_visualization_hook(cfg, args)
    if args.dtype:
        cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
            dict(type='InferenceDtypeHook', dtype=args.dtype)
        ]
    if args.export_edges:
        cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
            dict(type='EdgeExportHook', out_dir=args.export_edges)
        ]
    return cfg


def main(argv=None):
    args = parse_args(argv)
    try:
        retain_freed_memory()
        cfg = build_config(args)
    except (ConfigOptionError, FileNotFoundError, RuntimeError, ValueError,
            SyntaxError) as e:
        sys.exit(f'error: {e}')
    runner = build_runner(cfg, args.launcher)
    try:
        check_load_from(runner, cfg)
    except CheckpointMismatchError as e:
        sys.exit(f'error: {e}')
    with closing_process_group():
        metrics = runner.test()
        main_process = is_main_process()
    if not main_process:
        return
    name = args.name or osp.splitext(osp.basename(args.config))[0]
    out_dir = args.out or runner.log_dir
    write_benchmark_table(runner, cfg, metrics, name=name, out_dir=out_dir,
                          count_flops_too=not args.no_flops)


if __name__ == '__main__':
    main()
