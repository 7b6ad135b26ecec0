"""Per-task convolutional decoder: multi-scale features -> features + logits.

The same structure serves as MTLSI-Net's *preliminary decoder* (inputs: the
backbone's multi-scale features; outputs: task features P_t at stride 4 and a
coarse prediction) and as its *output decoder* (input: the CWIB output X_t;
output: the final prediction).
"""
from __future__ import annotations

from typing import Sequence

import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor, nn

from .pointwise import PointwiseConv2d


class TaskDecoder(BaseModule):
    """Lateral convs per input -> resize to the first input -> fuse -> convs.

    Args:
        in_channels: channels of each input map (first = finest = output size).
        channels: width d of the task feature.
        out_channels: channels of the prediction (TaskSpec.out_channels).
        lateral_kernel: kernel of the per-input conv, one for all inputs or
            one per input. Each runs at its input's own resolution, so a 3x3
            on a deep, wide backbone level adds parameters at little FLOP
            cost, while the same kernel on the stride-4 level is expensive.
        num_convs: 3x3 conv blocks after the fusion, at the finest size.

    With several inputs the fusion is a 1x1 conv block over the channel
    concatenation of the resized lateral outputs. It is computed without
    the concatenation: its conv splits into one (d x d) product per input,
    and a 1x1 conv commutes with bilinear resizing (both are linear, the
    resizing weights of a pixel sum to 1), so each input's share runs at
    that input's own resolution before it is resized and summed; norm and
    activation follow the sum. Same weights and checkpoints as the
    concatenating form, and the same values up to rounding.
    """

    def __init__(self, in_channels: Sequence[int], channels: int,
                 out_channels: int,
                 lateral_kernel: int | Sequence[int] = 3,
                 num_convs: int = 1, norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU'), init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        in_channels = list(in_channels)
        kernels = [lateral_kernel] * len(in_channels) \
            if isinstance(lateral_kernel, int) else list(lateral_kernel)
        assert len(kernels) == len(in_channels)
        conv_kw = dict(norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.laterals = nn.ModuleList(
            ConvModule(c, channels, k, padding=k // 2, **conv_kw)
            for c, k in zip(in_channels, kernels))
        # several inputs: channel concat (L*d) -> 1x1 conv back to d
        self.fuse = ConvModule(len(in_channels) * channels, channels, 1,
                               **conv_kw) if len(in_channels) > 1 else None
        self.convs = nn.Sequential(*[
            ConvModule(channels, channels, 3, padding=1, **conv_kw)
            for _ in range(num_convs)])
        self.predictor = PointwiseConv2d(channels, out_channels)

    def forward(self, inputs: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
        """inputs[i]: (B, C_i, H_i, W_i) -> feature (B, d, H_0, W_0), logits
        (B, out_channels, H_0, W_0)."""
        size = inputs[0].shape[2:]
        if self.fuse is None:
            x = _resized(self.laterals[0](inputs[0]), size)
        else:
            x = self._fused(inputs, size)
        x = self.convs(x)
        return x, self.predictor(x)

    def _fused(self, inputs: Sequence[Tensor], size) -> Tensor:
        """``fuse(Concat_i(resize(lateral_i(x_i))))``, each input's share of
        the 1x1 conv taken at its own resolution (see the class)."""
        conv = self.fuse.conv
        shares = conv.weight.split(
            [lateral.conv.out_channels for lateral in self.laterals], dim=1)
        total = None
        for x, lateral, weight in zip(inputs, self.laterals, shares):
            y = _resized(F.conv2d(lateral(x), weight), size)
            total = y if total is None else total.add_(y)
        if conv.bias is not None:
            total = total + conv.bias.view(1, -1, 1, 1)
        if self.fuse.with_norm:
            total = self.fuse.norm(total)
        if self.fuse.with_activation:
            total = self.fuse.activate(total)
        return total


def _resized(x: Tensor, size) -> Tensor:
    if x.shape[2:] == size:
        return x
    return F.interpolate(x, size=size, mode='bilinear', align_corners=False)
