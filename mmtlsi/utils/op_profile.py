"""Where a forward's work goes, by kind of operator and by dtype.

A model that reaches a share of the machine's matmul peak loses the rest in
two places: matrix products below the peak, and everything that is not a
matrix product (norms, activations, softmax, resizing, layout copies),
which is bound by memory traffic. This module sorts ATen operators into
those kinds (:data:`OP_GROUPS`, :func:`op_group`) and measures each kind:

- :class:`OpDtypeRecorder` (a dispatch mode): per operator and input dtype,
  the calls and the bytes the outputs hold (views excluded: they move
  nothing). It tells, machine-independently, whether a bf16 route really
  runs every product in bf16 and how much memory traffic stays in fp32.
- :func:`time_by_op_group`: ``torch.profiler``'s self CPU time of each
  operator, summed per kind over a few calls: where the time goes on the
  machine at hand.

A gradient operator belongs to the kind of its forward
(``convolution_backward`` is ``matmul``); a training step's optimizer
update (``_foreach_*``, fused Adam) is ``optimizer``.
"""
from __future__ import annotations

import collections
from typing import Callable, Dict, Tuple

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

__all__ = ['OP_GROUPS', 'OTHER', 'op_group', 'OpDtypeRecorder',
           'time_by_op_group']

#: kind -> ATen operator names (overload packets, without ``aten::`` and
#: a trailing ``_`` of the in-place form); anything else is 'elementwise
#: and other'
OP_GROUPS = collections.OrderedDict(
    matmul=('mm', 'addmm', 'bmm', 'baddbmm', 'matmul', 'linear',
            'convolution', '_convolution', 'mkldnn_convolution',
            '_slow_conv2d_forward', 'thnn_conv2d', '_conv_depthwise2d',
            '_slow_conv2d', 'mkldnn_linear',
            '_mkldnn_linear', 'cudnn_convolution',
            '_scaled_dot_product_flash_attention_for_cpu',
            '_scaled_dot_product_flash_attention',
            '_scaled_dot_product_efficient_attention',
            '_scaled_dot_product_cudnn_attention', 'einsum'),
    norm=('native_layer_norm', 'native_batch_norm',
          '_native_batch_norm_legit', '_native_batch_norm_legit_no_training',
          'native_group_norm', 'layer_norm', 'batch_norm', 'group_norm'),
    softmax=('_softmax', 'softmax', '_log_softmax', 'log_softmax'),
    activation=('gelu', 'relu', 'silu', 'sigmoid', 'tanh', 'hardswish',
                'hardsigmoid', 'elu', 'leaky_relu', 'clamp_min',
                'threshold'),
    resize=('upsample_bilinear2d', 'upsample_nearest2d',
            '_upsample_bilinear2d_aa', 'upsample_bicubic2d',
            'grid_sampler_2d', 'avg_pool2d', 'max_pool2d_with_indices',
            'max_pool2d', 'adaptive_avg_pool2d', '_adaptive_avg_pool2d'),
    layout=('clone', 'contiguous', 'copy', '_to_copy', 'to', 'cat',
            'constant_pad_nd', 'pad', 'roll', 'index', 'index_select',
            'gather', 'stack', 'repeat', 'col2im', 'im2col'),
    optimizer=('_fused_adamw', '_fused_adam', '_fused_sgd'),
)
OTHER = 'elementwise and other'
_GROUP_OF = {name: group for group, names in OP_GROUPS.items()
             for name in names}


def op_group(name: str) -> str:
    """The kind of the ATen operator ``name`` (``'aten::addmm'``,
    ``'addmm'``, ``'relu_'`` all work)."""
    name = name.split('::')[-1].split('.')[0]
    if name.startswith('_foreach_'):
        return 'optimizer'
    if name.endswith('_') and name[:-1] in _GROUP_OF:     # in-place form
        name = name[:-1]
    for tail in ('_backward_data', '_backward'):          # its gradient
        if name.endswith(tail) and name[:-len(tail)] in _GROUP_OF:
            name = name[:-len(tail)]
    return _GROUP_OF.get(name, OTHER)


class OpDtypeRecorder(TorchDispatchMode):
    """Within the ``with`` block, counts every ATen operator by (name,
    dtype of its first floating-point input): ``calls`` and
    ``bytes_out`` (bytes of the outputs; views count none)."""

    def __init__(self):
        super().__init__()
        self.calls: Dict[Tuple[str, str], int] = collections.Counter()
        self.bytes_out: Dict[Tuple[str, str], int] = collections.Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        name = func.overloadpacket.__name__
        floats = [a for a in tree_leaves((args, kwargs))
                  if isinstance(a, torch.Tensor) and a.is_floating_point()]
        dtype = str(floats[0].dtype).replace('torch.', '') if floats else '-'
        key = (name, dtype)
        self.calls[key] += 1
        if not getattr(func, 'is_view', False):
            self.bytes_out[key] += sum(
                t.numel() * t.element_size() for t in tree_leaves(out)
                if isinstance(t, torch.Tensor))
        return out

    def by_group(self) -> Dict[str, Dict[str, Dict[str, int]]]:
        """{kind: {dtype: dict(calls, bytes_out)}}."""
        table: Dict = collections.OrderedDict(
            (g, {}) for g in [*OP_GROUPS, OTHER])
        for (name, dtype), calls in self.calls.items():
            row = table[op_group(name)].setdefault(
                dtype, dict(calls=0, bytes_out=0))
            row['calls'] += calls
            row['bytes_out'] += self.bytes_out[(name, dtype)]
        return table


def time_by_op_group(fn: Callable[[], object], repeat: int = 1
                     ) -> Dict[str, float]:
    """Self CPU seconds of each kind of operator over ``repeat`` calls of
    ``fn`` (after one untimed call), from ``torch.profiler``; the key
    ``'total'`` is the profiled calls' wall time per call, which includes
    what no operator accounts for (Python, the framework)."""
    import time

    from torch.profiler import ProfilerActivity, profile
    fn()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        start = time.perf_counter()
        for _ in range(repeat):
            fn()
        total = (time.perf_counter() - start) / repeat
    seconds = collections.OrderedDict(
        (g, 0.0) for g in [*OP_GROUPS, OTHER])
    for event in prof.key_averages():
        if not event.key.startswith('aten::'):
            continue
        seconds[op_group(event.key)] += event.self_cpu_time_total / 1e6 \
            / repeat
    seconds['total'] = total
    return seconds
