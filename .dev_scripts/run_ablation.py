"""Module ablation on the synthetic NYUDv2-layout benchmark: train every
ablation config for the same number of iterations with several seeds, then
write the table (mean and standard deviation over the seeds).

    python .dev_scripts/run_ablation.py [--iters 600] [--seeds 0 1]
        [--jobs 1] [--work-dir work_dirs/ablation] [--out TABLE.md]
        [--configs CONFIG ...] [--table-only]

Each run is ``tools/train.py`` on a copy of its config with the seed, the
iteration count (learning-rate schedule stretched to it) and one validation at
the last iteration; the metrics of that validation are the run's result
(``<work-dir>/<row>/seed<S>/result.json``). Finished runs are not repeated,
so an interrupted ablation resumes. Runs use ``OMP_NUM_THREADS=1`` unless it
is set; ``--jobs`` runs that many at once.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from mmtlsi.apis.analysis import markdown_table
from mmtlsi.evaluation.functional.multi_task import delta_m

# the repository (configs/, tools/train.py) this script belongs to
REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))

ABLATION_DIR = 'configs/demo/ablations'
# (config name, row label), in table order
ROWS = [
    ('pd-only', 'preliminary decoders only'),
    ('mqlfb-s1', '+ MT-MQLFB, scales {1}'),
    ('mqlfb-s135', '+ MT-MQLFB, scales {1,3,5}'),
    ('full', '+ distiller and CWIB (full model)'),
    ('quadratic-fusion', 'full model, quadratic fusion for MT-MQLFB'),
]


def row_name(config: str) -> str:
    return osp.splitext(osp.basename(config))[0]


def run_config(config: str, seed: int, iters: int):
    """The config of one run: ``config`` with ``seed``, ``iters`` training
    iterations (iteration-based schedulers stretched by iters / max_iters),
    one validation and one checkpoint at the end."""
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    old = cfg.train_cfg.max_iters
    scale = iters / old
    for sched in cfg.get('param_scheduler', []):
        if sched.get('by_epoch', True):
            raise ValueError(f'{config}: epoch-based scheduler {sched}')
        for key in ('begin', 'end'):
            if key in sched:
                sched[key] = int(round(sched[key] * scale))
    cfg.train_cfg.max_iters = iters
    cfg.train_cfg.val_interval = iters
    cfg.default_hooks.checkpoint.interval = iters
    cfg.default_hooks.checkpoint.save_best = None
    cfg.randomness = dict(seed=seed)
    return cfg


def final_metrics(work_dir: str, iters: int) -> dict:
    """The validation metrics logged at iteration ``iters`` in the newest
    ``vis_data/scalars.json`` under ``work_dir``."""
    logs = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                     'scalars.json')))
    if not logs:
        raise FileNotFoundError(f'no vis_data/scalars.json under {work_dir}')
    metrics, times = None, []
    with open(logs[-1]) as f:
        for line in f:
            rec = json.loads(line)
            if 'loss' in rec and 'time' in rec:
                times.append(rec['time'])
            elif rec.get('step') == iters and any('/' in k for k in rec):
                metrics = {k: v for k, v in rec.items() if '/' in k}
    if metrics is None:
        raise ValueError(f'{logs[-1]}: no validation at iteration {iters}')
    return dict(metrics=metrics,
                s_per_iter=statistics.median(times) if times else None)


def train_one(config: str, seed: int, iters: int, work_root: str) -> dict:
    """Train (unless already done) and return the run's result dict."""
    work_dir = osp.abspath(osp.join(work_root, row_name(config),
                                    f'seed{seed}'))
    result_file = osp.join(work_dir, 'result.json')
    if osp.exists(result_file):
        with open(result_file) as f:
            result = json.load(f)
        if result['iters'] == iters:
            return result
    os.makedirs(work_dir, exist_ok=True)
    cfg_file = osp.join(work_dir, 'config.py')
    run_config(config, seed, iters).dump(cfg_file)
    env = dict(os.environ)
    env.setdefault('OMP_NUM_THREADS', '1')
    env['PYTHONPATH'] = REPO + os.pathsep + env.get('PYTHONPATH', '')
    cmd = [sys.executable, osp.join(REPO, 'tools', 'train.py'), cfg_file,
           '--work-dir', work_dir]
    start = time.time()
    with open(osp.join(work_dir, 'train.log'), 'w') as log:
        proc = subprocess.run(cmd, cwd=REPO, env=env, stdout=log,
                              stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise RuntimeError(f'training failed ({proc.returncode}): see '
                           f'{osp.join(work_dir, "train.log")}')
    result = dict(config=config, seed=seed, iters=iters,
                  wall_s=time.time() - start,
                  **final_metrics(work_dir, iters))
    with open(result_file, 'w') as f:
        json.dump(result, f, indent=2)
    print(f'done {row_name(config)} seed {seed}: '
          f'{json.dumps(result["metrics"])}', flush=True)
    return result


def prepare_data(config: str):
    """Build the config's datasets once here, so that synthetic data is
    generated before parallel runs start (not by several at once)."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS
    cfg = Config.fromfile(config)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    for loader in ('train_dataloader', 'val_dataloader'):
        DATASETS.build(cfg[loader].dataset)


# --------------------------------------------------------------------------
# the table
# --------------------------------------------------------------------------
def mean_std(values):
    mean = statistics.fmean(values)
    std = statistics.stdev(values) if len(values) > 1 else float('nan')
    return mean, std


def format_table(results, specs, labels=None) -> str:
    """Markdown table: one row per config (in the order first seen), mean
    +- standard deviation over its seeds of every task's main metric and of
    Delta_m against the first config's mean."""
    labels = labels or {}
    order = []
    by_row = {}
    for r in results:
        name = row_name(r['config'])
        if name not in by_row:
            order.append(name)
        by_row.setdefault(name, []).append(r)
    keys = [f'{t}/{s.metric}' for t, s in specs.items()]
    ref = {k: statistics.fmean(r['metrics'][k] for r in by_row[order[0]])
           for k in keys}
    lower = {k: not s.higher_is_better for k, s in zip(keys, specs.values())}
    head = ['row', 'config'] + [
        f'{k} {"↑" if s.higher_is_better else "↓"}'
        for k, s in zip(keys, specs.values())] + [
        f'Δm vs {order[0]} (%) ↑', 'seeds']
    digits = {k: 4 if 'rmse' in k else 2 for k in keys}
    rows = []
    for name in order:
        runs = by_row[name]
        cells = [labels.get(name, name), f'`{name}`']
        for k in keys:
            m, s = mean_std([r['metrics'][k] for r in runs])
            cells.append(f'{m:.{digits[k]}f} ± {s:.{digits[k]}f}')
        m, s = mean_std([delta_m(r['metrics'], ref, lower) for r in runs])
        cells.append(f'{m:+.2f} ± {s:.2f}')
        cells.append(','.join(str(r['seed']) for r in runs))
        rows.append(cells)
    return markdown_table(head, rows) + '\n'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--configs', nargs='+',
                        default=[osp.join(ABLATION_DIR, f'{n}.py')
                                 for n, _ in ROWS])
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1])
    parser.add_argument('--iters', type=int, default=600)
    parser.add_argument('--jobs', type=int, default=1,
                        help='runs at the same time')
    parser.add_argument('--work-dir', default='work_dirs/ablation')
    parser.add_argument('--out', default=None,
                        help='Markdown file for the table '
                        '(default: <work-dir>/ablation.md)')
    parser.add_argument('--table-only', action='store_true',
                        help='only tabulate the runs already finished')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from mmengine.config import Config

    from mmtlsi.tasks import build_task_specs
    for c in args.configs:
        if not osp.isfile(c):
            raise SystemExit(f'no such config: {c}')
    jobs = [(c, s) for c in args.configs for s in args.seeds]
    if not args.table_only:
        prepare_data(args.configs[0])
    if args.table_only:
        results = []
        for c, s in jobs:
            path = osp.join(args.work_dir, row_name(c), f'seed{s}',
                            'result.json')
            if osp.exists(path):
                with open(path) as f:
                    r = json.load(f)
                if r['iters'] == args.iters:
                    results.append(r)
    else:
        with ThreadPoolExecutor(max(1, args.jobs)) as pool:
            results = list(pool.map(
                lambda job: train_one(job[0], job[1], args.iters,
                                      args.work_dir), jobs))
    if not results:
        raise SystemExit(f'no finished runs with {args.iters} iterations '
                         f'under {args.work_dir}')
    head = Config.fromfile(args.configs[0]).model.decode_head
    specs = build_task_specs(head.tasks, head.get('task_cfg'))
    table = format_table(results, specs, dict(ROWS))
    note = (f'{args.iters} iterations, seeds '
            f'{" ".join(map(str, args.seeds))}; mean ± sample standard '
            'deviation over the seeds.\n\n')
    out = args.out or osp.join(args.work_dir, 'ablation.md')
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    with open(out, 'w') as f:
        f.write(note + table)
    print(note + table)
    print(f'table written to {out}')
    return results


if __name__ == '__main__':
    main()
