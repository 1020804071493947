"""Causal convolutions: padding, no look-ahead, cache == offline."""

from __future__ import annotations

import pytest
import torch

from audiokit.nn.causal_conv import CausalConv1d, CausalConv2d, causal_padding


@pytest.mark.parametrize("kernel,dilation,groups", [(9, 1, 6), (3, 2, 1), (1, 1, 6), (4, 3, 2)])
def test_causal_conv_keeps_length_and_has_no_look_ahead(kernel, dilation, groups):
    torch.manual_seed(0)
    conv = CausalConv1d(6, 6, kernel, dilation=dilation, groups=groups)
    assert (conv.left_padding, conv.right_padding) == ((kernel - 1) * dilation, 0)
    x = torch.randn(2, 6, 30)
    x2 = x.clone()
    x2[..., 17:] = torch.randn(2, 6, 13)
    with torch.no_grad():
        y, y2 = conv(x), conv(x2)
    assert y.shape == (2, 6, 30)
    assert torch.equal(y[..., :17], y2[..., :17])
    assert not torch.allclose(y[..., 17:], y2[..., 17:])


@pytest.mark.parametrize("kernel,dilation", [(9, 1), (5, 2), (1, 1)])
@pytest.mark.parametrize("chunks", [[1, 1, 1, 40], [7, 13, 3, 20], [43]])
def test_cached_chunks_equal_offline(kernel, dilation, chunks):
    torch.manual_seed(1)
    conv = CausalConv1d(4, 4, kernel, dilation=dilation, groups=4)
    x = torch.randn(3, 4, sum(chunks))
    with torch.no_grad():
        full = conv(x)
        cache, outs, start = conv.init_cache(3), [], 0
        assert cache.shape == (3, 4, (kernel - 1) * dilation)
        for n in chunks:
            y, cache = conv.forward_cached(x[..., start : start + n], cache)
            outs.append(y)
            start += n
    assert (torch.cat(outs, -1) - full).abs().max() <= 1e-6
    assert torch.equal(cache, x[..., x.shape[-1] - conv.cache_size :])


def test_symmetric_and_pair_padding():
    conv = CausalConv1d(2, 2, 5, padding=2)
    assert (conv.left_padding, conv.right_padding) == (2, 2)
    assert conv(torch.randn(1, 2, 11)).shape == (1, 2, 11)
    conv = CausalConv1d(2, 2, 5, padding=(3, 1))
    assert conv(torch.randn(1, 2, 11)).shape == (1, 2, 11)
    with pytest.raises(ValueError, match="look-ahead"):
        conv.forward_cached(torch.randn(1, 2, 4), conv.init_cache(1))
    with pytest.raises(ValueError):
        CausalConv1d(2, 2, 5, padding=(-1, 0))


def test_state_dict_names_are_plain_conv_names():
    conv = CausalConv1d(4, 4, 9, groups=4)
    assert sorted(conv.state_dict()) == ["bias", "weight"]
    assert conv.weight.shape == (4, 1, 9)


def test_causal_conv2d_pads_time_and_frequency():
    assert causal_padding(3, 2) == (2, 1)
    torch.manual_seed(2)
    conv = CausalConv2d(1, 3, 3, stride=2)
    x = torch.randn(1, 1, 17, 80)
    y = conv(x)
    assert y.shape == (1, 3, 9, 41)
    # output frame t sees input frames 2t-2 .. 2t only
    x2 = x.clone()
    x2[:, :, 11:] = 0.0
    with torch.no_grad():
        assert torch.equal(conv(x2)[:, :, :6], y.detach()[:, :, :6])
        assert not torch.allclose(conv(x2)[:, :, 6], y.detach()[:, :, 6])
