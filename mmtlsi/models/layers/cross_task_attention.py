"""Quadratic cross-task fusion: full softmax self-attention over all tasks'
tokens (the DeMT / InvPT-style baseline MT-MQLFB replaces)."""
from __future__ import annotations

from typing import Sequence

import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmtlsi.registry import MODELS

from .mt_mqlfb import tasks_to_tokens
from .multi_head import merge_heads, split_heads


@MODELS.register_module()
class CrossTaskAttention(BaseModule):
    """X = tokens of Pool(F_t) of all tasks; O = MHSA(LN(X)) W_O (softmax over
    all T*N tokens, O((T*N)^2 d) time); I = O + MLP(O).

    Same input / output as :class:`MTMQLFB` (stride-2 tokens), so it drops in
    its place in ``MTLSIHead(fusion=...)``.
    """

    def __init__(self, channels: int, num_heads: int = 8,
                 pool_stride: int = 2, mlp_ratio: float = 4.0,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        assert channels % num_heads == 0
        self.num_heads = num_heads
        self.pool = nn.AvgPool2d(pool_stride, pool_stride, ceil_mode=True)
        self.norm = nn.LayerNorm(channels)
        self.qkv = nn.Linear(channels, 3 * channels)
        self.out_proj = nn.Linear(channels, channels)
        hidden = int(channels * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(channels, hidden), nn.GELU(),
                                 nn.Linear(hidden, channels))

    def forward(self, feats: Sequence[Tensor]) -> Tensor:
        """feats: T maps (B, d, H, W) -> fused tokens (B, N, d)."""
        x = tasks_to_tokens([self.pool(f) for f in feats])
        q, k, v = (split_heads(t, self.num_heads)
                   for t in self.qkv(self.norm(x)).chunk(3, dim=-1))
        o = self.out_proj(merge_heads(F.scaled_dot_product_attention(q, k, v)))
        return o + self.mlp(o)
