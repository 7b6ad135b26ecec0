"""MT-MQLFB (linear) against full cross-task softmax attention (quadratic):
time and peak memory of one fusion forward over a range of resolutions.

    python tools/analysis_tools/complexity.py [--out-dir docs/figures]
        [--tasks 4] [--channels 176] [--sides 16 24 32 48 64] [--repeats 2]

Input: T task maps (1, d, s, s) at stride 4 (s = side), i.e. T * (s/2)^2
tokens in the fusion. Peak memory: torch.cuda.max_memory_allocated on GPU; on
CPU the peak of live tensor bytes seen by a dispatch-mode tracker (fused
kernels' internal scratch is not visible to it). Writes ``complexity.png``
and ``complexity.md`` (a Markdown table) into --out-dir.
"""
import argparse
import os
import os.path as osp
import time
import weakref

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

import mmtlsi  # noqa: F401
from mmtlsi.models.layers import MTMQLFB, CrossTaskAttention


class LiveTensorBytes(TorchDispatchMode):
    """Peak bytes of tensors produced by ops while active (CPU)."""

    def __init__(self):
        super().__init__()
        self.live = self.peak = 0
        self._storages = set()

    def _free(self, key, nbytes):
        self._storages.discard(key)
        self.live -= nbytes

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten(out)[0]:
            if not isinstance(t, torch.Tensor):
                continue
            key = t.untyped_storage().data_ptr()
            if key in self._storages or key == 0:
                continue
            nbytes = t.untyped_storage().nbytes()
            self._storages.add(key)
            self.live += nbytes
            self.peak = max(self.peak, self.live)
            weakref.finalize(t, self._free, key, nbytes)
        return out


def measure(module, feats, repeats, device):
    with torch.no_grad():
        module(feats)                                      # warm-up
        if device.type == 'cuda':
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
        start = time.perf_counter()
        for _ in range(repeats):
            out = module(feats)
            del out
        if device.type == 'cuda':
            torch.cuda.synchronize()
        seconds = (time.perf_counter() - start) / repeats
        if device.type == 'cuda':
            peak = torch.cuda.max_memory_allocated() - base
        else:
            tracker = LiveTensorBytes()
            with tracker:
                out = module(feats)
                del out
            peak = tracker.peak
    return seconds, peak


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out-dir', default='docs/figures')
    parser.add_argument('--tasks', type=int, default=4)
    parser.add_argument('--channels', type=int, default=176)
    parser.add_argument('--heads', type=int, default=8)
    parser.add_argument('--sides', type=int, nargs='+',
                        default=[16, 24, 32, 48, 64])
    parser.add_argument('--repeats', type=int, default=2)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available()
                        else 'cpu')
    args = parser.parse_args()
    device = torch.device(args.device)
    modules = {
        'MT-MQLFB (linear)': MTMQLFB(args.channels, num_heads=args.heads),
        'cross-task softmax attention': CrossTaskAttention(
            args.channels, num_heads=args.heads),
    }
    rows = []
    for side in args.sides:
        feats = [torch.randn(1, args.channels, side, side, device=device)
                 for _ in range(args.tasks)]
        tokens = args.tasks * ((side + 1) // 2) ** 2
        for name, module in modules.items():
            module.to(device).eval()
            sec, peak = measure(module, feats, args.repeats, device)
            rows.append((side, tokens, name, sec, peak))
            print(f'side {side:4d}  tokens {tokens:6d}  {name:30s} '
                  f'{sec * 1e3:9.1f} ms  {peak / 2**20:9.1f} MiB', flush=True)
    os.makedirs(args.out_dir, exist_ok=True)
    lines = [
        f'T = {args.tasks} tasks, d = {args.channels}, {args.heads} heads, '
        f'batch 1, {device.type}'
        + (f' ({torch.get_num_threads()} threads)' if device.type == 'cpu'
           else f' ({torch.cuda.get_device_name(device)})') + '.', '',
        '| F_t size | tokens T*N | fusion | time (ms) | peak memory (MiB) |',
        '|---|---|---|---|---|']
    lines += [f'| {s}x{s} | {n} | {name} | {sec * 1e3:.1f} | '
              f'{peak / 2**20:.1f} |' for s, n, name, sec, peak in rows]
    with open(osp.join(args.out_dir, 'complexity.md'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for name in modules:
        pts = [(n, sec, peak) for _, n, m, sec, peak in rows if m == name]
        n, sec, peak = zip(*pts)
        axes[0].plot(n, [s * 1e3 for s in sec], 'o-', label=name)
        axes[1].plot(n, [p / 2**20 for p in peak], 'o-', label=name)
    for ax, label in zip(axes, ['time (ms)', 'peak memory (MiB)']):
        ax.set_xlabel('tokens (all tasks)')
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
