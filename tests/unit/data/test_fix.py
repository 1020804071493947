"""Tests of audiokit.data.fix: the fixed dir validates, originals are backed up."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.unit.data._datadir_helpers import make_data_dir, read_lines, write_lines

from audiokit.data.fix import fix_data_dir
from audiokit.data.validate import errors, validate_data_dir
from audiokit.errors import DataDirError


def _break(d: Path) -> dict[str, bytes]:
    """Unsort text, duplicate a utt2spk line, drop a wav.scp entry, empty a transcript."""
    text = read_lines(d / "text")
    text[0], text[1] = text[1], text[0]
    text[4] = text[4].split()[0]  # spkB-01: empty transcript
    write_lines(d / "text", text)
    u = read_lines(d / "utt2spk")
    write_lines(d / "utt2spk", u + [u[0]])
    write_lines(d / "wav.scp", read_lines(d / "wav.scp")[:-1])  # spkB-02 has no audio
    return {p.name: p.read_bytes() for p in d.iterdir() if p.is_file()}


def test_fix_repairs_and_backs_up(tmp_path: Path) -> None:
    d = make_data_dir(tmp_path)
    before = _break(d)
    assert errors(validate_data_dir(d))
    report = fix_data_dir(d)
    assert validate_data_dir(d) == []
    assert report.kept == 4
    assert report.dropped["utt2spk: duplicate line"] == 1
    assert report.dropped["text: empty transcript"] == 1
    assert sum(n for r, n in report.dropped.items() if r.startswith("utterance not in")) == 2
    assert [ln.split()[0] for ln in read_lines(d / "utt2spk")] == [
        "spkA-00", "spkA-01", "spkA-02", "spkB-00"]
    assert read_lines(d / "spk2utt") == ["spkA spkA-00 spkA-01 spkA-02", "spkB spkB-00"]
    assert report.backup is not None and report.backup.parent == d / ".backup"
    assert {p.name: p.read_bytes() for p in report.backup.iterdir()} == before
    assert "kept 4 utterances" in report.summary()


def test_clean_dir_is_untouched(tmp_path: Path) -> None:
    d = make_data_dir(tmp_path)
    report = fix_data_dir(d)
    assert report.backup is None and report.changed == [] and not (d / ".backup").exists()
    assert "nothing to fix" in report.summary()


def test_second_fix_keeps_first_backup(tmp_path: Path) -> None:
    d = make_data_dir(tmp_path)
    _break(d)
    first = fix_data_dir(d).backup
    write_lines(d / "text", list(reversed(read_lines(d / "text"))))
    second = fix_data_dir(d).backup
    assert first != second and first.is_dir() and second.is_dir()


def test_conflicting_duplicates_and_bad_lines_dropped(tmp_path: Path) -> None:
    d = make_data_dir(tmp_path, segments=True)
    u = read_lines(d / "utt2spk")
    write_lines(d / "utt2spk", u + ["spkA-00 spkB"])  # conflicting speaker
    seg = read_lines(d / "segments")
    seg[3] = seg[3].split()[0] + " spkB-rec 0.5 0.1"  # spkB-00: end before start
    write_lines(d / "segments", seg)
    write_lines(d / "spk2gender", ["spkA m", "spkB q"])
    report = fix_data_dir(d)
    assert report.dropped["utt2spk: conflicting duplicate key"] == 1
    assert report.dropped["segments: bad times"] == 1
    assert report.dropped["spk2gender: bad gender"] == 1
    assert report.kept == 4
    assert errors(validate_data_dir(d)) == []


def test_incomplete_utt2dur_removed_and_missing_audio(tmp_path: Path) -> None:
    d = make_data_dir(tmp_path)
    write_lines(d / "utt2dur", read_lines(d / "utt2dur")[:2])
    Path(read_lines(d / "wav.scp")[0].split()[1]).unlink()
    report = fix_data_dir(d, drop_missing_audio=True)
    assert report.removed == ["utt2dur"] and not (d / "utt2dur").exists()
    assert (report.backup / "utt2dur").exists()
    assert report.dropped["utterance not in audio file"] == 1
    assert validate_data_dir(d) == []


def test_refuses_when_nothing_would_be_left(tmp_path: Path) -> None:
    d = make_data_dir(tmp_path)
    write_lines(d / "text", ["nobody hello"])
    before = (d / "utt2spk").read_bytes()
    with pytest.raises(DataDirError, match="nothing changed"):
        fix_data_dir(d)
    assert (d / "utt2spk").read_bytes() == before and not (d / ".backup").exists()
    (d / "wav.scp").unlink()
    with pytest.raises(DataDirError, match="wav.scp: required file is missing"):
        fix_data_dir(d)
