"""Generic measurement: clocks, latency statistics, memory meters, matmul
peaks, autocast and the machine's description.

Nothing here knows a model or a config (this module sits at the bottom of
the package and imports nothing of mmtlsi): the model-side parts (the one
analysis model builder, predict closures, the training-step maker, the
synthetic stand-in data) are :mod:`mmtlsi.apis.analysis`, built on these.

- Clocks: ``--timer wall`` is ``time.perf_counter``; ``--timer cpu`` is this
  process's CPU time (``time.process_time``), which with one thread is the
  work done, whatever else waits for the same cores. :func:`add_timer_arg`
  adds the option, :func:`get_clock` checks and returns it.
- :func:`measure` times a no-gradient call; :func:`measure_train` times
  training steps and splits off the wait for the next batch.
- Memory: :class:`CpuPeakMemory` (resident set sampled by a thread),
  :class:`LiveTensorBytes` (live tensor bytes seen by a dispatch mode),
  CUDA's own counters.
- :func:`matmul_peak`: the best multiply-adds per second of square matrix
  products of a dtype, the limit every result is also reported against
  (:func:`share_of_peak`).
"""
from __future__ import annotations

import os
import os.path as osp
import platform
import statistics
import sys
import threading
import time
import weakref
from contextlib import nullcontext
from typing import Callable, Dict, Optional

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from .allocator import release_free_memory

CLOCKS = {'wall': time.perf_counter, 'cpu': time.process_time}


def add_timer_arg(parser, default: str = 'wall') -> None:
    """The ``--timer wall|cpu`` option of every measuring command."""
    parser.add_argument(
        '--timer', choices=sorted(CLOCKS), default=default,
        help='wall time, or the CPU time of this process (CPU runs only; '
        'with one thread it is the work done, whatever else runs on the '
        'machine)')


def get_clock(timer: str, device='cpu') -> Callable[[], float]:
    """The clock of ``--timer`` (``'wall'`` or ``'cpu'``) for ``device``."""
    if timer not in CLOCKS:
        raise ValueError(f'timer must be one of {sorted(CLOCKS)}, '
                         f'not {timer!r}')
    if timer == 'cpu' and torch.device(device).type != 'cpu':
        raise ValueError('--timer cpu times CPU runs only')
    return CLOCKS[timer]


def synchronize(device) -> None:
    device = torch.device(device)
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def time_call(fn: Callable[[], object], device='cpu',
              clock: Callable[[], float] = time.perf_counter) -> float:
    """Seconds (of ``clock``) of one ``fn()``, the device synchronised."""
    synchronize(device)
    start = clock()
    fn()
    synchronize(device)
    return clock() - start


def latency_stats(times, batch_size: int) -> Dict[str, float]:
    """images/s (= batch_size / mean) and per-batch latency statistics (ms)
    of ``times`` (seconds)."""
    ms = sorted(t * 1000 for t in times)
    mean = statistics.fmean(ms)
    p90 = ms[min(len(ms) - 1, max(0, int(round(0.9 * len(ms))) - 1))]
    return dict(images_per_s=batch_size / (mean / 1000),
                latency_ms_mean=mean,
                latency_ms_median=statistics.median(ms),
                latency_ms_p90=p90,
                latency_ms_min=ms[0])


class PartTimer:
    """Adds up, per named group of modules, the ``clock`` time spent inside
    their forwards (forward hooks); ``seconds[name]`` after the calls."""

    def __init__(self, parts: Dict[str, list], clock=time.perf_counter):
        from collections import defaultdict
        self.clock = clock
        self.seconds = defaultdict(float)
        self.handles = []
        for name, modules in parts.items():
            for module in modules:
                self.handles.append(
                    module.register_forward_pre_hook(self._start))
                self.handles.append(
                    module.register_forward_hook(self._stop(name)))

    def _start(self, module, args):
        module._part_timer_start = self.clock()

    def _stop(self, name):
        def hook(module, args, output):
            self.seconds[name] += self.clock() - module._part_timer_start
        return hook

    def reset(self):
        self.seconds.clear()

    def remove(self):
        for handle in self.handles:
            handle.remove()


# --------------------------------------------------------------------------
# memory
# --------------------------------------------------------------------------
class CpuPeakMemory:
    """Peak growth (``peak_mib``) and peak (``peak_abs_mib``) of the
    process's resident set size while the block runs, MiB: sampled from
    ``/proc/self/statm`` every ``interval`` s by a thread (Linux); elsewhere,
    or with ``sample=False``, from ``ru_maxrss`` (the process's peak so far:
    its growth reads 0 under an earlier peak).

    The sampling thread wakes a thousand times a second: when every core
    computes (as many threads as cores) it takes time from them, so blocks
    that are timed run without it (:func:`measure` samples the warm-up;
    :func:`measure_train` reads ``ru_maxrss``)."""

    STATM = '/proc/self/statm'

    def __init__(self, interval: float = 0.001, sample: bool = True):
        self.interval = interval
        self.sample = sample and osp.exists(self.STATM)
        self.method = ('rss sampled from /proc/self/statm' if self.sample
                       else 'resource.getrusage ru_maxrss')
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
        # free memory a retaining allocator kept would hide working memory
        release_free_memory()
        if self.sample:
            self._base = self._peak = self._rss_bytes()
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        else:
            self._base = self._maxrss_bytes()
        return self

    def __exit__(self, *exc):
        if self.sample:
            self._stop.set()
            self._thread.join()
            self._peak = max(self._peak, self._rss_bytes())
        else:
            self._peak = self._maxrss_bytes()
        self.peak_mib = max(0, self._peak - self._base) / 2**20
        self.peak_abs_mib = self._peak / 2**20
        return False


class LiveTensorBytes(TorchDispatchMode):
    """Peak bytes (``peak``) of the tensors produced by ops while active, on
    any device; fused kernels' internal scratch is not visible to it."""

    def __init__(self):
        super().__init__()
        self.live = self.peak = 0
        self._storages = set()

    def _free(self, key, nbytes):
        self._storages.discard(key)
        self.live -= nbytes

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        from torch.utils._pytree import tree_flatten
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


class _CudaPeak:
    method = 'torch.cuda.max_memory_allocated'

    def __init__(self, device):
        self.device = device

    def __enter__(self):
        torch.cuda.reset_peak_memory_stats(self.device)
        self.base = torch.cuda.memory_allocated(self.device) / 2**20
        return self

    def __exit__(self, *exc):
        self.peak_abs_mib = torch.cuda.max_memory_allocated(
            self.device) / 2**20
        self.peak_mib = self.peak_abs_mib - self.base
        return False


def peak_memory_meter(device, sample: bool = True):
    """A context manager with ``peak_mib`` (growth), ``peak_abs_mib`` and
    ``method`` after the block: CUDA's allocator counters, or
    :class:`CpuPeakMemory` (``sample``: with its sampling thread)."""
    device = torch.device(device)
    return _CudaPeak(device) if device.type == 'cuda' else CpuPeakMemory(
        sample=sample)


# --------------------------------------------------------------------------
# timing loops
# --------------------------------------------------------------------------
def measure(fn: Callable[[], object], batch_size: int, device='cpu',
            repeat: int = 20, warmup: int = 3, amp: bool = False,
            amp_dtype: Optional[torch.dtype] = None,
            clock: Callable[[], float] = time.perf_counter) -> Dict:
    """Time ``fn()`` (one batch of ``batch_size`` images) ``repeat`` times
    without gradients, after ``warmup`` untimed calls.

    Returns :func:`latency_stats` plus ``peak_memory_mib`` (CPU: the peak
    growth of the resident set from before the first call, so the working
    memory of a forward, which the allocator keeps after the warm-up, is
    counted; CUDA: the peak allocated), ``peak_memory_delta_mib`` and
    ``memory_method``. Memory is measured over the warm-up calls (over the
    timed ones only with ``warmup=0``): the CPU meter's sampling thread
    would slow timed calls that use every core."""
    if repeat < 1:
        raise ValueError('repeat must be >= 1')
    with torch.no_grad(), autocast_context(device, amp, amp_dtype):
        with peak_memory_meter(device) as mem:
            for _ in range(max(0, warmup)):
                fn()
            synchronize(device)
            if warmup <= 0:
                times = [time_call(fn, device, clock)
                         for _ in range(repeat)]
        if warmup > 0:
            times = [time_call(fn, device, clock) for _ in range(repeat)]
    peak = (mem.peak_abs_mib if torch.device(device).type == 'cuda' else
            mem.peak_mib)
    return dict(**latency_stats(times, batch_size), peak_memory_mib=peak,
                peak_memory_delta_mib=mem.peak_mib, memory_method=mem.method)


def measure_train(step: Callable, loader, batch_size: int, device='cpu',
                  repeat: int = 5, warmup: int = 1,
                  clock: Callable[[], float] = None) -> Dict:
    """Time ``repeat`` training steps ``step(batch)`` after ``warmup``
    untimed ones.

    Each step is timed from asking ``loader`` for the batch to the end of
    the step; the wait for the batch is ``data_wait_ms_mean`` and
    ``data_wait_fraction`` (of the timed steps' total). Peak memory covers
    the warm-up (optimizer state): CUDA ``max_memory_allocated``; CPU the
    peak resident set of this process (``ru_maxrss``; dataloader workers
    are others)."""
    if repeat < 1:
        raise ValueError('repeat must be >= 1')
    clock = clock or time.perf_counter
    batches = iter(loader)
    waits, steps = [], []
    with peak_memory_meter(device, sample=False) as mem:
        for i in range(max(0, warmup) + repeat):
            start = clock()
            data = next(batches)
            got = clock()
            step(data)
            synchronize(device)
            if i >= warmup:
                waits.append(got - start)
                steps.append(clock() - start)
    method = mem.method + ('' if torch.device(device).type == 'cuda' else
                           ' (process peak)')
    return dict(**latency_stats(steps, batch_size),
                data_wait_ms_mean=1000 * statistics.fmean(waits),
                data_wait_fraction=sum(waits) / sum(steps),
                peak_memory_mib=mem.peak_abs_mib, memory_method=method)


# --------------------------------------------------------------------------
# precision
# --------------------------------------------------------------------------
def default_amp_dtype(device) -> torch.dtype:
    return (torch.float16 if torch.device(device).type == 'cuda' else
            torch.bfloat16)


def autocast_context(device, amp: bool, dtype: Optional[torch.dtype] = None):
    """``torch.autocast`` for ``device`` (default fp16 on CUDA, bf16 on
    CPU), or nothing when not ``amp``."""
    if not amp:
        return nullcontext()
    device = torch.device(device)
    return torch.autocast(device_type=device.type,
                          dtype=dtype or default_amp_dtype(device))


BF16_FLAGS = ('avx512_bf16', 'amx_bf16', 'avx_ne_convert')

# oneDNN (PyTorch's CPU matrix and convolution kernels) uses no instruction
# set above ONEDNN_MAX_CPU_ISA: the bf16 flags each cap still lets it use
_NO_BF16 = ()
ISA_CAP_BF16_FLAGS = {
    'SSE41': _NO_BF16, 'AVX': _NO_BF16, 'AVX2': _NO_BF16,
    'AVX2_VNNI': _NO_BF16, 'AVX512_CORE': _NO_BF16,
    'AVX512_CORE_VNNI': _NO_BF16,
    'AVX2_VNNI_2': ('avx_ne_convert', ),
    'AVX512_CORE_BF16': ('avx512_bf16', 'avx_ne_convert'),
    'AVX512_CORE_FP16': ('avx512_bf16', 'avx_ne_convert'),
    'AVX10_1_512': ('avx512_bf16', 'avx_ne_convert'),
    'AVX512_CORE_AMX': BF16_FLAGS, 'AVX10_1_512_AMX': BF16_FLAGS,
    'AVX512_CORE_AMX_FP16': BF16_FLAGS, 'AVX10_1_512_AMX_FP16': BF16_FLAGS,
    'DEFAULT': BF16_FLAGS, 'ALL': BF16_FLAGS,
}


def onednn_isa_cap(environ=None) -> Optional[str]:
    """The cap ``ONEDNN_MAX_CPU_ISA`` (or the older ``DNNL_MAX_CPU_ISA``)
    puts on oneDNN's instruction sets, upper-cased; None when unset."""
    environ = os.environ if environ is None else environ
    for name in ('ONEDNN_MAX_CPU_ISA', 'DNNL_MAX_CPU_ISA'):
        value = environ.get(name, '').strip()
        if value:
            return value.upper()
    return None


def cpu_bf16_support(cpuinfo: str = '/proc/cpuinfo',
                     environ=None) -> Dict[str, object]:
    """Which native bfloat16 instruction sets the CPU reports and PyTorch's
    kernels may use.

    Returns dict(native=bool | None, flags=[...], model=str, capability=str,
    isa_cap=str | None, capped=[...]): ``native`` is None when ``cpuinfo``
    cannot be read (not Linux); ``capability`` is the vector ISA PyTorch
    dispatches to (``AVX2``, ``AVX512``, ...). ``ONEDNN_MAX_CPU_ISA`` below
    a flag's instruction set (``AVX512_CORE``, say) removes that flag from
    ``flags`` (listed in ``capped``): oneDNN then multiplies bf16 without
    it. Without native bf16, PyTorch converts in software and a bf16 matrix
    product is much slower than an fp32 one."""
    capability = 'unknown'
    backends_cpu = getattr(torch.backends, 'cpu', None)
    if backends_cpu is not None and hasattr(backends_cpu,
                                            'get_cpu_capability'):
        capability = backends_cpu.get_cpu_capability()
    cap = onednn_isa_cap(environ)
    try:
        with open(cpuinfo) as f:
            text = f.read()
    except OSError:
        return dict(native=None, flags=[], model='unknown',
                    capability=capability, isa_cap=cap, capped=[])
    flags, model = set(), 'unknown'
    for line in text.splitlines():
        key, _, value = line.partition(':')
        key = key.strip()
        if key == 'flags':
            flags.update(value.split())
        elif key == 'model name' and model == 'unknown':
            model = value.strip()
    found = [f for f in BF16_FLAGS if f in flags]
    # an ISA name oneDNN does not know leaves it uncapped
    allowed = ISA_CAP_BF16_FLAGS.get(cap, BF16_FLAGS)
    usable = [f for f in found if f in allowed]
    return dict(native=bool(usable), flags=usable, model=model,
                capability=capability, isa_cap=cap,
                capped=[f for f in found if f not in allowed])


def bf16_is_native(device) -> bool:
    """Whether ``device`` multiplies bfloat16 in hardware (CUDA: compute
    capability 8.0 or newer; CPU: :func:`cpu_bf16_support`)."""
    device = torch.device(device)
    if device.type == 'cuda':
        return torch.cuda.is_bf16_supported()
    return bool(cpu_bf16_support()['native'])


# --------------------------------------------------------------------------
# the machine's limit
# --------------------------------------------------------------------------
def matmul_peak(device='cpu', dtype: torch.dtype = torch.float32,
                n: int = 4096, repeats: int = 3,
                clock: Callable[[], float] = time.perf_counter) -> dict:
    """The best of ``repeats`` timed (n x n) @ (n x n) products of ``dtype``
    on ``device`` after one warm-up: n^3 multiply-adds each.

    Returns dict(dtype, n, seconds (best), gmacs_per_s, tflops (2 FLOPs per
    multiply-add), timer)."""
    if repeats < 1:
        raise ValueError('repeats must be >= 1')
    device = torch.device(device)
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=gen).to(device, dtype)
    b = torch.randn(n, n, generator=gen).to(device, dtype)
    with torch.no_grad():
        a @ b
        best = min(time_call(lambda: a @ b, device, clock)
                   for _ in range(repeats))
    return dict(dtype=str(dtype).replace('torch.', ''), n=n, seconds=best,
                gmacs_per_s=n**3 / best / 1e9,
                tflops=2 * n**3 / best / 1e12,
                timer='cpu' if clock is time.process_time else 'wall')


def share_of_peak(macs: float, seconds: float, peak: dict) -> float:
    """``macs`` multiply-adds done in ``seconds`` as a fraction of a
    :func:`matmul_peak` result."""
    return macs / seconds / 1e9 / peak['gmacs_per_s']


def environment(device='cpu') -> dict:
    """The machine and software a figure was measured on."""
    device = torch.device(device)
    versions = dict(python=platform.python_version(),
                    torch=torch.__version__, cuda=torch.version.cuda)
    for name in ('mmengine', 'mmcv', 'mmseg', 'mmpretrain'):
        try:
            versions[name] = __import__(name).__version__
        except ImportError:
            versions[name] = None
    if device.type == 'cuda':
        devices = [torch.cuda.get_device_name(i)
                   for i in range(torch.cuda.device_count())]
    else:
        devices = [f"{cpu_bf16_support()['model']} "
                   f'({os.cpu_count()} cores)']
    return dict(devices=devices, threads=torch.get_num_threads(),
                versions=versions)
