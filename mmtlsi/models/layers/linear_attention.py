"""Kernelised linear attention (Katharopoulos et al.), the core of MT-MQLFB.

``O = phi(Q) (phi(K)^T V) / (phi(Q) (phi(K)^T 1))`` with ``phi = ELU + 1``.
The (d x d) context ``phi(K)^T V`` is computed once and can be shared by
several query sets (MT-MQLFB's scales); no N x N matrix is ever formed, so
time and memory are linear in the number of tokens.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def elu_feature_map(x: Tensor) -> Tensor:
    """phi(x) = ELU(x) + 1 = exp(min(x, 0)) + max(x, 0), a positive feature
    map (the second form: vectorised kernels, twice as fast as ELU's on
    CPU)."""
    pos = F.relu(x)
    if torch.is_grad_enabled():
        return torch.exp(x - pos) + pos
    return (x - pos).exp_().add_(pos)       # no autograd: reuse the buffer


def linear_attention_context(key: Tensor, value: Tensor
                             ) -> tuple[Tensor, Tensor]:
    """The global context of linear attention.

    Args:
        key: (..., N, dk) keys, before the feature map.
        value: (..., N, dv) values.

    Returns:
        context (..., dk, dv) = phi(K)^T V, and key_sum (..., dk) =
        phi(K)^T 1 (the normaliser's part that does not depend on Q).
    """
    phi_k = elu_feature_map(key).transpose(-2, -1)          # (..., dk, N)
    context = phi_k @ value
    # the row sums as a matrix-vector product (faster than a strided sum)
    key_sum = (phi_k @ phi_k.new_ones(phi_k.shape[-1], 1)).squeeze(-1)
    return context, key_sum
