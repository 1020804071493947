"""UnivNet multi-resolution magnitude discriminator (MRD).

This is the MRD of vocos <= 0.0.4 kept by the Language-Codec and WavTokenizer forks:
a magnitude STFT with a **rectangular** window (``torch.stft(window=None)``, center,
reflect padding) at (n_fft, hop, win) = (1024, 256, 1024), (2048, 512, 2048),
(512, 128, 512), scanned by five 2-D convs. Keys:
``discriminators.{k}.convs.{0..4}.*``, ``discriminators.{k}.conv_post.*``,
``discriminators.{k}.emb.weight`` when conditional.

(vocos 0.1.0's ``MultiResolutionDiscriminator`` is a different, multi-band complex
discriminator: see :mod:`audiokit.discriminators.multiband`.)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from audiokit.discriminators._layers import (
    MultiDiscriminator,
    as_mono_batch,
    conditioned_post,
    make_conv,
)

Resolution = tuple[int, int, int]
UNIVNET_RESOLUTIONS: tuple[Resolution, ...] = ((1024, 256, 1024), (2048, 512, 2048), (512, 128, 512))


class DiscriminatorR(nn.Module):
    """One resolution: ``(B, T)`` -> magnitude ``(B, 1, n_fft/2+1, frames)`` -> logits ``(B, N)``.

    Args:
        resolution: (n_fft, hop_length, win_length).
        channels: conv width (64).
        in_channels: spectrogram channels (1).
        num_embeddings: number of condition ids (None = unconditional).
        lrelu_slope: LeakyReLU slope.
    """

    def __init__(
        self,
        resolution: Resolution,
        channels: int = 64,
        in_channels: int = 1,
        num_embeddings: int | None = None,
        lrelu_slope: float = 0.1,
    ) -> None:
        super().__init__()
        self.resolution = tuple(resolution)
        self.lrelu_slope = lrelu_slope
        # (kernel, stride, padding) over (frequency, time)
        specs = (
            ((7, 5), (2, 2), (3, 2)),
            ((5, 3), (2, 1), (2, 1)),
            ((5, 3), (2, 2), (2, 1)),
            ((3, 3), (2, 1), (1, 1)),
            ((3, 3), (2, 2), (1, 1)),
        )
        self.convs = nn.ModuleList(
            [
                make_conv(2, in_channels if i == 0 else channels, channels, k, s, padding=p)
                for i, (k, s, p) in enumerate(specs)
            ]
        )
        if num_embeddings is not None:
            self.emb = nn.Embedding(num_embeddings, channels)
            nn.init.zeros_(self.emb.weight)
        self.conv_post = make_conv(2, channels, 1, (3, 3), padding=(1, 1))

    def spectrogram(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` -> rectangular-window magnitude STFT ``(B, n_fft/2+1, frames)``."""
        n_fft, hop, win = self.resolution
        spec = torch.stft(
            x, n_fft=n_fft, hop_length=hop, win_length=win,
            window=torch.ones(win, device=x.device, dtype=x.dtype),  # rectangular
            center=True, pad_mode="reflect", return_complex=True,
        )
        return spec.abs()

    def forward(
        self, x: torch.Tensor, cond_id: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """x: ``(B, T)`` or ``(B, 1, T)`` -> logits ``(B, N)`` and 6 feature maps."""
        x = self.spectrogram(as_mono_batch(x)).unsqueeze(1)
        fmap = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), self.lrelu_slope)
            fmap.append(x)
        return conditioned_post(self, cond_id, x, fmap)


class MultiResolutionDiscriminator(MultiDiscriminator):
    """UnivNet MRD: one :class:`DiscriminatorR` per (n_fft, hop, win) resolution."""

    def __init__(
        self,
        resolutions: Sequence[Resolution] = UNIVNET_RESOLUTIONS,
        num_embeddings: int | None = None,
        **kwargs,
    ) -> None:
        super().__init__()
        self.discriminators = nn.ModuleList(
            [DiscriminatorR(r, num_embeddings=num_embeddings, **kwargs) for r in resolutions]
        )
