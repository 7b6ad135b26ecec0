"""Inference-only rewrites: BatchNorm folded into the convolution before it,
channels-last memory for 4-D tensors, and bfloat16 weights; and whether this
CPU runs bfloat16 natively."""
from __future__ import annotations

import inspect
from typing import Optional, Union

import torch
from mmcv.cnn import fuse_conv_bn
from torch import nn

from mmtlsi.utils.benchmark import BF16_FLAGS, cpu_bf16_support

DTYPES = {'fp32': torch.float32, 'float32': torch.float32,
          'bf16': torch.bfloat16, 'bfloat16': torch.bfloat16}


def cpu_native_bf16() -> tuple[bool, str]:
    """Whether this CPU has bfloat16 instructions that make bf16 matrix
    products faster than fp32 (:func:`mmtlsi.utils.benchmark.
    cpu_bf16_support`, the one reading of the CPU's flags), and a sentence
    saying which (or that it has none: PyTorch then converts in software,
    and bf16 is slower than fp32)."""
    support = cpu_bf16_support()
    found, capability = support['flags'], support['capability']
    capped = support.get('capped') or []
    cap = (f'ONEDNN_MAX_CPU_ISA={support["isa_cap"]} leaves out '
           f'{", ".join(capped)}' if capped else '')
    if found:
        return True, (f'native bfloat16 ({", ".join(found)}; PyTorch CPU '
                      f'kernels {capability}{"; " + cap if cap else ""})')
    missing = cap or f'none of {", ".join(BF16_FLAGS)}'
    return False, (f'no native bfloat16 ({missing}; PyTorch CPU kernels '
                   f'{capability}): bf16 is emulated and slower than fp32 '
                   f'here')


def resolve_inference_dtype(dtype: Union[str, torch.dtype, None],
                            device: Union[str, torch.device] = 'cpu'
                            ) -> tuple[torch.dtype, str]:
    """The weight dtype to run inference in, and why.

    ``'auto'`` gives bf16 on a CUDA device and on a CPU with native bf16,
    else fp32 (saying so); an explicit ``'bf16'`` / ``torch.bfloat16`` is
    kept even where it is emulated (it is correct there, only slow).
    """
    device = torch.device(device)
    if dtype is None:
        return torch.float32, 'fp32 (requested)'
    if dtype == 'auto':
        if device.type == 'cuda':
            return torch.bfloat16, 'bf16 (CUDA device)'
        native, why = cpu_native_bf16()
        return (torch.bfloat16 if native else torch.float32), \
            ('bf16: ' if native else 'fp32 kept: ') + why
    if isinstance(dtype, str):
        if dtype not in DTYPES:
            raise ValueError(f'inference dtype {dtype!r}: choose one of '
                             f'{sorted(DTYPES)} or "auto"')
        dtype = DTYPES[dtype]
    if dtype not in (torch.float32, torch.bfloat16):
        raise ValueError(f'inference dtype {dtype}: float32 or bfloat16')
    why = 'requested'
    if dtype == torch.bfloat16 and device.type == 'cpu':
        native, detail = cpu_native_bf16()
        if not native:
            why = 'requested; ' + detail
    return dtype, f'{"bf16" if dtype == torch.bfloat16 else "fp32"} ({why})'


def _cast_mask(module, args, kwargs):
    mask = kwargs.get('mask')
    if args and torch.is_tensor(args[0]) and torch.is_tensor(mask) and \
            mask.is_floating_point() and mask.dtype != args[0].dtype:
        kwargs['mask'] = mask.to(args[0].dtype)
    return args, kwargs


def masks_follow_inputs(model: nn.Module) -> int:
    """Make every submodule whose ``forward`` takes a ``mask`` argument
    cast a floating-point ``mask`` to the dtype of its first input (a
    forward pre-hook); returns how many got the hook.

    Backbones build additive attention masks in fp32 inside their forward
    (mmpretrain's shifted-window attention does): with bf16 weights the
    masked scores would be promoted to fp32 and the product with the bf16
    values would fail. The masks' values (0 and large negatives) are exact
    in bf16."""
    count = 0
    for module in model.modules():
        try:
            params = inspect.signature(type(module).forward).parameters
        except (TypeError, ValueError):
            continue
        if 'mask' in params and not getattr(module, '_mask_cast_hook',
                                            None):
            module._mask_cast_hook = module.register_forward_pre_hook(
                _cast_mask, with_kwargs=True)
            count += 1
    return count


def optimize_for_inference(model: nn.Module, fuse_bn: bool = True,
                           channels_last: bool = False,
                           dtype: Optional[Union[str, torch.dtype]] = None
                           ) -> nn.Module:
    """Rewrite an eval-mode model in place for faster inference.

    Args:
        fuse_bn: fold every BatchNorm2d that follows a Conv2d among its
            siblings (mmcv's ``fuse_conv_bn``) into that conv, using the
            running statistics; the BN becomes an identity.
        channels_last: store 4-D parameters (conv weights) channels-last, so
            convolutions run and return channels-last maps.
        dtype: ``None`` keeps fp32; ``torch.bfloat16`` / ``'bf16'`` stores
            every weight and buffer except the data preprocessor's in
            bfloat16 (BN is folded first, in fp32), so the whole network
            runs in bf16: a model with a ``compute_dtype`` attribute
            (:class:`MultiTaskEncoderDecoder`) casts its input to it and its
            logits back to fp32. ``'auto'``: bf16 only where it is fast
            (:func:`resolve_inference_dtype`). Tolerances against fp32 are in
            docs/model.md.

    The model is no longer trainable as before (folded BNs do not update), so
    a model in training mode is refused. Returns the model; the dtype chosen
    and why are in ``model.inference_dtype_reason``.
    """
    if model.training:
        raise ValueError('optimize_for_inference: call model.eval() first; '
                         'BN folding uses the running statistics')
    param = next(model.parameters(), None)
    device = param.device if param is not None else 'cpu'
    dtype, reason = resolve_inference_dtype(dtype, device)
    if fuse_bn:
        fuse_conv_bn(model)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    if dtype != torch.float32:
        if not hasattr(model, 'compute_dtype'):
            raise TypeError(f'optimize_for_inference(dtype={dtype}): '
                            f'{type(model).__name__} has no compute_dtype '
                            f'(it would receive fp32 inputs)')
        for name, child in model.named_children():
            if name != 'data_preprocessor':
                child.to(dtype)
                masks_follow_inputs(child)
        model.compute_dtype = dtype
    model.inference_dtype_reason = reason
    return model


def compile_network(model: nn.Module,
                    compile_cfg: Union[bool, dict, None] = True
                    ) -> nn.Module:
    """``torch.compile`` a segmentor's tensor part, for training and
    inference, in place.

    ``model.network`` (backbone + head) and ``model.network_loss`` (the same
    plus the losses from stacked targets) are replaced by compiled
    versions; the Python around them (data samples, post-processing) stays
    eager. Both trace as single graphs (no graph breaks).

    Args:
        compile_cfg: a config's ``compile`` value: ``True`` (defaults),
            ``False`` / ``None`` (leave the model as it is), or a dict of
            ``torch.compile`` keyword arguments (``backend``, ``mode``,
            ``dynamic``, ``fullgraph``).
    """
    if compile_cfg is None or compile_cfg is False:
        return model
    kwargs = {} if compile_cfg is True else dict(compile_cfg)
    for name in ('network', 'network_loss'):
        if not callable(getattr(model, name, None)):
            raise TypeError(f'compile_network: {type(model).__name__} has '
                            f'no {name}() to compile')
    # network_loss calls self.network: compiled, it traces through it
    model.network = torch.compile(model.network, **kwargs)
    model.network_loss = torch.compile(model.network_loss, **kwargs)
    return model
