"""Tests for audiokit.io.audio: round trips, resampling, atomic saving, bad files."""

from __future__ import annotations

import struct
import warnings

import numpy as np
import pytest
import soundfile as sf

from audiokit.errors import AudioError, AudiokitError
from audiokit.io.audio import (
    FORMATS,
    AudioInfo,
    ClippingWarning,
    audio_info,
    load_audio,
    resample,
    save_audio,
)

SR = 16000


def sine(freq: float, sr: int, seconds: float = 1.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def stereo(sr: int = SR) -> np.ndarray:
    return np.stack([sine(440, sr), sine(660, sr, amp=0.3)])  # (2, T)


def snr_db(ref: np.ndarray, est: np.ndarray) -> float:
    return float(10 * np.log10((ref ** 2).sum() / ((ref - est) ** 2).sum()))


def peak_freq(x: np.ndarray, sr: int) -> float:
    spec = np.abs(np.fft.rfft(x))
    return float(np.fft.rfftfreq(len(x), 1 / sr)[spec.argmax()])


def assert_one_line_error(err: pytest.ExceptionInfo, path) -> None:
    msg = str(err.value)
    assert "\n" not in msg
    assert str(path) in msg


def no_temp_files(folder) -> bool:
    return not [p for p in folder.iterdir() if p.name.startswith(".")]


# ----------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("subtype,atol", [("PCM_16", 1 / 32768 + 1e-7), ("FLOAT", 0.0),
                                          ("PCM_24", 1 / 2 ** 23 + 1e-7)])
def test_wav_round_trip_is_exact_to_the_subtype(tmp_path, subtype, atol):
    x = stereo()
    path = save_audio(tmp_path / "a.wav", x, SR, subtype=subtype)
    y, sr = load_audio(path, mono=False)
    assert sr == SR and y.shape == x.shape and y.dtype == np.float32
    np.testing.assert_allclose(y, x, atol=atol, rtol=0)
    assert audio_info(path).subtype == subtype


def test_flac_round_trip_is_lossless_at_16_bit(tmp_path):
    x = stereo()
    y, sr = load_audio(save_audio(tmp_path / "a.flac", x, SR), mono=False)
    assert sr == SR
    np.testing.assert_allclose(y, x, atol=1 / 32768 + 1e-7, rtol=0)


@pytest.mark.parametrize("ext,sr", [("ogg", 16000), ("opus", 48000), ("mp3", 16000)])
def test_lossy_round_trips_keep_length_rate_and_signal(tmp_path, ext, sr):
    x = sine(440, sr)
    path = save_audio(tmp_path / f"a.{ext}", x, sr)
    y, got_sr = load_audio(path)
    assert got_sr == sr and y.shape == x.shape
    assert snr_db(x, y) > 15
    info = audio_info(path)
    assert (info.format, info.subtype) == FORMATS[f".{ext}"]


def test_audio_info_reports_the_header(tmp_path):
    path = save_audio(tmp_path / "a.wav", stereo(), SR)
    assert audio_info(path) == AudioInfo(sample_rate=SR, channels=2, frames=SR, duration=1.0,
                                         format="WAV", subtype="PCM_16")


def test_mono_is_the_channel_average_and_dtype_is_honoured(tmp_path):
    x = stereo()
    path = save_audio(tmp_path / "a.wav", x, SR, subtype="FLOAT")
    y, _ = load_audio(path)
    assert y.shape == (SR,)
    np.testing.assert_allclose(y, x.mean(0), atol=1e-7)
    y64, _ = load_audio(path, dtype="float64")
    assert y64.dtype == np.float64
    with pytest.raises(ValueError):
        load_audio(path, dtype="int16")


def test_load_resamples_to_the_requested_rate(tmp_path):
    path = save_audio(tmp_path / "a.wav", sine(440, 44100), 44100, subtype="FLOAT")
    y, sr = load_audio(path, sr=16000)
    assert sr == 16000 and y.shape == (16000,)
    assert abs(peak_freq(y, sr) - 440) <= 1.0


def test_six_channel_96k_file_loads_downmixed_and_resampled(tmp_path):
    sr = 96000
    x = np.stack([sine(200 * (c + 1), sr, seconds=0.5, amp=0.1) for c in range(6)])
    path = save_audio(tmp_path / "six.flac", x, sr, subtype="PCM_24")
    assert audio_info(path).channels == 6
    y, got = load_audio(path, sr=16000)
    assert got == 16000 and y.shape == (8000,)
    multi, _ = load_audio(path, sr=16000, mono=False)
    assert multi.shape == (6, 8000)
    np.testing.assert_allclose(y, multi.mean(0), atol=1e-5)


def test_resample_handles_mono_and_multichannel():
    x = sine(300, 24000)
    y = resample(x, 24000, 16000)
    assert y.shape == (16000,) and y.dtype == np.float32
    assert abs(peak_freq(y, 16000) - 300) <= 1.0
    both = resample(np.stack([x, 0.5 * x]), 24000, 16000)
    assert both.shape == (2, 16000)
    np.testing.assert_allclose(both[0], y, atol=1e-6)
    np.testing.assert_allclose(both[1], 0.5 * y, atol=1e-6)
    assert resample(x, 24000, 24000) is not x


def test_save_accepts_torch_tensors(tmp_path):
    import torch

    x = torch.from_numpy(stereo())
    y, _ = load_audio(save_audio(tmp_path / "t.wav", x, SR, subtype="FLOAT"), mono=False)
    np.testing.assert_array_equal(y, x.numpy())
    y1, _ = load_audio(save_audio(tmp_path / "m.wav", x[0], SR, subtype="FLOAT"))
    np.testing.assert_array_equal(y1, x[0].numpy())


def test_opus_files_named_ogg_or_opus_are_both_read(tmp_path):
    path = save_audio(tmp_path / "a.opus", sine(440, 48000), 48000)
    renamed = tmp_path / "b.ogg"
    renamed.write_bytes(path.read_bytes())
    assert load_audio(renamed)[0].shape == (48000,)


# ----------------------------------------------------------------------------- saving rules
def test_save_refuses_to_overwrite_without_force(tmp_path):
    path = save_audio(tmp_path / "a.wav", sine(440, SR), SR)
    before = path.read_bytes()
    with pytest.raises(AudiokitError) as err:
        save_audio(path, sine(880, SR), SR)
    assert_one_line_error(err, path)
    assert path.read_bytes() == before
    save_audio(path, sine(880, SR), SR, force=True)
    assert path.read_bytes() != before
    assert no_temp_files(tmp_path)


def test_save_clips_with_a_warning(tmp_path):
    x = np.array([0.0, 0.5, 1.5, -2.0, 0.25], dtype=np.float32)
    with pytest.warns(ClippingWarning, match="clipping 2 samples"):
        path = save_audio(tmp_path / "c.wav", x, SR, subtype="FLOAT")
    y, _ = load_audio(path)
    np.testing.assert_array_equal(y, [0.0, 0.5, 1.0, -1.0, 0.25])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        save_audio(tmp_path / "ok.wav", x.clip(-1, 1), SR)


@pytest.mark.parametrize("name,wav,sr,needle", [
    ("bad.m4a", np.zeros(100, np.float32), SR, "unsupported audio format"),
    ("nan.wav", np.array([0.0, np.nan], np.float32), SR, "NaN"),
    ("rate.opus", np.zeros(100, np.float32), 44100, "opus cannot store 44100"),
    ("rate.mp3", np.zeros(100, np.float32), 96000, "mp3 cannot store 96000"),
    ("multi.mp3", np.zeros((3, 100), np.float32), SR, "at most 2 channels"),
])
def test_save_refuses_bad_requests_and_leaves_nothing(tmp_path, name, wav, sr, needle):
    path = tmp_path / name
    with pytest.raises(AudioError, match=needle) as err:
        save_audio(path, wav, sr)
    assert_one_line_error(err, path)
    assert not path.exists() and no_temp_files(tmp_path)


def test_a_writer_failure_leaves_no_partial_file(tmp_path, monkeypatch):
    def broken_write(file, data, samplerate, **kwargs):
        with open(file, "wb") as fh:
            fh.write(b"RIFF half")
        raise sf.LibsndfileError(1, "simulated disk failure")

    monkeypatch.setattr(sf, "write", broken_write)
    path = tmp_path / "x.wav"
    with pytest.raises(AudioError) as err:
        save_audio(path, sine(440, SR), SR)
    assert_one_line_error(err, path)
    assert not path.exists() and no_temp_files(tmp_path)


def test_save_rejects_time_major_arrays():
    with pytest.raises(ValueError, match="channels first"):
        save_audio("never.wav", np.zeros((16000, 2), np.float32), SR)


# ----------------------------------------------------------------------------- bad inputs
def _write_wav(tmp_path, name="good.wav") -> bytes:
    save_audio(tmp_path / name, sine(440, SR), SR)
    return (tmp_path / name).read_bytes()


def _truncate(tmp_path, ext: str, fraction: float) -> object:
    sr = 48000 if ext == "opus" else SR
    good = save_audio(tmp_path / f"good.{ext}", sine(440, sr), sr).read_bytes()
    bad = tmp_path / f"cut.{ext}"
    bad.write_bytes(good[: int(len(good) * fraction)])
    return bad


def _bad_file(tmp_path, kind: str):
    if kind == "missing":
        return tmp_path / "missing.wav"
    if kind == "directory":
        (tmp_path / "dir.wav").mkdir()
        return tmp_path / "dir.wav"
    if kind == "empty":
        (tmp_path / "empty.wav").write_bytes(b"")
        return tmp_path / "empty.wav"
    if kind == "text":
        (tmp_path / "notes.wav").write_text("this is not audio\n" * 20)
        return tmp_path / "notes.wav"
    if kind == "extension":
        path = tmp_path / "song.m4a"
        path.write_bytes(_write_wav(tmp_path))
        return path
    if kind == "no-extension":
        path = tmp_path / "audio"
        path.write_bytes(_write_wav(tmp_path))
        return path
    if kind == "zero-frames":
        path = tmp_path / "zero.wav"
        sf.write(path, np.zeros((0, 1), np.float32), SR)
        return path
    if kind == "garbage-flac":
        path = tmp_path / "noise.flac"
        path.write_bytes(b"fLaC" + bytes(range(256)) * 8)
        return path
    raise AssertionError(kind)


@pytest.mark.parametrize("kind,needle", [
    ("missing", "no such file"),
    ("directory", "is a directory"),
    ("empty", "empty file"),
    ("text", "not a readable wav file"),
    ("extension", "unsupported audio format ('.m4a'"),
    ("no-extension", "unsupported audio format (no extension"),
    ("zero-frames", "contains no audio (0 frames)"),
    ("garbage-flac", "flac"),
])
def test_bad_files_raise_one_line_audio_errors(tmp_path, kind, needle):
    path = _bad_file(tmp_path, kind)
    with pytest.raises(AudioError, match=None) as err:
        load_audio(path)
    assert needle in str(err.value)
    assert_one_line_error(err, path)


@pytest.mark.parametrize("ext", ["wav", "flac", "ogg", "opus", "mp3"])
@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.8])
def test_truncated_files_are_detected(tmp_path, ext, fraction):
    path = _truncate(tmp_path, ext, fraction)
    with pytest.raises(AudioError, match="truncated") as err:
        load_audio(path)
    assert_one_line_error(err, path)


def test_truncated_wav_is_refused_by_audio_info_too(tmp_path):
    path = _truncate(tmp_path, "wav", 0.99)
    with pytest.raises(AudioError, match="header declares 32000 data bytes") as err:
        audio_info(path)
    assert_one_line_error(err, path)


def test_wav_cut_by_one_byte_is_detected(tmp_path):
    good = _write_wav(tmp_path)
    path = tmp_path / "cut1.wav"
    path.write_bytes(good[:-1])
    with pytest.raises(AudioError, match="truncated"):
        load_audio(path)


def test_ogg_cut_at_a_page_boundary_lacks_end_of_stream(tmp_path):
    good = save_audio(tmp_path / "good.ogg", sine(440, SR), SR).read_bytes()
    path = tmp_path / "cut.ogg"
    path.write_bytes(good[: good.rfind(b"OggS")])
    with pytest.raises(AudioError, match="no end-of-stream page") as err:
        load_audio(path)
    assert_one_line_error(err, path)


def test_streamed_wav_with_unknown_data_size_is_read(tmp_path):
    good = bytearray(_write_wav(tmp_path))
    at = good.find(b"data")
    good[at + 4:at + 8] = struct.pack("<I", 0xFFFFFFFF)
    path = tmp_path / "streamed.wav"
    path.write_bytes(bytes(good))
    y, sr = load_audio(path)
    assert sr == SR and y.shape == (SR,)


def test_wav_with_extra_chunks_before_data_is_read(tmp_path):
    good = _write_wav(tmp_path)
    at = good.find(b"fmt ")
    fmt_size = struct.unpack("<I", good[at + 4:at + 8])[0]
    end_fmt = at + 8 + fmt_size
    extra = b"LIST" + struct.pack("<I", 5) + b"abcde" + b"\0"  # odd size + pad byte
    data = good[:end_fmt] + extra + good[end_fmt:]
    data = data[:4] + struct.pack("<I", len(data) - 8) + data[8:]
    path = tmp_path / "list.wav"
    path.write_bytes(data)
    assert load_audio(path)[0].shape == (SR,)


def test_zero_frame_file_is_described_by_audio_info(tmp_path):
    info = audio_info(_bad_file(tmp_path, "zero-frames"))
    assert info.frames == 0 and info.duration == 0.0
