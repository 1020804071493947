"""SEANet encoder/decoder: release layouts, frame counts, causality, parameter counts."""

from __future__ import annotations

import math

import pytest
import torch

from audiokit.nn import SEANetDecoder, SEANetEncoder, remove_weight_norm


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())



def small_encoder(**kw) -> SEANetEncoder:
    torch.manual_seed(0)
    return SEANetEncoder(n_filters=4, dimension=8, **kw).eval()


@pytest.mark.parametrize(
    "ratios, hop", [([8, 5, 4, 2], 320), ([6, 5, 5, 4], 600), ([8, 5, 3, 2], 240), ([2, 2], 4)]
)
@pytest.mark.parametrize("length", [1, 100, 4801])
def test_encoder_frames_are_ceil_of_length_over_hop(ratios, hop, length):
    enc = small_encoder(ratios=ratios)
    assert enc.hop_length == hop and enc.ratios == list(reversed(ratios))
    with torch.no_grad():
        z = enc(torch.randn(2, 1, length))
    assert z.shape == (2, 8, math.ceil(length / hop)) == (2, 8, enc.num_frames(length))


def test_release_layout_key_names_and_indices():
    keys = set(SEANetEncoder(dimension=512).state_dict())
    for key in [
        "model.0.conv.conv.weight_g", "model.0.conv.conv.weight_v", "model.1.block.1.conv.conv.weight_v",
        "model.1.block.3.conv.conv.bias", "model.1.shortcut.conv.conv.weight_g",
        "model.3.conv.conv.weight_v", "model.12.conv.conv.bias", "model.13.lstm.weight_ih_l1",
        "model.15.conv.conv.weight_g",
    ]:
        assert key in keys, key
    enc = SEANetEncoder(dimension=512, ratios=[6, 5, 5, 4])
    strides = [enc.model[i].conv.conv.stride[0] for i in (3, 6, 9, 12)]
    kernels = [enc.model[i].conv.conv.kernel_size[0] for i in (3, 6, 9, 12)]
    assert strides == [4, 5, 5, 6] and kernels == [8, 10, 10, 12]
    assert enc.model[15].conv.conv.out_channels == 512


def test_parameter_counts_match_the_releases():
    with torch.device("meta"):  # counting parameters needs no memory
        # codecs.md: WavTokenizer encoder 8.80 M (hop 320) / 8.30 M (hop 600), decoder 8.80 M;
        # Language-Codec encoder 7.43 M.
        assert round(n_params(SEANetEncoder(dimension=512, ratios=[8, 5, 4, 2])) / 1e4) == 880
        assert round(n_params(SEANetEncoder(dimension=512, ratios=[6, 5, 5, 4])) / 1e4) == 830
        assert round(n_params(SEANetDecoder(dimension=512)) / 1e4) == 880
        assert round(n_params(SEANetEncoder(dimension=128)) / 1e4) == 743


def perturbed_future(x: torch.Tensor, start: int) -> torch.Tensor:
    x2 = x.clone()
    x2[..., start:] = torch.randn_like(x2[..., start:])
    return x2


def test_causal_encoder_has_no_look_ahead():
    enc = small_encoder(ratios=[4, 2], causal=True)  # hop 8
    x = torch.randn(1, 1, 160)
    with torch.no_grad():
        z, z2 = enc(x), enc(perturbed_future(x, 96))
    assert torch.equal(z[..., : 96 // 8], z2[..., : 96 // 8])
    assert not torch.allclose(z[..., 96 // 8 :], z2[..., 96 // 8 :])


def test_non_causal_encoder_looks_ahead():
    enc = small_encoder(ratios=[4, 2], causal=False)
    x = torch.randn(1, 1, 160)
    with torch.no_grad():
        z, z2 = enc(x), enc(perturbed_future(x, 96))
    assert not torch.allclose(z[..., 96 // 8 - 1], z2[..., 96 // 8 - 1])


@pytest.mark.parametrize("causal", [False, True])
def test_decoder_output_is_frames_times_hop(causal):
    torch.manual_seed(0)
    dec = SEANetDecoder(n_filters=4, dimension=8, ratios=[5, 2], causal=causal, final_activation="Tanh")
    with torch.no_grad():
        y = dec(torch.randn(2, 8, 7))
    assert y.shape == (2, 1, 70) and y.abs().max() <= 1.0


@pytest.mark.parametrize("style", ["legacy", "parametrize"])
def test_folded_encoder_gives_same_output(style):
    enc = small_encoder(wn_style=style)
    x = torch.randn(1, 1, 1000)
    with torch.no_grad():
        before = enc(x)
        after = remove_weight_norm(enc)(x)
    assert torch.allclose(before, after, atol=1e-5)
    assert "model.0.conv.conv.weight" in enc.state_dict()


def test_unknown_activation_is_rejected():
    with pytest.raises(ValueError, match="activation"):
        SEANetEncoder(activation="Softmax")
