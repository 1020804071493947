"""Audio quality metrics: identical signals score perfectly, degraded ones worse."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from audiokit.metrics import align, codebook_usage, mel_distance, pesq_wb, stoi


def speechlike(sr: int, seconds: float = 2.0, seed: int = 0) -> np.ndarray:
    """A voiced, amplitude-modulated harmonic signal with pauses (PESQ needs speech-like input)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(sr * seconds)) / sr
    f0 = 120 + 30 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    voiced = sum(np.sin(k * phase) / k for k in range(1, 20))
    envelope = np.clip(np.sin(2 * np.pi * 1.5 * t), 0, None) ** 0.5
    return (0.3 * voiced * envelope + 0.003 * rng.standard_normal(len(t))).astype(np.float32)


@pytest.mark.parametrize("sr", [16000, 24000])
def test_identical_signals_score_perfectly(sr):
    x = speechlike(sr)
    assert mel_distance(x, x, sr) == 0.0
    assert pesq_wb(x, x, sr) > 4.4
    assert stoi(x, x, sr) > 0.99


def test_noise_scores_worse_and_more_noise_worse_still():
    sr = 16000
    x = speechlike(sr)
    rng = np.random.default_rng(1)
    light = x + 0.02 * rng.standard_normal(len(x)).astype(np.float32)
    heavy = x + 0.2 * rng.standard_normal(len(x)).astype(np.float32)
    assert 0 < mel_distance(x, light, sr) < mel_distance(x, heavy, sr)
    assert pesq_wb(x, heavy, sr) < pesq_wb(x, light, sr) < 4.4
    assert stoi(x, heavy, sr) < stoi(x, light, sr) < 0.999


def test_align_cuts_to_shorter_and_accepts_torch_shapes():
    x = speechlike(16000)
    r, d = align(torch.from_numpy(x).view(1, 1, -1), x[:-100])
    assert r.shape == d.shape == (len(x) - 100,)
    assert mel_distance(torch.from_numpy(x)[None], x[:-100], 16000) == 0.0
    with pytest.raises(ValueError):
        align(np.zeros((2, 10)), np.zeros(10))


def test_silence_gives_nan_pesq_not_an_exception():
    z = np.zeros(32000, dtype=np.float32)
    assert math.isnan(pesq_wb(z, z, 16000))


def test_codebook_usage():
    uniform = codebook_usage(np.arange(16).repeat(3), 16)
    assert uniform["perplexity"] == pytest.approx(16.0)
    assert uniform["used"] == 16 and uniform["used_fraction"] == 1.0 and uniform["frames"] == 48
    single = codebook_usage([torch.zeros(2, 1, 5, dtype=torch.long), np.zeros(3)], 8)
    assert single["perplexity"] == pytest.approx(1.0) and single["used"] == 1 and single["frames"] == 13
    with pytest.raises(ValueError):
        codebook_usage(np.array([8]), 8)


def test_mel_distance_on_active_frames_ignores_noise_in_digital_silence():
    sr = 16000
    x = speechlike(sr, seconds=1.0)
    ref = np.concatenate([np.zeros(sr, np.float32), x, np.zeros(sr, np.float32)])  # 1 s of digital silence each side
    hiss = 1e-4 * np.random.default_rng(2).standard_normal(len(ref)).astype(np.float32)
    deg = ref + hiss * (ref == 0)  # faint noise only where the reference is silent
    full, active = mel_distance(ref, deg, sr), mel_distance(ref, deg, sr, top_db=40)
    assert full > 1.0  # silent frames dominate the plain mean
    assert active < 0.2 * full
    assert mel_distance(ref, ref, sr, top_db=40) == 0.0
    noisy = ref + 0.05 * np.random.default_rng(3).standard_normal(len(ref)).astype(np.float32)
    assert mel_distance(ref, noisy, sr, top_db=40) > active  # damage to the speech itself still counts
    assert math.isnan(mel_distance(np.zeros(sr, np.float32), hiss[:sr], sr, top_db=40))
