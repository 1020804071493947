"""Tests of audiokit.data.wavscp: plain paths, opt-in pipes without a shell, segments."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from tests.unit.data._datadir_helpers import SR, tone

from audiokit.data.wavscp import load_wav_entry, resolve_wav_entry, wav_entry_duration
from audiokit.errors import AudioError, DataDirError


@pytest.fixture()
def wav_file(tmp_path: Path) -> Path:
    path = tmp_path / "a.wav"
    sf.write(path, tone(1.0), SR, subtype="FLOAT")
    return path


def test_plain_path_relative_to_cwd(tmp_path: Path, wav_file: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    entry = resolve_wav_entry("a.wav", allow_pipes=False)
    assert not entry.is_pipe and entry.path == Path("a.wav")
    wav, sr = load_wav_entry("a.wav", allow_pipes=False)
    assert sr == SR and wav.shape == (SR,) and wav.dtype == np.float32
    assert wav_entry_duration("a.wav", allow_pipes=False) == pytest.approx(1.0)


def test_pipe_needs_opt_in(wav_file: Path) -> None:
    with pytest.raises(DataDirError, match=r"^w.scp:7: wav.scp entry is a shell pipe; pass --allow-pipes"):
        load_wav_entry(f"cat {wav_file} |", allow_pipes=False, where="w.scp:7")


def test_pipe_output_equals_file(wav_file: Path) -> None:
    ref, _ = load_wav_entry(str(wav_file), allow_pipes=False)
    wav, sr = load_wav_entry(f"cat {wav_file} |", allow_pipes=True)
    assert sr == SR and np.array_equal(wav, ref)
    if shutil.which("sox"):
        wav, sr = load_wav_entry(f"sox {wav_file} -t wav -r 8000 - |", allow_pipes=True)
        assert sr == 8000 and abs(wav.shape[0] - 8000) <= 1
    wav, sr = load_wav_entry(f"cat {wav_file} |", allow_pipes=True, sr=8000)
    assert sr == 8000 and wav.shape == (8000,)


def test_pipe_runs_without_shell(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    with pytest.raises(AudioError, match="not readable audio"):
        load_wav_entry(f"echo hi; touch {marker} |", allow_pipes=True)
    assert not marker.exists()


def test_pipelines_and_bad_commands(wav_file: Path) -> None:
    with pytest.raises(DataDirError, match="pipeline of several commands"):
        resolve_wav_entry(f"cat {wav_file} | cat |", allow_pipes=True)
    with pytest.raises(DataDirError, match="cannot parse"):
        resolve_wav_entry("cat 'unclosed |", allow_pipes=True)
    with pytest.raises(AudioError, match="not found"):
        load_wav_entry("no-such-command-xyz |", allow_pipes=True)
    with pytest.raises(AudioError, match="exited with status 1"):
        load_wav_entry(f"cat {wav_file}.nope |", allow_pipes=True)
    with pytest.raises(AudioError, match="wrote no audio"):
        load_wav_entry("true |", allow_pipes=True)


def test_missing_file_error_names_line(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match=r"^d/wav.scp:3: .*no such file"):
        load_wav_entry(str(tmp_path / "x.wav"), allow_pipes=False, where="d/wav.scp:3")


def test_segments_cut(wav_file: Path) -> None:
    full, _ = load_wav_entry(str(wav_file), allow_pipes=False)
    seg, _ = load_wav_entry(str(wav_file), allow_pipes=False, start=0.25, end=0.5)
    assert np.array_equal(seg, full[4000:8000])
    tail, _ = load_wav_entry(str(wav_file), allow_pipes=False, start=0.75, end=-1)
    assert np.array_equal(tail, full[12000:])
    rs, sr = load_wav_entry(str(wav_file), allow_pipes=False, sr=8000, start=0.25, end=0.5)
    assert sr == 8000 and rs.shape == (2000,)
    with pytest.raises(AudioError, match="outside the recording"):
        load_wav_entry(str(wav_file), allow_pipes=False, start=2.0, end=3.0)
    with pytest.raises(AudioError, match="past the recording's end"):
        load_wav_entry(str(wav_file), allow_pipes=False, start=0.5, end=1.5)
