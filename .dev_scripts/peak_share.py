"""A config's fp32 forward as a share of this machine's fp32 matmul peak,
both measured in the same process, interleaved (median of --rounds).

    python .dev_scripts/peak_share.py [--config CFG] [--shape H W]
        [--rounds N] [--gmacs G] [--opt fuse_bn,channels_last]
        [--train BATCH [--amp]]

The peak is a 4096^3 fp32 matrix product; threads from OMP_NUM_THREADS.
Prints wall and CPU-time (process time) shares: on a machine shared with
other work the CPU-time one (one thread) measures the work, the wall one
also the waiting. ``--train BATCH`` times a training step instead
(forward, losses on random targets, backward, SGD step; its multiply-adds
taken as 3x the forward's; ``--amp``: bf16 autocast) and prints images/s.
"""
import argparse
import os
import statistics
import time

import torch

from mmtlsi.apis.builder import build_model
from mmtlsi.models import optimize_for_inference
from mmtlsi.utils import count_flops


def random_targets(model, n, h, w):
    """Targets of every task of the model, random but valid."""
    out = {}
    for t, spec in model.decode_head.task_specs.items():
        if spec.output in ('classes', 'binary'):
            high = spec.out_channels if spec.output == 'classes' else 2
            out[t] = torch.randint(0, high, (n, 1, h, w))
        elif spec.output == 'scalar':
            out[t] = torch.rand(n, 1, h, w) + 0.5
        else:
            out[t] = torch.nn.functional.normalize(
                torch.randn(n, 3, h, w), dim=1)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--config', default='configs/mtlsi/swin-t_nyud.py')
    p.add_argument('--shape', type=int, nargs=2, default=(448, 576))
    p.add_argument('--rounds', type=int, default=5)
    p.add_argument('--gmacs', type=float,
                   help='multiply-adds of one forward (default: counted)')
    p.add_argument('--opt', default='',
                   help='optimize_for_inference flags, comma-separated')
    p.add_argument('--train', type=int, metavar='BATCH')
    p.add_argument('--amp', action='store_true')
    args = p.parse_args()
    torch.set_num_threads(int(os.environ.get('OMP_NUM_THREADS', '2')))
    model = build_model(args.config)
    flags = {k: True for k in args.opt.split(',') if k}
    optimize_for_inference(model, fuse_bn=flags.pop('fuse_bn', False),
                           **flags)
    n = 4096
    a, b = torch.randn(n, n), torch.randn(n, n)
    batch = args.train or 1
    x = torch.randn(batch, 3, *args.shape)
    gmacs = args.gmacs or count_flops(model, tuple(args.shape))['total'] / 1e9
    gmacs *= batch * (3 if args.train else 1)
    if args.train:
        y = random_targets(model, batch, *args.shape)
        model.train()
        opt = torch.optim.SGD(model.parameters(), lr=1e-3)

        def forward():
            with torch.autocast('cpu', dtype=torch.bfloat16,
                                enabled=args.amp):
                loss = sum(model.network_loss(x, y).values())
            opt.zero_grad()
            loss.backward()
            opt.step()
    else:
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
    what = f'train batch {batch}' if args.train else 'forward'
    if args.amp:
        what += ' amp'
    print(f'{args.config} {args.shape[0]}x{args.shape[1]} {gmacs:.2f} GMACs, '
          f'{threads} thread(s), CPU kernels '
          f'{torch.backends.cpu.get_cpu_capability()}, '
          f'opt {args.opt or "-"}, {what}')
    for i, name in ((0, 'wall'), (1, 'cpu')):
        p_s, m_s = med(t[i] for t in peak), med(t[i] for t in model_t)
        share = (gmacs / m_s) / (mm / p_s)
        print(f'{name}: peak {mm / p_s:.1f} GMAC/s, forward {m_s:.3f} s = '
              f'{gmacs / m_s:.1f} GMAC/s, share {share:.1%}, '
              f'{batch / m_s:.2f} images/s')


if __name__ == '__main__':
    main()
