"""Optional pieces: the Silero VAD wrapper (with a stand-in model) and VirtualMic's failure modes."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

from audiokit.errors import AudiokitError
from audiokit.streaming.endpoint import SileroVAD, SpeechGate, make_vad, speech_segments
from tests.unit.streaming._helpers import SR, tone_bursts


class FakeSilero:
    """Speech probability = 1 when the 512-sample frame's peak exceeds 0.1."""

    def __init__(self):
        self.frames, self.resets = [], 0

    def __call__(self, frame, sr):
        assert frame.shape == (512,) and sr == SR
        self.frames.append(frame.numpy().copy())
        return float(frame.abs().max() > 0.1)

    def reset_states(self):
        self.resets += 1


@pytest.fixture
def fake_silero(monkeypatch):
    model = FakeSilero()
    monkeypatch.setitem(sys.modules, "silero_vad", types.SimpleNamespace(load_silero_vad=lambda: model))
    return model


def test_silero_frames_are_contiguous_whatever_the_chunking(fake_silero):
    wav = tone_bursts([(0.3, 0), (0.5, 1), (0.3, 0)])
    vad = make_vad("silero", SR)
    masks = [vad(wav[i:i + 700]) for i in range(0, len(wav), 700)]
    mask = np.concatenate(masks)
    assert len(mask) == len(wav)
    frames = np.concatenate(fake_silero.frames)
    assert np.array_equal(frames, wav[: len(frames)])  # every sample went to the model once, in order
    on = np.flatnonzero(mask)
    assert abs(on[0] - 0.3 * SR) <= 512 and abs(on[-1] - 0.8 * SR) <= 1024
    segs = speech_segments(wav, SR, SpeechGate(SR, SileroVAD(SR)))
    assert len(segs) == 1


def test_silero_errors(monkeypatch, fake_silero):
    with pytest.raises(AudiokitError, match="8000 or 16000"):
        SileroVAD(44100)
    monkeypatch.setitem(sys.modules, "silero_vad", None)
    with pytest.raises(AudiokitError, match="pip install silero-vad"):
        SileroVAD(SR)


def test_virtual_mic_without_pulseaudio_is_a_clear_error(monkeypatch):
    from audiokit.streaming import virtual_mic

    monkeypatch.setattr(virtual_mic.shutil, "which", lambda name: None)
    with pytest.raises(AudiokitError, match="pulseaudio"), virtual_mic.VirtualMic():
        pass
