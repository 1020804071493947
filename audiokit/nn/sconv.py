"""EnCodec-style "streamable" 1-D convolutions with built-in padding and normalisation.

:class:`SConv1d` pads its input so that a stride-``s`` convolution maps ``L`` samples to
``ceil(L / s)`` frames: "same" padding ``(K - 1) * dilation - (s - 1)`` split left/right
(all on the left when ``causal``) plus extra right padding so the last window is complete.
:class:`SConvTranspose1d` is the inverse: it trims the same fixed padding from its output.

Attribute names mirror the released checkpoints: ``SConv1d.conv.conv`` is the
``nn.Conv1d`` (``...conv.conv.weight_g`` under weight norm) and ``SConv1d.conv.norm`` the
optional normalisation; ``SConvTranspose1d.convtr.convtr`` the ``nn.ConvTranspose1d``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from audiokit.nn.weight_norm import LEGACY, apply_weight_norm

NORMS = ("none", "weight_norm", "spectral_norm", "time_group_norm", "layer_norm")
PAD_MODES = ("reflect", "constant", "replicate", "circular")


def extra_padding_for_conv1d(length: int, kernel_size: int, stride: int, padding_total: int = 0) -> int:
    """Right padding that makes the last window of a strided convolution complete.

    With it, ``length`` padded samples give ``ceil((length - K + padding_total) / s) + 1``
    frames, so a transposed convolution can rebuild at least ``length`` samples.
    """
    n_frames = (length - kernel_size + padding_total) / stride + 1
    ideal_length = (math.ceil(n_frames) - 1) * stride + (kernel_size - padding_total)
    return ideal_length - length


def pad1d(x: torch.Tensor, paddings: tuple[int, int], mode: str = "constant", value: float = 0.0) -> torch.Tensor:
    """``F.pad`` on the last axis that also reflect-pads inputs shorter than the padding.

    Reflection needs more samples than the padding; for a short input, zeros are appended
    first, reflected, and then cut off again, so the result has the expected length.
    ``x``: ``(..., T)`` -> ``(..., left + T + right)``.
    """
    left, right = paddings
    if left < 0 or right < 0:
        raise ValueError(f"negative padding {paddings}")
    if mode == "constant":
        return F.pad(x, (left, right), value=value)
    if mode != "reflect":
        return F.pad(x, (left, right), mode=mode)
    length = x.shape[-1]
    fill = max(0, max(left, right) - length + 1)
    if fill:
        x = F.pad(x, (0, fill))
    padded = F.pad(x, (left, right), mode="reflect")
    return padded[..., : padded.shape[-1] - fill]


def unpad1d(x: torch.Tensor, paddings: tuple[int, int]) -> torch.Tensor:
    """Drop ``paddings = (left, right)`` samples from the last axis of ``x``."""
    left, right = paddings
    if left < 0 or right < 0 or left + right > x.shape[-1]:
        raise ValueError(f"cannot remove padding {paddings} from length {x.shape[-1]}")
    return x[..., left : x.shape[-1] - right]


class ConvLayerNorm(nn.LayerNorm):
    """LayerNorm over the channels of a ``(B, C, T)`` tensor."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return super().forward(x.transpose(1, -1)).transpose(1, -1)


def _check_norm(norm: str, causal: bool) -> None:
    if norm not in NORMS:
        raise ValueError(f"unknown conv norm {norm!r}; expected one of {NORMS}")
    if causal and norm == "time_group_norm":
        raise ValueError("time_group_norm normalises over time and cannot be causal")


def _parametrize(conv: nn.Module, norm: str, wn_style: str) -> nn.Module:
    if norm == "weight_norm":
        return apply_weight_norm(conv, wn_style)
    if norm == "spectral_norm":
        return torch.nn.utils.parametrizations.spectral_norm(conv)
    return conv


def _norm_module(channels: int, norm: str) -> nn.Module:
    if norm == "time_group_norm":
        return nn.GroupNorm(1, channels)
    if norm == "layer_norm":
        return ConvLayerNorm(channels)
    return nn.Identity()


class NormConv1d(nn.Module):
    """``nn.Conv1d`` (attribute ``conv``) followed by a normalisation (attribute ``norm``).

    ``norm``: ``"none"``, ``"weight_norm"`` (style ``wn_style``), ``"spectral_norm"``,
    ``"time_group_norm"`` (GroupNorm with one group) or ``"layer_norm"`` (over channels).
    """

    def __init__(self, *args, causal: bool = False, norm: str = "none", wn_style: str = LEGACY, **kwargs) -> None:
        super().__init__()
        _check_norm(norm, causal)
        self.conv = _parametrize(nn.Conv1d(*args, **kwargs), norm, wn_style)
        self.norm = _norm_module(self.conv.out_channels, norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C_in, T) -> (B, C_out, T')``."""
        return self.norm(self.conv(x))


class NormConvTranspose1d(nn.Module):
    """``nn.ConvTranspose1d`` (attribute ``convtr``) followed by a normalisation (``norm``)."""

    def __init__(self, *args, causal: bool = False, norm: str = "none", wn_style: str = LEGACY, **kwargs) -> None:
        super().__init__()
        _check_norm(norm, causal)
        self.convtr = _parametrize(nn.ConvTranspose1d(*args, **kwargs), norm, wn_style)
        self.norm = _norm_module(self.convtr.out_channels, norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C_in, T) -> (B, C_out, T')``."""
        return self.norm(self.convtr(x))


class SConv1d(nn.Module):
    """Conv1d with EnCodec padding: ``(B, C_in, L) -> (B, C_out, ceil(L / stride))``.

    ``causal=True`` puts all fixed padding on the left, so output frame ``j`` depends only
    on input samples before ``(j + 1) * stride``. ``pad_mode`` is one of ``PAD_MODES``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        dilation: int = 1,
        groups: int = 1,
        bias: bool = True,
        causal: bool = False,
        norm: str = "none",
        pad_mode: str = "reflect",
        wn_style: str = LEGACY,
    ) -> None:
        super().__init__()
        if pad_mode not in PAD_MODES:
            raise ValueError(f"unknown pad mode {pad_mode!r}; expected one of {PAD_MODES}")
        self.conv = NormConv1d(
            in_channels, out_channels, kernel_size, stride, dilation=dilation, groups=groups,
            bias=bias, causal=causal, norm=norm, wn_style=wn_style,
        )
        self.causal = causal
        self.pad_mode = pad_mode

    def padding_for(self, length: int) -> tuple[int, int]:
        """``(left, right)`` padding applied to an input of ``length`` samples."""
        conv = self.conv.conv
        kernel, stride, dilation = conv.kernel_size[0], conv.stride[0], conv.dilation[0]
        total = (kernel - 1) * dilation - (stride - 1)
        extra = extra_padding_for_conv1d(length, kernel, stride, total)
        if self.causal:
            return total, extra
        right = total // 2
        return total - right, right + extra

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C_in, L) -> (B, C_out, ceil(L / stride))``."""
        return self.conv(pad1d(x, self.padding_for(x.shape[-1]), mode=self.pad_mode))


class SConvTranspose1d(nn.Module):
    """ConvTranspose1d that trims EnCodec's fixed padding: ``(B, C_in, T) -> (B, C_out, T * stride)``.

    Non-causal: the ``K - stride`` surplus is trimmed half right, the rest left. Causal:
    ``ceil(surplus * trim_right_ratio)`` on the right and the rest on the left.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        causal: bool = False,
        norm: str = "none",
        trim_right_ratio: float = 1.0,
        wn_style: str = LEGACY,
    ) -> None:
        super().__init__()
        if not 0.0 <= trim_right_ratio <= 1.0:
            raise ValueError(f"trim_right_ratio must lie in [0, 1], got {trim_right_ratio}")
        if not causal and trim_right_ratio != 1.0:
            raise ValueError("trim_right_ratio != 1 only applies to causal transposed convolutions")
        self.convtr = NormConvTranspose1d(
            in_channels, out_channels, kernel_size, stride, causal=causal, norm=norm, wn_style=wn_style
        )
        self.causal = causal
        self.trim_right_ratio = trim_right_ratio

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C_in, T) -> (B, C_out, T * stride)``."""
        conv = self.convtr.convtr
        total = conv.kernel_size[0] - conv.stride[0]
        right = math.ceil(total * self.trim_right_ratio) if self.causal else total // 2
        return unpad1d(self.convtr(x), (total - right, right))
