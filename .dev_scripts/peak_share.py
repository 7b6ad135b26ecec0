"""A config's fp32 forward as a share of this machine's fp32 matmul peak,
both measured in the same process, interleaved (median of --rounds).

    python .dev_scripts/peak_share.py [--config CFG] [--shape H W]
        [--rounds N] [--gmacs G] [--opt fuse_bn,channels_last]

The peak is a 4096^3 fp32 matrix product; threads from OMP_NUM_THREADS.
Prints wall and CPU-time (process time) shares: on a machine shared with
other work the CPU-time one (one thread) measures the work, the wall one
also the waiting.
"""
import argparse
import os
import statistics
import time

import torch

from mmtlsi.apis.builder import build_model
from mmtlsi.models import optimize_for_inference
from mmtlsi.utils import count_flops


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--config', default='configs/mtlsi/swin-t_nyud.py')
    p.add_argument('--shape', type=int, nargs=2, default=(448, 576))
    p.add_argument('--rounds', type=int, default=5)
    p.add_argument('--gmacs', type=float,
                   help='multiply-adds of one forward (default: counted)')
    p.add_argument('--opt', default='',
                   help='optimize_for_inference flags, comma-separated')
    args = p.parse_args()
    torch.set_num_threads(int(os.environ.get('OMP_NUM_THREADS', '2')))
    model = build_model(args.config)
    flags = {k: True for k in args.opt.split(',') if k}
    optimize_for_inference(model, fuse_bn=flags.pop('fuse_bn', False),
                           **flags)
    x = torch.randn(1, 3, *args.shape)
    gmacs = args.gmacs or count_flops(model, tuple(args.shape))['total'] / 1e9
    n = 4096
    a, b = torch.randn(n, n), torch.randn(n, n)

    def forward():
        with torch.inference_mode():
            model._forward(x)

    def clock(fn):
        w, c = time.perf_counter(), time.process_time()
        fn()
        return time.perf_counter() - w, time.process_time() - c

    forward()
    a @ b
    peak, model_t = [], []
    for _ in range(args.rounds):
        peak.append(clock(lambda: a @ b))
        model_t.append(clock(forward))
    med = statistics.median
    mm = n ** 3 / 1e9
    threads = torch.get_num_threads()
    print(f'{args.config} {args.shape[0]}x{args.shape[1]} {gmacs:.2f} GMACs, '
          f'{threads} thread(s), CPU kernels '
          f'{torch.backends.cpu.get_cpu_capability()}, opt {args.opt or "-"}')
    for i, name in ((0, 'wall'), (1, 'cpu')):
        p_s, m_s = med(t[i] for t in peak), med(t[i] for t in model_t)
        share = (gmacs / m_s) / (mm / p_s)
        print(f'{name}: peak {mm / p_s:.1f} GMAC/s, forward {m_s:.3f} s = '
              f'{gmacs / m_s:.1f} GMAC/s, share {share:.1%}')


if __name__ == '__main__':
    main()
