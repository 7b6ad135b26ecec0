"""Multi-Task Multi-scale Query Linear Fusion Block (MT-MQLFB, eq. 2-4)."""
from __future__ import annotations

from typing import Sequence

import torch
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmtlsi.registry import MODELS

from .linear_attention import elu_feature_map, linear_attention_context
from .multi_head import split_heads


def tasks_to_tokens(maps: Sequence[Tensor]) -> Tensor:
    """T maps (B, d, h, w) -> tokens (B, T*h*w, d), the tasks one after the
    other, each map row-major. One copy (the concatenation) for
    channels-last maps; a channels-first map costs one more (the
    transpose)."""
    return torch.cat([m.permute(0, 2, 3, 1).flatten(1, 2) for m in maps], 1)


@MODELS.register_module()
class MTMQLFB(BaseModule):
    """Linear-time cross-task fusion with multi-scale queries.

    For each scale s: G_s = tokens of all tasks after a stride-2 depth-wise
    conv (kernel s) + BN + ReLU (one conv per scale, shared by the tasks);
    Q_s = LN(G_s) W_Q. Keys and values come from the pooled features:
    M = tokens of Pool(F_t), K = LN(M) W_K, V = LN(M) W_V. One global context
    C = phi(K)^T V (d x d; with several heads one d_h x d_h context per head)
    serves every scale; O_s is row-normalised phi(Q_s) C. O_agg =
    Concat_s(O_s) W_O (S*d -> d); I = O_agg + MLP(O_agg).

    Input F_t (B, d, H, W) per task; output I (B, T*ceil(H/2)*ceil(W/2), d).

    The forward computes exactly this, arranged for speed: the maps are
    made channels-last once, so pooling is cheap and tokens are views; the
    row normalisation is applied to phi(Q_s) before the product with C; and
    W_O is folded into the context, O_s W_O,s = (phi(Q_s) / n_s) (C W_O,s),
    so each scale adds one (N x d) @ (d x d) product to O_agg and the
    outputs O_s and their concatenation are never formed.

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
        eps: added to the normaliser n_s = phi(Q_s) phi(K)^T 1.
    """

    def __init__(self, channels: int, scales: Sequence[int] = (1, 3, 5),
                 num_heads: int = 1, pool_stride: int = 2,
                 mlp_ratio: float = 4.0, eps: float = 1e-6, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if channels % num_heads:
            raise ValueError(f'MTMQLFB: {channels} channels do not split '
                             f'into {num_heads} heads')
        self.num_heads = num_heads
        self.scales = tuple(scales)
        self.eps = eps
        self.query_convs = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(channels, channels, s, stride=2, padding=s // 2,
                          groups=channels, bias=False),
                nn.BatchNorm2d(channels), nn.ReLU(inplace=True))
            for s in self.scales)
        # The convs read channels-last maps (forward), and a depth-wise
        # conv's weight gradient then comes back channels-last: the weights
        # are stored in that layout too, so that gradient and parameter
        # strides agree (DDP copies a gradient whose strides differ from its
        # bucket's, and warns).
        # (``contiguous(memory_format=...)`` keeps a (d, 1, k, k) weight as
        # it is, since its one input channel makes both layouts "contiguous":
        # the strides are set explicitly.)
        for seq in self.query_convs:
            weight = seq[0].weight.data
            seq[0].weight.data = torch.empty_like(
                weight, memory_format=torch.channels_last).copy_(weight)
        self.pool = nn.AvgPool2d(pool_stride, pool_stride, ceil_mode=True)
        self.norm_q = nn.LayerNorm(channels)
        self.norm_kv = nn.LayerNorm(channels)
        self.q = nn.Linear(channels, channels)
        self.kv = nn.Linear(channels, 2 * channels)
        self.out_proj = nn.Linear(len(self.scales) * channels, channels)
        hidden = int(channels * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(channels, hidden), nn.GELU(),
                                 nn.Linear(hidden, channels))

    def forward(self, feats: Sequence[Tensor]) -> Tensor:
        """feats: T maps (B, d, H, W) -> fused tokens I (B, N, d)."""
        heads, num_scales = self.num_heads, len(self.scales)
        feats = [f.contiguous(memory_format=torch.channels_last)
                 for f in feats]
        m = tasks_to_tokens([self.pool(f) for f in feats])       # (B, N, d)
        b, n, d = m.shape
        dh = d // heads
        k, v = self.kv(self.norm_kv(m)).chunk(2, dim=-1)
        # C (B, h, dh, dh) and phi(K)^T 1 (B, h, dh)
        context, key_sum = linear_attention_context(
            split_heads(k, heads), split_heads(v, heads))
        # phi(K)^T 1 as a (B, d, h) block-diagonal matrix (head i's key sum
        # in column i): n_s = phi(Q_s) @ it, per head
        key_sum = torch.diag_embed(key_sum.transpose(1, 2)).transpose(
            1, 2).reshape(b, d, heads)
        # C W_O,s for every scale: (B, S, d, d); C acts per head on its dh
        # rows of W_O,s^T
        folded = (context[:, None] @ self.out_proj.weight.t().reshape(
            num_scales, heads, dh, d)).view(b, num_scales, d, d)
        o_agg = None
        for s, conv in enumerate(self.query_convs):
            g = tasks_to_tokens([conv(f) for f in feats])         # (B, N, d)
            phi_q = elu_feature_map(self.q(self.norm_q(g)))
            normaliser = (phi_q @ key_sum).unsqueeze(-1)       # (B, N, h, 1)
            normaliser = normaliser + self.eps
            phi_q = phi_q.view(b, n, heads, dh)
            phi_q = phi_q / normaliser if torch.is_grad_enabled() else \
                phi_q.div_(normaliser)
            if o_agg is None:
                o_agg = torch.baddbmm(self.out_proj.bias, phi_q.view(b, n, d),
                                      folded[:, s])
            else:
                o_agg.baddbmm_(phi_q.view(b, n, d), folded[:, s])
        out = self.mlp(o_agg)
        return out.add_(o_agg)
