"""Analysis windows and mel filterbanks for :mod:`audiokit.features`."""

from __future__ import annotations

import math

import torch

from audiokit.features.config import FrontendConfig


def make_window(cfg: FrontendConfig, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The per-frame window, ``(N,)`` with N = ``cfg.frame_length``, computed in float64.

    For ``stft`` framing a ``win_length`` window is centred in an ``n_fft`` frame with
    zeros around it (as ``torch.stft`` does); for ``kaldi`` framing it spans the frame.
    ``povey`` is Kaldi's ``hann(periodic=False) ** 0.85``.
    """
    n = cfg.frame_window
    periodic = cfg.periodic_window
    if cfg.window == "hann":
        win = torch.hann_window(n, periodic=periodic, dtype=torch.float64)
    elif cfg.window == "hamming":
        win = torch.hamming_window(n, periodic=periodic, dtype=torch.float64)
    elif cfg.window == "povey":
        win = torch.hann_window(n, periodic=periodic, dtype=torch.float64).pow(0.85)
    else:  # rectangular
        win = torch.ones(n, dtype=torch.float64)
    frame = cfg.frame_length
    if frame > n:
        left = (frame - n) // 2
        win = torch.nn.functional.pad(win, (left, frame - n - left))
    return win.to(dtype)


def make_mel_filterbank(cfg: FrontendConfig) -> torch.Tensor:
    """Mel filterbank ``(n_fft // 2 + 1, n_mels)``, float32 (spectrum @ fb = mel)."""
    if cfg.mel_scale == "kaldi":
        return kaldi_mel_banks(cfg.n_mels, cfg.n_fft, cfg.sample_rate, cfg.f_min, cfg.mel_f_max)
    return mel_banks(cfg.n_mels, cfg.n_fft, cfg.sample_rate, cfg.f_min, cfg.mel_f_max,
                     scale=cfg.mel_scale, norm=cfg.mel_norm)


def hz_to_mel(freq: torch.Tensor, scale: str) -> torch.Tensor:
    """Hz -> mel: ``htk`` 2595 log10(1 + f/700); ``slaney`` linear below 1 kHz, log above."""
    if scale == "htk":
        return 2595.0 * torch.log10(1.0 + freq / 700.0)
    linear = freq / (200.0 / 3)
    log_part = 15.0 + torch.log(torch.clamp(freq, min=1e-10) / 1000.0) / (math.log(6.4) / 27.0)
    return torch.where(freq >= 1000.0, log_part, linear)


def mel_to_hz(mel: torch.Tensor, scale: str) -> torch.Tensor:
    """Inverse of :func:`hz_to_mel`."""
    if scale == "htk":
        return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)
    linear = mel * (200.0 / 3)
    log_part = 1000.0 * torch.exp((math.log(6.4) / 27.0) * (mel - 15.0))
    return torch.where(mel >= 15.0, log_part, linear)


def mel_banks(
    n_mels: int, n_fft: int, sample_rate: int, f_min: float, f_max: float,
    scale: str = "htk", norm: str | None = None,
) -> torch.Tensor:
    """Triangular mel filters ``(n_fft // 2 + 1, n_mels)``, built in float64, returned float32.

    Triangles are linear in Hz between ``n_mels + 2`` points equally spaced on the mel
    ``scale``; ``norm="slaney"`` divides each by its width (constant area), as
    ``librosa.filters.mel`` and ``torchaudio.functional.melscale_fbanks`` do.
    """
    freqs = torch.linspace(0.0, sample_rate / 2, n_fft // 2 + 1, dtype=torch.float64)
    lo, hi = (hz_to_mel(torch.tensor(float(f), dtype=torch.float64), scale) for f in (f_min, f_max))
    points = mel_to_hz(torch.linspace(float(lo), float(hi), n_mels + 2, dtype=torch.float64), scale)
    width = points.diff()  # (n_mels + 1,)
    rising = (freqs[:, None] - points[None, :-2]) / width[None, :-1]
    falling = (points[None, 2:] - freqs[:, None]) / width[None, 1:]
    banks = torch.clamp(torch.minimum(rising, falling), min=0.0)  # (n_freqs, n_mels)
    if norm == "slaney":
        banks = banks * (2.0 / (points[2:] - points[:-2]))[None, :]
    return banks.float()


def kaldi_mel_banks(
    n_mels: int, n_fft: int, sample_rate: int, f_min: float, f_max: float
) -> torch.Tensor:
    """Kaldi's triangular mel banks ``(n_fft // 2 + 1, n_mels)``, float32.

    Triangles are linear in Kaldi's mel scale ``1127 ln(1 + f / 700)``, with
    ``n_mels + 2`` equally spaced edges between ``mel(f_min)`` and ``mel(f_max)``; they
    cover FFT bins ``0 .. n_fft/2 - 1`` and the Nyquist bin gets weight 0 (no VTLN).
    Built by ``torchaudio.compliance.kaldi.get_mel_banks`` so that the float32 rounding
    of the bank edges is the same as in ``torchaudio.compliance.kaldi.fbank``
    (an own float64 construction differs by ~1e-5 per weight, ~2e-4 in log-mel).
    """
    from torchaudio.compliance.kaldi import get_mel_banks

    banks, _ = get_mel_banks(n_mels, n_fft, float(sample_rate), float(f_min), float(f_max),
                             100.0, -500.0, 1.0)  # VTLN edges unused at warp factor 1
    banks = torch.nn.functional.pad(banks, (0, 1))  # (n_mels, n_fft // 2 + 1): Nyquist bin
    return banks.T.contiguous().float()
