"""Adversarial, feature-matching and mel losses: values, options and gradients."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import torch

import audiokit.discriminators as D


def _t(*vals):
    return torch.tensor([list(vals)])


def test_hinge_values():
    real, fake = [_t(2.0, 0.5), _t(-1.0)], [_t(-2.0, 0.0), _t(1.0)]
    total, r, f = D.discriminator_loss(real, fake, "hinge")
    # real: mean(relu(1-x)) = [0.25, 2.0]; fake: mean(relu(1+x)) = [0.5, 2.0]
    assert [t.item() for t in r] == pytest.approx([0.25, 2.0])
    assert [t.item() for t in f] == pytest.approx([0.5, 2.0])
    assert total.item() == pytest.approx(4.75)
    assert total.dim() == 0
    g_total, g = D.generator_loss(fake, "hinge")
    assert [t.item() for t in g] == pytest.approx([2.0, 0.0])
    assert g_total.item() == pytest.approx(2.0)


def test_lsgan_values_and_average():
    real, fake = [_t(1.0, 0.0), _t(3.0)], [_t(0.5, -0.5), _t(2.0)]
    total, r, f = D.discriminator_loss(real, fake, "lsgan")
    assert [t.item() for t in r] == pytest.approx([0.5, 4.0])
    assert [t.item() for t in f] == pytest.approx([0.25, 4.0])
    assert total.item() == pytest.approx(8.75)
    avg, _, _ = D.discriminator_loss(real, fake, "lsgan", average=True)
    assert avg.item() == pytest.approx(8.75 / 2)
    g_total, g = D.GeneratorLoss("lsgan", average=True)(fake)
    assert [t.item() for t in g] == pytest.approx([1.25, 1.0])
    assert g_total.item() == pytest.approx(2.25 / 2)


def test_unknown_kind_and_mismatched_lists():
    with pytest.raises(ValueError):
        D.GeneratorLoss("wasserstein")
    with pytest.raises(ValueError):
        D.discriminator_loss([_t(1.0)], [_t(1.0), _t(2.0)])


def test_feature_matching_scale_average_detach():
    r = [[torch.zeros(1, 2, 3), torch.ones(1, 4)], [torch.zeros(2, 2)]]
    f = [[torch.ones(1, 2, 3), torch.ones(1, 4) * 3], [torch.full((2, 2), -1.0, requires_grad=True)]]
    assert D.feature_matching_loss(r, f).item() == pytest.approx(1 + 2 + 1)
    assert D.FeatureMatchingLoss(scale=2.0)(r, f).item() == pytest.approx(8.0)
    assert D.feature_matching_loss(r, f, average=True).item() == pytest.approx(2.0)
    real = torch.randn(1, 5, requires_grad=True)
    fake = torch.randn(1, 5, requires_grad=True)
    D.feature_matching_loss([[real]], [[fake]], detach_real=True).backward()
    assert real.grad is None and fake.grad is not None


def _librosa_hifigan_logmel(y, sr, n_fft, hop, win, n_mels):
    p = (n_fft - hop) // 2
    y = np.pad(y, (p, p), mode="reflect")
    spec = librosa.stft(y, n_fft=n_fft, hop_length=hop, win_length=win, window="hann", center=False)
    mag = np.sqrt(spec.real**2 + spec.imag**2 + 1e-9)
    fb = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels)
    return np.log(np.maximum(fb @ mag, 1e-5))


@pytest.mark.parametrize(("sr", "n_fft", "hop", "win"), [(24000, 1024, 240, 1024), (16000, 512, 120, 512)])
def test_hifigan_logmel_matches_librosa(sr, n_fft, hop, win):
    rng = np.random.default_rng(0)
    y = (0.3 * np.sin(2 * np.pi * 220 * np.arange(sr // 4) / sr) + 0.05 * rng.standard_normal(sr // 4))
    y = y.astype(np.float32)
    ref = _librosa_hifigan_logmel(y, sr, n_fft, hop, win, 80)
    mel = D.LogMelSpectrogram(D.MelConfig.hifigan(sr, n_fft, hop, win))
    ours = mel(torch.from_numpy(y)[None])[0].numpy()
    assert ours.shape == ref.shape
    assert ours.shape[1] == (len(y) + 2 * ((n_fft - hop) // 2) - n_fft) // hop + 1
    assert np.abs(ours - ref).max() <= 1e-4


def test_center_frame_count_and_bad_padding():
    mel = D.LogMelSpectrogram(D.MelConfig(sample_rate=16000, n_fft=400, hop_length=160, n_mels=40))
    assert mel(torch.randn(2, 1, 1600)).shape == (2, 40, 1600 // 160 + 1)
    with pytest.raises(ValueError):
        D.LogMelSpectrogram(D.MelConfig(padding="same"))


def test_multi_resolution_mel_loss_weights_and_gradient():
    torch.manual_seed(0)
    cfgs = [D.MelConfig(16000, 512, 128, n_mels=40), D.MelConfig(16000, 256, 64, n_mels=20)]
    y = torch.randn(2, 4000)
    y_hat = (y + 0.3 * torch.randn(2, 4000)).requires_grad_(True)
    loss = D.MultiResolutionMelLoss(cfgs, weights=[2.0, 0.5])
    terms = loss.terms(y_hat, y)
    total = loss(y_hat, y)
    assert total.item() == pytest.approx(2.0 * terms[0].item() + 0.5 * terms[1].item(), rel=1e-6)
    assert loss(y, y).item() == 0.0
    total.backward()
    assert y_hat.grad is not None and torch.isfinite(y_hat.grad).all() and y_hat.grad.abs().sum() > 0
    assert loss.state_dict() == {}  # buffers are not persistent
    with pytest.raises(ValueError):
        D.MultiResolutionMelLoss(cfgs, weights=[1.0])
    with pytest.raises(ValueError):
        D.MultiResolutionMelLoss([])


def test_hificodec_mel_loss_layout():
    loss = D.hificodec_mel_loss(16000, n_fft=1024, hop_length=320, win_length=1024)
    assert loss.weights == [45.0, 1.0, 1.0]
    got = [(m.config.n_fft, m.config.hop_length, m.config.win_length, m.config.n_mels) for m in loss.mels]
    assert got == [(1024, 320, 1024, 80), (512, 120, 512, 80), (256, 60, 256, 80)]
    assert all(m.config.mel_scale == "slaney" and m.config.padding == "hifigan" for m in loss.mels)
    y = 0.1 * torch.randn(1, 1, 8000)
    assert torch.isfinite(loss(y + 0.01, y))
