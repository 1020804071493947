"""``audiokit stream --mic`` against a virtual microphone (PulseAudio pipe source), headless.

Acceptance: speaking an espeak-ng utterance into the virtual microphone gives, as the final
result, exactly what ``audiokit transcribe`` gives for the same utterance trimmed to its speech
(the endpointer cuts the silence around it; the capture is bit-exact).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf

from audiokit.streaming.endpoint import speech_segments
from tests.unit.streaming._helpers import SR, espeak, have, tiny_asr_folder

pytestmark = pytest.mark.skipif(not have("pulseaudio", "espeak-ng", "sox"),
                                reason="needs pulseaudio, espeak-ng and sox (Debian packages)")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("vmic")
    utt = espeak("testing one two three", d / "utt.wav")
    wav, _ = sf.read(utt, dtype="int16")
    (s, e), = speech_segments(wav.astype(np.float32) / 32768, SR)
    tight = d / "tight.wav"
    sf.write(tight, wav[s:e], SR, subtype="PCM_16")
    return {"model": str(tiny_asr_folder(d)), "utt": wav, "tight": tight}


@pytest.fixture
def mic():
    from audiokit.streaming.devices import reinit_portaudio
    from audiokit.streaming.virtual_mic import VirtualMic

    with VirtualMic(rate=SR) as m:
        reinit_portaudio()
        yield m
    assert m.proc.poll() is not None  # the server is gone
    assert "PULSE_SERVER" not in os.environ or not os.environ["PULSE_SERVER"].endswith(str(m.socket))
    reinit_portaudio()


def _env() -> dict[str, str]:
    return dict(os.environ, OMP_NUM_THREADS="1")


def test_mic_source_captures_the_injected_samples_exactly(mic):
    from audiokit.streaming.sources import MicSource

    x = (np.sin(np.arange(SR) / 7.0) * 12000).astype(np.int16)
    x[0] = 1000
    src = MicSource("pulse", SR)
    assert src.capture_rate == SR
    got, t0 = [], time.monotonic()
    with src:
        for chunk in src:
            if not got:
                mic.inject(x)
            got.append(chunk)
            if time.monotonic() - t0 > 2.0:
                break
    rec = np.round(np.concatenate(got) * 32768).astype(np.int16)
    start = int(np.flatnonzero(rec == 1000)[0])
    assert np.array_equal(rec[start:start + len(x)], x)
    assert src.dropped_blocks == 0


def test_stream_mic_final_equals_transcribe(mic, files):
    offline = subprocess.run([sys.executable, "-m", "audiokit", "transcribe", str(files["tight"]),
                              "--model", files["model"]], capture_output=True, text=True, env=_env(), timeout=120,
                             check=False)
    assert offline.returncode == 0, offline.stderr
    expected = offline.stdout.split("\t", 1)[1].rstrip("\n")
    proc = subprocess.Popen([sys.executable, "-m", "audiokit", "stream", "--mic", "pulse", "--model", files["model"],
                             "--format", "jsonl", "--max-utterances", "1", "--max-seconds", "60"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    try:
        ready = proc.stderr.readline()
        assert "listening on microphone" in ready and "'pulse'" in ready, ready + proc.stderr.read()
        time.sleep(0.3)
        mic.inject(files["utt"])
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    finals = [e for e in events if e["type"] == "final"]
    assert [(e["text"], e["reason"]) for e in finals] == [(expected, "rule2")]
    assert any(e["type"] == "partial" for e in events)
    assert "1 utterance(s)" in err and "real-time factor" in err and "Traceback" not in err
