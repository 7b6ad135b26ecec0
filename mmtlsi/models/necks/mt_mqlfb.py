"""Multi-Task Multi-scale Query Linear Fusion Block (MT-MQLFB, eq. 2-4)."""
from __future__ import annotations

from typing import Sequence

import torch
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmtlsi.registry import MODELS

from ..layers.linear_attention import (
    linear_attention_apply,
    linear_attention_context,
)


def tasks_to_tokens(maps: Sequence[Tensor]) -> Tensor:
    """T maps (B, d, h, w) -> (B, T*h*w, d), tasks concatenated on tokens."""
    return torch.cat([m.flatten(2).transpose(1, 2) for m in maps], dim=1)


@MODELS.register_module()
class MTMQLFB(BaseModule):
    """Linear-time cross-task fusion with multi-scale queries.

    For each scale s: G_s = tokens of all tasks after a stride-2 depth-wise
    conv (kernel s) + BN + ReLU (one conv per scale, shared by the tasks);
    Q_s = LN(G_s) W_Q. Keys and values come from the pooled features:
    M = tokens of Pool(F_t), K = LN(M) W_K, V = LN(M) W_V. One global context
    C = phi(K)^T V (d x d; with several heads one d_h x d_h context per head)
    serves every scale; O_s is
    row-normalised phi(Q_s) C. O_agg = Concat_s(O_s) W_O (S*d -> d);
    I = O_agg + MLP(O_agg).

    Input F_t (B, d, H, W) per task; output I (B, T*ceil(H/2)*ceil(W/2), d).

    Args:
        channels: d.
        scales: depth-wise conv kernels of the queries, e.g. (1, 3, 5).
        num_heads: heads of the linear attention. 1 (the default) is the
            paper's single global context and its O(S T HW/4 d^2) cost; h > 1
            splits d into h independent d/h-wide contexts, a different model
            (an ablation).
        pool_stride: stride (= kernel) of the average pooling giving M. The
            paper says only "Pool"; 2 puts keys at the queries' resolution.
        mlp_ratio: hidden width of the output MLP, as a multiple of d.
    """

    def __init__(self, channels: int, scales: Sequence[int] = (1, 3, 5),
                 num_heads: int = 1, pool_stride: int = 2,
                 mlp_ratio: float = 4.0, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        assert channels % num_heads == 0
        self.num_heads = num_heads
        self.scales = tuple(scales)
        self.query_convs = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(channels, channels, s, stride=2, padding=s // 2,
                          groups=channels, bias=False),
                nn.BatchNorm2d(channels), nn.ReLU(inplace=True))
            for s in self.scales)
        self.pool = nn.AvgPool2d(pool_stride, pool_stride, ceil_mode=True)
        self.norm_q = nn.LayerNorm(channels)
        self.norm_kv = nn.LayerNorm(channels)
        self.q = nn.Linear(channels, channels)
        self.kv = nn.Linear(channels, 2 * channels)
        self.out_proj = nn.Linear(len(self.scales) * channels, channels)
        hidden = int(channels * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(channels, hidden), nn.GELU(),
                                 nn.Linear(hidden, channels))

    def _split_heads(self, x: Tensor) -> Tensor:
        b, n, c = x.shape
        x = x.view(b, n, self.num_heads, c // self.num_heads)
        return x.transpose(1, 2)

    def forward(self, feats: Sequence[Tensor]) -> Tensor:
        """feats: T maps (B, d, H, W) -> fused tokens I (B, N, d)."""
        m = tasks_to_tokens([self.pool(f) for f in feats])
        k, v = self.kv(self.norm_kv(m)).chunk(2, dim=-1)
        context, key_sum = linear_attention_context(
            self._split_heads(k), self._split_heads(v))  # (B,h,dh,dh),(B,h,dh)
        outs = []
        for conv in self.query_convs:
            g = tasks_to_tokens([conv(f) for f in feats])          # (B, N, d)
            q = self._split_heads(self.q(self.norm_q(g)))
            o = linear_attention_apply(q, context, key_sum)     # (B,h,N,dh)
            outs.append(o.transpose(1, 2).flatten(2))
        o_agg = self.out_proj(torch.cat(outs, dim=-1))
        return o_agg + self.mlp(o_agg)
