"""Splitting token features into attention heads and merging them back, for
every attention in the model (CWIB, MT-MQLFB, the quadratic fusion)."""
from __future__ import annotations

from torch import Tensor


def split_heads(x: Tensor, num_heads: int) -> Tensor:
    """(..., N, C) -> (..., h, N, C / h): channel block i is head i."""
    *lead, n, c = x.shape
    if c % num_heads:
        raise ValueError(f'{c} channels do not split into {num_heads} heads')
    return x.view(*lead, n, num_heads, c // num_heads).transpose(-3, -2)


def merge_heads(x: Tensor) -> Tensor:
    """(..., h, N, c) -> (..., N, h * c), the inverse of :func:`split_heads`.
    """
    *lead, h, n, c = x.shape
    return x.transpose(-3, -2).reshape(*lead, n, h * c)
