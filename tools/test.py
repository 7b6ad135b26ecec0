"""Test a model and print the benchmark table.

``python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--show-dir DIR]``

Same flags as MMSegmentation's ``tools/test.py``, plus ``--export-edges`` (PNG
edge maps for the SEISM toolbox) and ``--no-flops``. The table (every task's
metric, Delta_m when single-task references are configured, parameters without
the backbone, FLOPs) is printed and written as JSON and Markdown to the work
dir.
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.runner import Runner  # noqa: E402
from mmseg.registry import RUNNERS  # noqa: E402

import mmtlsi  # noqa: E402,F401  (applies mmtlsi.compat before mmseg is imported)
from mmtlsi.engine import init_cpu_process_group_if_needed  # noqa: E402
from mmtlsi.engine.config_utils import set_data_root  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(
        description='Test a multi-task model and print the benchmark table')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir',
        help='the directory to save the results table and logs')
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
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override some settings in the used config, the key-value pair '
        'in xxx=yyy format will be merged into config file. If the value to '
        'be overwritten is a list, it should be like key="[a,b]" or key=a,b '
        'It also allows nested list/tuple values, e.g. key="[(a,b),(c,d)]" '
        'Note that the quotation marks are necessary and that no white space '
        'is allowed.')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def trigger_visualization_hook(cfg, args):
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
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
        if 'data_root' in args.cfg_options:
            # `--cfg-options data_root=DIR` re-points every dataloader
            set_data_root(cfg, args.cfg_options['data_root'])
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    if args.show or args.show_dir:
        cfg = trigger_visualization_hook(cfg, args)
    if args.export_edges:
        cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
            dict(type='EdgeExportHook', out_dir=args.export_edges)
        ]
    return cfg


def main():
    args = parse_args()
    cfg = build_config(args)
    if init_cpu_process_group_if_needed(args.launcher):
        cfg.setdefault('model_wrapper_cfg',
                       dict(type='CPUDistributedDataParallel'))

    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg \
        else RUNNERS.build(cfg)
    metrics = runner.test()

    from mmengine.dist import is_main_process
    if not is_main_process():
        return
    from mmtlsi.engine.benchmark_table import write_benchmark_table
    name = args.name or osp.splitext(osp.basename(args.config))[0]
    out_dir = args.out or runner.log_dir
    write_benchmark_table(runner, cfg, metrics, name=name, out_dir=out_dir,
                          count_flops_too=not args.no_flops)


if __name__ == '__main__':
    main()
