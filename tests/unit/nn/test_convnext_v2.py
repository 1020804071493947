"""ConvNeXt-V2 1-D block and GRN."""

from __future__ import annotations

import torch

from audiokit.nn.convnext_v2 import GRN, ConvNeXtV2Block


def test_grn_formula():
    grn = GRN(6)
    with torch.no_grad():
        grn.gamma.normal_()
        grn.beta.normal_()
    x = torch.randn(2, 9, 6)
    g = x.pow(2).sum(dim=1, keepdim=True).sqrt()          # L2 over time, per channel
    n = g / (g.mean(dim=-1, keepdim=True) + 1e-6)         # divided by the channel mean
    assert torch.allclose(grn(x), grn.gamma * (x * n) + grn.beta + x, atol=1e-6)


def test_grn_starts_as_identity():
    x = torch.randn(2, 5, 4)
    assert torch.equal(GRN(4)(x), x)


def test_block_shape_residual_and_names():
    block = ConvNeXtV2Block(8, 16)
    x = torch.randn(3, 11, 8)
    y = block(x)
    assert y.shape == x.shape and not torch.allclose(y, x)
    with torch.no_grad():
        block.pwconv2.weight.zero_()
        block.pwconv2.bias.zero_()
    assert torch.equal(block(x), x)
    assert {"dwconv.weight", "norm.weight", "pwconv1.weight", "grn.gamma", "grn.beta", "pwconv2.bias"} <= set(
        block.state_dict())


def test_block_is_local_in_time():
    """Depthwise k7: frame 0 does not see frame 10 except through GRN's global norm (zero-init)."""
    block = ConvNeXtV2Block(4, 8)
    x = torch.randn(1, 20, 4)
    x2 = x.clone()
    x2[0, 10] += 1.0
    assert torch.allclose(block(x)[0, :7], block(x2)[0, :7])
