"""HiFi-GAN layers: residual blocks, the generator, and the mirrored encoder (HiFi-Codec).

* :class:`ResBlock1` / :class:`ResBlock2`: HiFi-GAN's weight-normed dilated residual blocks
  (V1 uses ``ResBlock1``: per dilation ``x + conv2(lrelu(conv1_d(lrelu(x))))``).
* :class:`HiFiGANGenerator`: ``conv_pre`` -> N x [LeakyReLU -> ConvTranspose1d upsampling ->
  multi-receptive-field fusion (MRF, the mean of parallel residual blocks)] -> LeakyReLU ->
  ``conv_post`` -> optional tanh. Maps ``(B, C_in, F)`` to ``(B, 1, F * prod(rates))``.
* :class:`HiFiGANEncoder`: the same stack mirrored (strided Conv1d downsampling, channels
  doubling), with an optional ``GroupNorm`` after every partial sum of the MRF (HiFi-Codec's
  encoder). Maps ``(B, 1, L)`` to ``(B, D, F)``.

Both stacks share :func:`build_mrf_blocks` and :func:`mrf`. Parameter names mirror the
HiFi-GAN / AcademiCodec checkpoints (``conv_pre``, ``ups.{i}``, ``resblocks.{i*K+j}.convs1.{n}``,
``normalize.{i*K+j}``, ``conv_post``), so released state dicts load without renaming.
Weight norm is the legacy ``weight_g``/``weight_v`` style by default
(:mod:`audiokit.nn.weight_norm`).
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from audiokit.nn.weight_norm import LEGACY, apply_weight_norm

#: LeakyReLU slope inside HiFi-GAN
LRELU_SLOPE = 0.1
RESBLOCKS = ("1", "2")


def get_padding(kernel_size: int, dilation: int = 1) -> int:
    """"Same" padding of a stride-1 convolution: ``(K * d - d) // 2``."""
    return (kernel_size * dilation - dilation) // 2


def _wn_conv(c_in: int, c_out: int, kernel: int, *, stride: int = 1, dilation: int = 1,
             padding: int | None = None, wn_style: str = LEGACY) -> nn.Conv1d:
    pad = get_padding(kernel, dilation) if padding is None else padding
    return apply_weight_norm(nn.Conv1d(c_in, c_out, kernel, stride, dilation=dilation, padding=pad), wn_style)


class ResBlock1(nn.Module):
    """HiFi-GAN residual block type 1 (V1/V2): one pair of convs per dilation.

    Args:
        channels: C (input = output channels).
        kernel_size: kernel of every conv.
        dilations: dilation of each ``convs1`` conv (``convs2`` convs have dilation 1).
        slope: LeakyReLU slope (0.1).
        wn_style: weight-norm key style (``"legacy"`` or ``"parametrize"``).

    ``forward``: ``(B, C, T) -> (B, C, T)``.
    """

    def __init__(self, channels: int, kernel_size: int = 3, dilations: Sequence[int] = (1, 3, 5), *,
                 slope: float = LRELU_SLOPE, wn_style: str = LEGACY) -> None:
        super().__init__()
        self.slope = slope
        self.convs1 = nn.ModuleList(
            _wn_conv(channels, channels, kernel_size, dilation=d, wn_style=wn_style) for d in dilations)
        self.convs2 = nn.ModuleList(
            _wn_conv(channels, channels, kernel_size, wn_style=wn_style) for _ in dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for c1, c2 in zip(self.convs1, self.convs2):
            xt = c2(F.leaky_relu(c1(F.leaky_relu(x, self.slope)), self.slope))
            x = xt + x
        return x


class ResBlock2(nn.Module):
    """HiFi-GAN residual block type 2 (V3): one conv per dilation, ``x + conv_d(lrelu(x))``.

    ``forward``: ``(B, C, T) -> (B, C, T)``.
    """

    def __init__(self, channels: int, kernel_size: int = 3, dilations: Sequence[int] = (1, 3), *,
                 slope: float = LRELU_SLOPE, wn_style: str = LEGACY) -> None:
        super().__init__()
        self.slope = slope
        self.convs = nn.ModuleList(
            _wn_conv(channels, channels, kernel_size, dilation=d, wn_style=wn_style) for d in dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv in self.convs:
            x = conv(F.leaky_relu(x, self.slope)) + x
        return x


def make_resblock(kind: str, channels: int, kernel_size: int, dilations: Sequence[int],
                  wn_style: str = LEGACY) -> nn.Module:
    """``ResBlock1`` (``kind="1"``) or ``ResBlock2`` (``"2"``)."""
    kind = str(kind)
    if kind not in RESBLOCKS:
        raise ValueError(f"unknown HiFi-GAN resblock type {kind!r}; expected one of {RESBLOCKS}")
    cls = ResBlock1 if kind == "1" else ResBlock2
    return cls(channels, kernel_size, dilations, wn_style=wn_style)


def _check_lists(rates: Sequence[int], kernels: Sequence[int], rb_kernels: Sequence[int],
                 rb_dilations: Sequence[Sequence[int]]) -> None:
    if not rates or len(rates) != len(kernels):
        raise ValueError(f"need one kernel size per rate, got rates {list(rates)} and kernels {list(kernels)}")
    if any(k < u for u, k in zip(rates, kernels)):
        raise ValueError(f"every kernel must be >= its rate, got rates {list(rates)}, kernels {list(kernels)}")
    if not rb_kernels or len(rb_kernels) != len(rb_dilations):
        raise ValueError("need one dilation list per resblock kernel size")


def build_mrf_blocks(channels: Sequence[int], kernel_sizes: Sequence[int],
                     dilation_sizes: Sequence[Sequence[int]], kind: str = "1", *,
                     group_norm_size: int | None = None, wn_style: str = LEGACY
                     ) -> tuple[nn.ModuleList, nn.ModuleList | None]:
    """Flat lists of MRF residual blocks (and GroupNorms), index ``i * K + j``.

    Args:
        channels: channels of each stage ``i``.
        kernel_sizes, dilation_sizes: the ``K`` parallel blocks of every stage.
        kind: resblock type (``"1"``/``"2"``).
        group_norm_size: if set, also build ``GroupNorm(C // size, C, eps=1e-6)`` per block
            (at least one group).
    """
    blocks, norms = nn.ModuleList(), nn.ModuleList()
    for ch in channels:
        for k, d in zip(kernel_sizes, dilation_sizes):
            blocks.append(make_resblock(kind, ch, k, d, wn_style))
            if group_norm_size:
                norms.append(nn.GroupNorm(max(1, ch // group_norm_size), ch, eps=1e-6, affine=True))
    return blocks, (norms if group_norm_size else None)


def mrf(x: torch.Tensor, blocks: nn.ModuleList, norms: nn.ModuleList | None, stage: int, n_kernels: int
        ) -> torch.Tensor:
    """Multi-receptive-field fusion of stage ``stage``: mean of its ``n_kernels`` blocks on ``x``.

    With ``norms``, the running sum is group-normalised after every addition (HiFi-Codec
    encoder), then divided by ``n_kernels``. ``(B, C, T) -> (B, C, T)``.
    """
    total: torch.Tensor | None = None
    for j in range(n_kernels):
        index = stage * n_kernels + j
        out = blocks[index](x)
        total = out if total is None else total + out
        if norms is not None:
            total = norms[index](total)
    return total / n_kernels


class HiFiGANGenerator(nn.Module):
    """HiFi-GAN generator (V1 with the defaults): features ``(B, C_in, F)`` -> ``(B, 1, F * hop)``.

    Args:
        in_channels: input feature channels (HiFi-Codec latent 512, mel vocoder 80).
        upsample_rates: stride of each transposed conv; hop = their product.
        upsample_kernel_sizes: kernel of each transposed conv (padding ``(k - u) // 2``).
        upsample_initial_channel: channels after ``conv_pre``; halved by every upsampling.
        resblock_kernel_sizes, resblock_dilation_sizes: the MRF blocks of every stage.
        resblock: ``"1"`` or ``"2"``.
        tanh: squash the output with tanh (HiFi-GAN and HiFi-Codec do).
        wn_style: weight-norm key style.
    """

    def __init__(self, in_channels: int = 80, upsample_rates: Sequence[int] = (8, 8, 2, 2),
                 upsample_kernel_sizes: Sequence[int] = (16, 16, 4, 4), upsample_initial_channel: int = 512,
                 resblock_kernel_sizes: Sequence[int] = (3, 7, 11),
                 resblock_dilation_sizes: Sequence[Sequence[int]] = ((1, 3, 5), (1, 3, 5), (1, 3, 5)),
                 resblock: str = "1", *, tanh: bool = True, wn_style: str = LEGACY) -> None:
        super().__init__()
        _check_lists(upsample_rates, upsample_kernel_sizes, resblock_kernel_sizes, resblock_dilation_sizes)
        if upsample_initial_channel % (2 ** len(upsample_rates)):
            raise ValueError(f"upsample_initial_channel {upsample_initial_channel} must be divisible by "
                             f"2 ** {len(upsample_rates)}")
        self.num_kernels = len(resblock_kernel_sizes)
        self.num_upsamples = len(upsample_rates)
        self.hop_length = math.prod(int(u) for u in upsample_rates)
        self.tanh = tanh
        self.conv_pre = _wn_conv(in_channels, upsample_initial_channel, 7, wn_style=wn_style)
        channels = [upsample_initial_channel // 2 ** (i + 1) for i in range(self.num_upsamples)]
        self.ups = nn.ModuleList(
            apply_weight_norm(nn.ConvTranspose1d(2 * ch, ch, k, u, padding=(k - u) // 2), wn_style)
            for ch, u, k in zip(channels, upsample_rates, upsample_kernel_sizes))
        self.resblocks, _ = build_mrf_blocks(channels, resblock_kernel_sizes, resblock_dilation_sizes,
                                             resblock, wn_style=wn_style)
        self.conv_post = _wn_conv(channels[-1], 1, 7, wn_style=wn_style)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C_in, F)`` -> ``(B, 1, F * hop)`` (when every ``k - u`` is even)."""
        x = self.conv_pre(x)
        for i, up in enumerate(self.ups):
            x = mrf(up(F.leaky_relu(x, LRELU_SLOPE)), self.resblocks, None, i, self.num_kernels)
        x = self.conv_post(F.leaky_relu(x, LRELU_SLOPE))
        return torch.tanh(x) if self.tanh else x


class HiFiGANEncoder(nn.Module):
    """Mirrored HiFi-GAN generator used as an encoder (HiFi-Codec): ``(B, 1, L)`` -> ``(B, D, F)``.

    Args:
        downsample_rates: stride of each downsampling Conv1d, in encoder order (HiFi-Codec:
            the generator's rates reversed); hop = their product.
        downsample_kernel_sizes: kernel of each (padding ``(k - u) // 2``, no extra padding, so
            ``F = floor(L / hop)`` when every ``k - u`` is even).
        resblock_kernel_sizes, resblock_dilation_sizes: MRF blocks, in encoder order
            (HiFi-Codec: reversed, kernels 11, 7, 3).
        in_channels: audio channels (1).
        base_channels: channels after ``conv_pre``; doubled by every downsampling.
        out_channels: latent dimension D (``conv_post``).
        resblock: ``"1"`` or ``"2"``.
        group_norm_size: channels per GroupNorm group after every MRF partial sum (16);
            ``None`` for a plain MRF mean.
        final_slope: LeakyReLU slope before ``conv_post`` (HiFi-Codec: 0.01, torch's default).
        post_weight_norm: weight-norm ``conv_post`` (HiFi-Codec: no).
        wn_style: weight-norm key style.
    """

    def __init__(self, downsample_rates: Sequence[int] = (2, 4, 5, 8),
                 downsample_kernel_sizes: Sequence[int] = (4, 8, 11, 16),
                 resblock_kernel_sizes: Sequence[int] = (11, 7, 3),
                 resblock_dilation_sizes: Sequence[Sequence[int]] = ((1, 3, 5), (1, 3, 5), (1, 3, 5)),
                 *, in_channels: int = 1, base_channels: int = 32, out_channels: int = 512,
                 resblock: str = "1", group_norm_size: int | None = 16, final_slope: float = 0.01,
                 post_weight_norm: bool = False, wn_style: str = LEGACY) -> None:
        super().__init__()
        _check_lists(downsample_rates, downsample_kernel_sizes, resblock_kernel_sizes, resblock_dilation_sizes)
        self.num_kernels = len(resblock_kernel_sizes)
        self.rates = [int(u) for u in downsample_rates]
        self.kernels = [int(k) for k in downsample_kernel_sizes]
        self.final_slope = final_slope
        self.conv_pre = _wn_conv(in_channels, base_channels, 7, wn_style=wn_style)
        channels = [base_channels * 2 ** (i + 1) for i in range(len(self.rates))]
        self.ups = nn.ModuleList(  # name of the reference (these convs downsample)
            _wn_conv(ch // 2, ch, k, stride=u, padding=(k - u) // 2, wn_style=wn_style)
            for ch, u, k in zip(channels, self.rates, self.kernels))
        self.resblocks, norms = build_mrf_blocks(channels, resblock_kernel_sizes, resblock_dilation_sizes,
                                                 resblock, group_norm_size=group_norm_size, wn_style=wn_style)
        if norms is not None:
            self.normalize = norms
        post = nn.Conv1d(channels[-1], out_channels, 3, 1, padding=1)
        self.conv_post = apply_weight_norm(post, wn_style) if post_weight_norm else post

    def num_frames(self, n_samples: int) -> int:
        """Output frames for ``n_samples`` input samples (the strided-conv length formula per layer)."""
        length = int(n_samples)
        for u, k in zip(self.rates, self.kernels):
            length = (length + 2 * ((k - u) // 2) - k) // u + 1
            if length <= 0:
                return 0
        return length

    def min_samples(self) -> int:
        """Fewest input samples that give one output frame."""
        length = 1
        while self.num_frames(length) < 1:
            length += 1
        return length

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 1, L)`` -> ``(B, out_channels, F)``."""
        x = self.conv_pre(x)
        norms = getattr(self, "normalize", None)
        for i, down in enumerate(self.ups):
            x = mrf(down(F.leaky_relu(x, LRELU_SLOPE)), self.resblocks, norms, i, self.num_kernels)
        return self.conv_post(F.leaky_relu(x, self.final_slope))
