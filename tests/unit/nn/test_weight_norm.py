"""Weight-norm styles: building, key mapping between styles, folding."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from audiokit.nn.weight_norm import (
    adapt_weight_norm_keys,
    apply_weight_norm,
    fold_weight_norm,
    has_weight_norm,
    load_state_dict_any_style,
    remove_weight_norm,
    unfold_weight_norm,
)


class Net(nn.Module):
    """A conv, a transposed conv and a plain linear layer, in a chosen weight-norm style."""

    def __init__(self, style: str | None) -> None:
        super().__init__()
        self.conv = nn.Conv1d(3, 5, 4)
        self.up = nn.ConvTranspose1d(5, 2, 4, stride=2)
        self.lin = nn.Linear(2, 3)
        if style is not None:
            apply_weight_norm(self.conv, style)
            apply_weight_norm(self.up, style)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(self.up(self.conv(x)).transpose(1, 2))


def randomised(style: str | None, seed: int = 0) -> Net:
    torch.manual_seed(seed)
    net = Net(style)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn_like(p).abs() + 0.1)
    return net.eval()


STYLES = ["legacy", "parametrize", None]


def test_key_names_per_style():
    assert {"conv.weight_g", "conv.weight_v", "up.weight_g"} <= set(Net("legacy").state_dict())
    keys = set(Net("parametrize").state_dict())
    assert {"conv.parametrizations.weight.original0", "conv.parametrizations.weight.original1"} <= keys
    assert "conv.weight" in Net(None).state_dict()


def test_legacy_style_builds_without_deprecation_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Net("legacy")


@pytest.mark.parametrize("source", STYLES)
@pytest.mark.parametrize("target", STYLES)
def test_every_style_loads_into_every_style_with_equal_output(source, target):
    src, dst = randomised(source, 0), randomised(target, 1)
    x = torch.randn(2, 3, 10)
    with torch.no_grad():
        before = dst(x)
        assert (before - src(x)).abs().max() > 1e-3  # different weights to start with
        result = load_state_dict_any_style(dst, src.state_dict())
        assert not result.missing_keys and not result.unexpected_keys
        assert torch.allclose(dst(x), src(x), atol=1e-5)


def test_fold_matches_torch_and_transposed_gain_shape():
    v = torch.randn(5, 2, 4)  # ConvTranspose1d weight (C_in, C_out, K)
    g = torch.rand(5, 1, 1) + 0.5
    assert torch.allclose(fold_weight_norm(g, v), torch._weight_norm(v, g, 0), atol=1e-6)
    assert Net("legacy").up.weight_g.shape == (5, 1, 1)
    g2, v2 = unfold_weight_norm(fold_weight_norm(g, v))
    assert torch.allclose(fold_weight_norm(g2, v2), fold_weight_norm(g, v), atol=1e-6)
    assert torch.allclose(g2, g, atol=1e-5)


def test_adapt_keeps_unrelated_keys_and_reports_unknown_layers():
    sd = dict(randomised("legacy").state_dict())
    sd["other.weight_g"] = torch.ones(1, 1)
    sd["other.weight_v"] = torch.ones(1, 1)
    out = adapt_weight_norm_keys(sd, Net("parametrize"))
    assert "other.weight_g" in out and "lin.weight" in out
    assert "conv.parametrizations.weight.original1" in out and "conv.weight_v" not in out
    with pytest.raises(RuntimeError, match="other.weight_g"):
        load_state_dict_any_style(Net("parametrize"), sd)


@pytest.mark.parametrize("style", ["legacy", "parametrize"])
def test_remove_weight_norm_folds_and_keeps_output(style):
    net = randomised(style)
    x = torch.randn(2, 3, 10)
    with torch.no_grad():
        before = net(x)
        assert has_weight_norm(net)
        remove_weight_norm(net)
        assert not has_weight_norm(net)
        assert torch.allclose(net(x), before, atol=1e-6)
    assert set(net.state_dict()) == set(Net(None).state_dict())


def test_unknown_style_is_rejected():
    with pytest.raises(ValueError, match="style"):
        apply_weight_norm(nn.Conv1d(1, 1, 1), "spectral")
