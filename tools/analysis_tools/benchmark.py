"""Measure a model's inference or training speed and peak memory.

``python tools/analysis_tools/benchmark.py CONFIG [CHECKPOINT]
[--mode predict|train] [--device cpu|cuda] [--amp | --compare-amp]
[--amp-dtype bfloat16|float16] [--shape H W] [--batch-size N]
[--crop-size H W] [--data-size H W] [--num-workers N] [--repeat N]
[--warmup N] [--out JSON]``

The model is built from the config (random weights when no checkpoint is
given; the backbone's ``init_cfg`` is dropped so nothing is downloaded).

``--mode predict`` (default) runs ``predict`` on random uint8 images of
``--shape`` that go through the model's data preprocessor outside the timed
region. Reported: images/s, latency per batch (mean / median / p90, ms) and
peak memory.

``--mode train`` times full training steps (data, forward, losses, backward,
optimizer step with the config's optimizer) on the config's own training
pipeline (random scale, crop, flip, photometric distortion) and dataloader
(batch size and workers of the config unless ``--batch-size`` /
``--num-workers`` are given). The real NYUDv2 / PASCAL-Context datasets are
replaced by the synthetic datasets of the same layout at full image size
(``--data-size``; default 480x640 NYUDv2, 375x500 PASCAL-Context), generated
once into ``--data-root``. Reported besides images/s: the time the step
spends waiting for the next batch (``data_wait_fraction`` of the step time)
and the peak memory of the training process. ``--mode data`` times that
dataloader alone (no model): the images/s the pipeline delivers with its
workers.

Peak memory:

- CUDA: ``torch.cuda.max_memory_allocated`` (tensors allocated by PyTorch).
- CPU: peak growth of the process's resident set size over the timed runs,
  sampled from ``/proc/self/statm`` every millisecond by a thread (Linux);
  elsewhere, the growth of ``resource.getrusage().ru_maxrss`` (0 when the run
  stays under an earlier peak of the process). The JSON names the method.

``--amp`` runs under ``torch.autocast`` (``--amp-dtype``: default float16 on
CUDA, bfloat16 on CPU; float16 training uses a gradient scaler).
``--compare-amp`` measures without and with autocast, each in its own
process, and prints the speed-up. Every CPU result says whether the CPU has
native bfloat16 instructions (``avx512_bf16`` / ``amx_bf16`` /
``avx_ne_convert`` in ``/proc/cpuinfo``); without them PyTorch converts
bfloat16 in software (docs/results.md has measured cases;
``ONEDNN_MAX_CPU_ISA=AVX512_CORE`` makes a CPU with them behave as one
without, and the result records it).
"""
import argparse
import copy
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
from mmtlsi.apis.run_config import merge_cfg_options


# --------------------------------------------------------------------------
# memory
# --------------------------------------------------------------------------
class CpuPeakMemory:
    """Peak growth (``peak_mib``) and peak (``peak_abs_mib``) of the
    process's resident set size while the block runs, MiB."""

    STATM = '/proc/self/statm'

    def __init__(self, interval: float = 0.001):
        self.interval = interval
        self.method = ('rss sampled from /proc/self/statm'
                       if osp.exists(self.STATM) else
                       'resource.getrusage ru_maxrss growth')
        self.peak_mib = self.peak_abs_mib = 0.0

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
        self.peak_abs_mib = self._peak / 2**20
        return False


def _sync(device: torch.device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def default_amp_dtype(device: torch.device) -> torch.dtype:
    return torch.float16 if device.type == 'cuda' else torch.bfloat16


def autocast_context(device: torch.device, amp: bool,
                     dtype: Optional[torch.dtype] = None):
    """``torch.autocast`` for ``device`` (default fp16 on CUDA, bf16 on
    CPU)."""
    if not amp:
        return nullcontext()
    return torch.autocast(device_type=device.type,
                          dtype=dtype or default_amp_dtype(device))


BF16_FLAGS = ('avx512_bf16', 'amx_bf16', 'avx_ne_convert')


def cpu_bf16_support(cpuinfo: str = '/proc/cpuinfo') -> Dict[str, object]:
    """Which native bfloat16 instruction sets the CPU reports.

    Returns dict(native=bool | None, flags=[...], model=str); ``native`` is
    None when ``cpuinfo`` cannot be read (not Linux)."""
    try:
        with open(cpuinfo) as f:
            text = f.read()
    except OSError:
        return dict(native=None, flags=[], model='unknown')
    flags, model = set(), 'unknown'
    for line in text.splitlines():
        key, _, value = line.partition(':')
        key = key.strip()
        if key == 'flags':
            flags.update(value.split())
        elif key == 'model name' and model == 'unknown':
            model = value.strip()
    found = [f for f in BF16_FLAGS if f in flags]
    return dict(native=bool(found), flags=found, model=model)


# --------------------------------------------------------------------------
# measuring
# --------------------------------------------------------------------------
def measure(fn: Callable[[], object],
            batch_size: int,
            device='cpu',
            repeat: int = 20,
            warmup: int = 3,
            amp: bool = False,
            amp_dtype: Optional[torch.dtype] = None) -> Dict[str, float]:
    """Time ``fn()`` (one batch of ``batch_size`` images) ``repeat`` times
    without gradients.

    Returns a dict: ``images_per_s`` (= batch_size / mean latency),
    ``latency_ms_mean`` / ``_median`` / ``_p90`` / ``_min`` (per batch),
    ``peak_memory_mib`` and ``memory_method``.
    """
    if repeat < 1:
        raise ValueError('repeat must be >= 1')
    device = torch.device(device)
    with torch.no_grad(), autocast_context(device, amp, amp_dtype):
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
    return dict(**latency_stats(times, batch_size),
                peak_memory_mib=peak,
                peak_memory_delta_mib=peak_delta,
                memory_method=method)


def latency_stats(times, batch_size: int) -> Dict[str, float]:
    """images/s (= batch_size / mean) and per-batch latency statistics (ms)
    of ``times`` (seconds)."""
    ms = sorted(t * 1000 for t in times)
    mean = statistics.fmean(ms)
    p90 = ms[min(len(ms) - 1, max(0, int(round(0.9 * len(ms))) - 1))]
    return dict(
        images_per_s=batch_size / (mean / 1000),
        latency_ms_mean=mean,
        latency_ms_median=statistics.median(ms),
        latency_ms_p90=p90,
        latency_ms_min=ms[0])


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


# --------------------------------------------------------------------------
# training
# --------------------------------------------------------------------------
# real dataset type -> (synthetic dataset of the same layout, its 'kind',
# default image size (H, W): NYUDv2's 480x640, PASCAL-Context's typical
# 375x500)
SYNTHETIC_TWINS = {
    'NYUDv2Dataset': ('SyntheticNYUDv2Dataset', 'nyud', (480, 640)),
    'PascalContextMTDataset': ('SyntheticPascalContextDataset', 'pascal',
                               (375, 500)),
}


def synthetic_train_dataset(cfg, data_root: str, data_size=None,
                            num_images: int = 32):
    """``cfg``'s training dataset (its pipeline and tasks) with the real data
    replaced by the synthetic dataset of the same layout, ``num_images``
    images of ``data_size`` generated into a folder under ``data_root``."""
    ds = copy.deepcopy(cfg.train_dataloader.dataset)
    kind = None
    if ds.type in SYNTHETIC_TWINS:
        ds.type, kind, size = SYNTHETIC_TWINS[ds.type]
    elif ds.type in {v[0] for v in SYNTHETIC_TWINS.values()}:
        kind, size = ds.type, ds.get('img_size', (96, 128))
        if data_size is None:
            return ds
    else:
        raise ValueError(
            f'{cfg.filename}: train_dataloader.dataset.type={ds.type!r} has '
            f'no synthetic twin (known: {", ".join(SYNTHETIC_TWINS)})')
    size = tuple(data_size or size)
    ds.data_root = osp.join(data_root,
                            f'{kind}_{size[0]}x{size[1]}_{num_images}')
    ds.update(num_train=num_images, num_val=1, img_size=size, seed=0)
    return ds


def set_crop_size(cfg, size) -> None:
    """Train at ``size`` (H, W): every training pipeline step with a
    ``crop_size`` and the data preprocessor's padding size."""
    size = tuple(size)
    for step in cfg.train_dataloader.dataset.pipeline:
        if 'crop_size' in step:
            step['crop_size'] = size
    cfg.model.data_preprocessor['size'] = size


def build_train_loader(cfg, dataset_cfg, batch_size=None, num_workers=None):
    """The config's training dataloader (sampler, collate) over
    ``dataset_cfg``, with ``batch_size`` / ``num_workers`` if given."""
    from mmengine.runner import Runner
    loader = copy.deepcopy(cfg.train_dataloader)
    loader.dataset = dataset_cfg
    if batch_size is not None:
        loader.batch_size = batch_size
    if num_workers is not None:
        loader.num_workers = num_workers
        if num_workers == 0:
            loader.persistent_workers = False
    return Runner.build_dataloader(loader, seed=0)


def make_train_step(model, cfg, device, amp: bool = False,
                    amp_dtype: Optional[torch.dtype] = None, wrapper=None):
    """One training step ``step(data_batch) -> loss`` of ``model`` with the
    config's optimizer (and gradient clipping); under autocast if ``amp``
    (float16 with a gradient scaler). ``wrapper``: the module to call for
    the losses instead of ``model`` (e.g. ``model`` in
    ``DistributedDataParallel``)."""
    from mmengine.optim import build_optim_wrapper
    device = torch.device(device)
    dtype = amp_dtype or default_amp_dtype(device)
    optim_cfg = copy.deepcopy(cfg.optim_wrapper)
    use_scaler = amp and dtype == torch.float16
    if use_scaler:
        optim_cfg.update(type='AmpOptimWrapper', dtype='float16')
    else:
        optim_cfg.update(type='OptimWrapper')
        optim_cfg.pop('dtype', None)
        optim_cfg.pop('loss_scale', None)
    optim_wrapper = build_optim_wrapper(model, optim_cfg)
    model.train()
    net = wrapper or model

    def step(data):
        data = model.data_preprocessor(data, True)
        context = (optim_wrapper.optim_context(model) if use_scaler else
                   autocast_context(device, amp, dtype))
        with context:
            losses = net(**data, mode='loss')
        loss, _ = model.parse_losses(losses)
        optim_wrapper.update_params(loss)
        return loss

    return step


def measure_train(step: Callable, loader, batch_size: int, device='cpu',
                  repeat: int = 5, warmup: int = 1) -> Dict[str, float]:
    """Time ``repeat`` training steps after ``warmup`` untimed ones.

    Each step is timed from asking the loader for the batch to the end of the
    optimizer step; the part spent waiting for the batch is reported as
    ``data_wait_ms_mean`` and ``data_wait_fraction`` (of the timed steps'
    total). Peak memory covers the warm-up (optimizer state): CUDA
    ``max_memory_allocated``; CPU the peak resident set of this process
    (dataloader workers are other processes).
    """
    if repeat < 1:
        raise ValueError('repeat must be >= 1')
    device = torch.device(device)
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)
        mem = nullcontext()
    else:
        mem = CpuPeakMemory()
    batches = iter(loader)
    waits, steps = [], []
    with mem:
        for i in range(max(0, warmup) + repeat):
            start = time.perf_counter()
            data = next(batches)
            got = time.perf_counter()
            step(data)
            _sync(device)
            if i >= warmup:
                waits.append(got - start)
                steps.append(time.perf_counter() - start)
    if device.type == 'cuda':
        peak = torch.cuda.max_memory_allocated(device) / 2**20
        method = 'torch.cuda.max_memory_allocated'
    else:
        peak, method = mem.peak_abs_mib, mem.method + ' (process peak)'
    return dict(**latency_stats(steps, batch_size),
                data_wait_ms_mean=1000 * statistics.fmean(waits),
                data_wait_fraction=sum(waits) / sum(steps),
                peak_memory_mib=peak,
                memory_method=method)


# --------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------
def format_table(result: Dict) -> str:
    amp = (f"{result['amp_dtype']} autocast" if result['amp'] else 'no')
    rows = [
        ('mode', result.get('mode', 'predict')),
        ('device', result['device']),
        ('amp', amp),
        ('batch size', result['batch_size']),
        ('input shape', 'x'.join(map(str, result['shape']))),
        ('images / s', f"{result['images_per_s']:.3f}"),
        ('latency mean (ms)', f"{result['latency_ms_mean']:.2f}"),
        ('latency median (ms)', f"{result['latency_ms_median']:.2f}"),
        ('latency p90 (ms)', f"{result['latency_ms_p90']:.2f}"),
    ]
    if 'data_wait_fraction' in result:
        wait = 100 * result['data_wait_fraction']
        rows += [('data wait mean (ms)',
                  f"{result['data_wait_ms_mean']:.1f}"),
                 ('data wait / step', f'{wait:.2f}%'),
                 ('dataloader workers', result['num_workers'])]
    rows += [
        ('peak memory (MiB)', f"{result['peak_memory_mib']:.1f}"),
        ('memory measured by', result['memory_method']),
    ]
    if result['device'] == 'cpu':
        bf16 = result['cpu_bf16']
        native = {True: 'yes (' + ', '.join(bf16['flags']) + ')',
                  False: 'no (emulated)', None: 'unknown'}[bf16['native']]
        rows.append(('CPU native bf16', native))
        if result.get('onednn_max_cpu_isa'):
            rows.append(('ONEDNN_MAX_CPU_ISA', result['onednn_max_cpu_isa']))
    width = max(len(k) for k, _ in rows)
    vwidth = max(34, max(len(str(v)) for _, v in rows))
    line = '+-' + '-' * width + '-+-' + '-' * vwidth + '-+'
    body = [f'| {k:<{width}} | {str(v):<{vwidth}} |' for k, v in rows]
    return '\n'.join([line, *body, line])


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(
        description='Inference or training speed and peak memory of a model')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', nargs='?', default=None,
                        help='checkpoint (default: random weights)')
    parser.add_argument('--mode', choices=['predict', 'train', 'data'],
                        default='predict')
    parser.add_argument('--device', default='cpu',
                        help="'cpu', 'cuda' or 'cuda:N'")
    amp = parser.add_mutually_exclusive_group()
    amp.add_argument('--amp', action='store_true',
                     help='autocast (--amp-dtype)')
    amp.add_argument('--compare-amp', action='store_true',
                     help='measure without and with autocast')
    parser.add_argument('--amp-dtype', choices=['bfloat16', 'float16'],
                        help='autocast dtype (default: float16 on CUDA, '
                        'bfloat16 on CPU)')
    parser.add_argument('--shape', type=int, nargs=2, default=[480, 640],
                        metavar=('H', 'W'),
                        help='predict: input size (train: --crop-size)')
    parser.add_argument('--batch-size', type=int, default=None,
                        help='default: 1 (predict), the config\'s (train)')
    parser.add_argument('--num-workers', type=int, default=None,
                        help='train: dataloader workers (default: the '
                        'config\'s)')
    parser.add_argument('--crop-size', type=int, nargs=2, default=None,
                        metavar=('H', 'W'),
                        help='train: crop size (default: the config\'s)')
    parser.add_argument('--data-size', type=int, nargs=2, default=None,
                        metavar=('H', 'W'),
                        help='train: synthetic image size (default: the '
                        'real dataset\'s)')
    parser.add_argument('--data-root', default='work_dirs/benchmark_data',
                        help='train: where the synthetic data is generated')
    parser.add_argument('--repeat', type=int, default=None,
                        help='timed batches (default 20 predict, 5 train)')
    parser.add_argument('--warmup', type=int, default=None,
                        help='untimed batches first (default 3 predict, '
                        '1 train)')
    parser.add_argument('--out', default=None, help='JSON file to write')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value')
    args = parser.parse_args(argv)
    train = args.mode == 'train'
    if args.repeat is None:
        args.repeat = 5 if train else 20
    if args.warmup is None:
        args.warmup = 1 if train else 3
    return args


def run(args, amp: bool) -> Dict:
    """One measurement of ``args`` with or without autocast."""
    device = torch.device(args.device)
    dtype = (getattr(torch, args.amp_dtype) if args.amp_dtype else
             default_amp_dtype(device))
    from mmengine.config import Config
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if args.mode != 'predict' and args.crop_size:
        set_crop_size(cfg, args.crop_size)
    if args.mode == 'data':
        from mmengine.registry import init_default_scope
        init_default_scope(cfg.get('default_scope', 'mmseg'))
        model = None
    else:
        model = build_model(cfg, args.checkpoint, device)
    result = dict(config=args.config, checkpoint=args.checkpoint,
                  mode=args.mode, device=str(device), amp=amp,
                  amp_dtype=str(dtype).replace('torch.', '') if amp else None,
                  repeat=args.repeat, warmup=args.warmup,
                  torch=torch.__version__, threads=torch.get_num_threads(),
                  cpu_bf16=cpu_bf16_support(),
                  onednn_max_cpu_isa=os.environ.get('ONEDNN_MAX_CPU_ISA'))
    if args.mode == 'predict':
        batch_size = args.batch_size or 1
        fn = make_predict_fn(model, args.shape, batch_size, device)
        result.update(batch_size=batch_size, shape=list(args.shape))
        result.update(measure(fn, batch_size, device, args.repeat,
                              args.warmup, amp, dtype))
    else:
        if amp and args.mode == 'data':
            raise SystemExit('--amp has no meaning with --mode data')
        dataset = synthetic_train_dataset(cfg, args.data_root,
                                          args.data_size)
        loader = build_train_loader(cfg, dataset, args.batch_size,
                                    args.num_workers)
        crop = next(t['crop_size'] for t in dataset.pipeline
                    if 'crop_size' in t)
        result.update(batch_size=loader.batch_size, shape=list(crop),
                      num_workers=loader.num_workers,
                      dataset=dict(type=dataset.type,
                                   img_size=list(dataset.img_size)))
        if args.mode == 'data':      # the pipeline alone, no model step
            step = lambda data: None  # noqa: E731
        else:
            step = make_train_step(model, cfg, device, amp, dtype)
        result.update(measure_train(step, loader, loader.batch_size,
                                    device, args.repeat, args.warmup))
    return result


def run_in_subprocess(argv, amp: bool) -> Dict:
    """``run`` in a fresh Python process (so that peak memory is that run's
    own), returning its result."""
    import subprocess
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        out = osp.join(tmp, 'result.json')
        argv = [a for a in argv if a not in ('--compare-amp', '--amp')]
        cmd = [sys.executable, osp.abspath(__file__), *argv, '--out', out]
        if amp:
            cmd.append('--amp')
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        with open(out) as f:
            return json.load(f)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    device = torch.device(args.device)
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise SystemExit('CUDA is not available; use --device cpu')
    if args.compare_amp:
        if '--out' in argv:          # the children must not write there
            i = argv.index('--out')
            del argv[i:i + 2]
        runs = [run_in_subprocess(argv, False), run_in_subprocess(argv, True)]
        result = dict(runs=runs, amp_speedup=runs[1]['images_per_s'] /
                      runs[0]['images_per_s'])
    else:
        runs = [run(args, args.amp)]
        result = runs[0]
    for r in runs:
        print(format_table(r))
    if args.compare_amp:
        print(f"autocast ({runs[1]['amp_dtype']}) / float32 images/s: "
              f"{result['amp_speedup']:.2f}x (each run in its own process)")
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=2)
        print(f'results written to {args.out}')
    return result


if __name__ == '__main__':
    main()
