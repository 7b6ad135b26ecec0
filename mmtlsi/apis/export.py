"""Export a multi-task model to ONNX, check it in ONNX Runtime, time it.

The exported graph is the model's ``tensor`` mode
(:meth:`MultiTaskEncoderDecoder._forward`):

- input ``inputs``: float32 (N, 3, H, W), the image as the data
  preprocessor hands it to the model: RGB (``bgr_to_rgb``), normalised with
  its ``mean`` / ``std``, padded with ``pad_val`` (0) at the bottom / right;
  or, exported ``with_preprocess``, input ``image``: uint8 / float32
  (N, 3, H, W) as loaded, the preprocessor's steps in the graph and every
  output cropped back to (H, W) (:class:`PreprocessedTaskOutputs`);
- one output per task, named after the task (``semseg``, ``depth``, ...):
  float32 (N, C_t, H, W), the head's final map bilinearly resized to the
  input's size, *before* the task's activation (every task alike: class
  logits, depth unclamped, normals not normalised, boundary / saliency
  logits). :func:`decode_outputs` applies the activation the TaskSpec's
  ``output`` kind names, exactly as ``model.predict`` does.

The ONNX file carries what a runner needs in its metadata: the config
(``mmtlsi_config``), the tasks (``mmtlsi_tasks``), the input
(``mmtlsi_input``, with the sizes a dynamic graph holds for) and the
dataset meta. Dynamic TorchScript exports bind traceable forwards to upstream
modules whose sizes the tracer would fix (:mod:`mmtlsi.models.traceable`).
docs/deployment.md describes the format, the exporters and the measured
errors.
"""
from __future__ import annotations

import json
import time
import warnings
from collections import OrderedDict
from contextlib import nullcontext
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmtlsi.models.traceable import (
    min_input_size,
    nonnegative,
    traceable_forwards,
)
from mmtlsi.utils.benchmark import cpu_bf16_support

from .builder import ConfigType, build_model
from .checkpoint import load_model_checkpoint

#: what each output kind's raw map is, for users of the ONNX file
RAW_MEANING = OrderedDict(
    classes='class logits; prediction = argmax over channels',
    scalar='value before clamping; prediction = max(x, 0)',
    vector='vector before normalising; prediction = x / ||x||_2',
    binary='logit; prediction = sigmoid(x), a probability')
EXPORTERS = ('torchscript', 'dynamo')
DEFAULT_TOLERANCE = 1e-4


class TaskOutputs(nn.Module):
    """``model``'s tensor mode as a tuple, one map per task in the order of
    ``model.task_specs`` (ONNX outputs are positional)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.tasks = list(model.task_specs)

    def forward(self, inputs: Tensor) -> Tuple[Tensor, ...]:
        outputs = self.model._forward(inputs)
        return tuple(outputs[t] for t in self.tasks)


INPUT_DTYPES = ('uint8', 'float32')


def padded_size(hw: Sequence[int], test_cfg: Optional[Mapping]
                ) -> Tuple[int, int]:
    """The (H, W) the test-time data preprocessor pads an image of ``hw``
    to: ``test_cfg.size`` (never smaller than the image), else up to a
    multiple of ``test_cfg.size_divisor``, else the image's own."""
    h, w = int(hw[0]), int(hw[1])
    test_cfg = test_cfg or {}
    if test_cfg.get('size') is not None:
        size = test_cfg['size']
        return max(int(size[0]), h), max(int(size[1]), w)
    d = int(test_cfg.get('size_divisor') or 1)
    return -(-h // d) * d, -(-w // d) * d


class PreprocessedTaskOutputs(TaskOutputs):
    """:class:`TaskOutputs` with the test-time data preprocessor in front
    and the padding removed behind: the image as loaded (N, 3, H, W; uint8
    or float, the loader's channel order) -> every task's raw map at the
    image's size (N, C_t, H, W).

    The graph does what ``MultiTaskDataPreProcessor`` does at test time, in
    its order: to float, BGR -> RGB when ``bgr_to_rgb``, ``(x - mean) /
    std``, padding bottom / right with ``pad_val`` as ``test_cfg`` says
    (to its ``size``, or to a multiple of its ``size_divisor``), then the
    model; each map is cropped back to (H, W) as ``restore_original_frame``
    crops it (that function's resize to the original image applies only
    after a resizing test pipeline, and stays outside).
    """

    def __init__(self, model: nn.Module):
        super().__init__(model)
        pre = model.data_preprocessor
        self.swap_channels = bool(pre.channel_conversion)
        self.normalize = bool(pre._enable_normalize)
        if self.normalize:
            self.register_buffer('mean', pre.mean.detach().clone()[None],
                                 persistent=False)
            self.register_buffer('std', pre.std.detach().clone()[None],
                                 persistent=False)
        test_cfg = dict(pre.test_cfg or {})
        self.size = test_cfg.get('size')
        self.size_divisor = test_cfg.get('size_divisor')
        self.pad_val = float(pre.pad_val)

    def forward(self, image: Tensor) -> Tuple[Tensor, ...]:
        x = image.float()
        if self.swap_channels:
            x = x[:, [2, 1, 0]]
        if self.normalize:
            x = (x - self.mean) / self.std
        h, w = x.shape[-2], x.shape[-1]
        if self.size is not None:
            pad_h = nonnegative(self.size[0] - h)
            pad_w = nonnegative(self.size[1] - w)
        elif self.size_divisor:
            d = int(self.size_divisor)
            pad_h, pad_w = (d - h % d) % d, (d - w % d) % d
        else:
            pad_h = pad_w = 0
        x = F.pad(x, (0, pad_w, 0, pad_h), value=self.pad_val)
        outputs = self.model._forward(x)
        return tuple(outputs[t][:, :, :h, :w] for t in self.tasks)


def build_export_model(config: ConfigType, checkpoint: Optional[str],
                       cfg_options: Optional[Mapping] = None
                       ) -> nn.Module:
    """The model of ``config`` (eval, CPU, fp32) with ``checkpoint`` loaded
    strictly, or random weights when ``checkpoint`` is None (seeded).
    ``model.dataset_meta`` comes from the checkpoint's meta."""
    with torch.random.fork_rng():
        torch.manual_seed(0)   # random weights, the same every time
        model = build_model(config, cfg_options)
    if not hasattr(model, 'task_specs'):
        raise TypeError(f'{type(model).__name__} is not a multi-task model '
                        '(it has no task_specs)')
    meta = {}
    if checkpoint:
        if not Path(checkpoint).is_file() and '://' not in str(checkpoint):
            raise FileNotFoundError(f'checkpoint {checkpoint} does not exist')
        loaded, _ = load_model_checkpoint(model, str(checkpoint),
                                          what=f'the model of {config}')
        meta = dict(loaded.get('meta') or {})
    model.dataset_meta = meta.get('dataset_meta') or {}
    return model.eval()


def default_shape(model: nn.Module) -> Tuple[int, int]:
    """(H, W) the model sees at test time: the data preprocessor's
    ``test_cfg.size``, else its ``size``; an error when neither is set."""
    pre = model.cfg.model.get('data_preprocessor') or {}
    for size in ((pre.get('test_cfg') or {}).get('size'), pre.get('size')):
        if size is not None:
            return int(size[0]), int(size[1])
    raise ValueError('the config sets no data_preprocessor size; give the '
                     'export shape (--shape H W)')


def shape_divisor(model: nn.Module) -> int:
    """The multiple test inputs are padded to (``test_cfg.size_divisor``),
    else 32, the stride of the coarsest backbone feature."""
    pre = model.cfg.model.get('data_preprocessor') or {}
    return int((pre.get('test_cfg') or {}).get('size_divisor') or 32)


def _input_spec(model: nn.Module, dynamic: bool,
                min_hw: Optional[Sequence[int]],
                preprocess_dtype: Optional[str]) -> dict:
    """What the graph's input is (the ``mmtlsi_input`` metadata).
    ``multiple_of`` and ``min_hw`` bound the model's input: with
    ``preprocess`` the image after the graph's own padding."""
    pre = model.cfg.model.get('data_preprocessor') or {}
    spec = dict(
        name='image' if preprocess_dtype else 'inputs', layout='NCHW',
        channels='RGB' if pre.get('bgr_to_rgb') else 'as loaded',
        mean=pre.get('mean'), std=pre.get('std'),
        pad_val=pre.get('pad_val', 0), dynamic_hw=dynamic,
        multiple_of=shape_divisor(model),
        min_hw=list(min_hw) if min_hw else None,
        preprocess=bool(preprocess_dtype))
    if preprocess_dtype:
        spec.update(
            dtype=preprocess_dtype,
            channels='as loaded (BGR from LoadImageFromFile); the graph '
            'converts to RGB' if pre.get('bgr_to_rgb') else 'as loaded',
            pads_to=dict(pre.get('test_cfg') or {}),
            outputs="the image's size, padding removed")
    return spec


def _metadata(model: nn.Module, dynamic: bool, exporter: str,
              min_hw: Optional[Sequence[int]] = None,
              preprocess_dtype: Optional[str] = None) -> dict:
    tasks = [dict(name=t, output=s.output, channels=s.out_channels,
                  pred_field=s.pred_field, raw=RAW_MEANING[s.output])
             for t, s in model.task_specs.items()]
    return dict(
        mmtlsi_config=model.cfg.dump(),
        mmtlsi_tasks=json.dumps(tasks),
        mmtlsi_input=json.dumps(_input_spec(model, dynamic, min_hw,
                                            preprocess_dtype)),
        mmtlsi_dataset_meta=json.dumps(
            getattr(model, 'dataset_meta', None) or {}, default=str),
        mmtlsi_exporter=exporter)


def export_onnx(model: nn.Module, out_file: Union[str, Path],
                shape: Optional[Sequence[int]] = None, *,
                dynamic: bool = False, opset: Optional[int] = None,
                exporter: str = 'torchscript',
                with_preprocess: Optional[str] = None) -> Path:
    """Write ``model`` (from :func:`build_export_model`) as ONNX.

    Args:
        shape: (H, W) of the example input; default :func:`default_shape`.
        dynamic: batch, height and width of the input (and outputs) are
            dynamic; otherwise the graph holds for ``shape`` and batch 1.
        opset: ONNX opset (default 17 for TorchScript, 18 for dynamo).
        exporter: ``'torchscript'`` (``torch.onnx.export(dynamo=False)``)
            or ``'dynamo'`` (``torch.export``-based).
        with_preprocess: ``'uint8'`` or ``'float32'``: the graph takes the
            image as loaded, of that dtype, as input ``image`` and holds
            the test-time data preprocessor
            (:class:`PreprocessedTaskOutputs`); ``shape`` is then the
            image's. None: the preprocessed input ``inputs``.

    With ``dynamic``, the sizes the graph holds for are written in the
    metadata (``mmtlsi_input``: ``multiple_of``, ``min_hw``); an example
    below ``min_hw`` is refused.
    """
    import onnx
    if exporter not in EXPORTERS:
        raise ValueError(f'exporter {exporter!r} is not one of {EXPORTERS}')
    if with_preprocess not in (None, ) + INPUT_DTYPES:
        raise ValueError(f'with_preprocess {with_preprocess!r} is not one '
                         f'of {INPUT_DTYPES}')
    h, w = shape or default_shape(model)
    out_file = Path(out_file)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    if with_preprocess:
        wrapper = PreprocessedTaskOutputs(model).eval()
        example = torch.zeros(1, 3, h, w, dtype=getattr(torch,
                                                        with_preprocess))
        input_name = 'image'
    else:
        wrapper = TaskOutputs(model).eval()
        example = torch.zeros(1, 3, h, w)
        input_name = 'inputs'
    tasks = wrapper.tasks
    tmp = out_file.with_name(out_file.name + '.part')
    record = []
    with torch.no_grad(), warnings.catch_warnings():
        # the tracer's notes on size-dependent branches: the check step
        # (check_onnx at a second size) is what tells whether they matter
        warnings.simplefilter('ignore', torch.jit.TracerWarning)
        if exporter == 'torchscript':
            _register_symbolics()
            axes = {0: 'batch', 2: 'height', 3: 'width'}
            # dynamic: upstream modules whose sizes the tracer would fix
            # (Swin's shifted windows, patch padding) run traceable
            # forwards; a static graph keeps the upstream ones
            with traceable_forwards(wrapper, record) if dynamic else \
                    nullcontext():
                torch.onnx.export(
                    wrapper, (example, ), str(tmp),
                    input_names=[input_name], output_names=tasks,
                    opset_version=opset or 17, dynamo=False,
                    do_constant_folding=True,
                    dynamic_axes={n: axes for n in [input_name] + tasks}
                    if dynamic else None)
        else:
            dynamic_shapes = None
            if dynamic:
                from torch.export import Dim
                step = shape_divisor(model)
                dynamic_shapes = {input_name: {
                    0: Dim('batch', min=1, max=64),
                    2: step * Dim('height_blocks', min=1, max=256),
                    3: step * Dim('width_blocks', min=1, max=256)}}
            torch.onnx.export(
                wrapper, (example, ), str(tmp), input_names=[input_name],
                output_names=tasks, opset_version=opset or 18, dynamo=True,
                dynamic_shapes=dynamic_shapes, external_data=False,
                verbose=False)
    model_hw = padded_size((h, w), wrapper.model.data_preprocessor.test_cfg
                           ) if with_preprocess else (h, w)
    min_hw = min_input_size(record, model_hw) if dynamic else None
    if min_hw and (model_hw[0] < min_hw[0] or model_hw[1] < min_hw[1]):
        tmp.unlink()
        raise ValueError(
            f'cannot export at {h} x {w}: this model takes inputs of at '
            f'least {min_hw[0]} x {min_hw[1]} (a Swin block without '
            'pad_small_map needs its map at least one window on each '
            'side; PyTorch refuses smaller inputs)')
    proto = onnx.load(str(tmp))
    _name_output_dims(proto, model, dynamic)
    for key, value in _metadata(model, dynamic, exporter, min_hw,
                                with_preprocess).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, str(tmp))
    tmp.replace(out_file)
    return out_file


def onnx_input_spec(onnx_file: Union[str, Path]) -> dict:
    """The ``mmtlsi_input`` metadata of an exported file: normalisation,
    ``dynamic_hw``, ``multiple_of`` and ``min_hw`` (the smallest H, W a
    dynamic graph holds for; None where only the multiple binds)."""
    import onnx
    proto = onnx.load(str(onnx_file), load_external_data=False)
    meta = {p.key: p.value for p in proto.metadata_props}
    if 'mmtlsi_input' not in meta:
        raise ValueError(f'{onnx_file} holds no mmtlsi_input metadata (not '
                         'written by mmtlsi.apis.export_onnx)')
    return json.loads(meta['mmtlsi_input'])


def _name_output_dims(proto, model: nn.Module, dynamic: bool) -> None:
    """Output shapes as the task specs say: (N, C_t, H, W) with C_t fixed
    and N, H, W named like the input's (the exporters' shape inference
    leaves generated names or nothing)."""
    sizes = [d for d in proto.graph.input[0].type.tensor_type.shape.dim]
    for out in proto.graph.output:
        dims = out.type.tensor_type.shape.dim
        while len(dims) < 4:
            dims.add()
        channels = model.task_specs[out.name].out_channels
        for i, dim in enumerate(dims):
            if i == 1:
                dim.Clear()
                dim.dim_value = channels
            elif dynamic:
                dim.Clear()
                dim.dim_param = ('batch', '', 'height', 'width')[i]
            else:
                dim.Clear()
                dim.dim_value = sizes[i].dim_value
    if dynamic:
        for i, dim in enumerate(sizes):
            if i != 1:
                dim.Clear()
                dim.dim_param = ('batch', '', 'height', 'width')[i]


def _register_symbolics() -> None:
    """TorchScript-exporter symbolics for ops it lacks (once)."""
    from torch.onnx import register_custom_op_symbolic

    def diag_embed(g, x, offset, dim1, dim2):
        # (..., n) -> (..., n, n), x on the diagonal (MT-MQLFB's key sums;
        # offset 0, last two dims, the only use)
        n = g.op('Shape', x, start_i=-1)
        eye = g.op('EyeLike', g.op('ConstantOfShape',
                                   g.op('Concat', n, n, axis_i=0)))
        axis = g.op('Constant', value_t=torch.tensor([-1]))
        return g.op('Mul', g.op('Unsqueeze', x, axis),
                    g.op('CastLike', eye, x))

    register_custom_op_symbolic('aten::diag_embed', diag_embed, 9)


def ort_session(onnx_file: Union[str, Path], threads: Optional[int] = None):
    """A CPU ONNX Runtime session (``threads`` intra-op threads)."""
    import onnxruntime as ort
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return ort.InferenceSession(str(onnx_file), options,
                                providers=['CPUExecutionProvider'])


def check_shapes(model: nn.Module, shape: Sequence[int],
                 dynamic: bool) -> List[Tuple[int, int, int]]:
    """(N, H, W) inputs the check runs: the export shape, and with
    ``dynamic`` a second, larger size (one divisor step more in each
    dimension) with batch 2."""
    h, w = shape
    if not dynamic:
        return [(1, h, w)]
    step = shape_divisor(model)
    return [(1, h, w), (2, h + step, w + 2 * step)]


def _reference(model: nn.Module, session):
    """(input name, the eager module the file holds, a maker of random
    inputs (n, h, w, generator) -> tensor) for an exported file: normal
    noise for ``inputs``, pixel values 0-255 for an ``image``."""
    graph_input = session.get_inputs()[0]
    if graph_input.name != 'image':
        return graph_input.name, TaskOutputs(model).eval(), \
            lambda n, h, w, gen: torch.randn(n, 3, h, w, generator=gen)
    dtype = torch.uint8 if 'uint8' in graph_input.type else torch.float32
    return graph_input.name, PreprocessedTaskOutputs(model).eval(), \
        lambda n, h, w, gen: torch.randint(
            0, 256, (n, 3, h, w), generator=gen).to(dtype)


def check_onnx(model: nn.Module, onnx_file: Union[str, Path],
               shapes: Sequence[Sequence[int]],
               tolerance: Union[float, Mapping[str, float]] =
               DEFAULT_TOLERANCE, seed: int = 0) -> List[dict]:
    """Run the file in ONNX Runtime and PyTorch on random inputs of each
    (N, H, W) in ``shapes``; compare every output. (A ``with_preprocess``
    file gets random pixel values 0-255 and is compared with
    :class:`PreprocessedTaskOutputs`.)

    The error of an output is ``max|ort - torch| / max|torch|`` (relative
    to the map's largest magnitude). Raises ``AssertionError`` listing the
    outputs whose error exceeds ``tolerance`` (one bound, or task ->
    bound), or whose name or shape differs; returns one row per shape and
    task (task, shape, max_abs, max_rel, bound).
    """
    session = ort_session(onnx_file)
    names = [o.name for o in session.get_outputs()]
    tasks = list(model.task_specs)
    if names != tasks:
        raise AssertionError(f'{onnx_file}: outputs {names}, the model '
                             f'predicts {tasks}')
    gen = torch.Generator().manual_seed(seed)
    name, wrapper, make_input = _reference(model, session)
    rows, failures = [], []
    for n, h, w in shapes:
        x = make_input(n, h, w, gen)
        with torch.no_grad():
            ref = wrapper(x)
        try:
            out = session.run(None, {name: x.numpy()})
        except Exception as err:  # noqa: BLE001  (ORT's own error types)
            raise AssertionError(
                f'{onnx_file}: ONNX Runtime fails on an input of '
                f'{(n, 3, h, w)}: {str(err)[:400]}') from err
        for t, r, o in zip(tasks, ref, out):
            r = r.numpy()
            bound = tolerance.get(t, DEFAULT_TOLERANCE) if isinstance(
                tolerance, Mapping) else tolerance
            row = dict(task=t, shape=(n, h, w), output_shape=o.shape,
                       bound=bound)
            if o.shape != r.shape:
                failures.append(f'{t} at {(n, h, w)}: shape {o.shape}, '
                                f'PyTorch {r.shape}')
                rows.append(row)
                continue
            diff = float(np.abs(o - r).max())
            row.update(max_abs=diff,
                       max_rel=diff / max(float(np.abs(r).max()), 1e-12))
            if not row['max_rel'] <= bound:
                failures.append(f'{t} at {(n, h, w)}: relative error '
                                f'{row["max_rel"]:.3g} > {bound:g}')
            rows.append(row)
    if failures:
        raise AssertionError(f'{onnx_file} differs from PyTorch: ' +
                             '; '.join(failures))
    return rows


def _cpu_seconds(fn, rounds: int, warmup: int) -> List[float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(rounds):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return times


def benchmark_onnx(model: nn.Module, onnx_file: Union[str, Path],
                   shape: Sequence[int], rounds: int = 5, warmup: int = 1,
                   threads: int = 1) -> Dict[str, dict]:
    """CPU time (process time, seconds) of one batch-1 forward at ``shape``
    in ONNX Runtime and in eager PyTorch, fp32 and bf16 autocast.

    Returns ``{'onnxruntime' | 'eager_fp32' | 'eager_bf16': dict(median,
    min, times)}`` and ``'cpu': dict(native_bf16=..., threads=...)``.
    Without native bf16 the bf16 row is still measured (emulated: slower).
    """
    h, w = shape
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    session = ort_session(onnx_file, threads)
    name, wrapper, make_input = _reference(model, session)
    x = make_input(1, h, w, torch.Generator().manual_seed(0))
    feed = {name: x.numpy()}

    def eager(dtype):
        def run():
            with torch.no_grad(), torch.autocast(
                    'cpu', dtype=torch.bfloat16, enabled=dtype is not None):
                wrapper(x)
        return run

    runs = dict(onnxruntime=lambda: session.run(None, feed),
                eager_fp32=eager(None), eager_bf16=eager(torch.bfloat16))
    result = {}
    try:
        for name, fn in runs.items():
            times = _cpu_seconds(fn, rounds, warmup)
            result[name] = dict(median=float(np.median(times)),
                                min=float(min(times)), times=times)
    finally:
        torch.set_num_threads(previous)
    result['cpu'] = dict(native_bf16=cpu_bf16_support()['native'],
                         threads=threads)
    return result
