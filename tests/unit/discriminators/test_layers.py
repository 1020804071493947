"""Weight-norm convs, key styles, conditioning broadcast."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from audiokit.discriminators._layers import (
    WNConv1d,
    WNConv2d,
    as_mono_batch,
    conditioning,
    make_conv,
)


def test_wnconv_keys_and_init_equal_plain_weight():
    torch.manual_seed(0)
    conv = WNConv2d(3, 5, (3, 1), padding=(1, 0))
    assert sorted(conv.state_dict()) == ["bias", "weight_g", "weight_v"]
    assert conv.weight_g.shape == (5, 1, 1, 1)
    assert not hasattr(conv, "weight") or "weight" not in conv._parameters
    # at init g = ||v||, so the folded weight equals v
    assert torch.allclose(conv.folded_weight(), conv.weight_v, atol=1e-6)


def test_wnconv_matches_legacy_weight_norm():
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        legacy = nn.utils.weight_norm(nn.Conv1d(2, 4, 5, padding=2))
    with torch.no_grad():
        legacy.weight_g.mul_(torch.rand_like(legacy.weight_g) + 0.5)
    ours = WNConv1d(2, 4, 5, padding=2)
    ours.load_state_dict(legacy.state_dict(), strict=True)
    x = torch.randn(3, 2, 50)
    assert torch.allclose(ours(x), legacy(x), atol=1e-6)


def test_wnconv_loads_parametrization_style_and_folded_weights():
    torch.manual_seed(0)
    new = nn.utils.parametrizations.weight_norm(nn.Conv1d(2, 4, 3, padding=1))
    with torch.no_grad():
        new.parametrizations.weight.original0.mul_(2.0)
    keys = set(new.state_dict())
    assert "parametrizations.weight.original0" in keys
    x = torch.randn(2, 2, 20)
    ours = WNConv1d(2, 4, 3, padding=1)
    ours.load_state_dict(new.state_dict(), strict=True)
    assert torch.allclose(ours(x), new(x), atol=1e-6)

    plain = nn.Conv1d(2, 4, 3, padding=1)
    ours2 = WNConv1d(2, 4, 3, padding=1)
    ours2.load_state_dict(plain.state_dict(), strict=True)
    assert torch.allclose(ours2(x), plain(x), atol=1e-6)


def test_wnconv_gradients_reach_g_and_v():
    conv = WNConv2d(1, 2, 3, padding=1)
    conv(torch.randn(1, 1, 8, 8)).pow(2).sum().backward()
    assert conv.weight_g.grad is not None and conv.weight_g.grad.abs().sum() > 0
    assert conv.weight_v.grad is not None and conv.weight_v.grad.abs().sum() > 0


def test_make_conv_norms():
    assert sorted(make_conv(1, 1, 2, 3, norm="spectral_norm").state_dict()) == [
        "bias", "weight_orig", "weight_u", "weight_v"]
    assert sorted(make_conv(2, 1, 2, 3, norm="none").state_dict()) == ["bias", "weight"]
    with pytest.raises(ValueError):
        make_conv(1, 1, 2, 3, norm="batch_norm")
    with pytest.raises(ValueError):
        make_conv(3, 1, 2, 3)


def test_conditioning_per_item_ids_match_single_id():
    torch.manual_seed(0)
    emb = nn.Embedding(4, 6)
    x = torch.randn(3, 6, 5, 2)
    per_item = conditioning(emb, torch.tensor([1, 2, 3]), x)
    assert per_item.shape == (3, 1, 5, 2)
    for b, i in enumerate([1, 2, 3]):
        single = conditioning(emb, torch.tensor([i]), x[b : b + 1])
        assert torch.allclose(per_item[b : b + 1], single)


def test_as_mono_batch_shapes():
    assert as_mono_batch(torch.zeros(2, 7)).shape == (2, 7)
    assert as_mono_batch(torch.zeros(2, 1, 7)).shape == (2, 7)
    with pytest.raises(ValueError):
        as_mono_batch(torch.zeros(2, 2, 7))
