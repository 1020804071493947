"""VQGAN-style 1-D ResNet and self-attention blocks (WavTokenizer's ``pos_net``).

Names follow the WavTokenizer checkpoints (``backbone.pos_net.{i}.*``): ResNet blocks have
``norm1``, ``conv1``, ``norm2``, ``dropout``, ``conv2`` (and ``nin_shortcut`` /
``conv_shortcut`` when the width changes); the attention block has ``norm``, ``q``, ``k``,
``v``, ``proj_out``. Attention is single-head, full and non-causal over all frames.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def group_norm(channels: int, num_groups: int = 32) -> nn.GroupNorm:
    """GroupNorm(32 groups, eps 1e-6, affine) as in VQGAN; ``channels`` must divide by 32."""
    if channels % num_groups:
        raise ValueError(f"{channels} channels do not split into {num_groups} groups")
    return nn.GroupNorm(num_groups, channels, eps=1e-6, affine=True)


class ResnetBlock1d(nn.Module):
    """Pre-activation ResNet block on ``(B, C, T)``.

    GroupNorm -> swish -> Conv1d k3 -> GroupNorm -> swish -> Dropout -> Conv1d k3, added to
    the input (through a 1x1 ``nin_shortcut`` or k3 ``conv_shortcut`` if widths differ).
    """

    def __init__(
        self, in_channels: int, out_channels: int | None = None, dropout: float = 0.1,
        conv_shortcut: bool = False,
    ) -> None:
        super().__init__()
        out_channels = in_channels if out_channels is None else out_channels
        self.norm1 = group_norm(in_channels)
        self.conv1 = nn.Conv1d(in_channels, out_channels, 3, padding=1)
        self.norm2 = group_norm(out_channels)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv1d(out_channels, out_channels, 3, padding=1)
        self.skip_name: str | None = None
        if in_channels != out_channels:
            self.skip_name = "conv_shortcut" if conv_shortcut else "nin_shortcut"
            kernel = 3 if conv_shortcut else 1
            self.add_module(self.skip_name, nn.Conv1d(in_channels, out_channels, kernel, padding=kernel // 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C_in, T) -> (B, C_out, T)``."""
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        skip = x if self.skip_name is None else getattr(self, self.skip_name)(x)
        return skip + h


class AttnBlock1d(nn.Module):
    """Single-head global self-attention with a residual: ``(B, C, T) -> (B, C, T)``.

    GroupNorm, 1x1 ``q``/``k``/``v`` convs, ``softmax(q^T k / sqrt(C))`` over keys, weighted
    values, 1x1 ``proj_out``, added to the input.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = group_norm(channels)
        self.q = nn.Conv1d(channels, channels, 1)
        self.k = nn.Conv1d(channels, channels, 1)
        self.v = nn.Conv1d(channels, channels, 1)
        self.proj_out = nn.Conv1d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, T) -> (B, C, T)``."""
        h = self.norm(x)
        q, k, v = (proj(h).transpose(1, 2) for proj in (self.q, self.k, self.v))  # (B, T, C)
        attn = F.scaled_dot_product_attention(q, k, v)  # scale 1/sqrt(C)
        return x + self.proj_out(attn.transpose(1, 2))


def build_pos_net(dim: int, dropout: float = 0.1) -> nn.Sequential:
    """WavTokenizer's ``pos_net``: [Res, Res, Attn, Res, Res, GroupNorm] on ``(B, dim, T)``."""
    return nn.Sequential(
        ResnetBlock1d(dim, dim, dropout),
        ResnetBlock1d(dim, dim, dropout),
        AttnBlock1d(dim),
        ResnetBlock1d(dim, dim, dropout),
        ResnetBlock1d(dim, dim, dropout),
        group_norm(dim),
    )
