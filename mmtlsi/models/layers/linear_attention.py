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
    return F.elu(x) + 1.0


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


def linear_attention_apply(query: Tensor, context: Tensor, key_sum: Tensor,
                           eps: float = 1e-6) -> Tensor:
    """Row-normalised ``phi(Q) C`` for a context from
    :func:`linear_attention_context`.

    Args:
        query: (..., M, dk) queries, before the feature map.
        context: (..., dk, dv); key_sum: (..., dk).

    Returns:
        (..., M, dv).
    """
    phi_q = elu_feature_map(query)
    numerator = phi_q @ context                                  # (..., M, dv)
    denominator = (phi_q * key_sum.unsqueeze(-2)).sum(-1, keepdim=True)
    return numerator / (denominator + eps)


def linear_attention(query: Tensor, key: Tensor, value: Tensor,
                     eps: float = 1e-6) -> Tensor:
    """Linear attention: queries (..., M, dk), keys/values (..., N, *)."""
    context, key_sum = linear_attention_context(key, value)
    return linear_attention_apply(query, context, key_sum, eps)
