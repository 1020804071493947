"""Multi-band complex-STFT discriminator (DAC MRD; vocos 0.1.0 ``MultiResolutionDiscriminator``).

For each window length w (2048, 1024, 512) the audio is DC-removed and peak-normalised
to 0.8, turned into a complex STFT (hop w/4) laid out as ``(B, 2, frames, bins)``
(real, imag), split into 5 frequency bands, and each band goes through its own stack of
five 2-D convs; the band outputs are concatenated along frequency before ``conv_post``.

Keys match vocos 0.1.0: ``discriminators.{k}.spec_fn.window`` (Hann window buffer),
``discriminators.{k}.band_convs.{b}.{0..4}.*``, ``discriminators.{k}.conv_post.*``,
``discriminators.{k}.emb.weight`` when conditional.

``window="rect"`` gives the WavTokenizer/Language-Codec ``DACDiscriminator`` variant
(``torch.stft`` without a window, center, hop w/4), which has no ``spec_fn`` buffer.
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

Band = tuple[float, float]
DAC_BANDS: tuple[Band, ...] = ((0.0, 0.1), (0.1, 0.25), (0.25, 0.5), (0.5, 0.75), (0.75, 1.0))


class _HannSpectrogram(nn.Module):
    """Complex STFT with a periodic Hann window kept as the buffer ``window``
    (torchaudio ``Spectrogram(power=None)`` layout): ``(B, T)`` -> ``(B, F, frames)``."""

    def __init__(self, n_fft: int, hop_length: int) -> None:
        super().__init__()
        self.n_fft, self.hop_length = n_fft, hop_length
        self.register_buffer("window", torch.hann_window(n_fft))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stft(
            x, self.n_fft, self.hop_length, self.n_fft, self.window,
            center=True, pad_mode="reflect", return_complex=True,
        )


class DiscriminatorB(nn.Module):
    """One window length of the multi-band discriminator.

    Args:
        window_length: STFT size w (n_fft = win = w).
        num_embeddings: number of condition ids (None = unconditional).
        channels: conv width (32).
        hop_factor: hop = int(w * hop_factor).
        bands: fractions of the ``w/2+1`` bins, one conv stack per band.
        window: "hann" (vocos/DAC) or "rect" (WavTokenizer fork).
        normalize_volume: remove DC and peak-normalise to 0.8 before the STFT.
        lrelu_slope: LeakyReLU slope.
        include_first_fmap: also return each band's first conv output (DAC does, vocos
            does not).
    """

    def __init__(
        self,
        window_length: int,
        num_embeddings: int | None = None,
        channels: int = 32,
        hop_factor: float = 0.25,
        bands: Sequence[Band] = DAC_BANDS,
        window: str = "hann",
        normalize_volume: bool = True,
        lrelu_slope: float = 0.1,
        include_first_fmap: bool = False,
    ) -> None:
        super().__init__()
        if window not in ("hann", "rect"):
            raise ValueError(f"window must be 'hann' or 'rect', got {window!r}")
        self.window_length = window_length
        self.hop_length = int(window_length * hop_factor)
        self.window = window
        self.normalize_volume = normalize_volume
        self.lrelu_slope = lrelu_slope
        self.include_first_fmap = include_first_fmap
        if window == "hann":
            self.spec_fn = _HannSpectrogram(window_length, self.hop_length)
        n_bins = window_length // 2 + 1
        self.bands = [(int(lo * n_bins), int(hi * n_bins)) for lo, hi in bands]
        self.band_convs = nn.ModuleList([self._conv_stack(channels) for _ in self.bands])
        if num_embeddings is not None:
            self.emb = nn.Embedding(num_embeddings, channels)
            nn.init.zeros_(self.emb.weight)
        self.conv_post = make_conv(2, channels, 1, (3, 3), (1, 1), padding=(1, 1))

    @staticmethod
    def _conv_stack(ch: int) -> nn.ModuleList:
        return nn.ModuleList(
            [
                make_conv(2, 2, ch, (3, 9), (1, 1), padding=(1, 4)),
                make_conv(2, ch, ch, (3, 9), (1, 2), padding=(1, 4)),
                make_conv(2, ch, ch, (3, 9), (1, 2), padding=(1, 4)),
                make_conv(2, ch, ch, (3, 9), (1, 2), padding=(1, 4)),
                make_conv(2, ch, ch, (3, 3), (1, 1), padding=(1, 1)),
            ]
        )

    def spectrogram(self, x: torch.Tensor) -> list[torch.Tensor]:
        """``(B, T)`` -> list of band tensors ``(B, 2, frames, bins_b)``."""
        if self.normalize_volume:
            x = x - x.mean(dim=-1, keepdim=True)
            x = 0.8 * x / (x.abs().max(dim=-1, keepdim=True).values + 1e-9)
        if self.window == "hann":
            spec = self.spec_fn(x)
        else:
            spec = torch.stft(
                x, self.window_length, self.hop_length,
                window=torch.ones(self.window_length, device=x.device, dtype=x.dtype),
                center=True, pad_mode="reflect", return_complex=True,
            )
        z = torch.view_as_real(spec).permute(0, 3, 2, 1)  # (B, F, T', 2) -> (B, 2, T', F)
        return [z[..., lo:hi] for lo, hi in self.bands]

    def forward(
        self, x: torch.Tensor, cond_id: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """x: ``(B, T)`` or ``(B, 1, T)`` -> logits ``(B, N)`` and feature maps
        (4 or 5 per band, then the ``conv_post`` output)."""
        fmap, outs = [], []
        for band, stack in zip(self.spectrogram(as_mono_batch(x)), self.band_convs):
            for i, conv in enumerate(stack):
                band = F.leaky_relu(conv(band), self.lrelu_slope)
                if i > 0 or self.include_first_fmap:
                    fmap.append(band)
            outs.append(band)
        x = torch.cat(outs, dim=-1)
        return conditioned_post(self, cond_id, x, fmap)


class MultiBandDiscriminator(MultiDiscriminator):
    """Multi-band complex-STFT MRD: one :class:`DiscriminatorB` per window length."""

    def __init__(
        self,
        fft_sizes: Sequence[int] = (2048, 1024, 512),
        num_embeddings: int | None = None,
        **kwargs,
    ) -> None:
        super().__init__()
        self.discriminators = nn.ModuleList(
            [DiscriminatorB(w, num_embeddings=num_embeddings, **kwargs) for w in fft_sizes]
        )
