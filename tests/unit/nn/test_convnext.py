"""ConvNeXt block and AdaLayerNorm: conditioning ids, layer scale, shapes."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from audiokit.nn import AdaLayerNorm, ConvNeXtBlock


def random_adanorm() -> AdaLayerNorm:
    torch.manual_seed(0)
    norm = AdaLayerNorm(4, 6)
    with torch.no_grad():
        norm.scale.weight.normal_()
        norm.shift.weight.normal_()
    return norm


def test_adanorm_formula_and_init():
    fresh = AdaLayerNorm(3, 5)
    assert torch.equal(fresh.scale.weight, torch.ones(3, 5)) and torch.equal(fresh.shift.weight, torch.zeros(3, 5))
    norm = random_adanorm()
    x = torch.randn(2, 7, 6)
    expected = F.layer_norm(x, (6,), eps=1e-6) * norm.scale.weight[2] + norm.shift.weight[2]
    for cond in (2, torch.tensor(2), torch.tensor([2])):
        assert torch.allclose(norm(x, cond), expected, atol=1e-6)


def test_adanorm_accepts_one_id_per_item():
    norm = random_adanorm()
    x = torch.randn(3, 5, 6)
    ids = torch.tensor([0, 3, 1])
    per_item = norm(x, ids)
    for b in range(3):
        assert torch.allclose(per_item[b : b + 1], norm(x[b : b + 1], ids[b : b + 1]), atol=1e-6)
    with pytest.raises(ValueError, match="conditioning ids"):
        norm(x, torch.tensor([0, 1]))


def test_block_shapes_names_and_layer_scale():
    block = ConvNeXtBlock(8, 24, layer_scale_init_value=0.5, adanorm_num_embeddings=4)
    keys = set(block.state_dict())
    names = {"dwconv.weight", "norm.scale.weight", "norm.shift.weight", "pwconv1.weight", "pwconv2.bias", "gamma"}
    assert names <= keys
    assert torch.equal(block.gamma, torch.full((8,), 0.5))
    assert block(torch.randn(2, 8, 11), torch.tensor([1])).shape == (2, 8, 11)
    plain = ConvNeXtBlock(8, 24, layer_scale_init_value=0.0)
    assert plain.gamma is None and "norm.weight" in plain.state_dict()
    assert plain(torch.randn(2, 8, 11)).shape == (2, 8, 11)


def test_block_is_residual_and_conditioned_block_needs_an_id():
    block = ConvNeXtBlock(8, 24, layer_scale_init_value=0.5, adanorm_num_embeddings=4)
    with torch.no_grad():
        block.gamma.zero_()
    x = torch.randn(1, 8, 5)
    assert torch.equal(block(x, 0), x)
    with pytest.raises(ValueError, match="condition"):
        block(x)
