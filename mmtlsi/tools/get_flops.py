"""Parameters and FLOPs of a config's model, backbone and head separately.

``python -m mmtlsi.tools.get_flops CONFIG [--shape H W]
[--cfg-options KEY=VALUE ...] [--no-flops] [--parts] [--time] [--repeats N]
[--timer wall|cpu] [--fuse-bn] [--channels-last]``

FLOPs are multiply-adds (fvcore / mmengine convention) of one forward of a
(1, 3, H, W) input; ``--shape`` defaults to the config's ``crop_size``. The
model is built without pretrained weights. ``--parts`` also lists the head's
parts (preliminary decoders, F_t projections, fusion, distillers, CWIBs,
output decoders). ``--time`` times the forward: the median of ``--repeats``
runs after a warm-up; with ``--parts`` each part is timed in the same runs
(forward hooks) and its GMAC/s printed next to the backbone's. ``--timer
cpu``: this process's CPU time (use one thread, ``OMP_NUM_THREADS=1``, on a
shared machine). ``--fuse-bn`` and ``--channels-last`` apply
:func:`mmtlsi.models.optimize_for_inference` first.
"""
import argparse
import statistics
from collections import defaultdict

import torch

from mmtlsi.apis.analysis import build_model_for_analysis, load_config
from mmtlsi.utils import count_flops, count_parameters
from mmtlsi.utils.benchmark import (
    PartTimer,
    add_timer_arg,
    get_clock,
    time_call,
)
from mmtlsi.utils.complexity import model_parts


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'))
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    parser.add_argument('--no-flops', action='store_true',
                        help='parameters only (fast)')
    parser.add_argument('--parts', action='store_true',
                        help='also per part of the head')
    parser.add_argument('--time', action='store_true',
                        help='also time the forward on this machine')
    parser.add_argument('--repeats', type=int, default=1)
    add_timer_arg(parser)
    parser.add_argument('--fuse-bn', action='store_true',
                        help='fold BatchNorm into the convs first')
    parser.add_argument('--channels-last', action='store_true',
                        help='channels-last memory format')
    return parser.parse_args(argv)


def count(model, shape, parts: dict, flops: bool) -> tuple:
    """(parameters, FLOPs or None) per row: total, backbone, head, parts."""
    params = count_parameters(model)
    for name, modules in parts.items():
        if name != 'backbone':
            params[name] = sum(p.numel() for m in modules
                               for p in m.parameters())
    return params, (count_flops(model, shape, parts=bool(parts))
                    if flops else None)


def time_forward(model, shape, parts: dict, repeats: int, clock):
    """Median forward seconds and, per part, median seconds inside it."""
    timer = PartTimer(parts, clock)
    x = torch.randn(1, 3, *shape)
    totals, per_part = [], defaultdict(list)
    with torch.no_grad():
        model(x, mode='tensor')                              # warm-up
        for _ in range(repeats):
            timer.reset()
            totals.append(time_call(lambda: model(x, mode='tensor'),
                                    clock=clock))
            for name, sec in timer.seconds.items():
                per_part[name].append(sec)
    timer.remove()
    return statistics.median(totals), {
        name: statistics.median(v) for name, v in per_part.items()}


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    shape = tuple(args.shape or cfg.get('crop_size', (512, 512)))
    model = build_model_for_analysis(cfg)
    if args.fuse_bn or args.channels_last:
        from mmtlsi.models import optimize_for_inference
        optimize_for_inference(model, fuse_bn=args.fuse_bn,
                               channels_last=args.channels_last)
    print(f'config: {args.config}  input: 1x3x{shape[0]}x{shape[1]}')
    parts = model_parts(model) if args.parts else {}
    params, flops = count(model, shape, parts, not args.no_flops)
    keys = ['total', 'backbone', 'head'] + [n for n in parts
                                            if n != 'backbone']
    print(f'{"":24s}{"params (M)":>12s}' +
          ('' if flops is None else f'{"GMACs":>10s}'))
    for k in keys:
        print(f'{k:24s}{params[k] / 1e6:12.2f}' +
              ('' if flops is None else f'{flops[k] / 1e9:10.2f}'))
    if not args.time:
        return dict(params=params, flops=flops)
    total, per_part = time_forward(model, shape, parts, args.repeats,
                                   get_clock(args.timer))
    print(f'forward: {total:.2f} s, median of {args.repeats} '
          f'({torch.get_num_threads()} threads, {args.timer} time)')
    if flops is not None:
        print(f'model: {flops["total"] / 1e9 / total:.1f} GMAC/s')
    if parts and flops is not None:
        base = flops['backbone'] / 1e9 / per_part['backbone']
        print(f'{"part":24s}{"time (s)":>10s}{"GMAC/s":>9s}'
              f'{"/ backbone":>12s}')
        for name in parts:
            rate = flops[name] / 1e9 / per_part[name]
            print(f'{name:24s}{per_part[name]:10.3f}{rate:9.1f}'
                  f'{rate / base:12.2f}')
    return dict(params=params, flops=flops, forward_s=total,
                part_s=per_part)


if __name__ == '__main__':
    main()
