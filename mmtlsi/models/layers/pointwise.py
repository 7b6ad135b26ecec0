"""A 1x1 convolution whose weight gradient has one layout on every
backend."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class PointwiseConv2d(nn.Conv2d):
    """``nn.Conv2d`` with a 1x1 kernel (same weights, same checkpoints) that
    computes a channels-last input as one matrix product over the channels.

    PyTorch picks the CPU kernel of a 1x1 convolution by the thread count:
    oneDNN with several threads, which on a channels-last input returns the
    weight's gradient with channels-last strides, and its own matrix product
    with one thread, which returns them contiguous. A (C_out, C_in, 1, 1)
    weight has one memory order either way, but DDP compares all strides
    and copies (and warns about) every gradient whose strides differ from
    its bucket's. As a matrix product over the channels-last map's (B, H, W,
    C) view, the gradient is the contiguous (C_out, C_in) product with any
    thread count, the output stays channels-last, and no map is copied.
    Inputs in the default layout take the convolution as it is.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 kernel_size=1, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, **kwargs):
        super().__init__(in_channels, out_channels, kernel_size, stride,
                         padding, dilation, groups, bias, **kwargs)
        if (self.kernel_size, self.stride, self.padding, self.groups) != \
                ((1, 1), (1, 1), (0, 0), 1):
            raise ValueError(
                'PointwiseConv2d is a 1x1 convolution with stride 1, no '
                f'padding and one group (got kernel {self.kernel_size}, '
                f'stride {self.stride}, padding {self.padding}, groups '
                f'{self.groups})')

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4 or x.is_contiguous() or \
                not x.is_contiguous(memory_format=torch.channels_last):
            return super().forward(x)
        # (B, C, H, W) channels-last = (B, H, W, C) contiguous
        y = F.linear(x.permute(0, 2, 3, 1), self.weight.flatten(1),
                     self.bias)
        return y.permute(0, 3, 1, 2)
