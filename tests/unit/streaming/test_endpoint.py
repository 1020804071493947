"""Endpoint rules, VADs and the speech gate (sample-exact, chunking-independent decisions)."""

from __future__ import annotations

import numpy as np
import pytest

from audiokit.errors import AudiokitError
from audiokit.streaming.endpoint import (
    Endpoint,
    EndpointConfig,
    EndpointRule,
    EnergyVAD,
    Feed,
    NoVAD,
    Onset,
    SpeechGate,
    make_vad,
    speech_segments,
)
from tests.unit.streaming._helpers import SR, tone_bursts


def run_gate(wav: np.ndarray, sizes, gate: SpeechGate | None = None, decoded: bool = True):
    """Push ``wav`` in chunks of the given sizes (cycled); return (events, fed audio per utterance)."""
    gate = gate or SpeechGate(SR)
    events, utts, cur = [], [], []
    pos, k = 0, 0
    while pos < len(wav):
        n = sizes[k % len(sizes)]
        k += 1
        for ev in gate.push(wav[pos:pos + n], lambda: decoded):
            events.append(ev)
            if isinstance(ev, Feed):
                cur.append(ev.samples)
            elif isinstance(ev, Endpoint):
                utts.append(np.concatenate(cur) if cur else np.zeros(0, np.float32))
                cur = []
        pos += n
    for ev in gate.flush():
        events.append(ev)
        utts.append(np.concatenate(cur) if cur else np.zeros(0, np.float32))
    return events, utts


def endpoints(events):
    return [(e.start, e.end, e.reason) for e in events if isinstance(e, Endpoint)]


def test_rules_have_sherpa_defaults_and_semantics():
    cfg = EndpointConfig()
    assert (cfg.rule1.min_trailing_silence, cfg.rule2.min_trailing_silence, cfg.rule3.min_utterance_length) == \
        (2.4, 1.2, 20.0)
    assert cfg.check(decoded=False, trailing_silence=1.5, utterance_length=3.0) is None
    assert cfg.check(decoded=True, trailing_silence=1.5, utterance_length=3.0) == "rule2"
    assert cfg.check(decoded=False, trailing_silence=2.5, utterance_length=3.0) == "rule1"
    assert cfg.check(decoded=True, trailing_silence=0.0, utterance_length=20.0) == "rule3"


def test_energy_vad_threshold_and_errors():
    vad = EnergyVAD(-20.0)  # 0.1
    assert vad(np.array([0.0, 0.05, -0.1, 0.2], np.float32)).tolist() == [False, False, True, True]
    with pytest.raises(AudiokitError):
        EnergyVAD(3.0)
    with pytest.raises(AudiokitError, match="unknown VAD"):
        make_vad("bogus", SR)
    assert NoVAD()(np.zeros(5)).all()


def test_utterance_spans_loud_samples_exactly():
    wav = tone_bursts([(0.5, 0), (0.6, 1), (2.0, 0)])
    events, utts = run_gate(wav, [1600])
    (start, end, reason), = endpoints(events)
    loud = np.flatnonzero(np.abs(wav) >= 10 ** (-40 / 20))
    assert (start, end) == (loud[0], loud[-1] + 1)
    assert reason == "rule2"
    # leading silence is never fed; the onset Feed ends with a loud sample (anchor)
    feeds = [e for e in events if isinstance(e, Feed)]
    assert feeds[0].anchor and abs(feeds[0].samples[0]) >= 0.01
    assert np.array_equal(utts[0][: end - start], wav[start:end])
    onset = next(e for e in events if isinstance(e, Onset))
    assert onset.start == start


@pytest.mark.parametrize("sizes", [[1600], [160], [37, 1000, 1], [16000 * 10]])
def test_decisions_do_not_depend_on_chunking(sizes):
    wav = tone_bursts([(0.3, 0), (0.4, 1), (0.5, 0), (0.3, 1), (1.5, 0), (0.2, 1), (3.0, 0)])
    ref_events, ref_utts = run_gate(wav, [1600])
    events, utts = run_gate(wav, sizes)
    assert endpoints(events) == endpoints(ref_events)
    assert len(endpoints(events)) == 2  # the 0.5 s pause does not end the first utterance
    for a, b in zip(utts, ref_utts):
        assert np.array_equal(a, b)


def test_rule2_needs_decoded_output_else_rule1():
    wav = tone_bursts([(0.2, 0), (0.5, 1), (3.0, 0)])
    yes = endpoints(run_gate(wav, [1600], decoded=True)[0])
    no = endpoints(run_gate(wav, [1600], decoded=False)[0])
    last_loud = yes[0][1]
    assert yes[0][2] == "rule2" and no[0][2] == "rule1"
    # the endpoint is declared exactly 1.2 s / 2.4 s after the last loud sample
    gate = SpeechGate(SR)
    fed_until = []
    for ev in gate.push(wav, lambda: True):
        if isinstance(ev, Feed):
            fed_until.append(len(ev.samples))
    assert yes[0][0] + sum(fed_until) == last_loud + round(1.2 * SR)
    assert no[0][1] == last_loud


def test_rule3_cuts_long_speech_at_max_length():
    wav = tone_bursts([(0.1, 0), (25.0, 1), (2.0, 0)])
    eps = endpoints(run_gate(wav, [16000])[0])
    assert eps[0][2] == "rule3"
    assert eps[0][1] - eps[0][0] <= 20 * SR and eps[0][1] > eps[0][0] + 20 * SR - 100
    assert eps[1][2] == "rule2" and eps[1][0] >= eps[0][0] + 20 * SR


def test_clicks_and_short_blips_do_not_start_an_utterance():
    wav = np.zeros(3 * SR, np.float32)
    wav[[1000, 9000, 20000]] = 0.9  # isolated clicks, far apart
    wav[30000:30000 + 400] = 0.5  # a 25 ms blip (< min_speech 0.1 s)
    events, _ = run_gate(wav, [1600])
    assert events == []


def test_no_vad_gives_the_whole_input():
    wav = tone_bursts([(0.5, 0), (0.5, 1), (0.5, 0)])
    gate = SpeechGate(SR, NoVAD(), min_speech=0.0)
    events, utts = run_gate(wav, [1600], gate)
    assert endpoints(events) == [(0, len(wav), "end")]
    assert np.array_equal(utts[0], wav)


def test_speech_segments_is_a_fixed_point_of_trimming():
    rng = np.random.default_rng(0)
    wav = tone_bursts([(0.4, 0), (0.3, 1), (0.2, 0), (0.4, 1), (0.6, 0)])
    wav[:2000] += rng.normal(0, 0.002, 2000).astype(np.float32)  # quiet noise before the speech
    (s, e), = speech_segments(wav, SR)
    assert speech_segments(wav[s:e], SR) == [(0, e - s)]
    # custom rules change where utterances end
    short = SpeechGate(SR, config=EndpointConfig(rule2=EndpointRule(True, 0.1, 0.0)))
    assert len(speech_segments(wav, SR, short)) == 2
