"""Voice activity and endpointing: where an utterance starts, and when it is over.

Endpoint rules (sherpa-onnx's three, same defaults). A rule fires when
``(decoded or not must_contain_nonsilence) and trailing_silence >= min_trailing_silence
and utterance_length >= min_utterance_length``:

* rule 1: 2.4 s of trailing silence, even if nothing was decoded;
* rule 2: 1.2 s of trailing silence after something was decoded;
* rule 3: 20 s maximum utterance length.

Voice activity is a per-sample mask from a VAD: :class:`EnergyVAD` (default; a sample
is loud when ``|x| >= threshold``), :class:`SileroVAD` (when the ``silero-vad`` package is
installed) or :class:`NoVAD` (everything is speech: endpoints only by rule 3 and at the end
of the input).

:class:`SpeechGate` turns the chunk stream into recogniser actions. Decisions, all made
at the sample level so that they do not depend on how the audio was cut into chunks:

* An utterance starts at the first loud sample of a *region* (loud samples separated by
  less than ``min_gap`` seconds) once the region spans ``min_speech`` seconds (isolated
  clicks never start one). Audio before it is not given to the model.
* Everything from the start on is fed to the model as it arrives (partials stay live), and
  the model state is remembered (*anchored*) after the last loud sample. At an endpoint the
  utterance is finalised from the anchor, so trailing silence never reaches the final
  result: the final text of ``[silence] speech [silence]`` equals the offline transcript of
  the speech trimmed to its first and last loud samples (:func:`speech_segments`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from audiokit.errors import AudiokitError


@dataclass(frozen=True)
class EndpointRule:
    """One endpoint rule (seconds)."""

    must_contain_nonsilence: bool
    min_trailing_silence: float
    min_utterance_length: float

    def fires(self, decoded: bool, trailing_silence: float, utterance_length: float) -> bool:
        return ((decoded or not self.must_contain_nonsilence)
                and trailing_silence >= self.min_trailing_silence
                and utterance_length >= self.min_utterance_length)


@dataclass(frozen=True)
class EndpointConfig:
    """The three rules; defaults are sherpa-onnx's."""

    rule1: EndpointRule = EndpointRule(False, 2.4, 0.0)
    rule2: EndpointRule = EndpointRule(True, 1.2, 0.0)
    rule3: EndpointRule = EndpointRule(False, 0.0, 20.0)

    @property
    def rules(self) -> dict[str, EndpointRule]:
        return {"rule1": self.rule1, "rule2": self.rule2, "rule3": self.rule3}

    def check(self, decoded: bool, trailing_silence: float, utterance_length: float) -> str | None:
        """The name of the first rule that fires, or None."""
        for name, rule in self.rules.items():
            if rule.fires(decoded, trailing_silence, utterance_length):
                return name
        return None


# ----------------------------------------------------------------------------- VADs
class EnergyVAD:
    """A sample is speech when ``|x| >= 10 ** (threshold_db / 20)`` (dB full scale)."""

    def __init__(self, threshold_db: float = -40.0) -> None:
        if threshold_db >= 0:
            raise AudiokitError(f"VAD threshold must be below 0 dBFS, got {threshold_db:g}")
        self.threshold = 10.0 ** (threshold_db / 20.0)

    def __call__(self, chunk: np.ndarray) -> np.ndarray:
        """``(t,)`` float -> ``(t,)`` bool."""
        return np.abs(chunk) >= self.threshold

    def reset(self) -> None:
        """No state."""


class NoVAD:
    """Everything is speech."""

    def __call__(self, chunk: np.ndarray) -> np.ndarray:
        return np.ones(len(chunk), dtype=bool)

    def reset(self) -> None:
        """No state."""


class SileroVAD:
    """Silero VAD (``pip install silero-vad``; model shipped in the wheel), 8 or 16 kHz.

    Each complete 32-ms frame gets the model's decision (``prob >= threshold``); samples
    of a frame still incomplete at the end of a chunk get the previous frame's decision.
    """

    def __init__(self, sample_rate: int, threshold: float = 0.5) -> None:
        try:
            from silero_vad import load_silero_vad
        except ImportError:
            raise AudiokitError("--vad silero needs the 'silero-vad' package: pip install silero-vad") from None
        if sample_rate not in (8000, 16000):
            raise AudiokitError(f"Silero VAD runs at 8000 or 16000 Hz, the model rate is {sample_rate}")
        self.model = load_silero_vad()
        self.sample_rate, self.threshold = sample_rate, threshold
        self.frame = 512 if sample_rate == 16000 else 256
        self.reset()

    def reset(self) -> None:
        self.model.reset_states()
        self._buf = np.zeros(0, np.float32)
        self._last = False

    def __call__(self, chunk: np.ndarray) -> np.ndarray:
        import torch

        mask = np.empty(len(chunk), dtype=bool)
        offset = -len(self._buf)  # chunk index of the buffered frame's first sample
        self._buf = np.concatenate([self._buf, np.asarray(chunk, np.float32)])
        n_frames = len(self._buf) // self.frame
        for k in range(n_frames):
            frame = torch.from_numpy(self._buf[k * self.frame:(k + 1) * self.frame].copy())
            with torch.inference_mode():
                self._last = float(self.model(frame, self.sample_rate)) >= self.threshold
            lo, hi = max(offset + k * self.frame, 0), max(offset + (k + 1) * self.frame, 0)
            mask[lo:hi] = self._last
        done = max(offset + n_frames * self.frame, 0)
        mask[done:] = self._last
        self._buf = self._buf[n_frames * self.frame:]
        return mask


def make_vad(kind: str, sample_rate: int, threshold_db: float = -40.0) -> EnergyVAD | SileroVAD | NoVAD:
    """``energy`` | ``silero`` | ``none``."""
    if kind == "energy":
        return EnergyVAD(threshold_db)
    if kind == "silero":
        return SileroVAD(sample_rate)
    if kind == "none":
        return NoVAD()
    raise AudiokitError(f"unknown VAD '{kind}' (choose energy, silero or none)")


# ----------------------------------------------------------------------------- gate
@dataclass
class Onset:
    """An utterance starts at global sample ``start``."""

    start: int


@dataclass
class Feed:
    """Give ``samples`` to the model; ``anchor``: they end with the utterance's last loud sample."""

    samples: np.ndarray
    anchor: bool


@dataclass
class Endpoint:
    """The utterance ``[start, end)`` (global samples, end after its last loud sample) is over."""

    start: int
    end: int
    reason: str


Event = Onset | Feed | Endpoint


@dataclass
class SpeechGate:
    """Chunks in, :class:`Onset` / :class:`Feed` / :class:`Endpoint` events out (see module doc).

    Args:
        sample_rate: rate of the chunks.
        vad: per-sample speech mask, ``vad(chunk (t,)) -> (t,) bool``.
        config: endpoint rules.
        min_speech: seconds a region must span before an utterance starts (0: at once).
        min_gap: silence (s) that separates two regions before an utterance has started.
    """

    sample_rate: int
    vad: Callable[[np.ndarray], np.ndarray] = field(default_factory=EnergyVAD)
    config: EndpointConfig = field(default_factory=EndpointConfig)
    min_speech: float = 0.1
    min_gap: float = 0.2

    def __post_init__(self) -> None:
        self.pos = 0  # global index of the next sample
        self.in_speech = False
        self.last_loud = -(1 << 62)  # global index of the last loud sample ("none")
        self.utt_start = 0
        self._cand_start: int | None = None
        self._cand: list[np.ndarray] = []  # samples [cand_start, pos) while idle

    def _n(self, seconds: float) -> int:
        return round(seconds * self.sample_rate)

    # ------------------------------------------------------------------ public
    def push(self, chunk: np.ndarray, decoded: Callable[[], bool] = lambda: True) -> Iterator[Event]:
        """Events for the next chunk ``(t,)``. Consume them in order: ``decoded()`` (is the
        current partial non-empty?) is asked after the preceding :class:`Feed` events were used."""
        chunk = np.asarray(chunk, dtype=np.float32)
        mask = np.asarray(self.vad(chunk), dtype=bool)
        i = 0
        while i < len(chunk):
            if self.in_speech:
                i = yield from self._speech(chunk, mask, i, decoded)
            else:
                i = yield from self._idle(chunk, mask, i)
        self.pos += len(chunk)

    def flush(self) -> Iterator[Event]:
        """End of input: close the open utterance (reason ``end``)."""
        if self.in_speech:
            yield self._endpoint("end")
        self._cand, self._cand_start = [], None

    # ------------------------------------------------------------------ idle
    def _idle(self, x: np.ndarray, m: np.ndarray, i: int) -> Iterator[Event]:
        pos0, n = self.pos, len(x)
        loud = np.flatnonzero(m[i:]) + i
        if loud.size == 0:
            if self._cand_start is not None:
                self._cand.append(x[i:])
                if pos0 + n - self.last_loud - 1 >= self._n(self.min_gap):
                    self._cand, self._cand_start = [], None
            return n
        g = pos0 + loud
        prev = np.concatenate([[self.last_loud], g[:-1]])
        brk = g - prev - 1 >= self._n(self.min_gap)
        if self._cand_start is None:
            brk[0] = True
        last_brk = np.maximum.accumulate(np.where(brk, np.arange(len(g)), -1))
        starts = np.where(last_brk >= 0, g[np.maximum(last_brk, 0)], self._cand_start or 0)
        ok = np.flatnonzero(g - starts >= self._n(self.min_speech))
        if ok.size == 0:
            s = int(starts[-1])
            if s >= pos0:
                self._cand = [x[s - pos0:]]
            else:
                self._cand.append(x[i:])
            self._cand_start, self.last_loud = s, int(g[-1])
            return n
        k = int(ok[0])
        start, end_local = int(starts[k]), int(loud[k]) + 1
        if start >= pos0:
            audio = x[start - pos0:end_local]
        else:
            audio = np.concatenate(self._cand + [x[i:end_local]])
        self._cand, self._cand_start = [], None
        self.in_speech, self.utt_start, self.last_loud = True, start, int(g[k])
        yield Onset(start)
        yield Feed(audio, anchor=True)
        return end_local

    # ------------------------------------------------------------------ speech
    def _next_endpoint(self, x: np.ndarray, m: np.ndarray, i: int, after: int) -> tuple[int, list[str]] | None:
        """Earliest global position ``p > after`` inside this chunk where a rule would fire
        if the decoder had output, with the names of the rules firing there (in order)."""
        pos0 = self.pos
        g = pos0 + i + np.flatnonzero(m[i:])
        lasts = np.concatenate([[self.last_loud], g])
        ends = np.concatenate([g, [pos0 + len(x)]])
        hits: dict[str, int] = {}
        for name, rule in self.config.rules.items():
            cand = np.maximum(lasts + 1 + self._n(rule.min_trailing_silence),
                              self.utt_start + self._n(rule.min_utterance_length))
            cand = np.maximum(cand, after + 1)
            valid = np.flatnonzero(cand <= ends)
            if valid.size:
                hits[name] = int(cand[valid[0]])
        if not hits:
            return None
        p = min(hits.values())
        return p, [name for name, q in hits.items() if q == p]

    def _feed(self, x: np.ndarray, m: np.ndarray, i: int, j: int) -> Iterator[Event]:
        """Feed local ``[i, j)``, split after its last loud sample (the anchor)."""
        loud = np.flatnonzero(m[i:j])
        if loud.size:
            cut = i + int(loud[-1]) + 1
            self.last_loud = self.pos + cut - 1
            yield Feed(x[i:cut], anchor=True)
            i = cut
        if j > i:
            yield Feed(x[i:j], anchor=False)

    def _speech(self, x: np.ndarray, m: np.ndarray, i: int, decoded: Callable[[], bool]) -> Iterator[Event]:
        pos0 = self.pos
        after = pos0 + i
        while True:
            found = self._next_endpoint(x, m, i, after)
            if found is None:
                yield from self._feed(x, m, i, len(x))
                return len(x)
            p, names = found
            yield from self._feed(x, m, i, p - pos0)
            i, after = p - pos0, p
            for name in names:
                if not self.config.rules[name].must_contain_nonsilence or decoded():
                    yield self._endpoint(name)
                    return i

    def _endpoint(self, reason: str) -> Endpoint:
        ev = Endpoint(self.utt_start, self.last_loud + 1, reason)
        self.in_speech = False
        self.last_loud = -(1 << 62)
        self._cand, self._cand_start = [], None
        return ev


def speech_segments(wav: np.ndarray, sample_rate: int, gate: SpeechGate | None = None,
                    chunk: int = 1600) -> list[tuple[int, int]]:
    """The ``[start, end)`` sample ranges :class:`SpeechGate` finalises on ``wav (T,)``
    (assuming the decoder always has output, i.e. rule 2 applies)."""
    gate = gate or SpeechGate(sample_rate)
    out: list[tuple[int, int]] = []
    for lo in range(0, len(wav), chunk):
        out += [(e.start, e.end) for e in gate.push(wav[lo:lo + chunk]) if isinstance(e, Endpoint)]
    out += [(e.start, e.end) for e in gate.flush() if isinstance(e, Endpoint)]
    return out
