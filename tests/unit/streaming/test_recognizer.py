"""The recognition loop: anchoring, endpoints, stop conditions, latency statistics, real model."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import soundfile as sf

from audiokit.streaming.display import Display
from audiokit.streaming.endpoint import NoVAD, SpeechGate, speech_segments
from audiokit.streaming.recognizer import (
    LatencyStats,
    StreamingRecognizer,
    Utterance,
    run_stream,
)
from audiokit.streaming.sources import ArraySource
from audiokit.streaming.transcriber import load_asr, transcribe_batch
from tests.unit.streaming._helpers import SR, espeak, tiny_asr_folder, tone_bursts


class CountingModel:
    """Fake streaming model: the hypothesis is the number of samples received; ``final``
    adds ``!``. The state is changed in place, as :class:`StreamingASR` does."""

    sample_rate = SR

    def init_state(self, batch: int = 1):
        return {"n": 0}

    def step(self, chunk, state, final=False):
        state["n"] += int(chunk.shape[1])
        return [f"{state['n']}{'!' if final else ''}"], state


class Recorder:
    def __init__(self):
        self.partials, self.finals = [], []

    def partial(self, text, start):
        self.partials.append(text)

    def final(self, utt):
        self.finals.append(utt)


def test_finals_exclude_trailing_silence_and_count_every_chunk():
    wav = tone_bursts([(0.5, 0), (0.6, 1), (2.0, 0), (0.4, 1), (0.3, 0)])
    (s1, e1), (s2, e2) = speech_segments(wav, SR)
    rec, shown = StreamingRecognizer(CountingModel()), Recorder()
    stats = LatencyStats(SR)
    finals = run_stream(ArraySource(wav, SR), rec, SpeechGate(SR), shown, stats=stats)
    assert [(u.text, u.reason) for u in finals] == [(f"{e1 - s1}!", "rule2"), (f"{e2 - s2}!", "end")]
    assert finals[0].start == pytest.approx(s1 / SR) and finals[1].end == pytest.approx(e2 / SR)
    assert shown.finals == finals
    # partials grew past the anchor (trailing silence was fed live) before the final cut it off
    assert max(int(p) for p in shown.partials if p.isdigit()) > e1 - s1
    assert len(stats.times) == -(-len(wav) // 1600) and stats.samples == len(wav)
    summary = stats.summary()
    assert summary["chunks"] == len(stats.times) and 0 < summary["p50_ms"] <= summary["p95_ms"] <= summary["max_ms"]
    assert summary["rtf"] == pytest.approx(sum(stats.times) / (len(wav) / SR))
    assert "real-time factor" in stats.format()


def test_stop_after_max_utterances_or_seconds_and_on_ctrl_c():
    wav = tone_bursts([(0.2, 0), (0.3, 1), (1.5, 0), (0.3, 1), (1.5, 0), (0.3, 1)])
    rec = StreamingRecognizer(CountingModel())
    assert len(run_stream(ArraySource(wav, SR), rec, SpeechGate(SR), max_utterances=1)) == 1
    assert len(run_stream(ArraySource(wav, SR), rec, SpeechGate(SR), max_seconds=0.6)) == 1  # closed at the end

    def interrupted():
        yield from list(ArraySource(wav, SR))[:4]
        raise KeyboardInterrupt

    finals = run_stream(interrupted(), StreamingRecognizer(CountingModel()), SpeechGate(SR))
    assert [u.reason for u in finals] == ["end"]


def test_display_modes():
    utt = Utterance("hello world", 1.2, 3.456, "rule2")
    out = io.StringIO()
    d = Display(out, "plain")
    for text in ("hel", "hel", "hello"):
        d.partial(text, 1.2)
    d.final(utt)
    assert out.getvalue() == "... hel\n... hello\n[1.20-3.46] hello world\n"
    out = io.StringIO()
    d = Display(out, "jsonl")
    d.partial("hel", 1.2)
    d.final(utt)
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    assert lines == [{"type": "partial", "text": "hel", "start": 1.2},
                     {"type": "final", "text": "hello world", "start": 1.2, "end": 3.456, "reason": "rule2"}]
    out = io.StringIO()
    d = Display(out, "tty")
    d.partial("hel", 0)
    d.final(utt)
    d.partial("x", 0)
    d.close()
    assert out.getvalue() == "\r\033[K... hel\r\033[K[   1.20 -    3.46] hello world\n\r\033[K... x\r\033[K"
    out = io.StringIO()
    Display(out, "auto", partials=False).partial("x", 0)
    assert out.getvalue() == ""


# ----------------------------------------------------------------------------- real model
@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    d = tmp_path_factory.mktemp("speech")
    wav, sr = sf.read(espeak("testing one two three", d / "utt.wav"), dtype="float32")
    assert sr == SR
    return wav


@pytest.mark.parametrize("decoder_type, bias", [("ctc", 2.0), ("hybrid", 3.0)])
def test_streamed_final_equals_offline_transcript_of_the_speech(tmp_path, speech, decoder_type, bias):
    model = load_asr(str(tiny_asr_folder(tmp_path, decoder_type=decoder_type, blank_bias=bias)))
    (s, e), = speech_segments(speech, SR)
    tight = speech[s:e]
    offline = transcribe_batch(model, [tight])[0].text
    assert offline and offline != transcribe_batch(model, [speech])[0].text  # trimming matters to this model
    live = np.concatenate([np.zeros(SR // 2, np.float32), speech, np.zeros(2 * SR, np.float32)])
    for block_ms in (100, 37):
        finals = run_stream(ArraySource(live, SR, block_ms=block_ms), StreamingRecognizer(model), SpeechGate(SR))
        assert [(u.text, u.reason) for u in finals] == [(offline, "rule2")]
    # without a VAD the whole input is one utterance, equal to the offline transcript of it all
    finals = run_stream(ArraySource(speech, SR), StreamingRecognizer(model), SpeechGate(SR, NoVAD(), min_speech=0))
    assert [u.text for u in finals] == [transcribe_batch(model, [speech])[0].text]
