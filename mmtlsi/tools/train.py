"""Train a model: ``python -m mmtlsi.tools.train CONFIG [--resume] [--amp]``.

Same flags as MMSegmentation's ``tools/train.py``, plus ``--compile``
(mmengine's ``compile`` switch) and ``--partial-load`` (``load_from`` may
fit the model only in part). ``--cfg-options`` accepts only keys the config
has (``+KEY=VALUE`` adds a new one). A work dir that another live training
run writes to is refused.
"""
import argparse
import logging
import os
import sys

from mmengine.config import Config
from mmengine.logging import print_log

from mmtlsi.apis.checkpoint import CheckpointMismatchError
from mmtlsi.apis.run_config import (
    ConfigOptionError,
    add_run_arguments,
    build_run_config,
    export_local_rank,
)
from mmtlsi.apis.runner import build_runner, check_load_from
from mmtlsi.engine import (
    WorkDirLock,
    closing_process_group,
    find_resume_checkpoint,
)
from mmtlsi.utils.allocator import retain_freed_memory


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a multi-task model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        '--resume', action='store_true', default=False,
        help='resume from the latest checkpoint in the work dir (the newest '
        'complete one if last_checkpoint names a missing file)')
    parser.add_argument(
        '--amp', action='store_true', default=False,
        help='enable automatic-mixed-precision training')
    add_run_arguments(parser)
    args = parser.parse_args(argv)
    export_local_rank(args)
    return args


def enable_amp(cfg: Config) -> None:
    optim_wrapper = cfg.optim_wrapper.type
    if optim_wrapper == 'AmpOptimWrapper':
        print_log('AMP training is already enabled in your config.',
                  logger='current', level=logging.WARNING)
        return
    if optim_wrapper != 'OptimWrapper':
        raise ValueError('`--amp` needs the optimizer wrapper type '
                         f'`OptimWrapper`, but the config has {optim_wrapper}')
    cfg.optim_wrapper.type = 'AmpOptimWrapper'
    cfg.optim_wrapper.loss_scale = 'dynamic'


def launcher_rank() -> int:
    """This process's rank as the launcher sets it (before any process
    group exists): torchrun, Slurm, Open MPI / MPICH."""
    for name in ('RANK', 'SLURM_PROCID', 'OMPI_COMM_WORLD_RANK', 'PMI_RANK'):
        if name in os.environ:
            return int(os.environ[name])
    return 0


def choose_resume_checkpoint(cfg: Config) -> None:
    """``--resume`` without ``load_from``: continue from ``last_checkpoint``,
    or from the newest complete checkpoint when it names a missing file;
    start at iteration 0 only when the work dir holds no checkpoint, and
    say so."""
    if not cfg.resume or cfg.get('load_from'):
        return
    path, warning = find_resume_checkpoint(cfg.work_dir)
    if warning:
        print_log(warning, logger='current', level=logging.WARNING)
    if path is None:
        print_log(f'--resume: {cfg.work_dir} holds no checkpoint; training '
                  f'starts at iteration 0', logger='current',
                  level=logging.WARNING)
        cfg.resume = False
    else:
        cfg.load_from = path


def main(argv=None):
    args = parse_args(argv)
    try:
        retain_freed_memory()
        cfg = build_run_config(args.config, args.cfg_options, args.work_dir,
                               args.launcher, compile=args.compile,
                               partial_load=args.partial_load)
        if args.amp:
            enable_amp(cfg)
        cfg.resume = args.resume
        if launcher_rank() == 0:
            # held until the process ends; a killed run releases it too
            lock = WorkDirLock(cfg.work_dir).acquire()  # noqa: F841
        choose_resume_checkpoint(cfg)
    except (ConfigOptionError, FileNotFoundError, RuntimeError,
            ValueError, SyntaxError) as e:
        sys.exit(f'error: {e}')
    runner = build_runner(cfg, args.launcher)
    try:
        if not cfg.resume:
            check_load_from(runner, cfg)
    except (CheckpointMismatchError, FileNotFoundError) as e:
        sys.exit(f'error: {e}')
    with closing_process_group():
        runner.train()


if __name__ == '__main__':
    main()
