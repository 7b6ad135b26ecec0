"""Resident memory of a long demo training run: does it grow?

Trains the demo config (``configs/demo/mtlsi_tiny_synthetic-nyud.py``) for
``--iters`` iterations with ``--workers`` data-loader workers and records the
resident set size (``VmRSS``) of the training process and, summed, of its
worker processes every ``--every`` iterations, with the process's anonymous
part (``RssAnon``: heap and other private memory, where a leak shows;
file-backed pages can be reclaimed by the kernel under memory pressure and
make ``VmRSS`` fall).
Prints the samples and the
growth after warm-up (from iteration ``--warmup`` to the end) as JSON.

    python .dev_scripts/memory_soak.py --iters 1000 --workers 2 \
        --out work_dirs/memory_soak.json
"""
import argparse
import json
import os
import os.path as osp
import tempfile

from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEMO_CFG = osp.join(REPO, 'configs', 'demo', 'mtlsi_tiny_synthetic-nyud.py')


def rss_mib(pid: int, field: str = 'VmRSS') -> float:
    """``field`` of ``/proc/pid/status`` in MiB (0 for a process that is
    gone)."""
    try:
        with open(f'/proc/{pid}/status') as f:
            for line in f:
                if line.startswith(field + ':'):
                    return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return 0.0


def children(pid: int) -> list:
    found = []
    for task in os.listdir(f'/proc/{pid}/task'):
        path = f'/proc/{pid}/task/{task}/children'
        if osp.exists(path):
            with open(path) as f:
                found += [int(c) for c in f.read().split()]
    return found


class RssHook(Hook):
    priority = 'VERY_LOW'

    def __init__(self, every: int) -> None:
        self.every = every
        self.samples = []

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        step = runner.iter + 1
        if step % self.every and step != 1:
            return
        workers = children(os.getpid())
        self.samples.append(dict(
            iter=step, main_mib=round(rss_mib(os.getpid()), 2),
            main_anon_mib=round(rss_mib(os.getpid(), 'RssAnon'), 2),
            workers_mib=round(sum(rss_mib(p) for p in workers), 2),
            num_children=len(workers)))
        runner.logger.info(f'rss {self.samples[-1]}')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--iters', type=int, default=1000)
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--every', type=int, default=50)
    parser.add_argument('--warmup', type=int, default=100)
    parser.add_argument('--work-dir', default=None)
    parser.add_argument('--out', default=None, help='write the JSON here')
    args = parser.parse_args()

    cfg = Config.fromfile(DEMO_CFG)
    cfg.work_dir = args.work_dir or tempfile.mkdtemp(prefix='memory_soak_')
    cfg.train_cfg.max_iters = args.iters
    cfg.train_cfg.val_interval = args.iters + 1
    cfg.train_dataloader.num_workers = args.workers
    cfg.train_dataloader.persistent_workers = args.workers > 0
    cfg.default_hooks.checkpoint.interval = args.iters + 1
    cfg.default_hooks.checkpoint.save_last = False
    cfg.param_scheduler[-1].end = args.iters
    runner = Runner.from_cfg(cfg)
    hook = RssHook(args.every)
    runner.register_hook(hook)
    runner.train()

    after = [s for s in hook.samples if s['iter'] >= args.warmup]
    first, last = after[0], after[-1]
    result = dict(
        iters=args.iters, workers=args.workers, warmup=args.warmup,
        main_growth_mib=round(last['main_mib'] - first['main_mib'], 2),
        main_anon_growth_mib=round(
            last['main_anon_mib'] - first['main_anon_mib'], 2),
        workers_growth_mib=round(last['workers_mib'] - first['workers_mib'],
                                 2),
        max_main_mib=max(s['main_mib'] for s in after),
        samples=hook.samples)
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            f.write(text)


if __name__ == '__main__':
    main()
