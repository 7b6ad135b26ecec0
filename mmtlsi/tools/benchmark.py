"""Inference or training speed and peak memory of a config's model, also as
a share of the machine's matmul peak measured in the same process.

``python -m mmtlsi.tools.benchmark CONFIG [CHECKPOINT]
[--mode predict|train|data] [--device cpu|cuda] [--amp | --compare-amp]
[--amp-dtype bfloat16|float16] [--dtype fp32|bf16|auto]
[--compile [BACKEND]] [--profile] [--shape H W]
[--batch-size N] [--crop-size H W] [--data-size H W] [--num-workers N]
[--repeat N] [--warmup N] [--timer wall|cpu] [--peak-size N] [--out JSON]``

``predict`` times ``predict`` on a fixed batch of random images;
``train`` times whole training steps (data, forward, losses, backward,
optimizer) on the config's own pipeline over synthetic data of the real
dataset's layout; ``data`` times that dataloader alone. The fp32 and bf16
matmul peaks (n x n products) are measured first; every result is also
given as GMAC/s (the ``tensor``-mode forward's multiply-adds; a training
step counts three forwards) and as a share of the peak of its precision.
``--dtype fp32|bf16|auto`` (predict) times the model as
``optimize_for_inference`` leaves it: BN folded, weights and computation in
that dtype. ``--compare-amp`` measures fp32 and autocast (in predict mode
also bf16 weights), each in its own process; on a CPU without native bf16
the bf16 runs are left out (PyTorch would emulate them) unless
``--allow-emulated-bf16``. ``--compile [BACKEND]`` also measures the network
compiled as a run's ``compile`` switch does, and reports the compile time.
``--profile`` shows where the time goes: each kind of operator's self CPU
time and the bytes it writes per dtype, in one more profiled call.
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import tempfile

import torch

from mmtlsi.apis.analysis import format_benchmark, machine_peaks, run_benchmark
from mmtlsi.models.optimize import cpu_native_bf16
from mmtlsi.utils.allocator import retain_freed_memory
from mmtlsi.utils.benchmark import add_timer_arg, bf16_is_native


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint', nargs='?', default=None,
                        help='default: random weights')
    parser.add_argument('--mode', choices=['predict', 'train', 'data'],
                        default='predict')
    parser.add_argument('--device', default='cpu')
    amp = parser.add_mutually_exclusive_group()
    amp.add_argument('--amp', action='store_true', help='autocast')
    amp.add_argument('--compare-amp', action='store_true',
                     help='fp32 and autocast (predict: and bf16 weights), '
                     'each in its own process')
    amp.add_argument('--dtype', choices=['fp32', 'bf16', 'auto'],
                     help='predict: BN folded, weights and computation in '
                     'this dtype (optimize_for_inference)')
    parser.add_argument('--amp-dtype', choices=['bfloat16', 'float16'],
                        help='default: float16 on CUDA, bfloat16 on CPU')
    parser.add_argument('--allow-emulated-bf16', action='store_true',
                        help='measure bf16 on a CPU without native bf16')
    parser.add_argument('--compile', nargs='?', const='inductor',
                        metavar='BACKEND', help='also measure the '
                        'network compiled (compile_network; backend: '
                        'inductor)')
    parser.add_argument('--profile', action='store_true',
                        help='one more call profiled: time and bytes per '
                        'kind of operator (matmul, norm, softmax, ...)')
    parser.add_argument('--shape', type=int, nargs=2, default=[480, 640],
                        metavar=('H', 'W'), help='predict: input size')
    parser.add_argument('--batch-size', type=int,
                        help="default: 1 (predict), the config's (train)")
    parser.add_argument('--num-workers', type=int,
                        help="train: dataloader workers (the config's)")
    parser.add_argument('--crop-size', type=int, nargs=2, metavar=('H', 'W'),
                        help="train: crop size (the config's)")
    parser.add_argument('--data-size', type=int, nargs=2, metavar=('H', 'W'),
                        help="train: synthetic image size (the dataset's)")
    parser.add_argument('--data-root', default='work_dirs/benchmark_data')
    parser.add_argument('--repeat', type=int,
                        help='timed batches (default 20 predict, 5 train)')
    parser.add_argument('--warmup', type=int,
                        help='untimed batches first (3 predict, 1 train)')
    add_timer_arg(parser)
    parser.add_argument('--peak-size', type=int,
                        help='matmul peak n (default 2048 CPU, 8192 CUDA)')
    parser.add_argument('--out', help='JSON file to write')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)
    if args.dtype and args.mode != 'predict':
        parser.error('--dtype is an inference rewrite: --mode predict')
    train = args.mode != 'predict'
    args.repeat = args.repeat or (5 if train else 20)
    args.warmup = (1 if train else 3) if args.warmup is None else args.warmup
    return args


def measure_one(args, amp: bool, weights_dtype=None) -> dict:
    dtype = getattr(torch, args.amp_dtype) if args.amp_dtype else None
    if amp and args.mode == 'data':
        raise SystemExit('--amp has no meaning with --mode data')
    weights_dtype = weights_dtype or args.dtype
    dtypes = [torch.float32, torch.bfloat16] + (
        [torch.float16] if dtype == torch.float16 else [])
    peaks = machine_peaks(args.device, args.peak_size, dtypes, args.timer)
    return run_benchmark(
        args.config, args.checkpoint, mode=args.mode, device=args.device,
        amp=amp, amp_dtype=dtype, weights_dtype=weights_dtype,
        compile=args.compile, shape=args.shape,
        batch_size=args.batch_size, crop_size=args.crop_size,
        data_size=args.data_size, data_root=args.data_root,
        num_workers=args.num_workers, repeat=args.repeat,
        warmup=args.warmup, timer=args.timer, cfg_options=args.cfg_options,
        peaks=peaks, macs=args.mode != 'data', profile=args.profile)


def in_subprocess(argv, extra=()) -> dict:
    """:func:`measure_one` in a fresh process (its own peak memory), with
    the options ``extra`` added."""
    with tempfile.TemporaryDirectory() as tmp:
        out = osp.join(tmp, 'result.json')
        cmd = [sys.executable, '-m', 'mmtlsi.tools.benchmark', *argv,
               '--out', out, *extra]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        with open(out) as f:
            return json.load(f)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    try:
        retain_freed_memory()
    except ValueError as e:
        raise SystemExit(f'error: {e}') from None
    if args.device.startswith('cuda') and not torch.cuda.is_available():
        raise SystemExit('CUDA is not available; use --device cpu')
    wants_bf16 = (args.amp or args.compare_amp or args.dtype == 'bf16') \
        and args.amp_dtype in (None, 'bfloat16') \
        and not args.device.startswith('cuda')
    if wants_bf16 and not bf16_is_native('cpu') and \
            not args.allow_emulated_bf16:
        print(f'{cpu_native_bf16()[1]}: measuring fp32 only '
              f'(--allow-emulated-bf16 measures bf16 anyway).')
        args.amp = args.compare_amp = False
        if args.dtype == 'bf16':
            args.dtype = 'fp32'
    if args.compare_amp:
        child = [a for a in argv if a != '--compare-amp']
        if '--out' in child:
            i = child.index('--out')
            del child[i:i + 2]
        variants = [(), ('--amp', )] + (
            [('--dtype', 'bf16')] if args.mode == 'predict' else [])
        runs = [in_subprocess(child, v) for v in variants]
        result = dict(runs=runs, speedups={
            r['route']: r['images_per_s'] / runs[0]['images_per_s']
            for r in runs[1:]})
    else:
        runs = [measure_one(args, args.amp)]
        result = runs[0]
    for r in runs:
        print(format_benchmark(r))
        if r.get('dtype_reason'):
            print(f"dtype: {r['dtype_reason']}")
    for route, speedup in result.get('speedups', {}).items():
        print(f'{route} / fp32 images/s: {speedup:.2f}x (each in its own '
              f'process)')
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=2)
        print(f'results written to {args.out}')
    return result


if __name__ == '__main__':
    main()
