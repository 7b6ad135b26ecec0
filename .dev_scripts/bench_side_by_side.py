"""The paper configs against their own quadratic-fusion and preliminary-
decoders-only ablations, side by side in one run: multiply-adds counted by
one counter for all, forward time, and the resulting GMAC/s.

    python .dev_scripts/bench_side_by_side.py [CONFIG ...]
        [--repeats 5] [--threads N] [--timer wall|cpu] [--device cpu|cuda]
        [--out TABLE.md] [--json OUT.json] [--shape H W]

For every config (default: the six paper configs in configs/mtlsi/) three
models are built with random weights: the config itself, the config with
MT-MQLFB replaced by full cross-task softmax attention
(``CrossTaskAttention``, 8 heads; as configs/mtlsi/ablations/
swin-t_nyud_quadratic-fusion.py) and the config without fusion, distiller,
CWIB and output decoders (``fusion=None``; as .../swin-t_nyud_pd-only.py).

Multiply-adds: ``mmtlsi.utils.count_flops`` (mmengine's FlopAnalyzer, the
fvcore counting rules, plus ``scaled_dot_product_attention`` as its two
matrix products); one ``tensor``-mode forward of a (1, 3, H, W) input at the
config's crop size. Time: the same forward (fp32, no gradients), the median
of ``--repeats`` runs after one warm-up, the models of one config timed in
turn (interleaved) so that a change in the machine's load hits all of them.
The backbone alone is timed the same way, which gives the head's GMAC/s as
(head GMACs) / (forward - backbone time). ``--timer cpu`` times with this
process's CPU time instead of the wall clock: with ``--threads 1`` that is
the work done, unaffected by other jobs waiting for the same cores.
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import statistics

import torch

from mmtlsi.apis.analysis import build_model_for_analysis, markdown_table
from mmtlsi.utils import count_flops
from mmtlsi.utils.benchmark import (
    add_timer_arg,
    environment,
    get_clock,
    time_call,
)

PAPER_CONFIGS = [
    'configs/mtlsi/hrnet18_nyud.py', 'configs/mtlsi/swin-t_nyud.py',
    'configs/mtlsi/swin-l_nyud.py', 'configs/mtlsi/hrnet18_pascal.py',
    'configs/mtlsi/swin-t_pascal.py', 'configs/mtlsi/swin-l_pascal.py'
]
# variant name -> decode_head overrides (config switches)
VARIANTS = {
    'paper': None,
    'quadratic fusion': dict(fusion=dict(
        _delete_=True, type='CrossTaskAttention', num_heads=8,
        pool_stride=2, mlp_ratio=4.0)),
    'PD only': dict(fusion=None),
}


def build_variant(config: str, head_override: dict | None, device):
    """The model of ``config`` with ``head_override`` given as checked
    ``model.decode_head.<key>`` options (random weights, no download) and
    its crop size."""
    options = {f'model.decode_head.{k}': v
               for k, v in (head_override or {}).items()}
    model = build_model_for_analysis(config, cfg_options=options,
                                     device=device)
    return model, tuple(model.cfg.get('crop_size', (512, 512)))


@torch.no_grad()
def measure_config(config: str, repeats: int, device, shape=None,
                   clock=None) -> list:
    """Rows (one per variant) for ``config``: GMACs and median times
    (``clock``: default wall time)."""
    clock = clock or get_clock('wall')
    models = {}
    for name, override in VARIANTS.items():
        model, crop = build_variant(config, override, device)
        size = tuple(shape or crop)
        flops = count_flops(model, size)
        models[name] = (model, flops)
    x = torch.randn(1, 3, *size, device=device)
    fns = {}
    for name, (model, _) in models.items():
        fns[name] = (lambda m=model: m._forward(x))
    backbone = models['paper'][0].backbone
    fns['backbone'] = lambda: backbone(x)
    for fn in fns.values():                      # warm-up
        fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):                     # interleaved
        for name, fn in fns.items():
            times[name].append(time_call(fn, device, clock))
    t_backbone = statistics.median(times['backbone'])
    rows = []
    for name, (_, flops) in models.items():
        t = statistics.median(times[name])
        rows.append(dict(
            config=config, variant=name, shape=list(size),
            gmacs=flops['total'] / 1e9, gmacs_backbone=flops['backbone'] / 1e9,
            gmacs_head=flops['head'] / 1e9, forward_s=t,
            forward_s_all=times[name], backbone_s=t_backbone,
            gmac_per_s=flops['total'] / 1e9 / t,
            backbone_gmac_per_s=flops['backbone'] / 1e9 / t_backbone,
            head_gmac_per_s=(flops['head'] / 1e9 / (t - t_backbone)
                             if t > t_backbone else float('nan'))))
        print(f'{osp.basename(config):22s} {name:17s} '
              f'{rows[-1]["gmacs"]:8.1f} GMACs  {t:7.3f} s  '
              f'{rows[-1]["gmac_per_s"]:6.1f} GMAC/s', flush=True)
    return rows


def format_table(rows, header: str) -> str:
    paper = {r['config']: r for r in rows if r['variant'] == 'paper'}
    cells = [[
        osp.splitext(osp.basename(r['config']))[0], r['variant'],
        f"{r['shape'][0]}x{r['shape'][1]}",
        f"{r['gmacs']:.1f} ({r['gmacs_head']:.1f})", f"{r['forward_s']:.2f}",
        f"{r['gmac_per_s']:.1f}", f"{r['backbone_gmac_per_s']:.1f}",
        f"{r['head_gmac_per_s']:.1f}",
        f"{r['forward_s'] / paper[r['config']]['forward_s']:.2f}x time"]
        for r in rows]
    return header + '\n\n' + markdown_table(
        ['config', 'model', 'input', 'GMACs (head)', 'forward (s)', 'GMAC/s',
         'backbone GMAC/s', 'head GMAC/s', 'vs paper config'], cells) + '\n'


def describe(device) -> str:
    env = environment(device)
    return (f"{device.type} ({', '.join(env['devices'])}, {env['threads']} "
            f"thread(s)), torch {env['versions']['torch']}, python "
            f"{env['versions']['python']}")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('configs', nargs='*', default=PAPER_CONFIGS)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--threads', type=int, default=None,
                        help='torch threads (CPU; default: torch\'s)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--shape', type=int, nargs=2, default=None,
                        metavar=('H', 'W'),
                        help='input size (default: each config\'s crop)')
    add_timer_arg(parser)
    parser.add_argument('--out', default=None, help='Markdown table file')
    parser.add_argument('--json', default=None, help='JSON rows file')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    try:
        clock = get_clock(args.timer, device)
    except ValueError as e:
        raise SystemExit(str(e)) from None
    rows = []
    for config in args.configs:
        rows += measure_config(config, args.repeats, device, args.shape,
                               clock)
    header = (f'Batch 1, fp32, forward only, median of {args.repeats} '
              f'interleaved runs, {args.timer} time; '
              f'{describe(device)}.')
    table = format_table(rows, header)
    print(table)
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            f.write(table)
    if args.json:
        os.makedirs(osp.dirname(osp.abspath(args.json)), exist_ok=True)
        with open(args.json, 'w') as f:
            json.dump(dict(environment=describe(device), rows=rows), f,
                      indent=2)
    return rows


if __name__ == '__main__':
    main()
