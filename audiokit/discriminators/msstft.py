"""EnCodec multi-scale STFT discriminator (MS-STFT-D), used by HiFi-Codec.

Each scale takes a complex STFT (periodic Hann window, ``center=False``, normalised by
the window's L2 energy), stacks real and imaginary parts as channels
``(B, 2*C, frames, bins)`` and scans it with 2-D convs: a plain first conv, then
``len(dilations)`` strided convs dilated along time, a (k, k) conv and ``conv_post``.
Feature maps are every conv output after LeakyReLU(0.2) (not ``conv_post``).

Keys match ``encodec.msstftd``: ``discriminators.{k}.spec_transform.window``,
``discriminators.{k}.convs.{j}.conv.{weight,bias}`` (j = 0, no norm) or
``.conv.{weight_g,weight_v,bias}``, ``discriminators.{k}.conv_post.conv.*``.
HiFi-Codec uses 5 scales: ``HIFICODEC_SCALES``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from audiokit.discriminators._layers import MultiDiscriminator, make_conv

ENCODEC_SCALES: tuple[tuple[int, int, int], ...] = ((1024, 256, 1024), (2048, 512, 2048), (512, 128, 512))
HIFICODEC_SCALES: tuple[tuple[int, int, int], ...] = (
    (1024, 256, 1024), (2048, 512, 2048), (512, 128, 512), (256, 64, 256), (128, 32, 128),
)


class _NormConv2d(nn.Module):
    """Holds the conv as ``.conv`` so keys read ``convs.{j}.conv.*`` like EnCodec."""

    def __init__(self, *args, norm: str = "none", **kwargs) -> None:
        super().__init__()
        self.conv = make_conv(2, *args, norm=norm, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class _ComplexSpectrogram(nn.Module):
    """``(B, C, T)`` -> complex ``(B, C, n_fft/2+1, frames)``; Hann window buffer ``window``."""

    def __init__(self, n_fft: int, hop_length: int, win_length: int, normalized: bool) -> None:
        super().__init__()
        self.n_fft, self.hop_length, self.win_length = n_fft, hop_length, win_length
        self.normalized = normalized
        self.register_buffer("window", torch.hann_window(win_length))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        spec = torch.stft(
            x.reshape(-1, shape[-1]), self.n_fft, self.hop_length, self.win_length,
            self.window, center=False, return_complex=True,
        )
        if self.normalized:
            spec = spec / self.window.pow(2).sum().sqrt()
        return spec.reshape(*shape[:-1], *spec.shape[-2:])


def _pad2d(kernel: tuple[int, int], dilation: tuple[int, int] = (1, 1)) -> tuple[int, int]:
    return ((kernel[0] - 1) * dilation[0]) // 2, ((kernel[1] - 1) * dilation[1]) // 2


class DiscriminatorSTFT(nn.Module):
    """One STFT scale of the MS-STFT discriminator.

    Args:
        filters: base conv width (HiFi-Codec / EnCodec: 32).
        in_channels: audio channels; out_channels: logit channels.
        n_fft, hop_length, win_length: STFT parameters.
        max_filters, filters_scale: width of layer i is ``min(filters_scale**i * filters, max_filters)``.
        kernel_size: (time, freq) kernel of the inner convs.
        dilations: time dilations of the strided convs.
        stride: (time, freq) stride of the strided convs.
        normalized: normalise the STFT by the window energy.
        norm: normalisation of every conv but the first (which EnCodec leaves plain).
        lrelu_slope: LeakyReLU slope (0.2).
    """

    def __init__(
        self,
        filters: int,
        in_channels: int = 1,
        out_channels: int = 1,
        n_fft: int = 1024,
        hop_length: int = 256,
        win_length: int = 1024,
        max_filters: int = 1024,
        filters_scale: int = 1,
        kernel_size: tuple[int, int] = (3, 9),
        dilations: Sequence[int] = (1, 2, 4),
        stride: tuple[int, int] = (1, 2),
        normalized: bool = True,
        norm: str = "weight_norm",
        lrelu_slope: float = 0.2,
    ) -> None:
        super().__init__()
        self.lrelu_slope = lrelu_slope
        self.spec_transform = _ComplexSpectrogram(n_fft, hop_length, win_length, normalized)
        kernel_size = tuple(kernel_size)
        square = (kernel_size[0], kernel_size[0])
        convs = [_NormConv2d(2 * in_channels, filters, kernel_size, padding=_pad2d(kernel_size))]
        c_in = min(filters_scale * filters, max_filters)
        for i, d in enumerate(dilations):
            c_out = min(filters_scale ** (i + 1) * filters, max_filters)
            convs.append(
                _NormConv2d(
                    c_in, c_out, kernel_size, stride=tuple(stride), dilation=(d, 1),
                    padding=_pad2d(kernel_size, (d, 1)), norm=norm,
                )
            )
            c_in = c_out
        c_out = min(filters_scale ** (len(dilations) + 1) * filters, max_filters)
        convs.append(_NormConv2d(c_in, c_out, square, padding=_pad2d(square), norm=norm))
        self.convs = nn.ModuleList(convs)
        self.conv_post = _NormConv2d(c_out, out_channels, square, padding=_pad2d(square), norm=norm)

    def forward(
        self, x: torch.Tensor, cond_id: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """x: ``(B, C, T)`` or ``(B, T)``; ``cond_id`` is ignored. Logits ``(B, N)``."""
        if x.dim() == 2:
            x = x.unsqueeze(1)
        z = self.spec_transform(x)  # (B, C, F, T')
        z = torch.cat([z.real, z.imag], dim=1).transpose(2, 3)  # (B, 2C, T', F)
        fmap = []
        for conv in self.convs:
            z = F.leaky_relu(conv(z), self.lrelu_slope)
            fmap.append(z)
        z = self.conv_post(z)
        return torch.flatten(z, 1, -1), fmap


class MultiScaleSTFTDiscriminator(MultiDiscriminator):
    """MS-STFT-D: one :class:`DiscriminatorSTFT` per (n_fft, hop, win) scale.

    ``MultiScaleSTFTDiscriminator(32, scales=HIFICODEC_SCALES)`` is HiFi-Codec's.
    Extra keyword arguments go to every :class:`DiscriminatorSTFT`.
    """

    def __init__(
        self,
        filters: int = 32,
        in_channels: int = 1,
        out_channels: int = 1,
        scales: Sequence[tuple[int, int, int]] = ENCODEC_SCALES,
        **kwargs,
    ) -> None:
        super().__init__()
        self.discriminators = nn.ModuleList(
            [
                DiscriminatorSTFT(
                    filters, in_channels, out_channels,
                    n_fft=n, hop_length=h, win_length=w, **kwargs,
                )
                for n, h, w in scales
            ]
        )
