"""MT-MQLFB (linear) against full cross-task softmax attention (quadratic):
time of one fusion forward and forward + backward, and forward peak memory,
over input sizes; the fitted cost exponent and the speed ratio.

    python .dev_scripts/complexity.py [--out-dir docs/figures]
        [--sizes 112x144 224x288 448x576 896x1152] [--tasks 4]
        [--channels 176] [--repeats 5] [--quadratic-max-tokens 16128]
        [--timer wall|cpu]

Each size is an input image H x W: the fusion gets T task maps
(1, d, H/4, W/4), channels-last as the head's F_t projection returns them,
i.e. T * H/8 * W/8 tokens. MT-MQLFB runs as in the paper
configs (one global context, scales 1, 3, 5); the quadratic fusion is
``CrossTaskAttention`` (8 heads, PyTorch's fused SDPA). Modules and passes
are timed interleaved, round after round, and the median of --repeats rounds
is reported, so that the ratios hold on a machine shared with other work.
``--timer cpu`` measures this process's CPU time instead of wall time: with
one thread (``OMP_NUM_THREADS=1``) it is the work done, unaffected by other
jobs waiting for the same cores. The exponent is the least-squares slope
of log(time) against log(tokens).
Peak memory: ``torch.cuda.max_memory_allocated`` on GPU; on CPU the peak of
live tensor bytes seen by a dispatch-mode tracker (fused kernels' internal
scratch is not visible to it). Writes ``complexity.md`` and
``complexity.png`` into --out-dir.
"""
import argparse
import math
import os
import os.path as osp
import statistics

import torch

from mmtlsi.apis.analysis import markdown_table
from mmtlsi.models.layers import MTMQLFB, CrossTaskAttention
from mmtlsi.utils.benchmark import (
    LiveTensorBytes,
    add_timer_arg,
    get_clock,
    peak_memory_meter,
    time_call,
)


def run_once(module, feats, backward: bool, device, clock) -> float:
    """Seconds of one forward (no autograd) or forward + backward."""
    def forward_backward():
        out = module(feats)
        out.backward(torch.ones_like(out))

    if backward:
        return time_call(forward_backward, device, clock)
    with torch.no_grad():
        return time_call(lambda: module(feats), device, clock)


def peak_memory(module, feats, device) -> int:
    with torch.no_grad():
        if device.type == 'cuda':
            with peak_memory_meter(device) as mem:
                module(feats)
                torch.cuda.synchronize(device)
            return int(mem.peak_mib * 2**20)
        tracker = LiveTensorBytes()
        with tracker:
            out = module(feats)
            del out
        return tracker.peak


def fit_exponent(tokens, seconds) -> float:
    """Least-squares slope of log(seconds) over log(tokens)."""
    xs, ys = [math.log(n) for n in tokens], [math.log(s) for s in seconds]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum(
        (x - mx) ** 2 for x in xs)


def parse_size(text):
    h, w = (int(v) for v in text.lower().split('x'))
    if h % 8 or w % 8:
        raise argparse.ArgumentTypeError(f'{text}: H and W must be multiples '
                                         'of 8 (stride-8 fusion tokens)')
    return h, w


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out-dir', default='docs/figures')
    parser.add_argument('--tasks', type=int, default=4)
    parser.add_argument('--channels', type=int, default=176)
    parser.add_argument('--sizes', type=parse_size, nargs='+',
                        default=[parse_size(s) for s in (
                            '112x144', '224x288', '448x576', '896x1152')])
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--quadratic-max-tokens', type=int, default=16128,
                        help='skip the quadratic fusion above this many '
                        'tokens (its time grows with the square)')
    parser.add_argument('--ratio-size', type=parse_size,
                        default=parse_size('448x576'),
                        help='size whose linear / quadratic ratio is '
                        'reported (NYUDv2)')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available()
                        else 'cpu')
    add_timer_arg(parser)
    args = parser.parse_args(argv)
    try:
        clock = get_clock(args.timer, args.device)
    except ValueError as e:
        parser.error(str(e))
    device = torch.device(args.device)
    torch.manual_seed(0)
    modules = {
        'MT-MQLFB': MTMQLFB(args.channels, num_heads=1, scales=(1, 3, 5)),
        'quadratic (SDPA)': CrossTaskAttention(args.channels, num_heads=8),
    }
    for module in modules.values():
        module.to(device).train()
    results = {}                     # (size, name, pass) -> median seconds
    memory = {}
    for size in args.sizes:
        tokens = args.tasks * (size[0] // 8) * (size[1] // 8)
        # channels-last, as MTLSIHead's F_t projection returns them
        feats = [torch.randn(1, args.channels, size[0] // 4, size[1] // 4,
                             device=device).contiguous(
                                 memory_format=torch.channels_last)
                 .requires_grad_() for _ in range(args.tasks)]
        names = [n for n in modules if n == 'MT-MQLFB'
                 or tokens <= args.quadratic_max_tokens]
        jobs = [(n, p) for n in names for p in ('forward', 'fwd+bwd')]
        for name, p in jobs:                                  # warm-up
            run_once(modules[name], feats, p == 'fwd+bwd', device, clock)
        times = {job: [] for job in jobs}
        for _ in range(args.repeats):
            for name, p in jobs:
                times[(name, p)].append(run_once(
                    modules[name], feats, p == 'fwd+bwd', device, clock))
        for name, p in jobs:
            results[(size, name, p)] = statistics.median(times[(name, p)])
            print(f'{size[0]}x{size[1]}  tokens {tokens:6d}  {name:18s} '
                  f'{p:8s} {results[(size, name, p)] * 1e3:10.1f} ms',
                  flush=True)
        for name in names:
            memory[(size, name)] = peak_memory(modules[name], feats, device)
        del feats

    def tokens_of(size):
        return args.tasks * (size[0] // 8) * (size[1] // 8)

    where = (f'{torch.get_num_threads()} threads, {device.type}'
             if device.type == 'cpu' else torch.cuda.get_device_name(device))
    lines = [
        f'T = {args.tasks} tasks, d = {args.channels}, batch 1, fp32, '
        f'{where}, {args.timer} time, channels-last F_t; median of '
        f'{args.repeats} '
        'interleaved rounds. '
        'MT-MQLFB: 1 head, scales (1, 3, 5); quadratic: CrossTaskAttention, '
        '8 heads, SDPA.', '']
    rows = []
    for size in args.sizes:
        for name in modules:
            if (size, name, 'forward') not in results:
                continue
            rows.append([
                f'{size[0]}x{size[1]}', f'{size[0] // 4}x{size[1] // 4}',
                tokens_of(size), name,
                f'{results[(size, name, "forward")] * 1e3:.1f}',
                f'{results[(size, name, "fwd+bwd")] * 1e3:.1f}',
                f'{memory[(size, name)] / 2**20:.1f}'])
    lines.append(markdown_table(
        ['input', 'F_t size', 'tokens T*N', 'fusion', 'forward (ms)',
         'fwd+bwd (ms)', 'forward peak memory (MiB)'], rows))
    lines.append('')
    for name in modules:
        sizes = [s for s in args.sizes if (s, name, 'forward') in results]
        if len(sizes) < 2:
            continue
        for p in ('forward', 'fwd+bwd'):
            exponent = fit_exponent([tokens_of(s) for s in sizes],
                                    [results[(s, name, p)] for s in sizes])
            lines.append(f'- {name} {p}: time ~ tokens^{exponent:.2f} '
                         f'({sizes[0][0]}x{sizes[0][1]} to '
                         f'{sizes[-1][0]}x{sizes[-1][1]})')
    r = args.ratio_size
    if (r, 'quadratic (SDPA)', 'forward') in results:
        for p in ('forward', 'fwd+bwd'):
            ratio = results[(r, 'quadratic (SDPA)', p)] / results[
                (r, 'MT-MQLFB', p)]
            lines.append(f'- {r[0]}x{r[1]} ({tokens_of(r)} tokens), {p}: '
                         f'MT-MQLFB is {ratio:.1f}x faster than the '
                         'quadratic fusion')
    text = '\n'.join(lines) + '\n'
    print(text)
    os.makedirs(args.out_dir, exist_ok=True)
    with open(osp.join(args.out_dir, 'complexity.md'), 'w') as f:
        f.write(text)
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for name in modules:
        sizes = [s for s in args.sizes if (s, name, 'forward') in results]
        n = [tokens_of(s) for s in sizes]
        for p, style in (('forward', 'o-'), ('fwd+bwd', 's--')):
            axes[0].plot(n, [results[(s, name, p)] * 1e3 for s in sizes],
                         style, label=f'{name} {p}')
        axes[1].plot(n, [memory[(s, name)] / 2**20 for s in sizes], 'o-',
                     label=name)
    for ax, label in zip(axes, ['time (ms)', 'forward peak memory (MiB)']):
        ax.set_xlabel('fusion tokens (all tasks)')
        ax.set_ylabel(label)
        ax.set_xscale('log')
        ax.set_yscale('log')
        ax.grid(True, which='both', alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(osp.join(args.out_dir, 'complexity.png'), dpi=120)
    print('wrote', osp.join(args.out_dir, 'complexity.png'), 'and',
          osp.join(args.out_dir, 'complexity.md'))


if __name__ == '__main__':
    main()
