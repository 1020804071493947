"""Rotary position embedding (RoPE) as a position handler of the attention core.

Two layouts of the rotated channel pairs exist in released models:

* ``"interleaved"`` (GPT-J, x-transformers >= 1.30, F5-TTS): channel pairs are adjacent,
  ``(x0, x1), (x2, x3), ...``; the angle table repeats each frequency twice
  ``(f0, f0, f1, f1, ...)`` and the rotation maps ``(a, b) -> (-b, a)`` within a pair.
* ``"half"`` (GPT-NeoX, LLaMA-HF): channel ``i`` is paired with ``i + d/2``; the table is
  ``(f0, f1, ..., f0, f1, ...)`` and the rotation maps ``(x1, x2) -> (-x2, x1)`` by halves.

With ``rot_dim`` frequencies table width smaller than the head width only the first
``rot_dim`` channels rotate (partial rotary). :class:`RotaryMultiHeadAttention` may also
rotate only the first ``rope_heads`` heads (F5-TTS v0 ``pe_attn_head=1``: head 0 only).
"""

from __future__ import annotations

import torch
from torch import nn

from audiokit.nn.attention import MultiHeadAttention

STYLES = ("interleaved", "half")


def rotary_inv_freq(dim: int, base: float = 10000.0) -> torch.Tensor:
    """``(dim // 2,)`` inverse frequencies ``base ** (-2 i / dim)`` (float32)."""
    return 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim))


def rotary_angles(positions: torch.Tensor, inv_freq: torch.Tensor, style: str = "interleaved") -> torch.Tensor:
    """Angle table ``(T, 2 F)`` for ``positions (T,)`` and ``inv_freq (F,)`` in ``style``'s layout."""
    if style not in STYLES:
        raise ValueError(f"rotary style must be one of {STYLES}, got {style!r}")
    angles = positions.to(inv_freq.dtype)[:, None] * inv_freq[None, :]  # (T, F)
    if style == "interleaved":
        return torch.stack((angles, angles), dim=-1).flatten(-2)
    return torch.cat((angles, angles), dim=-1)


def rotate(x: torch.Tensor, style: str = "interleaved") -> torch.Tensor:
    """The 90-degree rotation of each channel pair of ``x (..., d)`` (``d`` even)."""
    if style == "interleaved":
        pairs = x.unflatten(-1, (-1, 2))
        return torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).flatten(-2)
    first, second = x.chunk(2, dim=-1)
    return torch.cat((-second, first), dim=-1)


def apply_rotary(x: torch.Tensor, angles: torch.Tensor, style: str = "interleaved") -> torch.Tensor:
    """Rotate the first ``angles.shape[-1]`` channels of ``x (..., T, d)`` by ``angles (T, r)``.

    Channels beyond ``r`` pass unchanged (partial rotary). Computed in float32 and cast back.
    """
    width = angles.shape[-1]
    if width > x.shape[-1]:
        raise ValueError(f"rotary width {width} exceeds the head width {x.shape[-1]}")
    head, rest = x[..., :width], x[..., width:]
    angles = angles[-x.shape[-2]:].to(torch.float32)
    rotated = head.float() * angles.cos() + rotate(head.float(), style) * angles.sin()
    return torch.cat((rotated.to(x.dtype), rest), dim=-1)


class RotaryEmbedding(nn.Module):
    """Angle tables for positions ``0 .. T-1``: ``forward(T) -> (T, dim)``.

    ``inv_freq`` is a non-persistent buffer (checkpoints that carry it, like F5-TTS's
    ``rotary_embed.inv_freq``, are checked and dropped by the converters).
    """

    def __init__(self, dim: int, base: float = 10000.0, style: str = "interleaved") -> None:
        super().__init__()
        if dim % 2:
            raise ValueError(f"rotary dim must be even, got {dim}")
        if style not in STYLES:
            raise ValueError(f"rotary style must be one of {STYLES}, got {style!r}")
        self.dim, self.base, self.style = dim, base, style
        self.register_buffer("inv_freq", rotary_inv_freq(dim, base), persistent=False)

    def forward(self, seq_len: int, offset: int = 0) -> torch.Tensor:
        """``(seq_len, dim)`` angles for positions ``offset .. offset + seq_len - 1``."""
        positions = torch.arange(offset, offset + seq_len, device=self.inv_freq.device)
        return rotary_angles(positions, self.inv_freq, self.style)


class RotaryMultiHeadAttention(MultiHeadAttention):
    """Attention whose queries and keys are rotated before the dot product.

    ``pos_emb`` given to :meth:`scores` is the angle table ``(T_k, r)`` from
    :class:`RotaryEmbedding` (queries use its last ``T_q`` rows). ``rope_heads``: rotate only
    the first that many heads (``None``: all heads). ``style``: pair layout (module docstring).
    """

    def __init__(
        self, d_model: int, n_heads: int, dropout: float = 0.0, bias: bool = True,
        mask_value: float | None = None, rope_heads: int | None = None, style: str = "interleaved",
    ) -> None:
        super().__init__(d_model, n_heads, dropout, bias, mask_value)
        if rope_heads is not None and not 0 < rope_heads <= n_heads:
            raise ValueError(f"rope_heads must be in 1..{n_heads}, got {rope_heads}")
        if style not in STYLES:
            raise ValueError(f"rotary style must be one of {STYLES}, got {style!r}")
        self.rope_heads, self.style = rope_heads, style

    def _rotate_heads(self, x: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
        """Rotate heads ``[:rope_heads]`` of ``x (B, H, T, d_k)``."""
        if self.rope_heads is None or self.rope_heads == x.shape[1]:
            return apply_rotary(x, angles, self.style)
        n = self.rope_heads
        return torch.cat((apply_rotary(x[:, :n], angles, self.style), x[:, n:]), dim=1)

    def transform_qk(
        self, q: torch.Tensor, k: torch.Tensor, pos_emb: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Rotated ``q``/``k`` ``(B, H, T, d_k)``; ``pos_emb``: angles ``(T_k, r)``."""
        if pos_emb is None:
            raise ValueError("rotary attention needs pos_emb (the angle table)")
        if pos_emb.shape[0] < k.shape[2]:
            raise ValueError(f"rotary table has {pos_emb.shape[0]} positions for {k.shape[2]} keys")
        angles = pos_emb[-k.shape[2]:]
        return self._rotate_heads(q, angles), self._rotate_heads(k, angles)

    def scores(self, q: torch.Tensor, k: torch.Tensor, pos_emb: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, H, T_q, T_k)`` logits of rotated ``q``/``k``; ``pos_emb``: angles ``(T_k, r)``."""
        return super().scores(*self.transform_qk(q, k, pos_emb))
