"""Inference-only rewrites that keep a model's outputs: BatchNorm folded into
the convolution before it, and channels-last memory for 4-D tensors."""
from __future__ import annotations

import torch
from mmcv.cnn import fuse_conv_bn
from torch import nn


def optimize_for_inference(model: nn.Module, fuse_bn: bool = True,
                           channels_last: bool = False) -> nn.Module:
    """Rewrite an eval-mode model in place for faster inference.

    Args:
        fuse_bn: fold every BatchNorm2d that follows a Conv2d among its
            siblings (mmcv's ``fuse_conv_bn``) into that conv, using the
            running statistics; the BN becomes an identity.
        channels_last: store 4-D parameters (conv weights) channels-last, so
            convolutions run and return channels-last maps.

    The model is no longer trainable as before (folded BNs do not update), so
    a model in training mode is refused.
    """
    if model.training:
        raise ValueError('optimize_for_inference: call model.eval() first; '
                         'BN folding uses the running statistics')
    if fuse_bn:
        fuse_conv_bn(model)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    return model
