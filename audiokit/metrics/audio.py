"""Reference-based audio quality metrics: mel distance, PESQ (wide-band), STOI, code usage.

Conventions (codecs.md §10, the WavTokenizer evaluation scripts):

* every metric compares a reference ``ref`` and a degraded ``deg`` mono signal of the
  same rate; both are cut to the shorter length first (:func:`align`);
* :func:`pesq_wb` is ITU-T P.862.2 wide-band at **16 kHz** (signals at another rate are
  resampled with soxr first), so numbers are comparable with the published tables;
* :func:`stoi` is Taal et al.'s STOI (``pystoi``, which works at 10 kHz internally);
* :func:`mel_distance` is the vocos / WavTokenizer training objective: mean L1 distance of
  ``log(clamp(mel, 1e-7))`` (HTK mel, magnitude STFT, centre padding), by default
  100 mels, n_fft 1024, hop 256 at the given rate. Identical signals give exactly 0. With
  ``top_db`` only the reference's active frames count (mel power within ``top_db`` dB of its
  loudest frame): digitally silent reference frames sit at the log floor, so any faint noise a
  coder adds there costs up to ~10 nats per bin and can dominate the plain mean;
* :func:`codebook_usage`: perplexity (exp of the entropy of the code histogram) and the
  share of entries used, pooled over every code given.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

PESQ_RATE = 16000


def _mono(x: Any, name: str) -> np.ndarray:
    """``(T,)`` float64 numpy from numpy/torch ``(T,)``, ``(1, T)`` or ``(1, 1, T)``."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    arr = np.asarray(x, dtype=np.float64)
    arr = arr.reshape(-1) if arr.size == max(arr.shape or (0,)) else arr
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected mono audio, got shape {np.asarray(x).shape}")
    return arr


def align(ref: Any, deg: Any) -> tuple[np.ndarray, np.ndarray]:
    """Both signals as ``(T,)`` float64, cut to the shorter length."""
    r, d = _mono(ref, "ref"), _mono(deg, "deg")
    n = min(len(r), len(d))
    if n == 0:
        raise ValueError("empty signal")
    return r[:n], d[:n]


def mel_distance(ref: Any, deg: Any, sample_rate: int, *, n_fft: int = 1024, hop_length: int = 256,
                 n_mels: int = 100, top_db: float | None = None) -> float:
    """Mean L1 distance between log-mel spectrograms (lower is better; 0 for equal signals).

    ``top_db``: average only over frames whose reference mel power is within ``top_db`` dB of the
    reference's loudest frame (NaN when the reference is all digital silence).
    """
    import torch

    from audiokit.discriminators.mel import LogMelSpectrogram, MelConfig

    r, d = align(ref, deg)
    mel = LogMelSpectrogram(MelConfig(int(sample_rate), n_fft, hop_length, n_mels=n_mels))
    with torch.no_grad():
        x = torch.from_numpy(np.stack([r, d])).float()
        m = mel(x).double()  # (2, n_mels, frames), log magnitude
    diff = (m[0] - m[1]).abs()  # (n_mels, frames)
    if top_db is None:
        return float(diff.mean())
    level = 10.0 * torch.log10(torch.exp(2.0 * m[0]).mean(dim=0))  # (frames,) reference power, dB
    floor = 20.0 * math.log10(mel.config.log_floor) + 1e-3  # a frame at the log floor is silence
    active = (level >= level.max() - float(top_db)) & (level > floor)
    return float(diff[:, active].mean()) if bool(active.any()) else math.nan


def _at_rate(x: np.ndarray, sample_rate: int, target: int) -> np.ndarray:
    from audiokit.io.audio import resample

    return x if int(sample_rate) == target else resample(x, int(sample_rate), target)


def pesq_wb(ref: Any, deg: Any, sample_rate: int) -> float:
    """Wide-band PESQ (MOS-LQO, about 1.0 to 4.64) at 16 kHz; NaN when PESQ finds no speech."""
    from pesq import NoUtterancesError, pesq

    r, d = align(ref, deg)
    r = _at_rate(r, sample_rate, PESQ_RATE)
    d = _at_rate(d, sample_rate, PESQ_RATE)
    n = min(len(r), len(d))
    if not (np.abs(r[:n]).max() > 0 and np.abs(d[:n]).max() > 0):  # silence: nothing to rate
        return math.nan
    try:
        return float(pesq(PESQ_RATE, r[:n], d[:n], "wb"))
    except NoUtterancesError:
        return math.nan


def stoi(ref: Any, deg: Any, sample_rate: int, *, extended: bool = False) -> float:
    """STOI in [0, 1] (higher is better); ``extended`` gives ESTOI."""
    from pystoi import stoi as _stoi

    r, d = align(ref, deg)
    return float(_stoi(r, d, int(sample_rate), extended=extended))


def codebook_usage(codes: Any | Iterable[Any], codebook_size: int) -> dict[str, float]:
    """Usage of one codebook pooled over ``codes`` (an array or a list of arrays of indices).

    Returns ``perplexity`` (in [1, codebook_size]), ``used`` (distinct entries),
    ``used_fraction`` (used / codebook_size) and ``frames`` (codes counted).
    """
    if isinstance(codes, (list, tuple)):
        flat = [np.asarray(c.detach().cpu() if hasattr(c, "detach") else c).reshape(-1) for c in codes]
        arr = np.concatenate(flat) if flat else np.zeros(0, dtype=np.int64)
    else:
        arr = np.asarray(codes.detach().cpu() if hasattr(codes, "detach") else codes).reshape(-1)
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < 0 or arr.max() >= codebook_size):
        raise ValueError(f"codes outside [0, {codebook_size})")
    counts = np.bincount(arr, minlength=codebook_size).astype(np.float64)
    total = counts.sum()
    if total == 0:
        return {"perplexity": math.nan, "used": 0, "used_fraction": 0.0, "frames": 0}
    p = counts[counts > 0] / total
    used = int((counts > 0).sum())
    return {"perplexity": float(np.exp(-(p * np.log(p)).sum())), "used": used,
            "used_fraction": used / codebook_size, "frames": int(total)}
