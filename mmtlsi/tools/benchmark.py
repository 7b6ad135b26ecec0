"""Inference or training speed and peak memory of a config's model, also as
a share of the machine's matmul peak measured in the same process.

``python -m mmtlsi.tools.benchmark CONFIG [CHECKPOINT]
[--mode predict|train|data] [--device cpu|cuda] [--amp | --compare-amp]
[--amp-dtype bfloat16|float16] [--compile [BACKEND]] [--shape H W]
[--batch-size N] [--crop-size H W] [--data-size H W] [--num-workers N]
[--repeat N] [--warmup N] [--timer wall|cpu] [--peak-size N] [--out JSON]``

``predict`` times ``predict`` on a fixed batch of random images;
``train`` times whole training steps (data, forward, losses, backward,
optimizer) on the config's own pipeline over synthetic data of the real
dataset's layout; ``data`` times that dataloader alone. The fp32 and bf16
matmul peaks (n x n products) are measured first; every result is also
given as GMAC/s (the ``tensor``-mode forward's multiply-adds; a training
step counts three forwards) and as a share of the peak of its precision.
``--compare-amp`` measures fp32 and autocast, each in its own process;
on a CPU without native bf16 the bf16 run is left out (PyTorch would
emulate it) unless ``--allow-emulated-bf16``. ``--compile [BACKEND]`` also
measures ``torch.compile(model)`` and reports the compile time.
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
                     help='fp32 and autocast, each in its own process')
    parser.add_argument('--amp-dtype', choices=['bfloat16', 'float16'],
                        help='default: float16 on CUDA, bfloat16 on CPU')
    parser.add_argument('--allow-emulated-bf16', action='store_true',
                        help='measure bf16 on a CPU without native bf16')
    parser.add_argument('--compile', nargs='?', const='inductor',
                        metavar='BACKEND', help='also measure '
                        'torch.compile(model) (backend: inductor)')
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
    train = args.mode != 'predict'
    args.repeat = args.repeat or (5 if train else 20)
    args.warmup = (1 if train else 3) if args.warmup is None else args.warmup
    return args


def measure_one(args, amp: bool) -> dict:
    dtype = getattr(torch, args.amp_dtype) if args.amp_dtype else None
    if amp and args.mode == 'data':
        raise SystemExit('--amp has no meaning with --mode data')
    dtypes = [torch.float32, torch.bfloat16] + (
        [torch.float16] if dtype == torch.float16 else [])
    peaks = machine_peaks(args.device, args.peak_size, dtypes, args.timer)
    return run_benchmark(
        args.config, args.checkpoint, mode=args.mode, device=args.device,
        amp=amp, amp_dtype=dtype, compile=args.compile, shape=args.shape,
        batch_size=args.batch_size, crop_size=args.crop_size,
        data_size=args.data_size, data_root=args.data_root,
        num_workers=args.num_workers, repeat=args.repeat,
        warmup=args.warmup, timer=args.timer, cfg_options=args.cfg_options,
        peaks=peaks, macs=args.mode != 'data')


def in_subprocess(argv, amp: bool) -> dict:
    """:func:`measure_one` in a fresh process (its own peak memory)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = osp.join(tmp, 'result.json')
        cmd = [sys.executable, '-m', 'mmtlsi.tools.benchmark', *argv,
               '--out', out] + (['--amp'] if amp else [])
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        with open(out) as f:
            return json.load(f)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.device.startswith('cuda') and not torch.cuda.is_available():
        raise SystemExit('CUDA is not available; use --device cpu')
    wants_bf16 = (args.amp or args.compare_amp) and args.amp_dtype in (
        None, 'bfloat16') and not args.device.startswith('cuda')
    if wants_bf16 and not bf16_is_native('cpu') and \
            not args.allow_emulated_bf16:
        print('This CPU has no native bfloat16 (no avx512_bf16 / amx_bf16 '
              '/ avx_ne_convert): bf16 would be emulated; measuring fp32 '
              'only (--allow-emulated-bf16 measures it anyway).')
        args.amp = args.compare_amp = False
    if args.compare_amp:
        child = [a for a in argv if a != '--compare-amp']
        if '--out' in child:
            i = child.index('--out')
            del child[i:i + 2]
        runs = [in_subprocess(child, False), in_subprocess(child, True)]
        result = dict(runs=runs, amp_speedup=runs[1]['images_per_s'] /
                      runs[0]['images_per_s'])
    else:
        runs = [measure_one(args, args.amp)]
        result = runs[0]
    for r in runs:
        print(format_benchmark(r))
    if args.compare_amp:
        print(f"{runs[1]['precision']} autocast / float32 images/s: "
              f"{result['amp_speedup']:.2f}x (each in its own process)")
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=2)
        print(f'results written to {args.out}')
    return result


if __name__ == '__main__':
    main()
