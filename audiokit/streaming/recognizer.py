"""The live recognition loop: source -> speech gate -> model ``step`` -> display.

A streaming model (``audiokit.models.asr.StreamingASR`` or anything with the same
protocol) provides::

    model.sample_rate
    state = model.init_state(1)
    partials, state = model.step(chunk (1, t) float tensor, state)             # list[str]
    finals, state = model.step(empty (1, 0) chunk, state, final=True)         # flush

:class:`StreamingRecognizer` keeps one stream of it (sherpa's accept -> result ->
finalize -> reset), remembers the state after the utterance's last loud sample (the
*anchor*, see :mod:`audiokit.streaming.endpoint`) and measures the compute time of every
chunk. :func:`run_stream` is the whole loop; it returns the final utterances.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from audiokit.streaming.endpoint import Endpoint, Feed, Onset, SpeechGate


@dataclass
class Utterance:
    """A finalised utterance: text and its span in seconds from the start of the input."""

    text: str
    start: float
    end: float
    reason: str


@dataclass
class LatencyStats:
    """Compute time per chunk and the real-time factor (compute / audio duration)."""

    sample_rate: int
    times: list[float] = field(default_factory=list)
    samples: int = 0

    def add(self, seconds: float, n_samples: int) -> None:
        self.times.append(seconds)
        self.samples += n_samples

    @property
    def audio_seconds(self) -> float:
        return self.samples / self.sample_rate

    @property
    def rtf(self) -> float:
        return sum(self.times) / self.audio_seconds if self.samples else 0.0

    def summary(self) -> dict[str, float]:
        """``chunks, mean_ms, p50_ms, p95_ms, max_ms, audio_s, compute_s, rtf``."""
        t = np.asarray(self.times, dtype=np.float64) * 1000.0
        pick = (lambda f: float(f(t))) if t.size else (lambda f: 0.0)
        return {"chunks": float(t.size), "mean_ms": pick(np.mean), "p50_ms": pick(np.median),
                "p95_ms": pick(lambda a: np.percentile(a, 95)), "max_ms": pick(np.max),
                "audio_s": self.audio_seconds, "compute_s": float(t.sum() / 1000.0), "rtf": self.rtf}

    def format(self) -> str:
        s = self.summary()
        return (f"latency: {int(s['chunks'])} chunks, compute per chunk mean {s['mean_ms']:.1f} ms, "
                f"p50 {s['p50_ms']:.1f} ms, p95 {s['p95_ms']:.1f} ms, max {s['max_ms']:.1f} ms; "
                f"real-time factor {s['rtf']:.3f} ({s['audio_s']:.1f} s of audio in {s['compute_s']:.2f} s)")


class StreamingRecognizer:
    """One recognition stream over a streaming model (batch 1)."""

    def __init__(self, model: Any, **state_kwargs: Any) -> None:
        self.model = model
        self.sample_rate = int(model.sample_rate)
        self.state_kwargs = state_kwargs
        self._shared = _shared_objects(model)
        self.reset()

    def _tensor(self, samples: np.ndarray) -> Any:
        import torch

        return torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32))[None]

    def reset(self) -> None:
        """Start a new utterance."""
        self.state = self.model.init_state(1, **self.state_kwargs)
        self.text = ""
        self._anchor: tuple[Any, str] | None = None
        self.fed = 0

    def accept(self, samples: np.ndarray) -> str:
        """Feed ``(t,)`` samples; returns the partial hypothesis."""
        import torch

        if len(samples):
            with torch.inference_mode():
                texts, self.state = self.model.step(self._tensor(samples), self.state)
            self.text = texts[0]
            self.fed += len(samples)
        return self.text

    def mark_anchor(self) -> None:
        """Remember the current state: :meth:`finalize` will flush from here."""
        self._anchor = (copy.deepcopy(self.state, dict(self._shared)), self.text)

    def finalize(self, from_anchor: bool = True) -> str:
        """Flush the stream (from the anchor when one was marked) and return the final text.

        Call :meth:`reset` before feeding the next utterance.
        """
        import torch

        state = self.state
        if from_anchor and self._anchor is not None:
            state = self._anchor[0]
        if from_anchor and self._anchor is None and self.fed:
            return ""  # nothing loud was ever fed
        with torch.inference_mode():
            texts, self.state = self.model.step(self._tensor(np.zeros(0, np.float32)), state, final=True)
        self.text = texts[0]
        return self.text


def _shared_objects(model: Any) -> dict[int, Any]:
    """Deep-copy memo that keeps the model's modules, parameters and buffers shared: a
    state may reference them (a streaming front-end holds the model's feature extractor),
    and an anchor must copy the state, not the model."""
    modules = getattr(model, "modules", None)
    if not callable(modules):
        return {}
    shared: dict[int, Any] = {}
    for m in modules():
        shared[id(m)] = m
        for t in (*m.parameters(recurse=False), *m.buffers(recurse=False)):
            shared[id(t)] = t
    return shared


class _NullDisplay:
    def partial(self, text: str, start: float) -> None: ...
    def final(self, utt: Utterance) -> None: ...
    def close(self) -> None: ...


def run_stream(source: Iterable[np.ndarray], recognizer: StreamingRecognizer, gate: SpeechGate,
               display: Any = None, *, max_utterances: int | None = None,
               max_seconds: float | None = None, stats: LatencyStats | None = None) -> list[Utterance]:
    """Recognise ``source`` (chunks at the recogniser's rate) until it ends, ``max_seconds``
    of audio were read, ``max_utterances`` were finalised, or Ctrl-C (the open utterance
    is finalised in every case). Returns the utterances with non-empty text."""
    display = display or _NullDisplay()
    stats = stats if stats is not None else LatencyStats(recognizer.sample_rate)
    sr = recognizer.sample_rate
    finals: list[Utterance] = []
    onset = 0

    def handle(events: Iterable[Any]) -> bool:
        nonlocal onset
        for ev in events:
            if isinstance(ev, Onset):
                recognizer.reset()
                onset = ev.start
            elif isinstance(ev, Feed):
                recognizer.accept(ev.samples)
                if ev.anchor:
                    recognizer.mark_anchor()
            elif isinstance(ev, Endpoint):
                text = recognizer.finalize()
                recognizer.reset()
                if text.strip():
                    utt = Utterance(text, ev.start / sr, ev.end / sr, ev.reason)
                    finals.append(utt)
                    display.final(utt)
                    if max_utterances is not None and len(finals) >= max_utterances:
                        return True
        return False

    def decoded() -> bool:
        return bool(recognizer.text.strip())

    try:
        for chunk in source:
            t0 = time.perf_counter()
            done = handle(gate.push(chunk, decoded))
            stats.add(time.perf_counter() - t0, len(chunk))
            if done:
                return finals
            if gate.in_speech:
                display.partial(recognizer.text, onset / sr)
            if max_seconds is not None and gate.pos >= max_seconds * sr:
                break
    except KeyboardInterrupt:
        pass
    handle(gate.flush())
    return finals
