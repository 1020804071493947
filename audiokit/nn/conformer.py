"""(Fast)Conformer block and encoder stack with cache-aware streaming.

Block (macaron, NeMo ``ConformerLayer`` names, so NeMo state dicts load directly)::

    x = x + 1/2 * feed_forward1(norm_feed_forward1(x))
    x = x + self_attn(norm_self_att(x))                  # rel-pos MHSA
    x = x + conv(norm_conv(x))                           # pointwise -> GLU -> depthwise -> norm -> Swish -> pointwise
    x = x + 1/2 * feed_forward2(norm_feed_forward2(x))
    x = norm_out(x)

Encoder (:class:`ConformerEncoder`): ``pre_encode`` (dw-striding subsampling) -> ``pos_enc``
(``x * sqrt(D)``, relative table) -> ``layers.{i}``. Limited attention context
``att_context_size = [left, right]`` (chunked_limited or regular style) is applied offline and
in streaming, so :meth:`ConformerEncoder.forward_chunk` reproduces :meth:`ConformerEncoder.forward`.

Streaming caches (:class:`ConformerCache`, NeMo layout): ``last_channel (L, B, left, D)`` the
normalised attention inputs, ``last_time (L, B, D, K - 1)`` the depthwise-conv inputs,
``last_channel_len (B,)`` valid attention-cache slots, ``pre_encode (B, n, F)`` input frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from audiokit.nn.attention import (
    RelPositionalEncoding,
    RelPositionMultiHeadAttention,
    update_input_cache,
)
from audiokit.nn.causal_conv import CausalConv1d
from audiokit.nn.masks import (
    attention_mask,
    check_streamable,
    context_mask,
    valid_mask,
    window_valid_mask,
)
from audiokit.nn.subsampling import DwStridingSubsampling

CONV_NORMS = ("batch_norm", "layer_norm")


class FeedForward(nn.Module):
    """``linear1 (D -> d_ff) -> Swish -> dropout -> linear2 (d_ff -> D)`` on ``(B, T, D)``."""

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.linear1 = nn.Linear(d_model, d_ff)
        self.activation = nn.SiLU()
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(d_ff, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear2(self.dropout(self.activation(self.linear1(x))))


def _conv_padding(context: str | tuple[int, int] | list[int], kernel_size: int) -> tuple[int, int]:
    if context == "causal":
        return kernel_size - 1, 0
    if context in ("symmetric", None):
        if kernel_size % 2 == 0:
            raise ValueError(f"symmetric conv context needs an odd kernel, got {kernel_size}")
        return (kernel_size - 1) // 2, (kernel_size - 1) // 2
    left, right = int(context[0]), int(context[1])
    if left + right + 1 != kernel_size:
        raise ValueError(f"conv context {[left, right]} does not match kernel size {kernel_size}")
    return left, right


class ConformerConvolution(nn.Module):
    """Conformer conv module on ``(B, T, D)``.

    ``pointwise_conv1 (D -> 2D) -> GLU -> mask padding -> depthwise_conv (K, padding from
    conv_context) -> batch_norm (BatchNorm1d or LayerNorm, NeMo keeps the name) -> Swish ->
    pointwise_conv2``. ``conv_context``: ``"causal"`` (``[K-1, 0]``), ``"symmetric"`` or
    ``[left, right]``.
    """

    def __init__(self, d_model: int, kernel_size: int, norm: str = "batch_norm",
                 conv_context: str | tuple[int, int] | list[int] = "symmetric") -> None:
        super().__init__()
        if norm not in CONV_NORMS:
            raise ValueError(f"unknown conv norm {norm!r}; expected one of {CONV_NORMS}")
        self.norm_type = norm
        self.pointwise_conv1 = nn.Conv1d(d_model, 2 * d_model, kernel_size=1)
        self.depthwise_conv = CausalConv1d(d_model, d_model, kernel_size, groups=d_model,
                                           padding=_conv_padding(conv_context, kernel_size))
        self.batch_norm = nn.LayerNorm(d_model) if norm == "layer_norm" else nn.BatchNorm1d(d_model)
        self.activation = nn.SiLU()
        self.pointwise_conv2 = nn.Conv1d(d_model, d_model, kernel_size=1)

    def forward(self, x: torch.Tensor, valid: torch.Tensor | None = None,
                cache: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``x (B, T, D)``, ``valid (B, T)``, ``cache (B, D, K - 1)`` -> ``(B, T, D)``, next cache."""
        h = nn.functional.glu(self.pointwise_conv1(x.transpose(1, 2)), dim=1)
        if valid is not None:
            h = h.masked_fill(~valid.unsqueeze(1), 0.0)
        if cache is None:
            h, next_cache = self.depthwise_conv(h), None
        else:
            h, next_cache = self.depthwise_conv.forward_cached(h, cache)
        if self.norm_type == "layer_norm":
            h = self.batch_norm(h.transpose(1, 2)).transpose(1, 2)
        else:
            h = self.batch_norm(h)
        return self.pointwise_conv2(self.activation(h)).transpose(1, 2), next_cache


class ConformerBlock(nn.Module):
    """One (Fast)Conformer layer; see the module docstring for the order of operations.

    Args:
        d_model, n_heads: width and attention heads.
        ff_expansion: feed-forward width factor (``d_ff = ff_expansion * d_model``).
        conv_kernel_size, conv_norm, conv_context: see :class:`ConformerConvolution`.
        dropout: residual/feed-forward dropout; dropout_att: attention-weight dropout.
    """

    def __init__(
        self, d_model: int, n_heads: int, ff_expansion: int = 4, conv_kernel_size: int = 31,
        conv_norm: str = "batch_norm", conv_context: str | tuple[int, int] | list[int] = "symmetric",
        dropout: float = 0.0, dropout_att: float = 0.0,
    ) -> None:
        super().__init__()
        d_ff = ff_expansion * d_model
        self.norm_feed_forward1 = nn.LayerNorm(d_model)
        self.feed_forward1 = FeedForward(d_model, d_ff, dropout)
        self.norm_self_att = nn.LayerNorm(d_model)
        self.self_attn = RelPositionMultiHeadAttention(d_model, n_heads, dropout_att)
        self.norm_conv = nn.LayerNorm(d_model)
        self.conv = ConformerConvolution(d_model, conv_kernel_size, conv_norm, conv_context)
        self.norm_feed_forward2 = nn.LayerNorm(d_model)
        self.feed_forward2 = FeedForward(d_model, d_ff, dropout)
        self.norm_out = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(
        self, x: torch.Tensor, pos_emb: torch.Tensor, mask: torch.Tensor | None = None,
        valid: torch.Tensor | None = None, cache_channel: torch.Tensor | None = None,
        cache_time: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """``x (B, T, D)`` -> ``(B, T, D)`` plus the next caches (``None`` without caches).

        ``mask (B, T, C + T)`` (``True`` = may attend), ``valid (B, T)``; ``pos_emb`` covers
        ``C + T`` keys. With ``cache_channel (B, C, D)`` the keys/values are
        ``[cache_channel | norm_self_att(x)]``; ``cache_time (B, D, K - 1)`` feeds the
        depthwise conv.
        """
        x = x + 0.5 * self.dropout(self.feed_forward1(self.norm_feed_forward1(x)))
        h = self.norm_self_att(x)
        if cache_channel is None:
            keys, next_channel = h, None
        else:
            keys, next_channel = torch.cat([cache_channel, h], dim=1), update_input_cache(cache_channel, h)
        x = x + self.dropout(self.self_attn(h, keys, keys, mask=mask, pos_emb=pos_emb))
        h, next_time = self.conv(self.norm_conv(x), valid=valid, cache=cache_time)
        x = x + self.dropout(h)
        x = x + 0.5 * self.dropout(self.feed_forward2(self.norm_feed_forward2(x)))
        return self.norm_out(x), next_channel, next_time


@dataclass
class ConformerCache:
    """Streaming state of a :class:`ConformerEncoder` (NeMo cache layout, model-time first)."""

    last_channel: torch.Tensor  # (n_layers, B, left, D)
    last_time: torch.Tensor  # (n_layers, B, D, K - 1)
    last_channel_len: torch.Tensor  # (B,) int64
    pre_encode: torch.Tensor  # (B, n <= factor + 1, F)


class ConformerEncoder(nn.Module):
    """Subsampling + relative-position Conformer stack with limited context and streaming.

    Args:
        feat_in: input features ``F``; d_model, n_layers, n_heads: stack shape.
        ff_expansion, conv_kernel_size, conv_norm, conv_context: block options.
        subsampling_factor, subsampling_conv_channels, causal_subsampling, masked_subsampling:
            see :class:`~audiokit.nn.subsampling.DwStridingSubsampling`.
        att_context_size: ``[left, right]`` or a list of them (first = default; multi-lookahead).
        att_context_style: ``"chunked_limited"`` or ``"regular"``.
        xscaling: multiply the subsampled input by ``sqrt(d_model)``.
        dropout, dropout_att, dropout_pre_encoder, dropout_emb: dropouts (off in eval).
    """

    def __init__(
        self, feat_in: int, d_model: int, n_layers: int, n_heads: int, ff_expansion: int = 4,
        conv_kernel_size: int = 9, conv_norm: str = "layer_norm",
        conv_context: str | tuple[int, int] | list[int] = "causal", subsampling_factor: int = 8,
        subsampling_conv_channels: int = 256, causal_subsampling: bool = True, masked_subsampling: bool = True,
        att_context_size: list[int] | list[list[int]] | None = None, att_context_style: str = "chunked_limited",
        xscaling: bool = True, dropout: float = 0.0, dropout_att: float = 0.0,
        dropout_pre_encoder: float = 0.0, dropout_emb: float = 0.0,
    ) -> None:
        super().__init__()
        sizes = att_context_size if att_context_size is not None else [-1, -1]
        self.att_context_sizes = [list(map(int, s)) for s in (sizes if isinstance(sizes[0], (list, tuple)) else [sizes])]
        self.att_context_style = att_context_style
        context_mask(1, self.att_context_sizes[0], att_context_style)  # validates the style
        self.feat_in, self.d_model = feat_in, d_model
        self.pre_encode = DwStridingSubsampling(feat_in, d_model, subsampling_factor, subsampling_conv_channels,
                                                causal=causal_subsampling, masked=masked_subsampling)
        self.pos_enc = RelPositionalEncoding(d_model, dropout_pre_encoder, dropout_emb, xscaling)
        self.layers = nn.ModuleList(
            ConformerBlock(d_model, n_heads, ff_expansion, conv_kernel_size, conv_norm, conv_context, dropout, dropout_att)
            for _ in range(n_layers)
        )

    def _context(self, att_context_size: list[int] | None) -> list[int]:
        return list(att_context_size) if att_context_size is not None else self.att_context_sizes[0]

    def forward(
        self, x: torch.Tensor, lengths: torch.Tensor, att_context_size: list[int] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Offline: ``x (B, T, F)``, ``lengths (B,)`` -> ``(B, T', D)``, ``(B,)`` lengths."""
        y, y_len = self.pre_encode(x, lengths)
        y, pos_emb = self.pos_enc(y)
        valid = valid_mask(y_len, y.shape[1])
        mask = attention_mask(valid, context_mask(y.shape[1], self._context(att_context_size),
                                                  self.att_context_style, y.device))
        for layer in self.layers:
            y = layer(y, pos_emb, mask, valid)[0]
        return y, y_len

    def streaming_chunk_frames(self, att_context_size: list[int] | None = None) -> tuple[int, int]:
        """Input frames of the first and of every later streaming step (one attention chunk each).

        ``(1 + factor * R, factor * (R + 1))`` for ``att_context_size = [L, R]``
        (NeMo ``chunk_size``; e.g. ``(105, 112)`` for ``[70, 13]``).
        """
        chunk = check_streamable(self._context(att_context_size), self.att_context_style)
        factor = self.pre_encode.factor
        return 1 + factor * (chunk - 1), factor * chunk

    def init_cache(self, batch: int, att_context_size: list[int] | None = None,
                   device: torch.device | None = None, dtype: torch.dtype | None = None) -> ConformerCache:
        """Empty streaming state for ``batch`` streams (zeros, no valid attention slots)."""
        context = self._context(att_context_size)
        check_streamable(context, self.att_context_style)
        if not self.pre_encode.causal:
            raise ValueError("streaming needs causal subsampling (causal_subsampling=True)")
        n_layers, kernel = len(self.layers), self.layers[0].conv.depthwise_conv.cache_size if self.layers else 0
        return ConformerCache(
            last_channel=torch.zeros(n_layers, batch, context[0], self.d_model, device=device, dtype=dtype),
            last_time=torch.zeros(n_layers, batch, self.d_model, kernel, device=device, dtype=dtype),
            last_channel_len=torch.zeros(batch, dtype=torch.int64, device=device),
            pre_encode=self.pre_encode.init_cache(batch, self.feat_in, device, dtype),
        )

    def forward_chunk(
        self, x: torch.Tensor, lengths: torch.Tensor, cache: ConformerCache,
        att_context_size: list[int] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, ConformerCache]:
        """One streaming step: new frames ``x (B, T, F)`` (``lengths (B,)`` valid) -> outputs.

        Returns ``(y (B, T', D), y_lengths (B,), next_cache)``. Streamed outputs concatenated
        equal :meth:`forward` under the same ``att_context_size`` when each step brings whole
        attention chunks (see :meth:`streaming_chunk_frames`; the last step may be shorter).
        All streams advance together; a stream whose ``lengths`` is short has ended.
        """
        context = self._context(att_context_size)
        check_streamable(context, self.att_context_style)
        y, y_len, pre_cache = self.pre_encode.forward_chunk(x, lengths, cache.pre_encode)
        size, frames = cache.last_channel.shape[2], y.shape[1]
        if size != context[0]:
            raise ValueError(f"cache holds {size} frames but att_context_size {context} needs {context[0]}")
        if frames == 0:
            return y.new_zeros(y.shape[0], 0, self.d_model), y_len, ConformerCache(
                cache.last_channel, cache.last_time, cache.last_channel_len, pre_cache)
        y, pos_emb = self.pos_enc(y, cache_len=size)
        window = window_valid_mask(y_len, cache.last_channel_len, size, frames)
        ctx = context_mask(size + frames, context, self.att_context_style, y.device)
        valid = window[:, size:]
        mask = valid.unsqueeze(2) & window.unsqueeze(1)
        if ctx is not None:
            mask = mask & ctx[size:].unsqueeze(0)
        channels, times = [], []
        for i, layer in enumerate(self.layers):
            y, ch, tm = layer(y, pos_emb, mask, valid, cache.last_channel[i], cache.last_time[i])
            channels.append(ch)
            times.append(tm)
        next_cache = ConformerCache(
            last_channel=torch.stack(channels) if channels else cache.last_channel,
            last_time=torch.stack(times) if times else cache.last_time,
            last_channel_len=(cache.last_channel_len + frames).clamp(max=size),
            pre_encode=pre_cache,
        )
        return y, y_len, next_cache
