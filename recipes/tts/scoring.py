"""Scores of the TTS recipe: DTW-aligned mel L1, mel-statistics distance, pocketsphinx WER.

* **Mel L1 (DTW)**: both signals -> F5 log-mel (24 kHz, 100 HTK mels, hop 256, floor 1e-5);
  frame cost = mean absolute difference over the mel bins; dynamic time warping (steps (1,0),
  (0,1), (1,1), equal weights) aligns the synthesized utterance with the real one (their lengths and
  timing differ); the score is the mean frame cost along the optimal path (0 = identical).
* **Mel-statistics L1**: mean absolute difference of the time-averaged log-mel vectors (the
  average spectral envelope; timing-free, a rough voice/channel similarity).
* **WER**: pocketsphinx (its bundled en-us acoustic model, trigram LM and CMUdict; 16 kHz) on the
  audio, scored with jiwer against the lower-cased transcript with punctuation removed.
"""

from __future__ import annotations

import re

import numpy as np


def dtw_path_cost(cost: np.ndarray) -> tuple[float, int]:
    """``(total cost, path length)`` of the best monotone path through ``cost (T1, T2)``.

    Each row is solved in closed form: ``D[i, j] = S_j + min_{k <= j}(a_k - S_k)`` with
    ``a_k = C[i, k] + min(D[i-1, k-1], D[i-1, k])`` and ``S`` the running sum of row ``i``.
    """
    n, m = cost.shape
    acc = np.empty((n, m))
    acc[0] = np.cumsum(cost[0])
    for i in range(1, n):
        diag = np.concatenate(([np.inf], acc[i - 1, :-1]))
        a = cost[i] + np.minimum(diag, acc[i - 1])
        s = np.cumsum(cost[i])
        acc[i] = s + np.minimum.accumulate(a - s)
    i, j, steps = n - 1, m - 1, 1
    while i > 0 or j > 0:
        if i == 0:
            j -= 1
        elif j == 0:
            i -= 1
        else:
            k = int(np.argmin((acc[i - 1, j - 1], acc[i - 1, j], acc[i, j - 1])))
            i, j = (i - 1, j - 1) if k == 0 else (i - 1, j) if k == 1 else (i, j - 1)
        steps += 1
    return float(acc[-1, -1]), steps


def dtw_mel_l1(a: np.ndarray, b: np.ndarray) -> float:
    """Mean L1 frame distance along the DTW path between log-mels ``a (T1, C)`` and ``b (T2, C)``."""
    if len(a) == 0 or len(b) == 0:
        return float("nan")
    cost = np.abs(a[:, None, :] - b[None, :, :]).mean(-1)
    total, steps = dtw_path_cost(cost)
    return total / steps


def mel_stats_l1(a: np.ndarray, b: np.ndarray) -> float:
    """L1 distance of the time-averaged log-mel vectors of ``a (T1, C)`` and ``b (T2, C)``."""
    return float(np.abs(a.mean(0) - b.mean(0)).mean())


def normalize_words(text: str) -> str:
    """Lower case, letters/digits/apostrophes only, single spaces."""
    return " ".join(re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split())


def word_errors(ref: str, hyp: str) -> tuple[int, int]:
    """``(substitutions + deletions + insertions, reference words)`` (jiwer)."""
    import jiwer

    ref, hyp = normalize_words(ref), normalize_words(hyp)
    if not ref:
        return len(hyp.split()), 0
    out = jiwer.process_words(ref, hyp)
    return out.substitutions + out.deletions + out.insertions, len(ref.split())


class PocketSphinx:
    """Open-vocabulary English recogniser (``pocketsphinx`` wheel with its bundled en-us model)."""

    RATE = 16000

    def __init__(self) -> None:
        from audiokit.errors import ConfigError

        try:
            from pocketsphinx import Decoder
        except ImportError:
            raise ConfigError("asr 'pocketsphinx' needs the pocketsphinx package (pip install pocketsphinx) "
                              "or set asr=none") from None
        self.decoder = Decoder(samprate=self.RATE, loglevel="FATAL")

    def transcribe(self, wav: np.ndarray, sample_rate: int) -> str:
        """``wav (T,)`` float in [-1, 1] at ``sample_rate`` -> lower-case words."""
        from audiokit.io.audio import resample

        x = resample(np.asarray(wav, dtype=np.float32), sample_rate, self.RATE)
        pcm = (np.clip(x, -1.0, 1.0) * 32767).astype("<i2").tobytes()
        self.decoder.start_utt()
        self.decoder.process_raw(pcm, full_utt=True)
        self.decoder.end_utt()
        hyp = self.decoder.hyp()
        return normalize_words(hyp.hypstr if hyp is not None else "")
