"""Parameters and FLOPs of a config's model, backbone and head separately.

    python tools/analysis_tools/get_flops.py CONFIG [--shape H W]
        [--cfg-options KEY=VALUE ...] [--no-flops] [--parts]
        [--time] [--repeats N] [--timer wall|cpu]
        [--fuse-bn] [--channels-last]

FLOPs are multiply-adds (fvcore / mmengine convention) of one forward of a
(1, 3, H, W) input; --shape defaults to the config's ``crop_size``. No
pretrained weights are loaded (the model is built, not initialised).
--parts also lists the head's parts (preliminary decoders, F_t projections,
fusion, distillers, CWIBs, output decoders). --time times the forward: the
median of --repeats runs after a warm-up; with --parts each part is timed in
the same runs (forward hooks) and its GMAC/s printed next to the backbone's.
``--timer cpu`` reports this process's CPU time (use one thread,
``OMP_NUM_THREADS=1``, on a machine shared with other work). --fuse-bn and
--channels-last apply :func:`mmtlsi.models.optimize_for_inference` first.
"""
import argparse
import statistics
import time
from collections import defaultdict

import torch
from mmengine import Config, DictAction
from mmengine.registry import init_default_scope

import mmtlsi  # noqa: F401
from mmtlsi.apis.run_config import merge_cfg_options
from mmtlsi.models import optimize_for_inference
from mmtlsi.registry import MODELS
from mmtlsi.utils import count_flops, count_parameters
from mmtlsi.utils.complexity import model_parts


def parse_args():
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
    parser.add_argument('--timer', choices=['wall', 'cpu'], default='wall')
    parser.add_argument('--fuse-bn', action='store_true',
                        help='fold BatchNorm into the convs first')
    parser.add_argument('--channels-last', action='store_true',
                        help='channels-last memory format')
    return parser.parse_args()


class PartTimer:
    """Adds up, per part, the time spent inside its modules' forwards."""

    def __init__(self, parts: dict, clock):
        self.clock = clock
        self.seconds = defaultdict(float)
        self.handles = []
        for name, modules in parts.items():
            for module in modules:
                self.handles.append(module.register_forward_pre_hook(
                    self._start))
                self.handles.append(module.register_forward_hook(
                    self._stop(name)))

    def _start(self, module, args):
        module._part_timer_start = self.clock()

    def _stop(self, name):
        def hook(module, args, output):
            self.seconds[name] += self.clock() - module._part_timer_start
        return hook

    def reset(self):
        self.seconds.clear()


def main():
    args = parse_args()
    cfg = Config.fromfile(args.config)
    merge_cfg_options(cfg, args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    shape = tuple(args.shape or cfg.get('crop_size', (512, 512)))
    model = MODELS.build(cfg.model).eval()
    if args.fuse_bn or args.channels_last:
        optimize_for_inference(model, fuse_bn=args.fuse_bn,
                               channels_last=args.channels_last)
    params = count_parameters(model)
    print(f'config: {args.config}  input: 1x3x{shape[0]}x{shape[1]}')
    parts = model_parts(model) if args.parts else {}
    for name, modules in parts.items():
        if name != 'backbone':
            params[name] = sum(p.numel() for m in modules
                               for p in m.parameters())
    flops = None if args.no_flops else count_flops(model, shape,
                                                   parts=args.parts)
    keys = ['total', 'backbone', 'head'] + [n for n in parts
                                            if n != 'backbone']
    print(f'{"":24s}{"params (M)":>12s}' +
          ('' if flops is None else f'{"GMACs":>10s}'))
    for k in keys:
        print(f'{k:24s}{params[k] / 1e6:12.2f}' +
              ('' if flops is None else f'{flops[k] / 1e9:10.2f}'))
    if not args.time:
        return
    clock = time.process_time if args.timer == 'cpu' else time.perf_counter
    timer = PartTimer(parts, clock) if parts else None
    x = torch.randn(1, 3, *shape)
    totals, per_part = [], defaultdict(list)
    with torch.no_grad():
        model(x, mode='tensor')                              # warm-up
        for _ in range(args.repeats):
            if timer:
                timer.reset()
            start = clock()
            model(x, mode='tensor')
            totals.append(clock() - start)
            if timer:
                for name, sec in timer.seconds.items():
                    per_part[name].append(sec)
    total = statistics.median(totals)
    print(f'forward: {total:.2f} s, median of {args.repeats} '
          f'({torch.get_num_threads()} threads, {args.timer} time)')
    if flops is not None:
        print(f'model: {flops["total"] / 1e9 / total:.1f} GMAC/s')
    if timer and flops is not None:
        base = flops['backbone'] / 1e9 / statistics.median(
            per_part['backbone'])
        print(f'{"part":24s}{"time (s)":>10s}{"GMAC/s":>9s}'
              f'{"/ backbone":>12s}')
        for name in parts:
            sec = statistics.median(per_part[name])
            rate = flops[name] / 1e9 / sec
            print(f'{name:24s}{sec:10.3f}{rate:9.1f}{rate / base:12.2f}')


if __name__ == '__main__':
    main()
