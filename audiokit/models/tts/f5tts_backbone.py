"""F5-TTS DiT backbone: text embedding, input embedding, DiT stack, output projection.

Reference: downstream.md §5.3-5.5 (``SWivid/F5-TTS`` ``model/backbones/dit.py``). Sub-module
names follow the released checkpoints after the ``ema_model.transformer.`` prefix, except the
attention (``attn.linear_{q,k,v,out}`` for ``attn.to_{q,k,v}``, ``attn.to_out.0``) and the
feed-forward (``ff.{0,3}`` for ``ff.ff.0.0``, ``ff.ff.2``); :mod:`audiokit.convert.f5tts` maps them.

Text ids use ``-1`` for batch padding; :class:`TextEmbedding` shifts them by one so that ``0``
is the *filler* token, truncates or pads them to the mel length (no aligner) and refines
them with ConvNeXt-V2 blocks.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from audiokit.nn.convnext_v2 import ConvNeXtV2Block
from audiokit.nn.dit import (
    AdaLayerNormFinal,
    ConvPositionEmbedding,
    DiTBlock,
    TimestepEmbedding,
)
from audiokit.nn.rope import RotaryEmbedding


def text_position_table(length: int, dim: int, theta: float = 10000.0,
                        device: torch.device | str | None = None) -> torch.Tensor:
    """``(length, dim)`` sinusoids as ``[cos | sin]`` halves, frequencies ``theta ** (-2 i / dim)``."""
    freqs = 1.0 / (theta ** (torch.arange(0, dim, 2, device=device)[: dim // 2].float() / dim))
    angles = torch.outer(torch.arange(length, device=device).float(), freqs)
    return torch.cat((angles.cos(), angles.sin()), dim=-1)


class TextEmbedding(nn.Module):
    """Character ids ``(B, N_t)`` (``-1`` padded) -> ``(B, T, text_dim)`` aligned with ``T`` mel frames.

    Args:
        vocab_size: vocabulary entries (the embedding has ``vocab_size + 1`` rows: 0 = filler).
        dim: text width.
        conv_layers: ConvNeXt-V2 refiner blocks (0: embedding only, no positions).
        conv_mult: refiner hidden width factor.
        mask_padding: zero the filler positions before and after every block (F5-TTS v1).
    """

    def __init__(self, vocab_size: int, dim: int, conv_layers: int = 4, conv_mult: int = 2,
                 mask_padding: bool = True) -> None:
        super().__init__()
        self.dim, self.mask_padding = dim, mask_padding
        self.text_embed = nn.Embedding(vocab_size + 1, dim)
        self.text_blocks = nn.ModuleList(ConvNeXtV2Block(dim, dim * conv_mult) for _ in range(conv_layers))

    def forward(self, text: torch.Tensor, seq_len: int | torch.Tensor, drop_text: bool = False,
                total: int | None = None) -> torch.Tensor:
        """``text (B, N_t)``; ``seq_len``: frames (int) or per-item valid frames ``(B,)``;
        ``total``: output length when ``seq_len`` is per item (default ``max(seq_len)``)."""
        lens = seq_len if torch.is_tensor(seq_len) else None
        length = int(seq_len) if lens is None else (int(lens.max()) if total is None else total)
        ids = (text + 1)[:, :length]
        ids = F.pad(ids, (0, length - ids.shape[1]), value=0)
        valid = None
        if lens is not None:
            valid = torch.arange(length, device=ids.device)[None, :] < lens.to(ids.device)[:, None]
            ids = ids.masked_fill(~valid, 0)
        filler = ids == 0  # taken before dropping the text (as the reference)
        if drop_text:
            ids = torch.zeros_like(ids)
        h = self.text_embed(ids)
        if valid is not None:
            h = h.masked_fill(~valid[..., None], 0.0)
        if not self.text_blocks:
            return h
        pos = text_position_table(length, self.dim, device=h.device).to(h.dtype)
        h = h + (pos[None] * valid[..., None].to(h.dtype) if valid is not None else pos)
        if self.mask_padding:
            h = h.masked_fill(filler[..., None], 0.0)
        for block in self.text_blocks:
            h = block(h)
            if self.mask_padding:
                h = h.masked_fill(filler[..., None], 0.0)
        return h


class InputEmbedding(nn.Module):
    """``x, cond (B, T, mel_dim)``, ``text (B, T, text_dim)`` -> ``(B, T, dim)``:
    ``proj(cat)`` plus the convolutional position embedding (residual)."""

    def __init__(self, mel_dim: int, text_dim: int, dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(2 * mel_dim + text_dim, dim)
        self.conv_pos_embed = ConvPositionEmbedding(dim)

    def forward(self, x: torch.Tensor, cond: torch.Tensor, text: torch.Tensor,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        h = self.proj(torch.cat((x, cond, text), dim=-1))
        return self.conv_pos_embed(h, mask) + h


class F5DiT(nn.Module):
    """The F5-TTS flow estimator ``v(x_t, cond, text, t)``: ``(B, T, mel_dim)`` -> ``(B, T, mel_dim)``.

    Args:
        dim, depth, heads: DiT width, blocks and heads (head width ``dim // heads``, 64 in releases).
        ff_mult: DiT FFN width factor.
        mel_dim: mel channels (100).
        vocab_size: text vocabulary size (without the filler).
        text_dim: text width (``None``: ``mel_dim``).
        conv_layers: text refiner blocks.
        text_mask_padding: v1 filler re-masking.
        pe_attn_head: rotate only the first that many heads (v0: 1; ``None``: all).
        attn_mask: mask padded keys in attention (releases: False).
        dropout: DiT dropout (training).
    """

    def __init__(
        self, dim: int, depth: int, heads: int, ff_mult: float = 2, mel_dim: int = 100,
        vocab_size: int = 256, text_dim: int | None = None, conv_layers: int = 4,
        text_mask_padding: bool = True, pe_attn_head: int | None = None, attn_mask: bool = False,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        text_dim = mel_dim if text_dim is None else text_dim
        self.dim, self.mel_dim = dim, mel_dim
        self.time_embed = TimestepEmbedding(dim)
        self.text_embed = TextEmbedding(vocab_size, text_dim, conv_layers, mask_padding=text_mask_padding)
        self.input_embed = InputEmbedding(mel_dim, text_dim, dim)
        self.rotary_embed = RotaryEmbedding(dim // heads)
        self.transformer_blocks = nn.ModuleList(
            DiTBlock(dim, heads, ff_mult, dropout, rope_heads=pe_attn_head, attn_mask=attn_mask)
            for _ in range(depth)
        )
        self.norm_out = AdaLayerNormFinal(dim)
        self.proj_out = nn.Linear(dim, mel_dim)
        nn.init.zeros_(self.proj_out.weight)
        nn.init.zeros_(self.proj_out.bias)

    def embed_text(self, text: torch.Tensor, seq_len: int | torch.Tensor, drop_text: bool = False,
                   total: int | None = None) -> torch.Tensor:
        """Text embedding ``(B, T, text_dim)`` (constant over ODE steps: compute it once)."""
        return self.text_embed(text, seq_len, drop_text, total)

    def forward(
        self, x: torch.Tensor, cond: torch.Tensor, text_emb: torch.Tensor, time: torch.Tensor,
        mask: torch.Tensor | None = None, drop_audio_cond: bool = False,
    ) -> torch.Tensor:
        """Flow ``(B, T, mel_dim)``.

        ``x``: noisy mel; ``cond``: masked prompt mel; ``text_emb``: from :meth:`embed_text`;
        ``time``: ``(B,)`` or scalar in [0, 1]; ``mask (B, T)``: valid frames (``None``: all).
        """
        if time.dim() == 0:
            time = time.repeat(x.shape[0])
        t = self.time_embed(time)
        if drop_audio_cond:
            cond = torch.zeros_like(cond)
        h = self.input_embed(x, cond, text_emb, mask)
        rope = self.rotary_embed(x.shape[1])
        for block in self.transformer_blocks:
            h = block(h, t, rope, mask)
        return self.proj_out(self.norm_out(h, t))
