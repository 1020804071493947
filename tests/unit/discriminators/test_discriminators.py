"""Shapes, feature maps, gradients and state-dict key names of every discriminator.

Small widths keep these fast; the full-size layouts are checked by key names and
shapes and, against the references, in tests/parity/test_discriminators_vocos.py.
"""

from __future__ import annotations

import pytest
import torch

import audiokit.discriminators as D

SMALL_P = {"channels": (4, 8, 16, 16, 16)}
SMALL_S = [(1, 8, 15, 1, 1), (8, 16, 41, 4, 4), (16, 16, 5, 1, 1)]


def _small_models():
    return {
        "mpd": D.MultiPeriodDiscriminator(num_embeddings=3, **SMALL_P),
        "msd": D.MultiScaleDiscriminator(layers=SMALL_S),
        "mrd": D.MultiResolutionDiscriminator(num_embeddings=3, channels=8),
        "mbd": D.MultiBandDiscriminator(fft_sizes=(512, 256), num_embeddings=3, channels=4),
        "mbd_rect": D.MultiBandDiscriminator(fft_sizes=(256,), channels=4, window="rect"),
        "msstftd": D.MultiScaleSTFTDiscriminator(4, scales=D.HIFICODEC_SCALES),
    }


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.mark.parametrize("name", list(_small_models()))
def test_output_structure_and_shapes(name):
    model = _small_models()[name]
    y, y_hat = torch.randn(2, 3001), torch.randn(2, 1, 3001)
    out = model(y, y_hat)
    n = len(model.discriminators)
    assert len(out.real_logits) == len(out.fake_logits) == len(out.real_fmaps) == len(out.fake_fmaps) == n
    for r, f in zip(out.real_logits, out.fake_logits):
        assert r.dim() == 2 and r.shape[0] == 2 and r.shape == f.shape
        assert torch.isfinite(r).all()
    for rs, fs in zip(out.real_fmaps, out.fake_fmaps):
        assert len(rs) == len(fs) > 0
        assert all(a.shape == b.shape and a.shape[0] == 2 for a, b in zip(rs, fs))
    # same input on both sides -> same scores (eval: spectral norm stops its power
    # iteration); different inputs -> different scores
    again = model.eval()(y, y)
    for a, b in zip(again.real_logits, again.fake_logits):
        assert torch.equal(a, b)
    assert not torch.allclose(out.real_logits[0], out.fake_logits[0])


@pytest.mark.parametrize("name", list(_small_models()))
def test_gradients_flow_to_generator_and_discriminator(name):
    model = _small_models()[name]
    y = torch.randn(1, 2048)
    y_hat = torch.randn(1, 2048, requires_grad=True)
    out = model(y, y_hat)
    g_adv, _ = D.generator_loss(out.fake_logits)
    fm = D.feature_matching_loss(out.real_fmaps, out.fake_fmaps)
    (g_adv + fm).backward()
    assert y_hat.grad is not None and y_hat.grad.abs().sum() > 0
    grads = [p.grad for p in model.parameters() if p.requires_grad and p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


def test_conditioning_changes_logits_and_accepts_per_item_ids():
    model = D.MultiPeriodDiscriminator(periods=(2, 3), num_embeddings=3, **SMALL_P)
    for d in model.discriminators:
        torch.nn.init.normal_(d.emb.weight)
    y = torch.randn(2, 1000)
    base, _ = model.score(y)
    c0, _ = model.score(y, torch.tensor([0]))
    assert not torch.allclose(base[0], c0[0])
    per_item, _ = model.score(y, torch.tensor([0, 2]))
    c2, _ = model.score(y, torch.tensor([2]))
    assert torch.allclose(per_item[0][0], c0[0][0], atol=1e-6)
    assert torch.allclose(per_item[0][1], c2[0][1], atol=1e-6)


def test_mpd_full_size_keys_and_fmap_variants():
    mpd = D.MultiPeriodDiscriminator(num_embeddings=4)
    sd = mpd.state_dict()
    assert sd["discriminators.0.convs.0.weight_v"].shape == (32, 1, 5, 1)
    assert sd["discriminators.4.convs.4.weight_v"].shape == (1024, 1024, 5, 1)
    assert sd["discriminators.4.conv_post.weight_g"].shape == (1, 1, 1, 1)
    assert sd["discriminators.2.emb.weight"].shape == (4, 1024)
    assert len(sd) == 5 * (6 * 3 + 1)
    d_vocos = D.DiscriminatorP(3, **SMALL_P)
    d_hifigan = D.DiscriminatorP(3, include_first_fmap=True, **SMALL_P)
    d_hifigan.load_state_dict(d_vocos.state_dict())
    x = torch.randn(1, 300)
    assert len(d_vocos(x)[1]) == 5 and len(d_hifigan(x)[1]) == 6
    assert torch.equal(d_vocos(x)[0], d_hifigan(x)[0])


def test_mpd_padding_rules():
    d = D.DiscriminatorP(3, **SMALL_P)
    assert d.fold(torch.randn(1, 1, 9)).shape == (1, 1, 3, 3)
    assert d.fold(torch.randn(1, 1, 10)).shape == (1, 1, 4, 3)
    dac = D.DiscriminatorP(3, always_pad=True, **SMALL_P)
    assert dac.fold(torch.randn(1, 1, 9)).shape == (1, 1, 4, 3)


def test_msd_keys_spectral_first_scale():
    sd = D.MultiScaleDiscriminator().state_dict()
    assert "discriminators.0.convs.0.weight_orig" in sd
    assert "discriminators.0.convs.0.weight_u" in sd
    assert "discriminators.1.convs.0.weight_g" in sd
    assert sd["discriminators.1.convs.1.weight_v"].shape == (128, 32, 41)  # groups=4
    assert sd["discriminators.2.conv_post.weight_v"].shape == (1, 1024, 3)
    assert not any(k.startswith("meanpools") for k in sd)
    msd = D.MultiScaleDiscriminator(layers=SMALL_S)
    logits, fmaps = msd.score(torch.randn(1, 1, 4000))
    assert [len(f) for f in fmaps] == [4, 4, 4]
    assert logits[0].shape[1] > logits[1].shape[1] > logits[2].shape[1]


def test_univnet_mrd_keys_and_rectangular_spectrogram():
    mrd = D.MultiResolutionDiscriminator(num_embeddings=4)
    sd = mrd.state_dict()
    assert sd["discriminators.0.convs.0.weight_v"].shape == (64, 1, 7, 5)
    assert sd["discriminators.1.convs.3.weight_v"].shape == (64, 64, 3, 3)
    assert sd["discriminators.2.emb.weight"].shape == (4, 64)
    assert [d.resolution for d in mrd.discriminators] == [(1024, 256, 1024), (2048, 512, 2048), (512, 128, 512)]
    x = torch.randn(2, 4000)
    d = mrd.discriminators[2]
    spec = d.spectrogram(x)
    expected = torch.stft(x, 512, 128, 512, window=torch.ones(512), center=True, return_complex=True).abs()
    assert spec.shape == (2, 257, 4000 // 128 + 1)
    assert torch.allclose(spec, expected)


def test_multiband_keys_bands_and_volume_normalisation():
    mbd = D.MultiBandDiscriminator(num_embeddings=4)
    sd = mbd.state_dict()
    assert sd["discriminators.0.spec_fn.window"].shape == (2048,)
    assert sd["discriminators.1.band_convs.4.0.weight_v"].shape == (32, 2, 3, 9)
    assert sd["discriminators.2.conv_post.weight_v"].shape == (1, 32, 3, 3)
    d = D.DiscriminatorB(512, channels=4)
    assert d.bands == [(0, 25), (25, 64), (64, 128), (128, 192), (192, 257)]
    x = torch.randn(1, 3000)
    # DC offset and gain do not change the scores
    a, _ = d(x)
    b, _ = d(3.0 * x + 0.5)
    assert torch.allclose(a, b, atol=1e-4)
    rect = D.DiscriminatorB(512, channels=4, window="rect")
    assert "spec_fn.window" not in rect.state_dict()
    with pytest.raises(ValueError):
        D.DiscriminatorB(512, window="hamming")


def test_msstftd_layout():
    m = D.MultiScaleSTFTDiscriminator(32, scales=D.HIFICODEC_SCALES)
    sd = m.state_dict()
    assert len(m.discriminators) == 5
    assert sd["discriminators.0.convs.0.conv.weight"].shape == (32, 2, 3, 9)  # plain first conv
    assert "discriminators.0.convs.0.conv.weight_g" not in sd
    assert sd["discriminators.0.convs.2.conv.weight_v"].shape == (32, 32, 3, 9)
    assert sd["discriminators.0.convs.4.conv.weight_v"].shape == (32, 32, 3, 3)
    assert sd["discriminators.4.spec_transform.window"].shape == (128,)
    _logits, fmaps = D.MultiScaleSTFTDiscriminator(4).score(torch.randn(1, 1, 4000))
    assert [len(f) for f in fmaps] == [5, 5, 5]
    assert fmaps[0][0].shape[:2] == (1, 4)
