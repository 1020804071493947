"""HiFi-GAN multi-scale discriminator (MSD), as used by HiFi-Codec.

Three :class:`DiscriminatorS` on the raw waveform and on 2x and 4x average-pooled
copies (``AvgPool1d(4, 2, padding=2)`` between scales); the first scale uses spectral
norm, the others weight norm. Keys: ``discriminators.{k}.convs.{0..6}.*`` and
``discriminators.{k}.conv_post.*`` (``weight_orig/weight_u/weight_v`` on scale 0,
``weight_g/weight_v`` elsewhere); the pooling layers hold no parameters.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from audiokit.discriminators._layers import MultiDiscriminator, make_conv

# (in, out, kernel, stride, groups) of HiFi-GAN's DiscriminatorS
HIFIGAN_S_LAYERS: tuple[tuple[int, int, int, int, int], ...] = (
    (1, 128, 15, 1, 1),
    (128, 128, 41, 2, 4),
    (128, 256, 41, 2, 16),
    (256, 512, 41, 4, 16),
    (512, 1024, 41, 4, 16),
    (1024, 1024, 41, 1, 16),
    (1024, 1024, 5, 1, 1),
)


class DiscriminatorS(nn.Module):
    """Waveform discriminator: strided grouped 1-D convs, ``(B, 1, T)`` -> logits ``(B, N)``.

    Args:
        norm: "weight_norm" or "spectral_norm" (HiFi-GAN's first scale).
        layers: (in, out, kernel, stride, groups) per conv; padding is kernel // 2.
        lrelu_slope: LeakyReLU slope.
    """

    def __init__(
        self,
        norm: str = "weight_norm",
        layers: Sequence[tuple[int, int, int, int, int]] = HIFIGAN_S_LAYERS,
        lrelu_slope: float = 0.1,
    ) -> None:
        super().__init__()
        self.lrelu_slope = lrelu_slope
        self.convs = nn.ModuleList(
            [
                make_conv(1, c_in, c_out, k, s, groups=g, padding=k // 2, norm=norm)
                for c_in, c_out, k, s, g in layers
            ]
        )
        self.conv_post = make_conv(1, layers[-1][1], 1, 3, 1, padding=1, norm=norm)

    def forward(
        self, x: torch.Tensor, cond_id: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """x: ``(B, T)`` or ``(B, 1, T)``; ``cond_id`` is accepted and ignored."""
        if x.dim() == 2:
            x = x.unsqueeze(1)
        fmap = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), self.lrelu_slope)
            fmap.append(x)
        x = self.conv_post(x)
        fmap.append(x)
        return torch.flatten(x, 1, -1), fmap


class MultiScaleDiscriminator(MultiDiscriminator):
    """MSD: ``num_scales`` :class:`DiscriminatorS`, each on a further pooled signal.

    Args:
        num_scales: number of scales (HiFi-GAN: 3).
        spectral_norm_first: spectral norm on the first scale (HiFi-GAN: True).
    """

    def __init__(self, num_scales: int = 3, spectral_norm_first: bool = True, **kwargs) -> None:
        super().__init__()
        self.discriminators = nn.ModuleList(
            [
                DiscriminatorS(
                    norm="spectral_norm" if i == 0 and spectral_norm_first else "weight_norm",
                    **kwargs,
                )
                for i in range(num_scales)
            ]
        )
        self.meanpools = nn.ModuleList(
            [nn.AvgPool1d(4, 2, padding=2) for _ in range(num_scales - 1)]
        )

    def score(self, x, cond_id=None):
        """Scale k sees ``x`` pooled k times; returns ``(logits, fmaps)``."""
        if x.dim() == 2:
            x = x.unsqueeze(1)
        logits, fmaps = [], []
        for i, d in enumerate(self.discriminators):
            if i > 0:
                x = self.meanpools[i - 1](x)
            logit, fmap = d(x)
            logits.append(logit)
            fmaps.append(fmap)
        return logits, fmaps
