"""EnCodec-style padded convolutions: lengths, short-input reflection, causality."""

from __future__ import annotations

import math

import pytest
import torch

from audiokit.nn.sconv import SConv1d, SConvTranspose1d, extra_padding_for_conv1d, pad1d, unpad1d


def test_pad1d_reflects_inputs_shorter_than_the_padding():
    x = torch.arange(1.0, 4.0).view(1, 1, 3)  # [1, 2, 3]
    y = pad1d(x, (5, 1), mode="reflect")
    assert y.shape[-1] == 3 + 6
    # zeros are appended before reflecting, then cut: left side mirrors [1, 2, 3, 0, 0, 0]
    assert y[0, 0].tolist() == [0.0, 0.0, 0.0, 3.0, 2.0, 1.0, 2.0, 3.0, 0.0]
    assert pad1d(x, (2, 0), mode="constant", value=7.0)[0, 0, :2].tolist() == [7.0, 7.0]
    assert unpad1d(y, (5, 1)).tolist() == x.tolist()
    with pytest.raises(ValueError):
        unpad1d(x, (2, 2))


def test_extra_padding_completes_the_last_window():
    assert extra_padding_for_conv1d(10, kernel_size=4, stride=2, padding_total=2) == 0
    assert extra_padding_for_conv1d(11, kernel_size=4, stride=2, padding_total=2) == 1


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("stride", [1, 2, 3, 5, 8])
@pytest.mark.parametrize("length", [1, 7, 40, 41])
def test_strided_conv_gives_ceil_frames(causal, stride, length):
    conv = SConv1d(2, 3, kernel_size=2 * stride, stride=stride, causal=causal, norm="weight_norm")
    assert conv(torch.randn(1, 2, length)).shape == (1, 3, math.ceil(length / stride))


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("stride", [2, 5])
def test_transposed_conv_multiplies_length(causal, stride):
    kw = {"trim_right_ratio": 0.5} if causal else {}
    up = SConvTranspose1d(3, 2, 2 * stride, stride, causal=causal, norm="weight_norm", **kw)
    assert up(torch.randn(1, 3, 6)).shape == (1, 2, 6 * stride)


@pytest.mark.parametrize("pad_mode", ["reflect", "constant", "replicate"])
def test_causal_conv_has_no_look_ahead(pad_mode):
    torch.manual_seed(0)
    conv = SConv1d(1, 4, kernel_size=7, dilation=2, causal=True, pad_mode=pad_mode).eval()
    x = torch.randn(1, 1, 50)
    x2 = x.clone()
    x2[..., 30:] = torch.randn(1, 1, 20)
    with torch.no_grad():
        y, y2 = conv(x), conv(x2)
    assert torch.equal(y[..., :30], y2[..., :30])
    assert not torch.allclose(y[..., 30:], y2[..., 30:])


def test_non_causal_conv_looks_ahead():
    torch.manual_seed(0)
    conv = SConv1d(1, 4, kernel_size=7, causal=False).eval()
    x = torch.randn(1, 1, 50)
    x2 = x.clone()
    x2[..., 30:] += 1.0
    with torch.no_grad():
        assert not torch.allclose(conv(x)[..., 27:30], conv(x2)[..., 27:30])


@pytest.mark.parametrize("norm", ["none", "spectral_norm", "time_group_norm", "layer_norm"])
def test_other_norms_keep_names_and_shapes(norm):
    conv = SConv1d(4, 6, 3, norm=norm)
    assert conv(torch.randn(2, 4, 9)).shape == (2, 6, 9)
    assert any(k.startswith("conv.conv.") for k in conv.state_dict())


def test_bad_options_are_rejected():
    with pytest.raises(ValueError, match="norm"):
        SConv1d(1, 1, 3, norm="batch_norm")
    with pytest.raises(ValueError, match="causal"):
        SConv1d(1, 1, 3, norm="time_group_norm", causal=True)
    with pytest.raises(ValueError, match="pad mode"):
        SConv1d(1, 1, 3, pad_mode="zeros")
    with pytest.raises(ValueError, match="trim_right_ratio"):
        SConvTranspose1d(1, 1, 4, 2, causal=False, trim_right_ratio=0.5)
