"""The model side of measurement, shared by the analysis tools
(``mmtlsi.tools.benchmark``, ``mmtlsi.tools.get_flops``) and the
experiment drivers in ``.dev_scripts/``.

- :func:`build_model_for_analysis`: :func:`mmtlsi.apis.builder.build_model`
  (pretrained weights dropped, SyncBN reverted, ``cfg_options`` checked)
  plus an optional checkpoint.
- :func:`make_predict_fn`: a fixed preprocessed batch run in predict mode.
- The training step: :func:`make_train_step` (the config's optimizer and
  gradient clipping, optional autocast) on the config's own pipeline over
  the synthetic stand-in of its dataset (:func:`synthetic_train_dataset`,
  :func:`set_crop_size`, :func:`build_train_loader`).
- :func:`train_step_macs`: the multiply-adds of a training step, so that a
  step's speed is a share of the machine's matmul peak.
- :func:`markdown_table`: the report's table layout for measured rows.

Generic clocks, memory meters and matmul peaks are
:mod:`mmtlsi.utils.benchmark`.
"""
from __future__ import annotations

import copy
import os.path as osp
from typing import Optional, Sequence

import torch

from mmtlsi.utils import benchmark as meter
from mmtlsi.utils.allocator import malloc_mode
from mmtlsi.utils.benchmark import autocast_context, default_amp_dtype
from mmtlsi.utils.tables import render_table

from .builder import ConfigType, build_model, to_config

__all__ = ['build_model_for_analysis', 'make_predict_fn', 'SYNTHETIC_TWINS',
           'synthetic_train_dataset', 'set_crop_size', 'build_train_loader',
           'make_train_step', 'train_step_macs', 'markdown_table',
           'load_config', 'machine_peaks', 'run_benchmark',
           'format_benchmark', 'add_share_of_peak', 'profile_ops',
           'format_op_profile']


def build_model_for_analysis(config: ConfigType,
                             checkpoint: Optional[str] = None,
                             cfg_options: Optional[dict] = None,
                             device='cpu') -> torch.nn.Module:
    """``config``'s model in eval mode on ``device``: random weights unless
    ``checkpoint`` is given, never a pretrained-weight download, SyncBN
    reverted, ``cfg_options`` checked (an unknown key is an error)."""
    model = build_model(config, cfg_options, device='cpu')
    if checkpoint:
        from mmengine.runner import load_checkpoint
        load_checkpoint(model, checkpoint, map_location='cpu')
    return model.to(device).eval()


def make_predict_fn(model, shape, batch_size: int, device='cpu'):
    """A closure running ``model`` in predict mode on a fixed random uint8
    batch, preprocessed once (outside any timed region)."""
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

    def fn(net=model):
        return net(batch, data_samples, mode='predict')

    return fn


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
    ``crop_size`` and the data preprocessor's padding size, in place."""
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


def make_train_step(model, cfg, device='cpu', amp: bool = False,
                    amp_dtype: Optional[torch.dtype] = None, wrapper=None):
    """One training step ``step(data_batch) -> loss`` of ``model`` with the
    config's optimizer (and gradient clipping); under autocast if ``amp``
    (float16 with a gradient scaler). ``wrapper``: the module called for
    the losses instead of ``model`` (``model`` in DDP, or compiled)."""
    from mmengine.optim import build_optim_wrapper
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
    net = model if wrapper is None else wrapper

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


def train_step_macs(forward_macs: float, batch_size: int) -> float:
    """Multiply-adds of one training step: forward plus a backward of twice
    the forward's (the usual convention), per image times the batch."""
    return 3 * forward_macs * batch_size


def markdown_table(header: Sequence[str], rows: Sequence[Sequence]) -> str:
    """``rows`` under ``header`` in the report's Markdown layout."""
    return render_table(header, rows, 'markdown')


def load_config(config: ConfigType, cfg_options: Optional[dict] = None):
    """A private copy of ``config`` with checked ``cfg_options``."""
    from .run_config import merge_cfg_options
    return merge_cfg_options(to_config(config), cfg_options)


def machine_peaks(device='cpu', n: Optional[int] = None,
                  dtypes=(torch.float32, torch.bfloat16),
                  timer: str = 'wall') -> dict:
    """{dtype name: :func:`~mmtlsi.utils.benchmark.matmul_peak`} on
    ``device`` (n: 8192 on CUDA, 2048 on CPU). A bfloat16 product on a CPU
    without native bf16 is emulated (two orders of magnitude slower): it is
    measured at n <= 512 and marked ``emulated``."""
    device = torch.device(device)
    n = n or (8192 if device.type == 'cuda' else 2048)
    peaks = {}
    for dtype in dtypes:
        emulated = dtype == torch.bfloat16 and not meter.bf16_is_native(
            device)
        size = min(n, 512) if emulated else n
        peak = meter.matmul_peak(device, dtype, size,
                                 clock=meter.get_clock(timer, device))
        peaks[peak['dtype']] = dict(peak, emulated=emulated)
    return peaks


def _precision(amp, amp_dtype) -> str:
    return str(amp_dtype).replace('torch.', '') if amp else 'float32'


def run_benchmark(config, checkpoint=None, *, mode='predict', device='cpu',
                  amp=False, amp_dtype=None, weights_dtype=None,
                  compile=False, shape=(480, 640),
                  batch_size=None, crop_size=None, data_size=None,
                  data_root='work_dirs/benchmark_data', num_workers=None,
                  repeat=20, warmup=3, timer='wall', cfg_options=None,
                  peaks=None, macs=True, profile=False) -> dict:
    """One measurement of ``config``'s model: ``mode`` 'predict' (a fixed
    batch of ``shape``), 'train' (training steps on the config's pipeline
    over synthetic data at full size) or 'data' (that dataloader alone).

    ``weights_dtype`` (predict only): the model as
    :func:`mmtlsi.models.optimize_for_inference` leaves it (BN folded,
    weights and computation in ``'fp32'`` / ``'bf16'``, or ``'auto'``);
    the result's ``route`` says which of fp32, autocast or bf16 weights ran.

    ``compile``: the same measurement with the network compiled
    (:func:`mmtlsi.models.compile_network`; a backend name, or True for
    inductor), under ``compiled``
    (``compile_s``: wall seconds of the first compiled call, compiling
    included, whatever ``timer`` is: the compiler works in child processes).
    ``profile``: one more call (predict) or step (train), profiled:
    ``op_profile`` holds each kind of operator's self CPU seconds and the
    bytes its outputs hold per dtype (:func:`profile_ops`).

    ``peaks`` (from :func:`machine_peaks`) and ``macs`` (count the
    forward's multiply-adds): each result also as a share of the peak of
    its precision (``share_of_peak``)."""
    device = torch.device(device)
    dtype = amp_dtype or default_amp_dtype(device)
    clock = meter.get_clock(timer, device)
    if weights_dtype is not None and (mode != 'predict' or amp):
        raise ValueError('weights_dtype is an inference rewrite: predict '
                         'mode, without autocast')
    cfg = load_config(config, cfg_options)
    if mode != 'predict' and crop_size:
        set_crop_size(cfg, crop_size)
    result = dict(config=str(config), checkpoint=checkpoint, mode=mode,
                  device=str(device), amp=amp, precision=_precision(
                      amp, dtype), repeat=repeat, warmup=warmup, timer=timer,
                  torch=torch.__version__, threads=torch.get_num_threads(),
                  cpu_bf16=meter.cpu_bf16_support(), malloc=malloc_mode(),
                  peaks=peaks)
    if mode == 'data':
        from mmengine.registry import init_default_scope
        init_default_scope(cfg.get('default_scope', 'mmseg'))
        model = None
    else:
        model = build_model_for_analysis(cfg, checkpoint, device=device)
    result['route'] = f"{result['precision']} autocast" if amp else 'fp32'
    if weights_dtype is not None:
        from mmtlsi.models import optimize_for_inference
        optimize_for_inference(model, dtype=weights_dtype)
        bf16 = model.compute_dtype == torch.bfloat16
        result.update(precision='bfloat16' if bf16 else 'float32',
                      route='bf16 weights' if bf16 else 'fp32 (BN folded)',
                      dtype_reason=model.inference_dtype_reason)
    if mode == 'predict':
        batch = batch_size or 1
        result.update(batch_size=batch, shape=list(shape))
        fn = make_predict_fn(model, shape, batch, device)
        image_shape = tuple(shape)

        def timed(net):
            return meter.measure(lambda: fn(net), batch, device, repeat,
                                 warmup, amp, dtype, clock)

        def first_call(net):
            with torch.no_grad(), autocast_context(device, amp, dtype):
                return meter.time_call(lambda: fn(net), device)

        def one_call():
            with torch.no_grad(), autocast_context(device, amp, dtype):
                fn(model)
    else:
        dataset = synthetic_train_dataset(cfg, data_root, data_size)
        loader = build_train_loader(cfg, dataset, batch_size, num_workers)
        image_shape = next(tuple(t['crop_size']) for t in dataset.pipeline
                           if 'crop_size' in t)
        batch = loader.batch_size
        result.update(batch_size=batch, shape=list(image_shape),
                      num_workers=loader.num_workers,
                      dataset=dict(type=dataset.type,
                                   img_size=list(dataset.img_size)))

        def make_step(net):
            if model is None:        # the pipeline alone
                return lambda data: None
            return make_train_step(model, cfg, device, amp, dtype, net)

        # one iterator for every run: a second iterator of mmengine's
        # InfiniteSampler stops once the first one is garbage-collected
        batches = iter(loader)

        def timed(net):
            return meter.measure_train(make_step(net), batches, batch,
                                       device, repeat, warmup, clock)

        def first_call(net):
            step = make_step(net)
            data = next(batches)
            return meter.time_call(lambda: step(data), device)

        def one_call(step=make_step(model)):
            step(next(batches))
    result.update(timed(model))
    if model is not None and macs:
        # counted after the timing: the counting forward would otherwise
        # leave its memory to the allocator before the memory meter starts
        from mmtlsi.utils import count_flops
        forward = count_flops(model, image_shape)['total']
        result['forward_gmacs'] = forward / 1e9
        result['macs_per_batch'] = (forward * batch if mode == 'predict' else
                                    train_step_macs(forward, batch))
    if profile and model is not None:
        result['op_profile'] = profile_ops(one_call)
    if compile and model is not None:
        from mmtlsi.models import compile_network
        backend = compile if isinstance(compile, str) else 'inductor'
        # the network (backbone + head, and its losses) compiled in place,
        # as the compile switch of a run does
        compile_network(model, dict(backend=backend))
        compile_s = first_call(model)
        runs = dict(timed(model), compile_s=compile_s, backend=backend)
        runs['macs_per_batch'] = result.get('macs_per_batch')
        runs['precision'] = result['precision']
        runs['speedup'] = runs['images_per_s'] / result['images_per_s']
        result['compiled'] = runs
    if peaks:
        # the peak is the best product seen in the run: measured again
        # after the model, so that a slow moment before it (other work on
        # the machine, clocks ramping up) cannot inflate the shares
        remeasure_peaks(peaks, device)
        add_share_of_peak(result, peaks)
        if 'compiled' in result:
            add_share_of_peak(result['compiled'], peaks)
            result['compiled'].pop('macs_per_batch')
    return result


def profile_ops(call) -> dict:
    """Where ``call()``'s work goes, per kind of operator
    (:mod:`mmtlsi.utils.op_profile`): ``seconds`` (self CPU time of one
    call, and its wall ``total``) and ``bytes_out`` per dtype (of a
    second call)."""
    from mmtlsi.utils.op_profile import OpDtypeRecorder, time_by_op_group
    seconds = time_by_op_group(call, repeat=1)
    recorder = OpDtypeRecorder()
    with recorder:
        call()
    return dict(seconds=seconds, bytes_out={
        group: {dt: row['bytes_out'] for dt, row in dtypes.items()}
        for group, dtypes in recorder.by_group().items()})


def format_op_profile(profile: dict) -> str:
    """:func:`profile_ops`'s result as a text table: each kind's seconds,
    share of the call, and MiB written per dtype."""
    seconds = dict(profile['seconds'])
    total = seconds.pop('total')
    dtypes = sorted({d for row in profile['bytes_out'].values()
                     for d in row if d != '-'})
    # kinds the call never ran (the optimizer in inference) are left out
    rows = [[group, f'{s:.3f}', f'{s / total:.1%}'] + [
        f"{profile['bytes_out'].get(group, {}).get(d, 0) / 2**20:.1f}"
        for d in dtypes] for group, s in seconds.items()
        if s > 0 or profile['bytes_out'].get(group)]
    outside = total - sum(seconds.values())
    rows.append(['(not in an operator)', f'{outside:.3f}',
                 f'{outside / total:.1%}'] + [''] * len(dtypes))
    return render_table(['operators', 'self CPU s', 'share of the call'] +
                        [f'MiB out, {d}' for d in dtypes], rows)


def remeasure_peaks(peaks: dict, device) -> None:
    """Measure each of ``peaks``' products again (same n, dtype and timer)
    and keep the faster result, in place."""
    for name, peak in peaks.items():
        again = meter.matmul_peak(
            device, getattr(torch, name), peak['n'],
            clock=meter.get_clock(peak['timer'], torch.device(device)))
        if again['gmacs_per_s'] > peak['gmacs_per_s']:
            peaks[name] = dict(again, emulated=peak['emulated'])


def add_share_of_peak(result: dict, peaks) -> None:
    """``gmacs_per_s`` and ``share_of_peak`` (of the peak of the result's
    precision, unless that peak is emulated) of a result with
    ``macs_per_batch`` and a mean latency."""
    macs = result.get('macs_per_batch')
    if macs is None:
        return
    seconds = result['latency_ms_mean'] / 1000
    result['gmacs_per_s'] = macs / seconds / 1e9
    peak = (peaks or {}).get(result['precision'])
    # an emulated product (bf16 on a CPU without bf16 instructions) is no
    # limit of the machine: autocast runs around it in fp32
    if peak is not None and not peak.get('emulated'):
        result['share_of_peak'] = meter.share_of_peak(macs, seconds, peak)


_ROWS = [('images / s', 'images_per_s', '.3f'),
        ('latency mean (ms)', 'latency_ms_mean', '.2f'),
        ('latency median (ms)', 'latency_ms_median', '.2f'),
        ('GMAC/s', 'gmacs_per_s', '.1f'),
        ('share of matmul peak', 'share_of_peak', '.1%'),
        ('data wait / step', 'data_wait_fraction', '.2%'),
        ('peak memory (MiB)', 'peak_memory_mib', '.1f'),
        ('compile time (s, wall)', 'compile_s', '.1f'),
        ('compiled / eager', 'speedup', '.2f')]


def format_benchmark(r: dict) -> str:
    """A :func:`run_benchmark` result (and its compiled twin) as aligned
    text."""
    runs = [('eager', r)] + ([('compiled', r['compiled'])]
                             if 'compiled' in r else [])
    bf16 = r['cpu_bf16']
    lines = [f"{r['mode']}, {r['device']}, {r.get('route', r['precision'])}"
             f", batch "
             f"{r['batch_size']}, {'x'.join(map(str, r['shape']))}, "
             f"{r['threads']} threads, {r['timer']} time"]
    if r['device'] == 'cpu':
        lines.append(f"CPU {bf16['model']}: {bf16['capability']}, native "
                     f"bf16: {', '.join(bf16['flags']) or 'no'}")
        if bf16.get('capped'):
            lines[-1] += (f" (ONEDNN_MAX_CPU_ISA={bf16['isa_cap']} leaves "
                          f"out {', '.join(bf16['capped'])})")
        if r.get('malloc'):
            lines.append(f"malloc: {r['malloc']}")
    for name, p in (r.get('peaks') or {}).items():
        lines.append(f"{name} matmul peak: {p['gmacs_per_s']:.1f} GMAC/s "
                     f"(n={p['n']}{', emulated' if p['emulated'] else ''})")
    lines.append(f"{'':24s}" + ''.join(f'{n:>12s}' for n, _ in runs))
    for label, key, fmt in _ROWS:
        if any(key in run for _, run in runs):
            lines.append(f'{label:24s}' + ''.join(
                f'{format(run[key], fmt):>12s}' if key in run else
                f"{'-':>12s}" for _, run in runs))
    if 'op_profile' in r:
        lines.append(format_op_profile(r['op_profile']))
    return '\n'.join(lines)
