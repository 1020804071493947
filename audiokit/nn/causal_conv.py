"""Convolutions with explicit (causal) padding and a streaming cache.

* :class:`CausalConv1d`: an ``nn.Conv1d`` padded ``(left, right)`` on time (causal:
  ``(K - 1) * dilation, 0``). In streaming, a cache of the last ``left`` inputs replaces the
  zero left padding, so chunk-by-chunk outputs equal the offline output (NeMo
  ``CausalConv1D``, ``cache_last_time``).
* :class:`CausalConv2d`: an ``nn.Conv2d`` padded ``(K - 1, s - 1)`` on **both** axes of a
  ``(B, C, T, F)`` input (NeMo ``CausalConv2D``, causal ``dw_striding`` subsampling).

The modules subclass the torch layers, so their parameters are ``weight``/``bias`` directly
(``conv.depthwise_conv.weight`` in a NeMo checkpoint).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def causal_padding(kernel_size: int, stride: int = 1, dilation: int = 1) -> tuple[int, int]:
    """``(left, right)`` causal padding: ``left = (K - 1) * dilation``, ``right = stride - 1``."""
    return (kernel_size - 1) * dilation, stride - 1


class CausalConv1d(nn.Conv1d):
    """1-D convolution with ``(left, right)`` time padding and an optional input cache.

    Args:
        padding: ``None`` (causal, ``((K - 1) * dilation, 0)``), an int (symmetric) or a
            ``(left, right)`` pair. Streaming (``cache``) needs ``right == 0``.
        other arguments as ``nn.Conv1d`` (``groups = channels`` for depthwise).
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
        padding: int | tuple[int, int] | None = None, dilation: int = 1, groups: int = 1, bias: bool = True,
    ) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=0,
                         dilation=dilation, groups=groups, bias=bias)
        if padding is None:
            padding = ((kernel_size - 1) * dilation, 0)
        elif isinstance(padding, int):
            padding = (padding, padding)
        if min(padding) < 0:
            raise ValueError(f"negative padding {padding}")
        self.left_padding, self.right_padding = int(padding[0]), int(padding[1])

    @property
    def cache_size(self) -> int:
        """Frames of left context a streaming step carries over (``left`` padding)."""
        return self.left_padding

    def init_cache(self, batch: int, device: torch.device | None = None, dtype: torch.dtype | None = None) -> torch.Tensor:
        """Zero cache ``(B, C_in, left)`` (= the offline zero left padding)."""
        return torch.zeros(batch, self.in_channels, self.left_padding, device=device, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C_in, T)`` -> ``(B, C_out, T')`` with zero padding ``(left, right)``."""
        return super().forward(F.pad(x, (self.left_padding, self.right_padding)))

    def forward_cached(self, x: torch.Tensor, cache: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One streaming step: ``x (B, C_in, T)``, ``cache (B, C_in, left)``.

        Returns ``(y (B, C_out, T'), next_cache)``; ``next_cache`` is the last ``left``
        frames of ``[cache | x]``. Stride-1 convolutions give ``T' = T``.
        """
        if self.right_padding:
            raise ValueError("a convolution with right padding (look-ahead) cannot stream with a cache")
        full = torch.cat([cache, x], dim=-1)
        next_cache = full[..., full.shape[-1] - self.left_padding:]
        return super().forward(full), next_cache


class CausalConv2d(nn.Conv2d):
    """2-D convolution padded ``(K - 1, stride - 1)`` on both time and frequency.

    Input ``(B, C, T, F)``; ``T' = floor((T + K + s - 2 - K) / s) + 1`` (same rule for ``F``).
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
        groups: int = 1, bias: bool = True,
    ) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=0, groups=groups, bias=bias)
        self.left_padding, self.right_padding = causal_padding(kernel_size, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = (self.left_padding, self.right_padding)
        return super().forward(F.pad(x, pads + pads))
