"""Semantic Token Distiller (eq. 5-6): N fused tokens -> K semantic tokens."""
from __future__ import annotations

from mmengine.model import BaseModule
from torch import Tensor, nn


class SemanticTokenDistiller(BaseModule):
    """A_t = softmax_N(MLP(I^T)) (K x N);  I'_t = A_t Proj_t(I) (K x d).

    The MLP is Conv1d(d, hidden, 1) -> BatchNorm1d -> GELU ->
    Conv1d(hidden, K, 1) over the token axis; the softmax runs over the N
    tokens, so each semantic token is a convex combination of the tokens.

    Args:
        channels: token width d.
        num_tokens: K.
        hidden_channels: MLP width (default d).
    """

    def __init__(self, channels: int, num_tokens: int = 512,
                 hidden_channels: int | None = None, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        hidden = hidden_channels or channels
        self.num_tokens = num_tokens
        self.assign = nn.Sequential(
            nn.Conv1d(channels, hidden, 1), nn.BatchNorm1d(hidden),
            nn.GELU(), nn.Conv1d(hidden, num_tokens, 1))
        self.proj = nn.Linear(channels, channels)

    def assignment(self, tokens: Tensor) -> Tensor:
        """tokens (B, N, d) -> A (B, K, N), each row sums to one."""
        return self.assign(tokens.transpose(1, 2)).softmax(dim=-1)

    def forward(self, tokens: Tensor) -> Tensor:
        """tokens (B, N, d) -> distilled tokens (B, K, d)."""
        return self.assignment(tokens) @ self.proj(tokens)
