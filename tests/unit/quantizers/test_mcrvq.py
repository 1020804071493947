"""MaskedChannelRVQ (Language-Codec MCRVQ): channel masks, residual, encode with masks."""

from __future__ import annotations

import torch

from audiokit.quantizers import MaskedChannelRVQ, ResidualVQ
from audiokit.quantizers.masked import channel_bounds

DIM = 12


def _mcrvq(n_q=5, size=16, train=False) -> MaskedChannelRVQ:
    torch.manual_seed(0)
    model = MaskedChannelRVQ(DIM, n_q, size, kmeans_init=False)
    return model.train(train)


def _latent(seed=0) -> torch.Tensor:
    return torch.randn(2, DIM, 10, generator=torch.Generator().manual_seed(seed))


def _capture_inputs(model) -> list[torch.Tensor]:
    seen: list[torch.Tensor] = []
    for layer in model.layers:
        layer.register_forward_pre_hook(lambda _m, args: seen.append(args[0].detach().clone()))
    return seen


def test_channel_bounds_match_language_codec():
    assert channel_bounds(128) == [(0, 42), (42, 85), (85, 128)]
    assert channel_bounds(12) == [(0, 4), (4, 8), (8, 12)]


def test_layer_inputs_are_masked_thirds_then_plain_residual():
    model = _mcrvq().eval()
    seen = _capture_inputs(model)
    x = _latent()
    out = model(x)
    for index, (start, stop) in enumerate(channel_bounds(DIM)):
        keep = torch.zeros(DIM, dtype=torch.bool)
        keep[start:stop] = True
        assert torch.equal(seen[index][:, keep], x[:, keep])
        assert float(seen[index][:, ~keep].abs().sum()) == 0.0
    lookups = [model.layers[i].decode(out.codes[:, i]) for i in range(5)]
    # q0..q2 are full-width lookups (not masked); the 4th layer sees x - q0 - q1 - q2
    assert float(lookups[0][:, 4:].abs().sum()) > 0
    assert torch.equal(seen[3], x - lookups[0] - lookups[1] - lookups[2])
    assert torch.equal(seen[4], seen[3] - lookups[3])
    assert torch.allclose(out.quantized, sum(lookups), atol=1e-6)


def test_encode_applies_masks_and_roundtrips():
    model = _mcrvq().eval()
    x = _latent(1)
    out = model(x)
    codes = model.encode(x)
    assert codes.shape == (2, 5, 10)
    assert torch.equal(codes, out.codes)
    assert torch.equal(model.decode(codes), out.quantized)
    # the upstream plain-RVQ encode() with the same weights gives different codes
    plain = ResidualVQ(DIM, 5, 16, kmeans_init=False).eval()
    plain.load_state_dict(model.state_dict())
    assert not torch.equal(plain.encode(x), codes)
    assert set(plain.state_dict()) == set(model.state_dict())


def test_prefixes_of_codebooks():
    model = _mcrvq().eval()
    x = _latent(2)
    full = model.encode(x)
    for n_q in (1, 2, 3, 4):
        assert torch.equal(model.encode(x, n_q=n_q), full[:, :n_q])
        assert torch.equal(model(x, n_q=n_q).codes, full[:, :n_q])


def test_training_gradient_flows_through_masks():
    model = _mcrvq(n_q=3, train=True)
    x = _latent(3).requires_grad_(True)
    out = model(x)
    assert out.loss.item() > 0
    out.quantized.sum().backward()
    # each masked third's straight-through passes gradient 1 to its own channels only
    assert torch.allclose(x.grad, torch.ones_like(x))


def test_detach_residual_flag_and_language_codec_sets_it():
    """MCRVQ with detach_residual: codes unchanged, later stages' gradient reaches the input."""
    from audiokit.models.codec.languagecodec import LanguageCodec

    x = _latent()
    torch.manual_seed(0)
    plain = MaskedChannelRVQ(DIM, 5, 16, kmeans_init=False).train()
    torch.manual_seed(0)
    detached = MaskedChannelRVQ(DIM, 5, 16, kmeans_init=False, detach_residual=True).train()
    grads = []
    for model in (plain, detached):
        xi = x.clone().requires_grad_(True)
        out = model(xi)
        out.quantized.sum().backward()
        grads.append((xi.grad, out.codes))
    (g_plain, c_plain), (g_det, c_det) = grads
    assert torch.equal(c_plain, c_det)
    # 3 masked stages give 1 per kept channel; stage 3 sees x - q0 - q1 - q2: 0 without
    # detach (it cancels), 1 with; stage 4 likewise -> 1 vs 3
    assert torch.allclose(g_plain, torch.ones_like(x))
    assert torch.allclose(g_det, torch.full_like(x, 3.0))
    codec = LanguageCodec(ratios=[2, 2], dimension=12, n_filters=2, n_q=4, codebook_size=8, backbone_dim=16,
                          intermediate_dim=24, num_layers=1, n_fft=16, train_n_q=[3, 4])
    assert codec.quantizer.detach_residual
