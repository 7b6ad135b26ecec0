"""GPU check: training throughput, memory and FLOP utilisation of the paper
models, the fusion sweep, and multi-GPU DDP, in one run, written as a
Markdown fragment for docs/results.md.

    bash .dev_scripts/gpu_check.sh            # on a GPU machine
    python .dev_scripts/gpu_check.py --dry-run --out-dir DIR  # CPU

Steps (all data synthetic, generated on the machine):

1. fp32 and bf16 matmul peaks: the best of several timed (N x N) @ (N x N)
   products (N = 8192), in TFLOP/s (2 N^3 per product).
2. Training steps with the configs' own training pipeline on synthetic data
   at full image size (``mmtlsi.apis.analysis``, as ``benchmark --mode
   train``): Swin-T NYUDv2, batch 8, 448x576, float32, bfloat16 autocast
   and bfloat16 compiled (``torch.compile``, compile time reported);
   Swin-L PASCAL-Context, batch 4, 512x512, bfloat16 autocast and float32.
   Per case: images/s, step time, data wait, peak memory, and model FLOP/s
   as a share of the matmul peak of its precision. Model FLOPs per step =
   2 x 3 x (forward multiply-adds of one image, ``count_flops``) x batch:
   backward counted as twice the forward, the usual convention.
3. Inference (``mmtlsi.apis.analysis.run_benchmark``, as ``benchmark
   --mode predict``): Swin-T NYUDv2, batch 8, 448x576, float32, bfloat16
   autocast, bf16 weights (``optimize_for_inference``, the deployed
   route) and bf16 weights compiled; images/s, latency, peak memory and
   the share of the matmul peak of its precision.
4. The fusion sweep, ``.dev_scripts/complexity.py`` on the GPU at its full
   sizes (inputs 112x144 to 896x1152): times, fitted exponent and the
   linear / quadratic ratio at 448x576.
5. With more than one GPU: the Swin-T NYUDv2 case in DDP over all of them
   (``torch.distributed.run``), images/s summed over the GPUs.

``--dry-run`` runs every step on the CPU at tiny sizes (224x224 crops or
``--dry-crop``, batch 2 / 1, one timed step, 256 matmuls, the compiled step
with the ``eager`` backend, a small sweep, DDP over 2 CPU processes with
gloo), to check the script end to end without a GPU; its figures mean
nothing.
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time
from functools import partial

import torch

from mmtlsi.apis import analysis
from mmtlsi.apis.analysis import markdown_table
from mmtlsi.utils.benchmark import (
    environment,
    matmul_peak,
    measure_train,
    time_call,
)

HERE = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(HERE)


# --------------------------------------------------------------------------
# the plan
# --------------------------------------------------------------------------
def plan(args) -> list:
    """Training cases: dict(name, config, batch, crop, amp)."""
    if args.dry_run:
        crop = tuple(args.dry_crop)
        crop_n, crop_p, b_n, b_p = crop, crop, 2, 1
    else:
        crop_n, crop_p, b_n, b_p = (448, 576), (512, 512), 8, 4
    cases = []
    for amp, compiled in ((False, False), (True, False), (True, True)):
        cases.append(dict(name='Swin-T NYUDv2', config=args.nyud_config,
                          batch=b_n, crop=crop_n, amp=amp,
                          compiled=compiled))
    for amp in (True, False):
        cases.append(dict(name='Swin-L PASCAL-Context',
                          config=args.pascal_config, batch=b_p, crop=crop_p,
                          amp=amp, compiled=False))
    return [c for c in cases if not c['compiled'] or args.compile]


def infer_plan(args) -> list:
    """Inference runs: dict(route, options of ``run_benchmark``)."""
    compiled = args.compile_backend if args.compile else False
    return [dict(route='fp32', options=dict()),
            dict(route='bf16 autocast',
                 options=dict(amp=True, amp_dtype=torch.bfloat16)),
            # the compiled bf16 model is measured right after the eager one
            dict(route='bf16 weights',
                 options=dict(weights_dtype='bf16', compile=compiled))]


# --------------------------------------------------------------------------
# measurements
# --------------------------------------------------------------------------
def peaks(device, n: int) -> dict:
    """fp32 and bf16 matmul peaks (``matmul_peak``) on ``device``."""
    return {p['dtype']: p for p in (matmul_peak(device, dtype, n, repeats=5)
                                    for dtype in (torch.float32,
                                                  torch.bfloat16))}


def forward_macs(config, crop, device) -> float:
    """Multiply-adds of one image's ``tensor``-mode forward at ``crop``."""
    from mmtlsi.utils import count_flops
    model = analysis.build_model_for_analysis(config, device=device)
    macs = count_flops(model, tuple(crop))['total']
    del model
    return macs


def train_case(case, device, args, macs: float | None, peak: dict | None,
               wrapper_fn=None) -> dict:
    """One training case: the config's pipeline on synthetic data, timed
    steps (``measure_train``); a compiled case also reports the time of its
    first step (compiling included) as ``compile_s``."""
    cfg = analysis.load_config(case['config'])
    analysis.set_crop_size(cfg, case['crop'])
    model = analysis.build_model_for_analysis(cfg, device=device)
    data_size = (240, 320) if args.dry_run else None
    dataset = analysis.synthetic_train_dataset(cfg, args.data_root,
                                               data_size,
                                               num_images=args.images)
    loader = analysis.build_train_loader(cfg, dataset, case['batch'],
                                         args.workers)
    wrapper = wrapper_fn(model) if wrapper_fn else None
    if case.get('compiled'):
        wrapper = torch.compile(model if wrapper is None else wrapper,
                                backend=args.compile_backend)
    step = analysis.make_train_step(model, cfg, device, case['amp'],
                                    torch.bfloat16, wrapper=wrapper)
    extra = {}
    batches = iter(loader)   # one iterator (InfiniteSampler: see analysis)
    if case.get('compiled'):
        data = next(batches)
        extra['compile_s'] = time_call(partial(step, data), device)
    result = measure_train(step, batches, case['batch'], device, args.steps,
                           args.warmup)
    result.update(case, crop=list(case['crop']), **extra,
                  amp='bfloat16' if case['amp'] else 'float32',
                  num_workers=loader.num_workers)
    if macs:
        step_s = result['latency_ms_mean'] / 1000
        step_macs = analysis.train_step_macs(macs, case['batch'])
        result['forward_gmacs'] = macs / 1e9
        result['model_tflops'] = 2 * step_macs / step_s / 1e12
        if peak is not None:
            result['share_of_peak'] = result['model_tflops'] / peak['tflops']
    del step, model, loader, batches
    if device.type == 'cuda':
        torch.cuda.empty_cache()
    return result


def infer_runs(args, device, matmul: dict) -> list:
    """The inference rows of :func:`infer_plan` on Swin-T NYUDv2 (the
    compiled bf16 model as a row of its own)."""
    shape = tuple(args.dry_crop) if args.dry_run else (448, 576)
    batch = 1 if args.dry_run else 8
    peaks = {name: dict(p, emulated=False) for name, p in matmul.items()}
    rows = []
    for run in infer_plan(args):
        base = dict(name='Swin-T NYUDv2', route=run['route'], batch=batch,
                    shape=list(shape))
        try:
            r = analysis.run_benchmark(
                args.nyud_config, mode='predict', device=device,
                shape=shape, batch_size=batch, repeat=args.steps,
                warmup=args.warmup, peaks=peaks, **run['options'])
        except Exception as e:  # report the failure, go on with the rest
            rows.append(dict(base, error=f'{type(e).__name__}: {e}'))
            continue
        rows.append(dict(base, **_infer_figures(r)))
        if 'compiled' in r:
            rows.append(dict(base, route=run['route'] + ' compiled',
                             **_infer_figures(r['compiled'])))
    return rows


def _infer_figures(r: dict) -> dict:
    keys = ('images_per_s', 'latency_ms_mean', 'peak_memory_mib',
            'gmacs_per_s', 'share_of_peak', 'compile_s')
    return {k: r[k] for k in keys if k in r}


def fusion_sweep(args, device) -> dict:
    out_dir = osp.join(args.out_dir, 'complexity')
    cmd = [sys.executable, osp.join(HERE, 'complexity.py'), '--device',
           device.type, '--out-dir', osp.abspath(out_dir)]
    if args.dry_run:
        cmd += ['--sizes', '32x32', '64x64', '--repeats', '1']
    start = time.time()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if proc.returncode != 0:
        return dict(ok=False, command=' '.join(cmd[1:]),
                    error=proc.stderr[-2000:])
    table = osp.join(out_dir, 'complexity.md')
    text = open(table).read() if osp.exists(table) else proc.stdout
    return dict(ok=True, command=' '.join(cmd[1:]), table=text,
                seconds=time.time() - start)


def ddp_run(args, nproc: int) -> dict:
    """The first training case in DDP over ``nproc`` processes."""
    out = osp.join(args.out_dir, 'ddp.json')
    cmd = [sys.executable, '-m', 'torch.distributed.run',
           f'--nproc_per_node={nproc}', '--master_port=29533',
           osp.abspath(__file__), '--ddp-worker', '--out-dir', args.out_dir,
           '--data-root', args.data_root, '--steps', str(args.steps),
           '--warmup', str(args.warmup), '--images', str(args.images),
           '--nyud-config', args.nyud_config]
    if args.workers is not None:
        cmd += ['--workers', str(args.workers)]
    if args.dry_run:
        cmd += ['--dry-run', '--dry-crop', *map(str, args.dry_crop)]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if proc.returncode != 0 or not osp.exists(out):
        return dict(ok=False, error=(proc.stdout + proc.stderr)[-3000:])
    with open(out) as f:
        return dict(ok=True, **json.load(f))


def ddp_worker(args):
    """Entry point of each DDP process (started by ``ddp_run``)."""
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP
    local_rank = int(os.environ['LOCAL_RANK'])
    use_cuda = torch.cuda.is_available() and not args.dry_run
    if use_cuda:
        torch.cuda.set_device(local_rank)
        device = torch.device('cuda', local_rank)
    else:
        device = torch.device('cpu')
    dist.init_process_group('nccl' if use_cuda else 'gloo')
    case = plan(args)[1]                          # Swin-T NYUDv2, bf16
    wrap = (lambda m: DDP(m, device_ids=[local_rank])) if use_cuda else DDP
    result = train_case(case, device, args, None, None, wrap)
    world = dist.get_world_size()
    if dist.get_rank() == 0:
        result.update(world_size=world,
                      images_per_s_total=world * result['images_per_s'])
        with open(osp.join(args.out_dir, 'ddp.json'), 'w') as f:
            json.dump(result, f, indent=2)
    dist.destroy_process_group()


# --------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------
def precision(r: dict) -> str:
    return r['amp'] + (' compiled' if r.get('compiled') else '')


def markdown(report: dict) -> str:
    env, peaks = report['environment'], report['matmul']
    v = env['versions']
    lines = [
        f"### GPU check ({report['date']})", '',
        f"`{report['command']}`", '',
        f"Device: {', '.join(env['devices'])}; "
        + ', '.join(f'{k} {val}' for k, val in v.items() if val) + '.', '',
        'Matmul peaks, measured (' + ', '.join(
            f"{p['n']}x{p['n']} {name}: {p['tflops']:.1f} TFLOP/s"
            for name, p in peaks.items()) + ').', '']
    if report['dry_run']:
        lines += ['**Dry run on the CPU at tiny sizes: these figures check '
                  'the script and measure nothing.**', '']
    rows = []
    for r in report['train']:
        if 'error' in r:
            rows.append([r['name'], r['batch'], '-', precision(r),
                         'failed: ' + r['error'].splitlines()[-1]] +
                        ['-'] * 6)
            continue
        share = r.get('share_of_peak')
        rows.append([
            r['name'], r['batch'], f"{r['crop'][0]}x{r['crop'][1]}",
            precision(r), f"{r['images_per_s']:.2f}",
            f"{r['latency_ms_mean']:.0f}",
            f"{100 * r['data_wait_fraction']:.1f}%",
            f"{r['peak_memory_mib'] / 1024:.2f}", f"{r['model_tflops']:.1f}",
            '-' if share is None else f'{100 * share:.1f}%',
            f"{r['compile_s']:.0f}" if 'compile_s' in r else '-'])
    lines += [markdown_table(
        ['model', 'batch', 'crop', 'precision', 'images/s', 'step (ms)',
         'data wait', 'peak memory (GiB)', 'model TFLOP/s',
         'of its matmul peak', 'compile (s)'], rows)]
    lines += ['', 'Model FLOPs per step: 2 x 3 x forward multiply-adds x '
              'batch (backward = 2 forwards); the share is of the matmul '
              'peak of the precision (bf16 for autocast).', '']
    rows = []
    for r in report.get('infer', []):
        if 'error' in r:
            rows.append([r['name'], r['batch'], '-', r['route'],
                         'failed: ' + r['error'].splitlines()[-1]] +
                        ['-'] * 5)
            continue
        share = r.get('share_of_peak')
        rows.append([
            r['name'], r['batch'], f"{r['shape'][0]}x{r['shape'][1]}",
            r['route'], f"{r['images_per_s']:.2f}",
            f"{r['latency_ms_mean']:.1f}",
            f"{r['peak_memory_mib'] / 1024:.2f}",
            f"{2 * r['gmacs_per_s'] / 1000:.1f}",
            '-' if share is None else f'{100 * share:.1f}%',
            f"{r['compile_s']:.0f}" if 'compile_s' in r else '-'])
    if rows:
        lines += ['Inference (`predict`, one batch of random images):', '',
                  markdown_table(
                      ['model', 'batch', 'input', 'route', 'images/s',
                       'latency (ms)', 'peak memory (GiB)', 'model TFLOP/s',
                       'of its matmul peak', 'compile (s)'], rows), '']
    ddp = report.get('ddp')
    if ddp is None:
        lines += ['DDP: one device, not run.', '']
    elif ddp.get('ok'):
        lines += [f"DDP over {ddp['world_size']} processes (Swin-T NYUDv2, "
                  f"batch {ddp['batch']} each, {ddp['amp']}): "
                  f"{ddp['images_per_s_total']:.2f} images/s in total.", '']
    else:
        lines += ['DDP failed: `' + ddp['error'].splitlines()[-1] + '`', '']
    sweep = report['sweep']
    lines += [f"Fusion sweep (`{sweep['command']}`):", '']
    lines += [sweep['table'].strip() if sweep['ok'] else
              'failed: `' + sweep['error'].strip().splitlines()[-1] + '`']
    lines += ['', f"Total time: {report['seconds']:.0f} s."]
    return '\n'.join(lines) + '\n'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--dry-run', action='store_true',
                        help='CPU, tiny sizes: check the script end to end')
    parser.add_argument('--out-dir', default='work_dirs/gpu_check')
    parser.add_argument('--data-root', default=None,
                        help='synthetic data (default: <out-dir>/data)')
    parser.add_argument('--nyud-config',
                        default='configs/mtlsi/swin-t_nyud.py')
    parser.add_argument('--pascal-config',
                        default='configs/mtlsi/swin-l_pascal.py')
    parser.add_argument('--steps', type=int, default=None,
                        help='timed steps per case (default 10; dry run 1)')
    parser.add_argument('--warmup', type=int, default=None,
                        help='untimed steps first (default 3; dry run 0)')
    parser.add_argument('--images', type=int, default=None,
                        help='synthetic training images (default 64; '
                        'dry run 4)')
    parser.add_argument('--workers', type=int, default=None,
                        help='dataloader workers (default: the config\'s)')
    parser.add_argument('--skip', nargs='*', default=[],
                        choices=['train', 'infer', 'sweep', 'ddp'])
    parser.add_argument('--ddp-procs', type=int, default=None,
                        help='DDP processes (default: the GPU count; dry '
                        'run 2)')
    parser.add_argument('--dry-crop', type=int, nargs=2, default=[224, 224],
                        metavar=('H', 'W'),
                        help='dry run: crop size (Swin needs >= 224)')
    parser.add_argument('--no-compile', dest='compile',
                        action='store_false',
                        help='leave out the compiled training step')
    parser.add_argument('--compile-backend', default=None,
                        help='torch.compile backend (default inductor; dry '
                        'run eager: it checks the wiring, not the compiler)')
    parser.add_argument('--ddp-worker', action='store_true',
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    dry = args.dry_run
    if args.steps is None:
        args.steps = 1 if dry else 10
    if args.warmup is None:
        args.warmup = 0 if dry else 3
    if args.images is None:
        args.images = 4 if dry else 64
    if args.compile_backend is None:
        args.compile_backend = 'eager' if dry else 'inductor'
    if args.workers is None and dry:
        args.workers = 0
    args.out_dir = osp.abspath(args.out_dir)
    if args.data_root is None:
        args.data_root = osp.join(args.out_dir, 'data')
    for key in ('nyud_config', 'pascal_config'):  # relative to the repo
        path = getattr(args, key)
        if not osp.isfile(path) and osp.isfile(osp.join(REPO, path)):
            path = osp.join(REPO, path)
        setattr(args, key, osp.abspath(path))
    return args


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.out_dir, exist_ok=True)
    if args.ddp_worker:
        return ddp_worker(args)
    started = time.time()
    if args.dry_run:
        device = torch.device('cpu')
    elif not torch.cuda.is_available():
        raise SystemExit('no CUDA device: run with --dry-run to check the '
                         'script on the CPU')
    else:
        device = torch.device('cuda')
        torch.backends.cudnn.benchmark = True
    command = ' '.join(['python', '.dev_scripts/gpu_check.py',
                        *(sys.argv[1:] if argv is None else argv)])
    report = dict(command=command, dry_run=args.dry_run,
                  date=time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()),
                  environment=environment(device))
    report['matmul'] = peaks(device, 256 if args.dry_run else 8192)
    for name, p in report['matmul'].items():
        print(f"{name} matmul: {p['tflops']:.2f} TFLOP/s", flush=True)
    report['train'] = []
    if 'train' not in args.skip:
        macs = {}
        for case in plan(args):
            key = (case['config'], case['crop'])
            try:
                if key not in macs:
                    macs[key] = forward_macs(case['config'], case['crop'],
                                             device)
                peak = report['matmul'][
                    'bfloat16' if case['amp'] else 'float32']
                r = train_case(case, device, args, macs[key], peak)
            except Exception as e:  # report the failure, go on with the rest
                r = dict(case, amp='bfloat16' if case['amp'] else 'float32',
                         error=f'{type(e).__name__}: {e}')
            report['train'].append(r)
            print(json.dumps({k: v for k, v in r.items()
                              if not isinstance(v, dict)}), flush=True)
    report['infer'] = []
    if 'infer' not in args.skip:
        report['infer'] = infer_runs(args, device, report['matmul'])
        for r in report['infer']:
            print(json.dumps(r), flush=True)
    nproc = args.ddp_procs or (2 if args.dry_run else
                               torch.cuda.device_count())
    report['ddp'] = (ddp_run(args, nproc) if nproc > 1 and
                     'ddp' not in args.skip else None)
    report['sweep'] = (fusion_sweep(args, device) if 'sweep' not in args.skip
                       else dict(ok=False, command='-', error='skipped'))
    report['seconds'] = time.time() - started
    with open(osp.join(args.out_dir, 'gpu_check.json'), 'w') as f:
        json.dump(report, f, indent=2, default=str)
    text = markdown(report)
    with open(osp.join(args.out_dir, 'gpu_check.md'), 'w') as f:
        f.write(text)
    print(text)
    print(f"written: {osp.join(args.out_dir, 'gpu_check.md')} and "
          'gpu_check.json')
    failed = [r for r in report['train'] + report['infer'] if 'error' in r]
    if failed or (report['ddp'] and not report['ddp'].get('ok')) or (
            'sweep' not in args.skip and not report['sweep']['ok']):
        raise SystemExit('some steps failed (see the table)')
    return report


if __name__ == '__main__':
    main()
