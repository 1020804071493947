"""HiFi-GAN multi-period discriminator (MPD), with the vocos and DAC variants as flags.

Parameter names follow the releases: ``discriminators.{k}.convs.{0..4}.{weight_g,
weight_v,bias}``, ``discriminators.{k}.conv_post.*`` and, when conditional,
``discriminators.{k}.emb.weight`` (vocos / Language-Codec / WavTokenizer).

Variants:

* HiFi-GAN / HiFi-Codec: ``include_first_fmap=True`` (every conv output is a feature map).
* vocos (all versions) and its forks: ``include_first_fmap=False`` (the default) and
  optional ``num_embeddings`` (bandwidth conditioning).
* DAC-style (WavTokenizer's ``DACDiscriminator``): ``always_pad=True`` pads a full period
  even when the length is already divisible, ``include_first_fmap=True``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from audiokit.discriminators._layers import (
    MultiDiscriminator,
    conditioned_post,
    make_conv,
)


class DiscriminatorP(nn.Module):
    """One period of the MPD: audio ``(B, T)`` is folded to ``(B, 1, T/p, p)`` and scanned
    by (k, 1) convolutions, so each column sees every p-th sample.

    Args:
        period: fold period p.
        in_channels: audio channels (1).
        kernel_size, stride: of the (k, 1) convolutions along time.
        lrelu_slope: LeakyReLU slope after each conv.
        num_embeddings: number of condition ids (None = unconditional).
        channels: output channels of the five convs.
        include_first_fmap: whether the first conv's output is a feature map.
        always_pad: DAC behaviour, pad ``p - T % p`` samples even if T % p == 0.
        norm: conv normalisation ("weight_norm", "spectral_norm" or "none").
    """

    def __init__(
        self,
        period: int,
        in_channels: int = 1,
        kernel_size: int = 5,
        stride: int = 3,
        lrelu_slope: float = 0.1,
        num_embeddings: int | None = None,
        channels: Sequence[int] = (32, 128, 512, 1024, 1024),
        include_first_fmap: bool = False,
        always_pad: bool = False,
        norm: str = "weight_norm",
    ) -> None:
        super().__init__()
        self.period = period
        self.lrelu_slope = lrelu_slope
        self.include_first_fmap = include_first_fmap
        self.always_pad = always_pad
        pad = (kernel_size // 2, 0)
        convs = []
        c_in = in_channels
        for i, c_out in enumerate(channels):
            s = stride if i < len(channels) - 1 else 1
            convs.append(make_conv(2, c_in, c_out, (kernel_size, 1), (s, 1), padding=pad, norm=norm))
            c_in = c_out
        self.convs = nn.ModuleList(convs)
        if num_embeddings is not None:
            self.emb = nn.Embedding(num_embeddings, c_in)
            nn.init.zeros_(self.emb.weight)
        self.conv_post = make_conv(2, c_in, 1, (3, 1), 1, padding=(1, 0), norm=norm)

    def fold(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, T)`` -> ``(B, C, ceil(T / p), p)`` after right reflect-padding."""
        t = x.shape[-1]
        n_pad = self.period - t % self.period
        if n_pad != self.period or self.always_pad:
            x = F.pad(x, (0, n_pad), mode="reflect")
        return x.view(x.shape[0], x.shape[1], -1, self.period)

    def forward(
        self, x: torch.Tensor, cond_id: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """x: ``(B, T)`` or ``(B, C, T)`` -> logits ``(B, N)`` and feature maps."""
        if x.dim() == 2:
            x = x.unsqueeze(1)
        x = self.fold(x)
        fmap = []
        for i, conv in enumerate(self.convs):
            x = F.leaky_relu(conv(x), self.lrelu_slope)
            if i > 0 or self.include_first_fmap:
                fmap.append(x)
        return conditioned_post(self, cond_id, x, fmap)


class MultiPeriodDiscriminator(MultiDiscriminator):
    """MPD: one :class:`DiscriminatorP` per period.

    ``forward(y, y_hat, cond_id=None)`` with audio ``(B, T)`` or ``(B, 1, T)``;
    ``cond_id`` is a LongTensor ``(1,)`` or ``(B,)`` (vocos ``bandwidth_id``).
    Extra keyword arguments go to every :class:`DiscriminatorP`.
    """

    def __init__(
        self,
        periods: Sequence[int] = (2, 3, 5, 7, 11),
        num_embeddings: int | None = None,
        **kwargs,
    ) -> None:
        super().__init__()
        self.discriminators = nn.ModuleList(
            [DiscriminatorP(p, num_embeddings=num_embeddings, **kwargs) for p in periods]
        )
