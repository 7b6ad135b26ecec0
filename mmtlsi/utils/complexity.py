"""Parameter and FLOP counting for multi-task segmentors.

FLOPs follow the field's convention (fvcore / mmengine): one fused
multiply-add counts as one FLOP. ``scaled_dot_product_attention`` (not known
to mmengine's counter) is counted as the two matrix products it performs.
"""
from __future__ import annotations

from contextlib import contextmanager
from numbers import Number
from typing import Any, List

import torch
from torch import nn


def count_parameters(model: nn.Module) -> dict:
    """dict(total=..., backbone=..., head=...) parameter counts; ``head`` is
    everything that is not the backbone (what the paper reports)."""
    total = sum(p.numel() for p in model.parameters())
    backbone = sum(p.numel() for p in model.backbone.parameters()) \
        if hasattr(model, 'backbone') else 0
    return dict(total=total, backbone=backbone, head=total - backbone)


def _sdpa_flop_jit(inputs: List[Any], outputs: List[Any]) -> Number:
    """q (..., Lq, E), k (..., Lk, E), v (..., Lk, Ev): Lq*Lk*(E + Ev) MACs
    per batch-head."""
    from mmengine.analysis.jit_handles import get_shape
    q, k, v = (get_shape(x) for x in inputs[:3])
    batch = 1
    for s in q[:-2]:
        batch *= s
    return batch * q[-2] * k[-2] * (q[-1] + v[-1])


class _Unused(nn.Module):
    """Placeholder for a ``None`` slot of a module list while counting."""


@contextmanager
def _hide_empty_submodules(model: nn.Module):
    """mmengine's analyzer walks ``_modules`` and fails on ``None`` entries
    (mmpretrain Swin's optional norms, HRNet's fuse-layer lists): while
    counting, a ``None`` attribute becomes a plain attribute and a ``None``
    list slot (indexed, never called) a placeholder module."""
    hidden = []
    for module in list(model.modules()):
        for name in [n for n, m in module._modules.items() if m is None]:
            if isinstance(module, nn.ModuleList):
                module._modules[name] = _Unused()
            else:
                del module._modules[name]
                object.__setattr__(module, name, None)
            hidden.append((module, name))
    try:
        yield
    finally:
        for module, name in hidden:
            module.__dict__.pop(name, None)
            module._modules[name] = None


class _TensorForward(nn.Module):
    """Traceable wrapper: image -> tuple of the ``tensor`` mode's outputs."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, inputs: torch.Tensor):
        out = self.model._forward(inputs)
        return tuple(out.values()) if isinstance(out, dict) else out


def model_parts(model: nn.Module) -> dict[str, list[nn.Module]]:
    """The parts a multi-task segmentor's cost is reported by: 'backbone' and
    each child of the decode head that holds parameters (for MTLSIHead:
    preliminary, input_proj, fusion, distillers, cwibs, output), each as the
    modules that run (a ModuleDict's values)."""
    parts = {'backbone': [model.backbone]}
    for name, child in model.decode_head.named_children():
        if not any(True for _ in child.parameters()):
            continue
        parts[f'decode_head.{name}'] = list(child.values()) if isinstance(
            child, nn.ModuleDict) else [child]
    return parts


@torch.no_grad()
def count_flops(model: nn.Module, shape: tuple[int, int],
                batch_size: int = 1, parts: bool = False) -> dict:
    """dict(total=..., backbone=..., head=...) FLOPs (multiply-adds) of one
    ``tensor``-mode forward of a (batch_size, 3, H, W) input; ``parts`` adds
    one entry per :func:`model_parts` key (the head's parts)."""
    from mmengine.analysis import FlopAnalyzer
    was_training = model.training
    model.eval()
    try:
        with _hide_empty_submodules(model):
            param = next(model.parameters())
            x = torch.zeros(batch_size, 3, *shape, device=param.device)
            analyzer = FlopAnalyzer(_TensorForward(model), (x, ))
            analyzer.set_op_handle(
                **{'aten::scaled_dot_product_attention': _sdpa_flop_jit})
            analyzer.unsupported_ops_warnings(False)
            analyzer.uncalled_modules_warnings(False)
            by_module = analyzer.by_module()
            total = analyzer.total()
    finally:
        model.train(was_training)
    backbone = by_module.get('model.backbone', 0)
    result = dict(total=total, backbone=backbone, head=total - backbone)
    if parts:
        for name in model_parts(model):
            if name != 'backbone':
                result[name] = by_module.get(f'model.{name}', 0)
    return result
