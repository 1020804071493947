"""Score codecs on held-out audio: per-item metrics, per-set means, a Markdown table.

A *system* is anything that maps a mono signal at rate ``sr`` to its reconstruction at the
same rate (and optionally reports its codes). :func:`neural_system` wraps an audiokit
:class:`~audiokit.models.codec.base.Codec` (one file per call, as WavTokenizer is not
batch-invariant); :class:`Codec2` wraps the classical Codec 2 coder of the Debian
``codec2`` package (``c2enc`` / ``c2dec``, 8 kHz narrow-band; audio is resampled to 8 kHz
and back).

Every system is scored on the same reference signals at the codec rate: mel distance at
that rate (over all frames, and over the reference's active frames only: within
:data:`ACTIVE_TOP_DB` dB of its loudest), PESQ-wb at 16 kHz, STOI (see :mod:`audiokit.metrics.audio`).
"""

from __future__ import annotations

import math
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from audiokit.errors import AudiokitError
from audiokit.metrics.audio import codebook_usage, mel_distance, pesq_wb, stoi

#: frames within this many dB of an utterance's loudest count as active for ``mel_active``
ACTIVE_TOP_DB = 40.0

#: ``wav (T,) -> (wav_hat (T',), codes or None)``
Reconstruct = Callable[[np.ndarray], tuple[np.ndarray, Any]]


@dataclass
class System:
    """A named coder with its bitrate (bit/s) and, for neural codecs, its codebook size and
    token rate (codes per second over all codebooks)."""

    name: str
    bitrate: float
    run: Reconstruct
    codebook_size: int | None = None
    note: str = ""
    tokens_per_s: float | None = None


@dataclass
class SetScore:
    """Mean metrics of one system on one set (NaN-free means; ``pesq_items`` counts rated items;
    ``mel_active``: mel distance over active reference frames, NaN in scores made before it existed)."""

    system: str
    set: str
    items: int
    mel: float
    pesq: float
    pesq_items: int
    stoi: float
    usage: dict[str, float] = field(default_factory=dict)
    mel_active: float = math.nan


def neural_system(name: str, codec: Any, note: str = "") -> System:
    """A :class:`System` for an audiokit codec (``encode``/``decode``, one file per call)."""
    import torch

    def run(wav: np.ndarray) -> tuple[np.ndarray, Any]:
        x = torch.from_numpy(np.ascontiguousarray(wav, dtype=np.float32)).view(1, 1, -1)
        codes = codec.encode(x)
        y = codec.decode(codes)[0, 0, : x.shape[-1]]
        return y.float().cpu().numpy(), codes.cpu().numpy()

    tokens = float(codec.frame_rate * codec.n_codebooks)
    return System(name, tokens * math.log2(codec.codebook_size), run, codec.codebook_size, note, tokens)


class Codec2:
    """Codec 2 round trip through ``c2enc MODE in.raw out.bit`` and ``c2dec MODE out.bit out.raw``.

    Args:
        mode: a Codec 2 mode, e.g. "700C" (700 bit/s) or "1200".
        sample_rate: rate of the signals given to :meth:`__call__` (resampled to 8 kHz and back).
    """

    RATE = 8000

    def __init__(self, mode: str, sample_rate: int) -> None:
        for prog in ("c2enc", "c2dec"):
            if shutil.which(prog) is None:
                raise AudiokitError(f"{prog} not found; install the Debian package 'codec2' "
                                    "(or set baseline: none)")
        self.mode, self.sample_rate = str(mode), int(sample_rate)
        self.bits = 0
        self.seconds = 0.0

    def __call__(self, wav: np.ndarray) -> tuple[np.ndarray, None]:
        from audiokit.io.audio import resample

        x = resample(np.asarray(wav, dtype=np.float32), self.sample_rate, self.RATE)
        pcm = (np.clip(x, -1.0, 1.0) * 32767.0).astype("<i2")
        with tempfile.TemporaryDirectory(prefix="codec2-") as tmp:
            raw, bit, out = Path(tmp) / "in.raw", Path(tmp) / "out.bit", Path(tmp) / "out.raw"
            raw.write_bytes(pcm.tobytes())
            for cmd in (["c2enc", self.mode, str(raw), str(bit)], ["c2dec", self.mode, str(bit), str(out)]):
                proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
                if proc.returncode != 0:
                    raise AudiokitError(f"{' '.join(cmd[:2])} failed: {proc.stderr.strip()[:200]}")
            self.bits += 8 * bit.stat().st_size
            self.seconds += len(pcm) / self.RATE
            y = np.frombuffer(out.read_bytes(), dtype="<i2").astype(np.float32) / 32768.0
        return resample(y, self.RATE, self.sample_rate)[: len(wav)], None

    @property
    def measured_bitrate(self) -> float:
        """Bits written per second of audio so far (NaN before the first call)."""
        return self.bits / self.seconds if self.seconds else math.nan


def codec2_system(mode: str, sample_rate: int, nominal: float) -> System:
    """A :class:`System` for a Codec 2 mode (``nominal`` bit/s until measured)."""
    coder = Codec2(mode, sample_rate)
    return System(f"codec2 {mode}", nominal, coder, None, "Debian codec2, 8 kHz narrow-band")


def score_set(system: System, set_name: str, signals: Sequence[np.ndarray], sample_rate: int) -> SetScore:
    """Run ``system`` on every signal and average the metrics."""
    mels, actives, pesqs, stois, codes = [], [], [], [], []
    for ref in signals:
        hat, c = system.run(ref)
        n = min(len(ref), len(hat))
        mels.append(mel_distance(ref[:n], hat[:n], sample_rate))
        actives.append(mel_distance(ref[:n], hat[:n], sample_rate, top_db=ACTIVE_TOP_DB))
        pesqs.append(pesq_wb(ref[:n], hat[:n], sample_rate))
        stois.append(stoi(ref[:n], hat[:n], sample_rate))
        if c is not None:
            codes.append(c)
    rated = [p for p in pesqs if not math.isnan(p)]
    usage = codebook_usage(codes, system.codebook_size) if codes and system.codebook_size else {}
    active = [a for a in actives if not math.isnan(a)]
    return SetScore(system.name, set_name, len(signals), float(np.mean(mels)),
                    float(np.mean(rated)) if rated else math.nan, len(rated), float(np.mean(stois)), usage,
                    float(np.mean(active)) if active else math.nan)


def _fmt(x: float, digits: int = 3) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def results_table(scores: Sequence[SetScore], bitrates: dict[str, float],
                  tokens: dict[str, float | None] | None = None) -> str:
    """Markdown table: one row per (system, set); ``tokens``: system -> tokens/s (None: "–")."""
    tokens = tokens or {}
    lines = [("| system | bit/s | tokens/s | set | items | mel distance ↓ | mel, active frames ↓ | PESQ-wb ↑ "
              "| STOI ↑ | code perplexity | codes used |"),
             "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for s in scores:
        used = f"{s.usage['used']} ({100 * s.usage['used_fraction']:.1f} %)" if s.usage else "–"
        tok = tokens.get(s.system)
        tok = "–" if tok is None else f"{tok:.0f}"
        lines.append(f"| {s.system} | {bitrates[s.system]:.0f} | {tok} | {s.set} | {s.items} | {_fmt(s.mel)} | "
                     f"{_fmt(s.mel_active)} | {_fmt(s.pesq, 2)} | {_fmt(s.stoi)} | {_fmt(s.usage.get('perplexity', math.nan), 1)} | "
                     f"{used} |")
    return "\n".join(lines) + "\n"
