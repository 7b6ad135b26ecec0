"""Check a multi-task dataset's files before training.

    python python -m mmtlsi.tools.check_dataset CONFIG [--splits train val]
        [--cfg-options KEY=VALUE ...] [--max-report N]
    python python -m mmtlsi.tools.check_dataset DATA_ROOT --dataset TYPE
        [--tasks T ...] [--splits train val] [--max-report N]

With a config, the dataset is the one its ``train_dataloader`` builds (type,
data root, tasks, task_cfg), for each split asked for. With a data root,
``--dataset`` names a registered dataset type (``NYUDv2Dataset``,
``PascalContextMTDataset``, a synthetic or a user's one; ``nyud`` and
``pascal`` are short for the first two). Tasks and class counts come from the
dataset.

Reports, each with its file: split files that are missing, empty or not
UTF-8; missing and unreadable files; maps whose size differs from the image;
class ids outside the dataset's classes; NaN/inf, negative or no valid depth;
normals far from unit length; binary maps with values other than 0/1; files
in the annotation folders that no split lists. Only the splits asked for are
checked; the other split files of the dataset are read for their ids only,
so that their files are not reported as extra. Exits with status 1 when it
found a problem.
"""
import argparse
import copy
import sys

from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmtlsi.apis.run_config import (
    ConfigOptionError,
    add_cfg_options_argument,
    merge_cfg_options,
)
from mmtlsi.datasets.checks import check_dataset

ALIASES = dict(nyud='NYUDv2Dataset', pascal='PascalContextMTDataset')


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('source', help='a config file, or a dataset folder with '
                   '--dataset')
    p.add_argument('--dataset', help='dataset type for a folder (a '
                   'registered name, or nyud / pascal)')
    p.add_argument('--tasks', nargs='+', help='tasks to check (default: '
                   'every task of the dataset; with a config, its tasks)')
    p.add_argument('--splits', nargs='+', default=['train', 'val'])
    add_cfg_options_argument(p)
    p.add_argument('--max-report', type=int, default=50,
                   help='problems printed per kind (all are counted)')
    return p.parse_args(argv)


def dataset_cfg_from_args(args) -> dict:
    """The dataset config (without split) the checks build per split."""
    if args.source.endswith('.py'):
        cfg = Config.fromfile(args.source)
        merge_cfg_options(cfg, args.cfg_options)
        init_default_scope(cfg.get('default_scope', 'mmseg'))
        ds_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
        while 'dataset' in ds_cfg and 'type' in ds_cfg.get('dataset', {}):
            ds_cfg = ds_cfg['dataset']          # dataset wrappers
        ds_cfg = dict(ds_cfg)
    else:
        if not args.dataset:
            sys.exit('error: a dataset folder needs --dataset TYPE')
        init_default_scope('mmseg')
        ds_cfg = dict(type=ALIASES.get(args.dataset, args.dataset),
                      data_root=args.source)
    if args.tasks:
        ds_cfg['tasks'] = list(args.tasks)
    for key in ('pipeline', 'split', 'test_mode', 'indices'):
        ds_cfg.pop(key, None)
    return ds_cfg


def main(argv=None):
    args = parse_args(argv)
    try:
        ds_cfg = dataset_cfg_from_args(args)
    except (ConfigOptionError, FileNotFoundError, SyntaxError) as e:
        sys.exit(f'error: {e}')
    report = check_dataset(ds_cfg, args.splits)
    return 1 if report.print(args.max_report) else 0


if __name__ == '__main__':
    sys.exit(main())
