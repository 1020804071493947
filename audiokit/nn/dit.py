"""Diffusion-Transformer (DiT) layers: timestep embedding, AdaLN-zero block, final AdaLN.

As in F5-TTS (``model/modules.py``) and DiT (Peebles & Xie, 2023):

* :func:`timestep_sinusoid`: ``[sin | cos]`` halves of ``scale * t * exp(-i log(10000) / (half - 1))``;
* :class:`TimestepEmbedding`: sinusoid(256) -> Linear -> SiLU -> Linear (``time_mlp.{0,2}``);
* :class:`DiTBlock`: adaptive LayerNorm on the flow-step embedding (``attn_norm.linear`` -> 6 D:
  shift/scale/gate for attention and for the feed-forward), rotary self-attention on the
  attention core (:class:`~audiokit.nn.rope.RotaryMultiHeadAttention`), tanh-GELU FFN;
* :class:`AdaLayerNormFinal`: ``linear`` -> 2 D chunked as (scale, shift);
* :class:`ConvPositionEmbedding`: 2 x (grouped Conv1d k31 + Mish), masked.

The AdaLN linears are zero-initialised (each block starts as the identity).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from audiokit.nn.rope import RotaryMultiHeadAttention


def timestep_sinusoid(t: torch.Tensor, dim: int, scale: float = 1000.0) -> torch.Tensor:
    """``t (B,)`` -> ``(B, dim)`` = ``[sin(a) | cos(a)]``, ``a = scale t exp(-i ln(1e4) / (dim/2 - 1))``."""
    half = dim // 2
    freqs = torch.exp(torch.arange(half, device=t.device, dtype=torch.float32) * -(math.log(10000.0) / (half - 1)))
    angles = scale * t.float()[:, None] * freqs[None, :]
    return torch.cat((angles.sin(), angles.cos()), dim=-1).to(t.dtype)


class TimestepEmbedding(nn.Module):
    """Flow step ``t (B,)`` in [0, 1] -> ``(B, dim)``."""

    def __init__(self, dim: int, freq_dim: int = 256) -> None:
        super().__init__()
        self.freq_dim = freq_dim
        self.time_mlp = nn.Sequential(nn.Linear(freq_dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.time_mlp(timestep_sinusoid(t, self.freq_dim))


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """``LN_noaffine(x) (1 + scale) + shift``; ``x (B, T, D)``, ``shift``/``scale (B, D)``."""
    return F.layer_norm(x, (x.shape[-1],), eps=1e-6) * (1 + scale[:, None]) + shift[:, None]


class AdaLayerNormZero(nn.Module):
    """``cond (B, D)`` -> six ``(B, D)`` chunks: shift, scale, gate (attention), shift, scale, gate (FFN)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.linear = nn.Linear(dim, 6 * dim)
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def forward(self, cond: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(self.linear(F.silu(cond)).chunk(6, dim=-1))


class AdaLayerNormFinal(nn.Module):
    """Final modulation: ``x (B, T, D)``, ``cond (B, D)`` -> ``LN(x) (1 + scale) + shift``."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.linear = nn.Linear(dim, 2 * dim)
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        scale, shift = self.linear(F.silu(cond)).chunk(2, dim=-1)
        return modulate(x, shift, scale)


class DiTBlock(nn.Module):
    """AdaLN-zero Transformer block: ``(B, T, D), cond (B, D) -> (B, T, D)``.

    Args:
        dim: width ``D``.
        heads: attention heads (head width ``D // heads``).
        ff_mult: FFN hidden width ``D * ff_mult``.
        dropout: on the attention output and inside the FFN.
        rope_heads: rotate only the first that many heads (``None``: all).
        attn_mask: mask padded keys in attention (F5 releases: ``False``; padded rows of the
            output are zeroed either way).
    """

    def __init__(
        self, dim: int, heads: int, ff_mult: float = 4, dropout: float = 0.1,
        rope_heads: int | None = None, attn_mask: bool = False,
    ) -> None:
        super().__init__()
        self.attn_mask = attn_mask
        self.attn_norm = AdaLayerNormZero(dim)
        self.attn = RotaryMultiHeadAttention(dim, heads, dropout=0.0, rope_heads=rope_heads)
        self.attn_dropout = nn.Dropout(dropout)
        hidden = int(dim * ff_mult)
        self.ff = nn.Sequential(
            nn.Linear(dim, hidden), nn.GELU(approximate="tanh"), nn.Dropout(dropout), nn.Linear(hidden, dim),
        )

    def forward(
        self, x: torch.Tensor, cond: torch.Tensor, rope: torch.Tensor, mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``x (B, T, D)``, ``cond (B, D)``, ``rope`` angles ``(T, r)``, ``mask (B, T)`` True = frame."""
        shift_a, scale_a, gate_a, shift_f, scale_f, gate_f = self.attn_norm(cond)
        h = modulate(x, shift_a, scale_a)
        key_mask = mask[:, None, :] if (mask is not None and self.attn_mask) else None
        h = self.attn_dropout(self.attn(h, h, h, mask=key_mask, pos_emb=rope))
        if mask is not None:
            h = h.masked_fill(~mask[..., None], 0.0)
        x = x + gate_a[:, None] * h
        return x + gate_f[:, None] * self.ff(modulate(x, shift_f, scale_f))


class ConvPositionEmbedding(nn.Module):
    """``(B, T, D) -> (B, T, D)``: Conv1d(k, groups) -> Mish -> Conv1d -> Mish, padded frames
    zeroed before and after each conv (``conv1d.{0,2}``)."""

    def __init__(self, dim: int, kernel_size: int = 31, groups: int = 16) -> None:
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        pad = kernel_size // 2
        self.conv1d = nn.Sequential(
            nn.Conv1d(dim, dim, kernel_size, groups=groups, padding=pad), nn.Mish(),
            nn.Conv1d(dim, dim, kernel_size, groups=groups, padding=pad), nn.Mish(),
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        h = x.transpose(1, 2)
        keep = None if mask is None else mask[:, None, :]
        if keep is not None:
            h = h.masked_fill(~keep, 0.0)
        for layer in self.conv1d:
            h = layer(h)
            if keep is not None and isinstance(layer, nn.Conv1d):
                h = h.masked_fill(~keep, 0.0)
        return h.transpose(1, 2)
