"""SEANet encoder/decoder as used by EnCodec, Language-Codec, WavTokenizer and Vocos-EnCodec.

Module indices and names follow the released checkpoints (``model.{i}.conv.conv.weight_g``,
``model.{i}.block.{1,3}``, ``model.{i}.shortcut``, ``model.{i}.lstm``), so their state
dicts load with ``load_state_dict`` (legacy weight-norm keys) or through
:func:`audiokit.nn.weight_norm.load_state_dict_any_style` (any key style).

Encoder layout for ``ratios=[8, 5, 4, 2]`` (strides applied reversed: 2, 4, 5, 8)::

    0 conv k7 | 1 res, 2 act, 3 down(2) | 4 res, 5 act, 6 down(4) | 7 res, 8 act, 9 down(5)
    | 10 res, 11 act, 12 down(8) | 13 LSTM | 14 act | 15 conv k7 -> dimension
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from audiokit.nn.sconv import SConv1d, SConvTranspose1d
from audiokit.nn.weight_norm import LEGACY

ACTIVATIONS = ("ELU", "LeakyReLU", "ReLU", "GELU", "SiLU", "Tanh")


def make_activation(name: str, params: dict | None = None) -> nn.Module:
    """A ``torch.nn`` activation from the allowed list ``ACTIVATIONS`` (configs name it)."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; expected one of {ACTIVATIONS}")
    return getattr(nn, name)(**(params or {}))


class SLSTM(nn.Module):
    """Unidirectional LSTM over a ``(B, C, T)`` tensor with an optional identity skip.

    Names: ``lstm`` (``nn.LSTM(C, C, num_layers)``, time-major).
    """

    def __init__(self, dimension: int, num_layers: int = 2, skip: bool = True) -> None:
        super().__init__()
        self.skip = skip
        self.lstm = nn.LSTM(dimension, dimension, num_layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, T) -> (B, C, T)``."""
        seq = x.permute(2, 0, 1)  # (T, B, C)
        y, _ = self.lstm(seq)
        if self.skip:
            y = y + seq
        return y.permute(1, 2, 0)


class SEANetResnetBlock(nn.Module):
    """Residual block: ``shortcut(x) + block(x)``; ``(B, C, T) -> (B, C, T)``.

    ``block`` alternates activation and :class:`SConv1d` (``block.1``, ``block.3``, ...),
    narrowing to ``C // compress`` channels inside. ``shortcut`` is the identity when
    ``true_skip`` and a 1x1 :class:`SConv1d` otherwise.
    """

    def __init__(
        self,
        dim: int,
        kernel_sizes: Sequence[int] = (3, 1),
        dilations: Sequence[int] = (1, 1),
        activation: str = "ELU",
        activation_params: dict | None = None,
        norm: str = "weight_norm",
        causal: bool = False,
        pad_mode: str = "reflect",
        compress: int = 2,
        true_skip: bool = True,
        wn_style: str = LEGACY,
    ) -> None:
        super().__init__()
        if len(kernel_sizes) != len(dilations):
            raise ValueError("kernel_sizes and dilations must have the same length")
        hidden = dim // compress
        conv_kw = dict(norm=norm, causal=causal, pad_mode=pad_mode, wn_style=wn_style)
        layers: list[nn.Module] = []
        last = len(kernel_sizes) - 1
        for i, (kernel, dilation) in enumerate(zip(kernel_sizes, dilations)):
            c_in = dim if i == 0 else hidden
            c_out = dim if i == last else hidden
            layers.append(make_activation(activation, activation_params))
            layers.append(SConv1d(c_in, c_out, kernel, dilation=dilation, **conv_kw))
        self.block = nn.Sequential(*layers)
        self.shortcut = nn.Identity() if true_skip else SConv1d(dim, dim, 1, **conv_kw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, T) -> (B, C, T)``."""
        return self.shortcut(x) + self.block(x)


class SEANetEncoder(nn.Module):
    """SEANet encoder: waveform ``(B, channels, L)`` -> latent ``(B, dimension, ceil(L / hop))``.

    ``ratios`` are given in decoder order (e.g. ``[8, 5, 4, 2]``) and applied reversed;
    ``hop_length = prod(ratios)``: ``[8, 5, 4, 2]`` -> 320 (75 Hz at 24 kHz),
    ``[6, 5, 5, 4]`` -> 600 (40 Hz). Each downsampling conv has kernel ``2 * stride`` and
    doubles the channels. ``lstm`` LSTM layers (0 = none) run before the final conv.
    """

    def __init__(
        self,
        channels: int = 1,
        dimension: int = 128,
        n_filters: int = 32,
        n_residual_layers: int = 1,
        ratios: Sequence[int] = (8, 5, 4, 2),
        activation: str = "ELU",
        activation_params: dict | None = None,
        norm: str = "weight_norm",
        kernel_size: int = 7,
        last_kernel_size: int = 7,
        residual_kernel_size: int = 3,
        dilation_base: int = 2,
        causal: bool = False,
        pad_mode: str = "reflect",
        true_skip: bool = False,
        compress: int = 2,
        lstm: int = 2,
        wn_style: str = LEGACY,
    ) -> None:
        super().__init__()
        self.channels, self.dimension, self.n_filters = channels, dimension, n_filters
        self.ratios = list(reversed(list(ratios)))
        self.hop_length = int(math.prod(self.ratios))
        self.causal = causal
        act_params = dict(activation_params or {})
        conv_kw = dict(norm=norm, causal=causal, pad_mode=pad_mode, wn_style=wn_style)
        width = n_filters
        layers: list[nn.Module] = [SConv1d(channels, width, kernel_size, **conv_kw)]
        for ratio in self.ratios:
            for j in range(n_residual_layers):
                layers.append(SEANetResnetBlock(
                    width, kernel_sizes=(residual_kernel_size, 1), dilations=(dilation_base**j, 1),
                    activation=activation, activation_params=act_params, compress=compress,
                    true_skip=true_skip, **conv_kw,
                ))
            layers.append(make_activation(activation, act_params))
            layers.append(SConv1d(width, width * 2, ratio * 2, stride=ratio, **conv_kw))
            width *= 2
        if lstm:
            layers.append(SLSTM(width, num_layers=lstm))
        layers.append(make_activation(activation, act_params))
        layers.append(SConv1d(width, dimension, last_kernel_size, **conv_kw))
        self.model = nn.Sequential(*layers)

    def num_frames(self, num_samples: int) -> int:
        """Frames produced for ``num_samples`` input samples: ``ceil(num_samples / hop_length)``."""
        return -(-num_samples // self.hop_length)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, channels, L) -> (B, dimension, ceil(L / hop_length))``."""
        return self.model(x)


class SEANetDecoder(nn.Module):
    """SEANet decoder: latent ``(B, dimension, T)`` -> waveform ``(B, channels, T * hop)``.

    Mirror of :class:`SEANetEncoder` (``ratios`` applied in the given order, transposed
    convs halving the channels). Layout: conv, [LSTM], then per ratio (act, up, res...),
    then act, conv, and the optional ``final_activation``.
    """

    def __init__(
        self,
        channels: int = 1,
        dimension: int = 128,
        n_filters: int = 32,
        n_residual_layers: int = 1,
        ratios: Sequence[int] = (8, 5, 4, 2),
        activation: str = "ELU",
        activation_params: dict | None = None,
        final_activation: str | None = None,
        final_activation_params: dict | None = None,
        norm: str = "weight_norm",
        kernel_size: int = 7,
        last_kernel_size: int = 7,
        residual_kernel_size: int = 3,
        dilation_base: int = 2,
        causal: bool = False,
        pad_mode: str = "reflect",
        true_skip: bool = False,
        compress: int = 2,
        lstm: int = 2,
        trim_right_ratio: float = 1.0,
        wn_style: str = LEGACY,
    ) -> None:
        super().__init__()
        self.channels, self.dimension, self.n_filters = channels, dimension, n_filters
        self.ratios = list(ratios)
        self.hop_length = int(math.prod(self.ratios))
        act_params = dict(activation_params or {})
        conv_kw = dict(norm=norm, causal=causal, pad_mode=pad_mode, wn_style=wn_style)
        width = n_filters * 2 ** len(self.ratios)
        layers: list[nn.Module] = [SConv1d(dimension, width, kernel_size, **conv_kw)]
        if lstm:
            layers.append(SLSTM(width, num_layers=lstm))
        for ratio in self.ratios:
            layers.append(make_activation(activation, act_params))
            layers.append(SConvTranspose1d(
                width, width // 2, ratio * 2, stride=ratio, causal=causal, norm=norm,
                trim_right_ratio=trim_right_ratio, wn_style=wn_style,
            ))
            width //= 2
            for j in range(n_residual_layers):
                layers.append(SEANetResnetBlock(
                    width, kernel_sizes=(residual_kernel_size, 1), dilations=(dilation_base**j, 1),
                    activation=activation, activation_params=act_params, compress=compress,
                    true_skip=true_skip, **conv_kw,
                ))
        layers.append(make_activation(activation, act_params))
        layers.append(SConv1d(n_filters, channels, last_kernel_size, **conv_kw))
        if final_activation is not None:
            layers.append(make_activation(final_activation, final_activation_params))
        self.model = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """``(B, dimension, T) -> (B, channels, T * hop_length)``."""
        return self.model(z)
