"""Depthwise-striding convolutional subsampling (NeMo ``ConvSubsampling``, ``dw_striding``).

Layout (factor ``2^n``, kernel 3, stride 2), input ``(B, T, F)`` viewed as ``(B, 1, T, F)``::

    conv.0 Conv2d(1 -> C, s2), conv.1 ReLU,
    then n - 1 times: [depthwise Conv2d(C, s2, groups C), pointwise Conv2d(C -> C, k1), ReLU]
    out Linear(C * F' -> d_model) on (B, T', C * F') (channel-major flattening)

so a factor-8 stack has keys ``conv.{0,2,3,5,6}`` and ``out``. ``causal=True`` pads each
strided conv ``(2, 1)`` on time **and** frequency (:class:`~audiokit.nn.causal_conv.CausalConv2d`,
``F' = 80 -> 41 -> 21 -> 11``); ``causal=False`` pads ``(1, 1)`` (``80 -> 40 -> 20 -> 10``).
Lengths: ``floor((L + pad_total - 3) / 2) + 1`` per strided conv.

``masked=True`` zeroes time steps past each sequence's length before every convolution (recent
NeMo ``MaskedConvSequential``), so padded batches give the same valid outputs as one-by-one runs.

Streaming (causal only, :meth:`DwStridingSubsampling.forward_chunk`): a cache of the last
``factor + 1`` input frames is prepended to each chunk and the outputs it has already produced
are dropped (2 for a full cache, NeMo's ``drop_extra_pre_encoded``). Exact when chunk boundaries
fall on frames ``1 + factor * m`` (first chunk ``1 + factor * k`` frames, later ones multiples
of ``factor``).
"""

from __future__ import annotations

import torch
from torch import nn

from audiokit.nn.causal_conv import CausalConv2d
from audiokit.nn.masks import valid_mask

KERNEL, STRIDE = 3, 2


class DwStridingSubsampling(nn.Module):
    """``(B, T, F)`` features -> ``(B, T', d_model)`` at ``1 / factor`` of the frame rate.

    Args:
        feat_in: input feature size ``F`` (e.g. 80 mel bins).
        d_model: output width.
        factor: subsampling factor, a power of two >= 2.
        conv_channels: channels ``C`` of the conv stack.
        causal: causal padding (required for streaming).
        masked: zero padded time steps before every convolution.
    """

    def __init__(
        self, feat_in: int, d_model: int, factor: int = 8, conv_channels: int = 256,
        causal: bool = True, masked: bool = True,
    ) -> None:
        super().__init__()
        if factor < 2 or factor & (factor - 1):
            raise ValueError(f"dw_striding subsampling factor must be a power of two >= 2, got {factor}")
        self.factor, self.causal, self.masked = factor, causal, masked
        self.n_strided = factor.bit_length() - 1
        self.pad_total = (KERNEL - 1) + (STRIDE - 1) if causal else 2 * ((KERNEL - 1) // 2)
        layers: list[nn.Module] = [self._strided(1, conv_channels, 1), nn.ReLU()]
        for _ in range(self.n_strided - 1):
            layers += [
                self._strided(conv_channels, conv_channels, conv_channels),
                nn.Conv2d(conv_channels, conv_channels, kernel_size=1),
                nn.ReLU(),
            ]
        self.conv = nn.Sequential(*layers)
        freq = feat_in
        for _ in range(self.n_strided):
            freq = self._out_len(freq)
        self.out = nn.Linear(conv_channels * freq, d_model)

    def _strided(self, c_in: int, c_out: int, groups: int) -> nn.Module:
        if self.causal:
            return CausalConv2d(c_in, c_out, KERNEL, stride=STRIDE, groups=groups)
        return nn.Conv2d(c_in, c_out, KERNEL, stride=STRIDE, padding=(KERNEL - 1) // 2, groups=groups)

    def _out_len(self, length: int) -> int:
        return (length + self.pad_total - KERNEL) // STRIDE + 1

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """Output frames for ``(B,)`` input lengths: ``floor((L + pad - 3) / 2) + 1``, n times."""
        lengths = lengths.to(torch.int64)
        for _ in range(self.n_strided):
            lengths = torch.div(lengths + self.pad_total - KERNEL, STRIDE, rounding_mode="floor") + 1
        return lengths

    def output_length(self, length: int) -> int:
        """Scalar version of :meth:`output_lengths`."""
        for _ in range(self.n_strided):
            length = self._out_len(length)
        return length

    @property
    def cache_size(self) -> int:
        """Input frames carried between streaming chunks (``factor + 1``)."""
        return self.factor + 1

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x (B, T, F)``, ``lengths (B,)`` -> ``(B, T', d_model)``, ``(B,)`` output lengths."""
        h = x.unsqueeze(1)  # (B, 1, T, F)
        cur = lengths.to(torch.int64)
        if self.masked:
            h = h * valid_mask(cur, h.shape[2]).to(h.dtype)[:, None, :, None]
        for layer in self.conv:
            h = layer(h)
            if isinstance(layer, nn.Conv2d):
                if layer.stride[0] != 1:
                    cur = torch.div(cur + self.pad_total - KERNEL, STRIDE, rounding_mode="floor") + 1
                if self.masked:
                    h = h * valid_mask(cur, h.shape[2]).to(h.dtype)[:, None, :, None]
        batch, channels, frames, freq = h.shape
        y = self.out(h.transpose(1, 2).reshape(batch, frames, channels * freq))
        return y, self.output_lengths(lengths)

    def init_cache(self, batch: int, feat_in: int, device: torch.device | None = None,
                   dtype: torch.dtype | None = None) -> torch.Tensor:
        """Empty input cache ``(B, 0, F)`` (the first chunk has no history)."""
        return torch.zeros(batch, 0, feat_in, device=device, dtype=dtype)

    def forward_chunk(
        self, x: torch.Tensor, lengths: torch.Tensor, cache: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One streaming step.

        ``x (B, T, F)`` new frames (``lengths (B,)`` valid), ``cache (B, n, F)`` the previous
        ``n <= factor + 1`` frames. Returns the new outputs ``(B, T', d_model)``, their
        lengths and the next cache. Outputs already produced from the cached frames are
        dropped: ``output_length(n)`` of them (0 on the first chunk, 2 with a full cache);
        while the history is shorter than the cache, the cache holds all of it, so the step
        recomputes the exact offline prefix instead of padding with zeros.
        """
        if not self.causal:
            raise ValueError("non-causal subsampling cannot stream with a cache")
        n_cached = cache.shape[1]
        full = torch.cat([cache, x], dim=1)
        y, y_len = self.forward(full, lengths.to(torch.int64) + n_cached)
        drop = self.output_length(n_cached) if n_cached else 0
        next_cache = full[:, max(0, full.shape[1] - self.cache_size):]
        return y[:, drop:], (y_len - drop).clamp(min=0), next_cache
