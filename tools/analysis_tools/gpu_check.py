"""GPU check: training throughput, memory and FLOP utilisation of the paper
models, the fusion sweep, and multi-GPU DDP, in one run, written as a
Markdown fragment for docs/results.md.

    bash tools/analysis_tools/gpu_check.sh            # on a GPU machine
    python tools/analysis_tools/gpu_check.py --dry-run --out-dir DIR  # CPU

Steps (all data synthetic, generated on the machine):

1. bf16 matmul peak: the best of several timed (N x N) @ (N x N) bfloat16
   products (N = 8192), in TFLOP/s (2 N^3 per product).
2. Training steps with the configs' own training pipeline on synthetic data
   at full image size (``benchmark.py --mode train``): Swin-T NYUDv2, batch
   8, 448x576, float32 and bfloat16 autocast; Swin-L PASCAL-Context, batch 4,
   512x512, bfloat16 autocast and float32. Per case: images/s, step time,
   data wait, peak memory, and model FLOP/s as a fraction of the measured
   bf16 matmul peak. Model FLOPs per step = 3 x 2 x (forward multiply-adds
   of one image, ``mmtlsi.utils.count_flops``) x batch: backward counted as
   twice the forward, the usual convention.
3. The fusion sweep, ``tools/analysis_tools/complexity.py`` on the GPU at
   its full sizes (inputs 112x144 to 896x1152): times, fitted exponent and
   the linear / quadratic ratio at 448x576.
4. With more than one GPU: the Swin-T NYUDv2 case in DDP over all of them
   (``torch.distributed.run``), images/s summed over the GPUs.

``--dry-run`` runs every step on the CPU at tiny sizes (224x224 crops or
``--dry-crop``,
batch 2 / 1, one timed step, a 512 matmul, a small sweep, DDP over 2 CPU
processes with gloo), to check the script end to end without a GPU; its
figures mean nothing.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import os.path as osp
import platform
import subprocess
import sys
import time

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO)

import torch  # noqa: E402

HERE = osp.dirname(osp.abspath(__file__))


def load_benchmark():
    spec = importlib.util.spec_from_file_location(
        '_mtlsi_benchmark', osp.join(HERE, 'benchmark.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
    for amp in (False, True):
        cases.append(dict(name='Swin-T NYUDv2', config=args.nyud_config,
                          batch=b_n, crop=crop_n, amp=amp))
    for amp in (True, False):
        cases.append(dict(name='Swin-L PASCAL-Context',
                          config=args.pascal_config, batch=b_p, crop=crop_p,
                          amp=amp))
    return cases


# --------------------------------------------------------------------------
# measurements
# --------------------------------------------------------------------------
def matmul_peak(device, n: int, repeats: int = 10) -> dict:
    """Best TFLOP/s of a bfloat16 (n x n) @ (n x n) product on ``device``."""
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    best = float('inf')
    for _ in range(repeats):
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        for _ in range(10):
            a @ b
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
        best = min(best, (time.perf_counter() - start) / 10)
    return dict(n=n, seconds=best, tflops=2 * n**3 / best / 1e12)


def forward_macs(bench, config, crop, device) -> float:
    """Multiply-adds of one image's ``tensor``-mode forward at ``crop``."""
    from mmengine.config import Config

    from mmtlsi.utils import count_flops
    cfg = Config.fromfile(config)
    model = bench.build_model(cfg, None, device)
    macs = count_flops(model, tuple(crop))['total']
    del model
    return macs


def train_case(bench, case, device, args, macs: float | None,
               peak_tflops: float, wrapper_fn=None) -> dict:
    """One training case through ``benchmark.py``'s train mode."""
    from mmengine.config import Config
    cfg = Config.fromfile(case['config'])
    bench.set_crop_size(cfg, case['crop'])
    model = bench.build_model(cfg, None, device)
    data_size = (240, 320) if args.dry_run else None
    dataset = bench.synthetic_train_dataset(cfg, args.data_root, data_size,
                                            num_images=args.images)
    loader = bench.build_train_loader(cfg, dataset, case['batch'],
                                      args.workers)
    wrapper = wrapper_fn(model) if wrapper_fn else None
    step = bench.make_train_step(model, cfg, device, case['amp'],
                                 torch.bfloat16, wrapper=wrapper)
    result = bench.measure_train(step, loader, case['batch'], device,
                                 args.steps, args.warmup)
    result.update(case, crop=list(case['crop']),
                  amp='bfloat16' if case['amp'] else 'float32',
                  num_workers=loader.num_workers)
    if macs:
        flops_per_step = 3 * 2 * macs * case['batch']
        result['forward_gmacs'] = macs / 1e9
        result['model_tflops'] = (flops_per_step / 1e12 /
                                  (result['latency_ms_mean'] / 1000))
        result['fraction_of_bf16_peak'] = result['model_tflops'] / \
            peak_tflops
    del step, model, loader
    if device.type == 'cuda':
        torch.cuda.empty_cache()
    return result


def fusion_sweep(args, device) -> dict:
    out_dir = osp.join(args.out_dir, 'complexity')
    cmd = [sys.executable, osp.join(HERE, 'complexity.py'), '--device',
           device.type, '--out-dir', out_dir]
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
    bench = load_benchmark()
    case = plan(args)[1]                          # Swin-T NYUDv2, bf16
    wrap = (lambda m: DDP(m, device_ids=[local_rank])) if use_cuda else DDP
    result = train_case(bench, case, device, args, None, 1.0, wrap)
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
def environment(device) -> dict:
    import mmengine
    versions = dict(python=platform.python_version(), torch=torch.__version__,
                    cuda=torch.version.cuda, mmengine=mmengine.__version__)
    for name in ('mmcv', 'mmseg', 'mmpretrain'):
        try:
            versions[name] = __import__(name).__version__
        except ImportError:
            versions[name] = None
    if device.type == 'cuda':
        names = [torch.cuda.get_device_name(i)
                 for i in range(torch.cuda.device_count())]
    else:
        names = [f'CPU ({os.cpu_count()} cores)']
    return dict(devices=names, versions=versions)


def markdown(report: dict) -> str:
    env, peak = report['environment'], report['matmul']
    v = env['versions']
    lines = [
        f"### GPU check ({report['date']})", '',
        f"`{report['command']}`", '',
        f"Device: {', '.join(env['devices'])}; "
        + ', '.join(f'{k} {val}' for k, val in v.items() if val) + '.', '',
        f"bf16 matmul peak, measured ({peak['n']}x{peak['n']} products): "
        f"{peak['tflops']:.1f} TFLOP/s.", '']
    if report['dry_run']:
        lines += ['**Dry run on the CPU at tiny sizes: these figures check '
                  'the script and measure nothing.**', '']
    lines += ['| model | batch | crop | precision | images/s | step (ms) | '
              'data wait | peak memory (GiB) | model TFLOP/s | of bf16 peak |',
              '|---|---|---|---|---|---|---|---|---|---|']
    for r in report['train']:
        if 'error' in r:
            lines.append(f"| {r['name']} | {r['batch']} | - | {r['amp']} | "
                         f"failed: {r['error'].splitlines()[-1]} |")
            continue
        lines.append(
            f"| {r['name']} | {r['batch']} | {r['crop'][0]}x{r['crop'][1]} "
            f"| {r['amp']} | {r['images_per_s']:.2f} | "
            f"{r['latency_ms_mean']:.0f} | "
            f"{100 * r['data_wait_fraction']:.1f}% | "
            f"{r['peak_memory_mib'] / 1024:.2f} | {r['model_tflops']:.1f} | "
            f"{100 * r['fraction_of_bf16_peak']:.1f}% |")
    lines += ['', 'Model FLOPs per step: 3 x 2 x forward multiply-adds x '
              'batch (backward = 2 forwards).', '']
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
                        help='untimed steps first (default 3; dry run 1)')
    parser.add_argument('--images', type=int, default=None,
                        help='synthetic training images (default 64; '
                        'dry run 4)')
    parser.add_argument('--workers', type=int, default=None,
                        help='dataloader workers (default: the config\'s)')
    parser.add_argument('--skip', nargs='*', default=[],
                        choices=['train', 'sweep', 'ddp'])
    parser.add_argument('--ddp-procs', type=int, default=None,
                        help='DDP processes (default: the GPU count; dry '
                        'run 2)')
    parser.add_argument('--dry-crop', type=int, nargs=2, default=[224, 224],
                        metavar=('H', 'W'),
                        help='dry run: crop size (Swin needs >= 224)')
    parser.add_argument('--ddp-worker', action='store_true',
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    dry = args.dry_run
    if args.steps is None:
        args.steps = 1 if dry else 10
    if args.warmup is None:
        args.warmup = 1 if dry else 3
    if args.images is None:
        args.images = 4 if dry else 64
    if args.workers is None and dry:
        args.workers = 0
    if args.data_root is None:
        args.data_root = osp.join(args.out_dir, 'data')
    return args


def main(argv=None):
    args = parse_args(argv)
    os.chdir(REPO)
    os.makedirs(args.out_dir, exist_ok=True)
    import mmtlsi  # noqa: F401
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
    bench = load_benchmark()
    command = ' '.join(['python', 'tools/analysis_tools/gpu_check.py',
                        *(sys.argv[1:] if argv is None else argv)])
    report = dict(command=command, dry_run=args.dry_run,
                  date=time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()),
                  environment=environment(device))
    report['matmul'] = matmul_peak(device, 512 if args.dry_run else 8192)
    print(f"bf16 matmul: {report['matmul']['tflops']:.2f} TFLOP/s",
          flush=True)
    report['train'] = []
    if 'train' not in args.skip:
        macs = {}
        for case in plan(args):
            key = (case['config'], case['crop'])
            try:
                if key not in macs:
                    macs[key] = forward_macs(bench, case['config'],
                                             case['crop'], device)
                r = train_case(bench, case, device, args, macs[key],
                               report['matmul']['tflops'])
            except Exception as e:  # report the failure, go on with the rest
                r = dict(case, amp='bfloat16' if case['amp'] else 'float32',
                         error=f'{type(e).__name__}: {e}')
            report['train'].append(r)
            print(json.dumps({k: v for k, v in r.items()
                              if not isinstance(v, dict)}), flush=True)
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
    failed = [r for r in report['train'] if 'error' in r]
    if failed or (report['ddp'] and not report['ddp'].get('ok')) or (
            'sweep' not in args.skip and not report['sweep']['ok']):
        raise SystemExit('some steps failed (see the table)')
    return report


if __name__ == '__main__':
    main()
