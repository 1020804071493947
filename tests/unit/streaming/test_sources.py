"""Audio sources: file (fast and paced), array, bounded microphone queue, device lookup."""

from __future__ import annotations

import threading
import time
import types

import numpy as np
import pytest
import soundfile as sf

from audiokit.errors import AudioError, AudiokitError
from audiokit.io.audio import load_audio
from audiokit.streaming.devices import resolve_input_device
from audiokit.streaming.sources import (
    ArraySource,
    BoundedBlocks,
    FileSource,
    MicSource,
    read_file,
)
from tests.unit.streaming._helpers import SR


@pytest.fixture
def noise_wav(tmp_path):
    rng = np.random.default_rng(1)
    wav = (rng.standard_normal(SR * 2 + 123) * 0.1).astype(np.float32)
    path = tmp_path / "a.wav"
    sf.write(path, wav, SR, subtype="PCM_16")
    return path


def test_file_source_same_rate_equals_load_audio(noise_wav):
    src = FileSource(noise_wav, SR)
    chunks = list(src)
    assert all(c.dtype == np.float32 and c.ndim == 1 for c in chunks)
    assert [len(c) for c in chunks[:-1]] == [1600] * (len(chunks) - 1)
    ref, _ = load_audio(noise_wav)
    assert np.array_equal(np.concatenate(chunks), ref)
    assert src.num_samples == len(ref) and abs(src.duration - len(ref) / SR) < 1e-9


def test_other_rate_and_channels_are_resampled_and_mixed(tmp_path):
    t = np.arange(44100) / 44100
    stereo = np.stack([0.5 * np.sin(2 * np.pi * 300 * t), 0.1 * np.sin(2 * np.pi * 300 * t)], 1)
    path = tmp_path / "b.flac"
    sf.write(path, stereo, 44100)
    got = read_file(path, SR)
    ref, _ = load_audio(path, sr=SR)
    assert abs(len(got) - len(ref)) <= 2
    n = min(len(got), len(ref))
    assert np.max(np.abs(got[100:n - 100] - ref[100:n - 100])) < 1e-3
    assert abs(np.max(np.abs(got)) - 0.3) < 0.01  # mean of the two channels


@pytest.mark.parametrize("make, msg", [
    (lambda p: sf.write(p, np.zeros(0, np.float32), SR), "no audio"),
    (lambda p: p.write_bytes(b"RIFF0000WAVEjunk"), "a.wav"),
    (lambda p: None, "no such file"),
])
def test_bad_files_raise_audio_error(tmp_path, make, msg):
    path = tmp_path / "a.wav"
    make(path)
    with pytest.raises(AudioError, match=msg):
        list(FileSource(path, SR))


def test_truncated_file_is_refused(noise_wav, tmp_path):
    data = noise_wav.read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(AudioError, match="truncated"):
        list(FileSource(cut, SR))


def test_realtime_pacing_uses_the_clock(noise_wav):
    now = [0.0]
    slept = []

    def sleep(s):
        slept.append(s)
        now[0] += s

    src = FileSource(noise_wav, SR, realtime=True, clock=lambda: now[0], sleep=sleep)
    n = sum(len(c) for c in src)
    assert abs(now[0] - n / SR) < 1e-6  # the last chunk is handed out once all audio "was spoken"
    assert len(slept) == len(list(FileSource(noise_wav, SR)))


def test_array_source_blocks_and_resampling():
    wav = np.ones(48000, np.float32) * 0.25
    chunks = list(ArraySource(wav, SR, in_rate=48000))
    assert abs(sum(len(c) for c in chunks) - SR) <= 1
    assert np.allclose(np.concatenate(chunks)[200:-200], 0.25, atol=1e-3)


def test_bounded_queue_drops_oldest_and_counts():
    q = BoundedBlocks(3)
    for i in range(5):
        q.put(np.array([i]))
    assert q.dropped == 2 and len(q) == 3
    assert [int(q.get(0.01)[0]) for _ in range(3)] == [2, 3, 4]
    assert q.get(0.01) is None


# ----------------------------------------------------------------------------- devices (fake PortAudio)
def fake_sd(devices, default_in=-1, blocks=0, rate_ok=True):
    """A stand-in for the sounddevice module; its InputStream calls back ``blocks`` times."""
    sd = types.SimpleNamespace()
    sd.query_devices = lambda index=None: devices if index is None else devices[index]
    sd.default = types.SimpleNamespace(device=[default_in, -1])
    sd.PortAudioError = RuntimeError

    def check_input_settings(**kw):
        if not rate_ok:
            raise RuntimeError("Invalid sample rate")

    class InputStream:
        def __init__(self, callback, blocksize, **kw):
            self.callback, self.blocksize, self.kw = callback, blocksize, kw
            sd.opened = kw

        def start(self):
            def run():
                for i in range(blocks):
                    self.callback(np.full((self.blocksize, 1), i, np.float32), self.blocksize, None, None)
            self.thread = threading.Thread(target=run)
            self.thread.start()

        def abort(self):
            self.thread.join()
            sd.aborted = True

        def close(self):
            sd.closed = True

    sd.check_input_settings = check_input_settings
    sd.InputStream = InputStream
    return sd


def dev(name, inputs, rate=48000.0):
    return {"name": name, "max_input_channels": inputs, "max_output_channels": 2, "default_samplerate": rate}


def test_no_input_device_lists_devices():
    with pytest.raises(AudiokitError, match=r"no microphone.*devices: none"):
        resolve_input_device(fake_sd([]), None)
    with pytest.raises(AudiokitError, match=r"no microphone.*0 'speakers' \(in 0, out 2\)"):
        resolve_input_device(fake_sd([dev("speakers", 0)]), None)


def test_device_lookup_by_default_index_and_name():
    sd = fake_sd([dev("speakers", 0), dev("USB Mic", 1), dev("pulse", 32), dev("pulse monitor", 2)], 2)
    assert resolve_input_device(sd, None) == 2
    assert resolve_input_device(fake_sd(sd.query_devices()), None) == 1  # no default: first input
    assert resolve_input_device(sd, "usb") == 1
    assert resolve_input_device(sd, "pulse") == 2  # exact name wins
    assert resolve_input_device(sd, "3") == 3
    with pytest.raises(AudiokitError, match=r"no input device matching 'webcam'; input devices: 1 'USB Mic'"):
        resolve_input_device(sd, "webcam")
    with pytest.raises(AudiokitError, match="not an input device"):
        resolve_input_device(sd, "0")
    with pytest.raises(AudiokitError, match="several"):
        resolve_input_device(sd, "u")


def test_mic_source_resamples_counts_drops_and_aborts(monkeypatch):
    sd = fake_sd([dev("mic", 1, 48000.0)], 0, blocks=20, rate_ok=False)
    monkeypatch.setattr("audiokit.streaming.devices.import_sounddevice", lambda: sd)
    mic = MicSource(None, SR, max_queue_s=0.5)
    assert mic.capture_rate == 48000 and mic.block == 4800
    mic.open()
    mic._stream.thread.join()  # all 20 blocks arrived before anyone read: only 5 fit
    assert mic.dropped_blocks == 15
    got = []
    for chunk in mic:
        got.append(chunk)
        if len(got) == 4:
            break
    mic.close()
    assert sd.aborted and sd.closed and sd.opened["samplerate"] == 48000
    assert sum(len(c) for c in got) < 4 * 1600 + 100 and len(got[-1]) > 1000  # resampled to 16 kHz
    audio = np.concatenate(got)
    assert audio[200:].min() > 14.5 and abs(audio[-1] - 18) < 0.1  # the oldest blocks were dropped


def test_mic_source_stall_is_an_error(monkeypatch):
    sd = fake_sd([dev("mic", 1, 16000.0)], 0, blocks=0)
    monkeypatch.setattr("audiokit.streaming.devices.import_sounddevice", lambda: sd)
    mic = MicSource(None, SR, stall_s=0.4)
    t0 = time.monotonic()
    with pytest.raises(AudioError, match="no audio received"):
        list(mic)
    mic.close()
    assert time.monotonic() - t0 < 3
