"""Parity of the front-end presets with their reference implementations.

* vocos_mel_24k  vs vocos 0.1.0 ``MelSpectrogramFeatures`` (padding center and same).
* nemo_mel_80    vs the NeMo maths composed here from torch.stft + librosa.filters.mel
                 (no NeMo package offline).
* kaldi_fbank_80 vs ``torchaudio.compliance.kaldi.fbank`` on int16-scaled samples
                 (and kaldi-native-fbank when installed).

Kaldi log-mels of weak low-frequency bins (DC removal and pre-emphasis attenuate them
~30 dB on int16-scaled samples) are ill-conditioned in float32: torchaudio's own float32
fbank differs from its float64 result by up to ~2e-4 there. So the exact-maths check is
done in float64 (<= 1e-4; measured ~4e-15); the float32 check bounds bins >= 10 by 1e-4
and all bins by 1e-3. vocos and NeMo match within 1e-4 in float32 (measured 2e-5, 4e-5).
"""

from __future__ import annotations

import librosa
import pytest
import torch

from audiokit.features import MelFrontend


def noise(*shape: int, seed: int = 0, amp: float = 0.1) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)) * amp


def speechlike(n: int, sr: int, seed: int = 0) -> torch.Tensor:
    """Harmonics of a gliding 120-220 Hz pitch plus noise, amplitude ~0.3."""
    t = torch.arange(n, dtype=torch.float64) / sr
    f0 = 120 + 100 * t / t[-1]
    phase = 2 * torch.pi * torch.cumsum(f0, 0) / sr
    sig = sum(torch.sin(k * phase) / k for k in range(1, 30))
    return (0.1 * sig + noise(n, seed=seed, amp=0.02).double()).float()


# ----------------------------------------------------------------------------- vocos
@pytest.mark.parametrize("padding", ["center", "same"])
@pytest.mark.parametrize("n", [24000, 24000 + 77, 1025])
def test_vocos_mel_matches_vocos_feature_extractor(padding, n):
    from vocos.feature_extractors import MelSpectrogramFeatures

    x = torch.stack([noise(n, seed=1), speechlike(n, 24000)])
    ref = MelSpectrogramFeatures(padding=padding)(x)
    ours = MelFrontend("vocos_mel_24k", padding=padding)(x)
    assert ours.shape == ref.shape
    assert (ours - ref).abs().max() <= 1e-4


# ----------------------------------------------------------------------------- NeMo
def nemo_reference(x: torch.Tensor) -> torch.Tensor:
    """NeMo FilterbankFeatures at inference (dither 0, normalize off, pad_to 0)."""
    y = torch.cat([x[:, :1], x[:, 1:] - 0.97 * x[:, :-1]], dim=1)
    window = torch.hann_window(400, periodic=False, dtype=x.dtype)
    spec = torch.stft(y, n_fft=512, hop_length=160, win_length=400, window=window,
                      center=True, pad_mode="constant", return_complex=True)
    power = torch.view_as_real(spec).pow(2).sum(-1).sqrt().pow(2.0)
    fb = librosa.filters.mel(sr=16000, n_fft=512, n_mels=80, fmin=0.0, fmax=8000.0,
                             norm="slaney", htk=False)
    return torch.log(torch.from_numpy(fb).to(x.dtype) @ power + 2.0 ** -24)


@pytest.mark.parametrize("n", [16000, 16000 + 77, 3 * 1600 + 159])
def test_nemo_mel_matches_the_nemo_composition(n):
    fe = MelFrontend("nemo_mel_80").eval()
    x = torch.stack([noise(n, seed=2), speechlike(n, 16000)])
    ref = nemo_reference(x)
    ours = fe(x)
    assert ours.shape == ref.shape == (2, 80, n // 160 + 1)
    assert (ours - ref).abs().max() <= 1e-4
    ref64 = nemo_reference(x.double())
    assert (fe(x.double()) - ref64).abs().max() <= 1e-6


# ----------------------------------------------------------------------------- Kaldi
def kaldi_reference(x: torch.Tensor) -> torch.Tensor:
    """(B, T) in [-1, 1] -> (B, 80, F) with torchaudio's Kaldi fbank, per item."""
    from torchaudio.compliance import kaldi

    return torch.stack([
        kaldi.fbank(row[None] * 32768, num_mel_bins=80, dither=0.0).T for row in x
    ])


@pytest.mark.parametrize("n", [16000, 16000 + 333, 400, 559])
def test_kaldi_fbank_matches_torchaudio_in_float64(n):
    x = torch.stack([noise(n, seed=3), speechlike(n, 16000)]).double()
    ref = kaldi_reference(x)
    ours = MelFrontend("kaldi_fbank_80")(x)
    assert ours.shape == ref.shape == (2, 80, (n - 400) // 160 + 1)
    assert (ours - ref).abs().max() <= 1e-4


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kaldi_fbank_matches_torchaudio_in_float32(seed):
    x = torch.stack([noise(16000, seed=seed), speechlike(16000, 16000, seed=seed)])
    diff = (MelFrontend("kaldi_fbank_80")(x) - kaldi_reference(x)).abs()
    assert diff[:, 10:].max() <= 1e-4
    assert diff.max() <= 1e-3
    assert diff.median() <= 1e-6


def test_kaldi_fbank_matches_kaldi_native_fbank():
    knf = pytest.importorskip("kaldi_native_fbank")
    opts = knf.FbankOptions()
    opts.frame_opts.dither = 0
    opts.mel_opts.num_bins = 80
    x = speechlike(16000, 16000, seed=4)
    online = knf.OnlineFbank(opts)
    online.accept_waveform(16000, (x * 32768).tolist())
    online.input_finished()
    ref = torch.stack([torch.from_numpy(online.get_frame(i))
                       for i in range(online.num_frames_ready)]).T
    ours = MelFrontend("kaldi_fbank_80")(x)
    assert ours.shape == ref.shape
    diff = (ours - ref).abs()
    assert diff.max() <= 1e-3 and diff.median() <= 1e-5  # knf rounds in float32 C++
