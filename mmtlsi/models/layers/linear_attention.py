"""Kernelised linear attention (Katharopoulos et al.), the core of MT-MQLFB.

``O = phi(Q) (phi(K)^T V) / (phi(Q) (phi(K)^T 1))`` with ``phi = ELU + 1``.
The (d x d) context ``phi(K)^T V`` is computed once and can be shared by
several query sets (MT-MQLFB's scales); no N x N matrix is ever formed, so
time and memory are linear in the number of tokens.
"""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def elu_feature_map(x: Tensor) -> Tensor:
    """phi(x) = ELU(x) + 1, a positive feature map."""
    return F.elu(x).add_(1.0)


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
    phi_k = elu_feature_map(key)
    context = phi_k.transpose(-2, -1) @ value
    return context, phi_k.sum(dim=-2)
