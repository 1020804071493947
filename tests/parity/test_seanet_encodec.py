"""Parity: audiokit SEANet vs the ``encodec`` (0.1.1) package, CPU fp32, max abs diff <= 1e-4.

The reference is built with random weights, its state dict is written the way EnCodec
ships checkpoints (``torch.save`` of a flat state dict), read back with
``weights_only=True`` and loaded into audiokit's module in every weight-norm style.
"""

from __future__ import annotations

import warnings

import pytest
import torch

from audiokit.nn import SEANetDecoder, SEANetEncoder, load_state_dict_any_style, remove_weight_norm

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import encodec
    from encodec.modules import SEANetDecoder as RefDecoder
    from encodec.modules import SEANetEncoder as RefEncoder

pytestmark = pytest.mark.filterwarnings("ignore:.*weight_norm.*:FutureWarning")

TOL = 1e-4


def randomise(module: torch.nn.Module, seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return module.eval()


def saved_and_loaded(state_dict: dict, tmp_path) -> dict:
    path = tmp_path / "weights.th"
    torch.save(state_dict, path)
    return torch.load(path, map_location="cpu", weights_only=True)


def audiokit_variants(cls, state_dict: dict, **kw):
    """The module built legacy (direct strict load), parametrized (key-mapped), and folded."""
    legacy = cls(**kw).eval()
    legacy.load_state_dict(state_dict)
    param = cls(wn_style="parametrize", **kw).eval()
    load_state_dict_any_style(param, state_dict)
    folded = cls(wn_style="parametrize", **kw).eval()
    load_state_dict_any_style(folded, state_dict)
    remove_weight_norm(folded)
    return {"legacy": legacy, "parametrize": param, "folded": folded}


@pytest.mark.parametrize("causal", [False, True], ids=["noncausal", "causal"])
@pytest.mark.parametrize("ratios", [[8, 5, 4, 2], [6, 5, 5, 4]], ids=["hop320", "hop600"])
def test_encoder_matches_encodec(causal, ratios, tmp_path):
    kw = dict(dimension=32, n_filters=8, ratios=ratios, causal=causal)
    ref = randomise(RefEncoder(**kw), seed=1)
    sd = saved_and_loaded(ref.state_dict(), tmp_path)
    for length in (4_801, 257):
        x = torch.randn(2, 1, length)
        with torch.no_grad():
            expected = ref(x)
            for name, model in audiokit_variants(SEANetEncoder, sd, **kw).items():
                got = model(x)
                assert got.shape == expected.shape, name
                assert (got - expected).abs().max().item() <= TOL, name


def test_encodec_24khz_release_layout_loads(tmp_path):
    """EnCodec 24 kHz (causal, as used by vocos-encodec): ``encoder.*`` keys of the full model."""
    ref = randomise(encodec.EncodecModel.encodec_model_24khz(pretrained=False), seed=2)
    sd = saved_and_loaded(ref.state_dict(), tmp_path)
    enc_sd = {k[len("encoder."):]: v for k, v in sd.items() if k.startswith("encoder.")}
    model = SEANetEncoder(dimension=128, ratios=[8, 5, 4, 2], causal=True).eval()
    model.load_state_dict(enc_sd)
    x = torch.randn(1, 1, 9_600)
    with torch.no_grad():
        expected, got = ref.encoder(x), model(x)
    assert got.shape == (1, 128, 30)
    assert (got - expected).abs().max().item() <= TOL


@pytest.mark.parametrize("causal", [False, True], ids=["noncausal", "causal"])
def test_decoder_matches_encodec(causal, tmp_path):
    kw = dict(dimension=32, n_filters=8, ratios=[8, 5, 4, 2], causal=causal, final_activation="Tanh",
              trim_right_ratio=0.5 if causal else 1.0)
    ref = randomise(RefDecoder(**kw), seed=3)
    sd = saved_and_loaded(ref.state_dict(), tmp_path)
    z = torch.randn(2, 32, 13)
    with torch.no_grad():
        expected = ref(z)
        for name, model in audiokit_variants(SEANetDecoder, sd, **kw).items():
            got = model(z)
            assert got.shape == expected.shape == (2, 1, 13 * 320), name
            assert (got - expected).abs().max().item() <= TOL, name
