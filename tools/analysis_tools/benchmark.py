"""Measure a model's inference speed and peak memory on random images.

``python tools/analysis_tools/benchmark.py CONFIG [CHECKPOINT]
[--device cpu|cuda] [--amp] [--shape H W] [--batch-size N] [--repeat N]
[--warmup N] [--out JSON]``

The model is built from the config (random weights when no checkpoint is
given; the backbone's ``init_cfg`` is dropped so nothing is downloaded) and
run in ``predict`` mode on random uint8 images of ``--shape`` that go through
the model's data preprocessor outside the timed region. Reported: images/s,
latency per batch (mean / median / p90, ms) and peak memory:

- CUDA: ``torch.cuda.max_memory_allocated`` (tensors allocated by PyTorch).
- CPU: peak growth of the process's resident set size over the timed runs,
  sampled from ``/proc/self/statm`` every millisecond by a thread (Linux);
  elsewhere, the growth of ``resource.getrusage().ru_maxrss`` (0 when the run
  stays under an earlier peak of the process). The JSON names the method.

``--amp`` runs under ``torch.autocast`` (float16 on CUDA, bfloat16 on CPU).
"""
import argparse
import json
import os
import os.path as osp
import statistics
import sys
import threading
import time
from contextlib import nullcontext
from typing import Callable, Dict, Optional

import torch

import mmtlsi  # noqa: F401  (applies mmtlsi.compat before mmseg)
from mmtlsi.engine.config_utils import merge_cfg_options


# --------------------------------------------------------------------------
# memory
# --------------------------------------------------------------------------
class CpuPeakMemory:
    """Peak growth (MiB) of the resident set size while the block runs."""

    STATM = '/proc/self/statm'

    def __init__(self, interval: float = 0.001):
        self.interval = interval
        self.method = ('rss sampled from /proc/self/statm'
                       if osp.exists(self.STATM) else
                       'resource.getrusage ru_maxrss growth')
        self.peak_mib = 0.0

    def _rss_bytes(self) -> int:
        with open(self.STATM) as f:
            return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')

    @staticmethod
    def _maxrss_bytes() -> int:
        import resource
        scale = 1 if sys.platform == 'darwin' else 1024
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale

    def _sample(self):
        while not self._stop.is_set():
            self._peak = max(self._peak, self._rss_bytes())
            time.sleep(self.interval)

    def __enter__(self):
        if osp.exists(self.STATM):
            self._base = self._peak = self._rss_bytes()
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        else:
            self._base = self._maxrss_bytes()
        return self

    def __exit__(self, *exc):
        if osp.exists(self.STATM):
            self._stop.set()
            self._thread.join()
            self._peak = max(self._peak, self._rss_bytes())
        else:
            self._peak = self._maxrss_bytes()
        self.peak_mib = max(0, self._peak - self._base) / 2**20
        return False


def _sync(device: torch.device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def autocast_context(device: torch.device, amp: bool):
    """``torch.autocast`` for ``device`` (fp16 on CUDA, bf16 on CPU)."""
    if not amp:
        return nullcontext()
    dtype = torch.float16 if device.type == 'cuda' else torch.bfloat16
    return torch.autocast(device_type=device.type, dtype=dtype)


# --------------------------------------------------------------------------
# measuring
# --------------------------------------------------------------------------
def measure(fn: Callable[[], object],
            batch_size: int,
            device='cpu',
            repeat: int = 20,
            warmup: int = 3,
            amp: bool = False) -> Dict[str, float]:
    """Time ``fn()`` (one batch of ``batch_size`` images) ``repeat`` times.

    Returns a dict: ``images_per_s`` (= batch_size / mean latency),
    ``latency_ms_mean`` / ``_median`` / ``_p90`` / ``_min`` (per batch),
    ``peak_memory_mib`` and ``memory_method``.
    """
    if repeat < 1:
        raise ValueError('repeat must be >= 1')
    device = torch.device(device)
    with torch.no_grad(), autocast_context(device, amp):
        for _ in range(max(0, warmup)):
            fn()
        _sync(device)
        times = []
        if device.type == 'cuda':
            torch.cuda.reset_peak_memory_stats(device)
            base = torch.cuda.memory_allocated(device)
            mem = nullcontext()
        else:
            mem = CpuPeakMemory()
        with mem:
            for _ in range(repeat):
                start = time.perf_counter()
                fn()
                _sync(device)
                times.append(time.perf_counter() - start)
    if device.type == 'cuda':
        peak = torch.cuda.max_memory_allocated(device) / 2**20
        method = 'torch.cuda.max_memory_allocated'
        peak_delta = peak - base / 2**20
    else:
        peak = peak_delta = mem.peak_mib
        method = mem.method
    ms = sorted(t * 1000 for t in times)
    mean = statistics.fmean(ms)
    p90 = ms[min(len(ms) - 1, max(0, int(round(0.9 * len(ms))) - 1))]
    return dict(
        images_per_s=batch_size / (mean / 1000),
        latency_ms_mean=mean,
        latency_ms_median=statistics.median(ms),
        latency_ms_p90=p90,
        latency_ms_min=ms[0],
        peak_memory_mib=peak,
        peak_memory_delta_mib=peak_delta,
        memory_method=method)


# --------------------------------------------------------------------------
# the model
# --------------------------------------------------------------------------
def build_model(config, checkpoint: Optional[str] = None, device='cpu',
                cfg_options: Optional[dict] = None):
    """The model of ``config``; random weights without a checkpoint and never
    a pretrained-weight download."""
    from mmengine.config import Config
    from mmengine.model.utils import revert_sync_batchnorm
    from mmengine.registry import init_default_scope
    from mmengine.runner import load_checkpoint
    from mmseg.registry import MODELS

    from mmtlsi.apis import drop_pretrained_weights
    cfg = config if isinstance(config, Config) else Config.fromfile(config)
    merge_cfg_options(cfg, cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    drop_pretrained_weights(cfg.model)
    if 'train_cfg' in cfg.model:
        cfg.model.train_cfg = None
    model = MODELS.build(cfg.model)
    if checkpoint:
        load_checkpoint(model, checkpoint, map_location='cpu')
    model = revert_sync_batchnorm(model)
    model.cfg = cfg
    return model.to(device).eval()


def make_predict_fn(model, shape, batch_size: int, device='cpu'):
    """A closure running ``model`` in predict mode on a fixed random batch
    (preprocessed once, outside the timed region)."""
    from mmseg.structures import SegDataSample
    h, w = shape
    gen = torch.Generator().manual_seed(0)
    inputs = [torch.randint(0, 256, (3, h, w), generator=gen,
                            dtype=torch.uint8) for _ in range(batch_size)]
    meta = dict(ori_shape=(h, w), img_shape=(h, w), pad_shape=(h, w),
                scale_factor=(1.0, 1.0), flip=False, flip_direction=None)
    samples = [SegDataSample(metainfo=dict(meta)) for _ in range(batch_size)]
    with torch.no_grad():
        data = model.data_preprocessor(
            dict(inputs=inputs, data_samples=samples), False)
    batch, data_samples = data['inputs'].to(device), data['data_samples']

    def fn():
        return model(batch, data_samples, mode='predict')

    return fn


def format_table(result: Dict) -> str:
    rows = [
        ('device', result['device']),
        ('amp', result['amp']),
        ('batch size', result['batch_size']),
        ('input shape', 'x'.join(map(str, result['shape']))),
        ('images / s', f"{result['images_per_s']:.2f}"),
        ('latency mean (ms)', f"{result['latency_ms_mean']:.2f}"),
        ('latency median (ms)', f"{result['latency_ms_median']:.2f}"),
        ('latency p90 (ms)', f"{result['latency_ms_p90']:.2f}"),
        ('peak memory (MiB)', f"{result['peak_memory_mib']:.1f}"),
        ('memory measured by', result['memory_method']),
    ]
    width = max(len(k) for k, _ in rows)
    line = '+-' + '-' * width + '-+-' + '-' * 34 + '-+'
    body = [f'| {k:<{width}} | {str(v):<34} |' for k, v in rows]
    return '\n'.join([line, *body, line])


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(
        description='Inference speed and peak memory of a model')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', nargs='?', default=None,
                        help='checkpoint (default: random weights)')
    parser.add_argument('--device', default='cpu',
                        help="'cpu', 'cuda' or 'cuda:N'")
    parser.add_argument('--amp', action='store_true',
                        help='autocast (fp16 on CUDA, bf16 on CPU)')
    parser.add_argument('--shape', type=int, nargs=2, default=[480, 640],
                        metavar=('H', 'W'), help='input size')
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--repeat', type=int, default=20,
                        help='timed batches')
    parser.add_argument('--warmup', type=int, default=3,
                        help='untimed batches first')
    parser.add_argument('--out', default=None, help='JSON file to write')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    device = torch.device(args.device)
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise SystemExit('CUDA is not available; use --device cpu')
    model = build_model(args.config, args.checkpoint, device,
                        args.cfg_options)
    fn = make_predict_fn(model, args.shape, args.batch_size, device)
    result = dict(config=args.config, checkpoint=args.checkpoint,
                  device=str(device), amp=args.amp,
                  batch_size=args.batch_size, shape=list(args.shape),
                  repeat=args.repeat, warmup=args.warmup,
                  torch=torch.__version__, threads=torch.get_num_threads())
    result.update(measure(fn, args.batch_size, device, args.repeat,
                          args.warmup, args.amp))
    print(format_table(result))
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=2)
        print(f'results written to {args.out}')
    return result


if __name__ == '__main__':
    main()
