"""``make demo``: MTLSI-Net end to end on the built-in synthetic dataset.

1. generates the synthetic NYUDv2-layout dataset (first run only);
2. trains a small MTLSI-Net on the CPU (``tools/train.py``; a killed demo
   resumes from its newest complete checkpoint when run again, and stops
   with a message rather than start over if none is left);
3. tests it (``tools/test.py``): the benchmark table and prediction pictures;
4. fits and evaluates the constant predictor on the same split, and prints
   both side by side with the margin on every task.

Everything lands in ``work_dirs/demo/`` (``--work-dir``).
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEFAULT_CONFIG = 'configs/demo/mtlsi_tiny_synthetic-nyud.py'


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config', default=DEFAULT_CONFIG)
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--fresh', action='store_true',
                        help='train from scratch even if checkpoints exist')
    parser.add_argument('--cfg-options', nargs='+', default=[],
                        help='passed to tools/train.py and tools/test.py')
    return parser.parse_args()


def step(title):
    print(f'\n==> {title}', flush=True)


def run(cmd):
    print('$ ' + ' '.join(cmd), flush=True)
    # One compute thread: the two data-loading workers take the other cores
    # (on 2 cores, 2 threads + 2 workers oversubscribe and slow down 3-5x).
    env = dict(os.environ)
    env.setdefault('OMP_NUM_THREADS', '1')
    subprocess.run([sys.executable] + cmd, cwd=REPO, check=True, env=env)


def run_setting():
    """Compute threads, torch's CPU kernel level and torch's version: what
    decides the last bits of the demo's numbers."""
    import torch
    capability = getattr(torch.backends.cpu, 'get_cpu_capability',
                         lambda: 'unknown')()
    threads = os.environ.get('OMP_NUM_THREADS', '1')
    return (f'{threads} compute thread(s), CPU kernels {capability}, '
            f'torch {torch.__version__}')


def has_checkpoints(work_dir):
    """True when the work dir holds a checkpoint or a ``last_checkpoint``
    marker: the demo then resumes (``tools/train.py --resume`` falls back to
    the newest complete checkpoint, or stops with a message)."""
    from mmtlsi.engine.checkpoint_io import resumable_checkpoints
    return osp.exists(osp.join(work_dir, 'last_checkpoint')) or bool(
        resumable_checkpoints(work_dir))


def last_checkpoint(work_dir):
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


def constant_baseline(cfg_path, cfg_options, out_dir):
    """Fit the constant predictor on the training split, evaluate on test."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS, METRICS
    from tqdm import tqdm

    from mmtlsi.apis.run_config import (
        merge_cfg_options,
        parse_cfg_options,
    )
    from mmtlsi.evaluation.constant_baseline import ConstantPredictor
    from mmtlsi.evaluation.report import dump_results
    from mmtlsi.tasks import build_task_specs

    cfg = merge_cfg_options(Config.fromfile(cfg_path),
                            parse_cfg_options(cfg_options))
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    specs = build_task_specs(cfg.model.decode_head.tasks,
                             cfg.model.decode_head.get('task_cfg'))

    train_cfg = cfg.train_dataloader.dataset.copy()
    train_cfg.pipeline = cfg.test_dataloader.dataset.pipeline
    train_set = DATASETS.build(train_cfg)
    test_set = DATASETS.build(cfg.test_dataloader.dataset)
    predictor = ConstantPredictor(specs).fit(
        train_set[i]['data_samples']
        for i in tqdm(range(len(train_set)), desc='fit constants'))

    metric = METRICS.build(cfg.test_evaluator)
    metric.dataset_meta = test_set.metainfo
    for i in tqdm(range(len(test_set)), desc='evaluate constants'):
        sample = predictor.predict(test_set[i]['data_samples'])
        metric.process(None, [sample.to_dict()])
    metrics = metric.evaluate(len(test_set))
    dump_results(osp.join(out_dir, 'constant_predictor'), metrics,
                 tasks=list(specs), params_head=0, params_total=0,
                 name='constant predictor',
                 extra=dict(constants={k: v.tolist() for k, v in
                                       predictor.values.items()}))
    return metrics, specs


def main():
    args = parse_args()
    os.chdir(REPO)
    started = time.time()
    work_dir = args.work_dir
    cfg_opts = ['--cfg-options', *args.cfg_options] if args.cfg_options \
        else []

    step('1-2/4  synthetic dataset + training on the CPU (tools/train.py)')
    train_cmd = ['tools/train.py', args.config, '--work-dir', work_dir]
    if not args.fresh and has_checkpoints(work_dir):
        train_cmd.append('--resume')
    run(train_cmd + cfg_opts)
    checkpoint = last_checkpoint(work_dir)
    train_minutes = (time.time() - started) / 60

    step('3/4  testing (tools/test.py): benchmark table and pictures')
    show_dir = osp.join(work_dir, 'pictures')
    run(['tools/test.py', args.config, checkpoint, '--work-dir',
         osp.join(work_dir, 'test'), '--out', work_dir, '--show-dir',
         show_dir, '--name', 'MTLSI-Net (demo)'] + (cfg_opts or [
             '--cfg-options']) + ['default_hooks.visualization.interval=5'])

    step('4/4  the constant predictor on the same test split')
    const_metrics, specs = constant_baseline(args.config, args.cfg_options,
                                             work_dir)

    from mmtlsi.evaluation.report import comparison_table, load_results
    model_rec = load_results(osp.join(work_dir, 'MTLSI-Net (demo).json'))
    const_rec = load_results(osp.join(work_dir, 'constant_predictor.json'))
    lines = ['', comparison_table([model_rec, const_rec], fmt='text'), '',
             'margin over the constant predictor:']
    margins = {}
    for task, spec in specs.items():
        key, title, higher = spec.metric_key, spec.column, \
            spec.higher_is_better
        ours, const = model_rec['metrics'][key], const_rec['metrics'][key]
        better = ours - const if higher else const - ours
        margins[task] = dict(metric=key, model=ours, constant=const,
                             better_by=better,
                             relative=better / abs(const) * 100
                             if const else None)
        rel = f' ({better / abs(const) * 100:+.1f}%)' if const else ''
        lines.append(f'  {title:<14} {ours:10.4f} vs {const:10.4f}: '
                     f'better by {better:.4f}{rel}')
    minutes = (time.time() - started) / 60
    machine = run_setting()
    pictures = osp.join(show_dir, 'vis_data', 'vis_image')
    lines += ['', f'checkpoint: {checkpoint}', f'pictures:   {pictures}/',
              f'tables:     {work_dir}/*.md, *.json',
              f'time: {minutes:.1f} min in all '
              f'(training {train_minutes:.1f} min)',
              f'ran with: {machine} (numbers move a little between CPUs: '
              f'docs/get_started.md#demo-numbers-across-machines)']
    print('\n'.join(lines))
    with open(osp.join(work_dir, 'demo_summary.json'), 'w') as f:
        json.dump(dict(margins=margins, minutes=minutes,
                       train_minutes=train_minutes, checkpoint=checkpoint,
                       machine=machine,
                       all_better=all(m['better_by'] > 0
                                      for m in margins.values())), f,
                  indent=2)
    if not all(m['better_by'] > 0 for m in margins.values()):
        sys.exit('the demo model did not beat the constant predictor on '
                 'every task')


if __name__ == '__main__':
    main()
