"""Cross-Window Integrated attention Block (CWIB, eq. 7-11)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

from .multi_head import merge_heads, split_heads
from .windows import (
    is_exporting,
    pad_to_windows,
    window_partition,
    window_reverse,
)


class RelativePositionBias(nn.Module):
    """Swin's relative position bias for (Hw, Ww) windows: a learned table of
    (2Hw-1)(2Ww-1) entries per head, read at every query-key offset.

    ``forward()`` -> (heads, n, n) additive attention logits, n = Hw * Ww
    (tokens in row-major order within the window).
    """

    def __init__(self, window_size: tuple[int, int], num_heads: int):
        super().__init__()
        wh, ww = window_size
        self.table = nn.Parameter(
            torch.zeros((2 * wh - 1) * (2 * ww - 1), num_heads))
        nn.init.trunc_normal_(self.table, std=0.02)
        coords = torch.stack(torch.meshgrid(
            torch.arange(wh), torch.arange(ww), indexing='ij')).flatten(1)
        offset = coords[:, :, None] - coords[:, None, :]     # (2, n, n)
        index = (offset[0] + wh - 1) * (2 * ww - 1) + offset[1] + ww - 1
        self.register_buffer('index', index, persistent=False)

    def forward(self) -> Tensor:
        return self.table[self.index].permute(2, 0, 1)


class CWIB(BaseModule):
    """Window self-attention and cross-attention to distilled tokens.

    Q' = LN(P) W_Q' is shared by both branches:
    O_w = W-MSA(Q', LN(P) W_K, LN(P) W_V) in non-overlapping windows, with
    Swin's learned relative position bias B added to the window logits
    (softmax(q k^T / sqrt(d_h) + B) v; one (2Hw-1)(2Ww-1) table per head);
    the map is zero-padded to whole windows and the padded keys are masked
    out;
    O_c = MHA(Q', LN(I' + E) W_Kc, LN(I' + E) W_Vc), E a learnable (K x d)
    positional embedding of this task's tokens;
    Z = Linear(Concat(O_w, O_c)) + P;  X = Z + FFN(LN(Z)).

    Args:
        channels: d.  num_heads: heads of both branches.
        window_size: (Hw, Ww) of the windows, at the feature's resolution.
        num_tokens: K, the number of distilled tokens (size of E).
        ffn_ratio: hidden width of the FFN, as a multiple of d.
        rel_pos_bias: add the relative position bias to the window branch
            (Swin's W-MSA); False = plain dot-product window attention.
    """

    def __init__(self, channels: int, num_heads: int = 8,
                 window_size: tuple[int, int] = (14, 16),
                 num_tokens: int = 512, ffn_ratio: float = 4.0,
                 rel_pos_bias: bool = True, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        assert channels % num_heads == 0
        self.num_heads = num_heads
        self.window_size = tuple(window_size) if isinstance(
            window_size, (list, tuple)) else (window_size, window_size)
        self.norm_p = nn.LayerNorm(channels)
        self.qkv = nn.Linear(channels, 3 * channels)   # W_Q', W_K, W_V
        self.pos_embed = nn.Parameter(torch.zeros(1, num_tokens, channels))
        self.norm_tokens = nn.LayerNorm(channels)
        self.kv_cross = nn.Linear(channels, 2 * channels)  # W_Kc, W_Vc
        self.merge = nn.Linear(2 * channels, channels)
        self.norm_z = nn.LayerNorm(channels)
        hidden = int(channels * ffn_ratio)
        self.ffn = nn.Sequential(nn.Linear(channels, hidden), nn.GELU(),
                                 nn.Linear(hidden, channels))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        self.rel_pos = RelativePositionBias(self.window_size, num_heads) \
            if rel_pos_bias else None

    def _window_attention(self, qkv: Tensor) -> Tensor:
        """qkv (B, H, W, 3d) = [Q' | K | V] -> W-MSA output (B, H*W, d)."""
        b, h, w, _ = qkv.shape
        qkv, (pad_h, pad_w) = pad_to_windows(qkv, self.window_size)
        hp, wp = h + pad_h, w + pad_w
        padded = is_exporting() or pad_h or pad_w
        windows = window_partition(qkv, self.window_size)  # (B*nW, n, 3d)
        q, k, v = split_heads(windows, 3 * self.num_heads).chunk(3, dim=1)
        mask = None
        if self.rel_pos is not None:
            # (1, h, n, n): SDPA keeps its fused kernel for a 4-D mask that
            # needs no gradient (inference)
            mask = self.rel_pos().unsqueeze(0)
            if not torch.is_grad_enabled():
                mask = mask.detach()
        if padded:
            valid = qkv.new_zeros(1, hp, wp, 1, dtype=torch.bool)
            valid[:, :h, :w] = True
            valid = window_partition(valid, self.window_size)  # (nW, n, 1)
            # (B*nW, 1, 1, n): every query may attend to the window's real
            # pixels; a window always holds at least one of them.
            valid = valid.transpose(1, 2).unsqueeze(1).repeat(b, 1, 1, 1)
            mask = valid if mask is None else mask.masked_fill(
                ~valid, float('-inf'))
        o = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        # (B*nW, h, n, dh) -> (B, Hp, Wp, h, dh): one copy
        o = window_reverse(o.transpose(1, 2), self.window_size, hp, wp)
        if padded:
            o = o[:, :h, :w]
        return o.reshape(b, h * w, -1)

    def forward(self, feature: Tensor, tokens: Tensor) -> Tensor:
        """feature P (B, d, H, W), tokens I' (B, K, d) -> X (B, d, H, W).

        X comes back in channels-last memory (a view of the token layout);
        channels-last input P is read without a copy.
        """
        b, c, h, w = feature.shape
        heads = self.num_heads
        p = feature.permute(0, 2, 3, 1).reshape(b, h * w, c)   # (B, HW, d)
        qkv = self.qkv(self.norm_p(p))                 # (B, HW, 3d)
        o_w = self._window_attention(qkv.view(b, h, w, 3 * c))
        kc, vc = self.kv_cross(
            self.norm_tokens(tokens + self.pos_embed)).chunk(2, dim=-1)
        o_c = merge_heads(F.scaled_dot_product_attention(
            split_heads(qkv[..., :c], heads), split_heads(kc, heads),
            split_heads(vc, heads)))                   # (B, HW, d)
        # Linear(Concat(O_w, O_c)) as two products, without the concat
        w_merge = self.merge.weight
        z = F.linear(o_w, w_merge[:, :c], self.merge.bias)
        # (addmm_ is not autocast: under it z is in the autocast dtype)
        z = z.view(-1, c).addmm_(o_c.view(-1, c).to(z.dtype),
                                 w_merge[:, c:].t().to(z.dtype))
        z = z.view(b, h * w, c).add_(p)
        x = self.ffn(self.norm_z(z)).add_(z)
        return x.view(b, h, w, c).permute(0, 3, 1, 2)
