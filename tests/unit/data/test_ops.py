"""Tests of audiokit.data.ops: subset, combine, info."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.unit.data._datadir_helpers import make_data_dir, read_lines, write_lines

from audiokit.data.kaldi import DataDir
from audiokit.data.ops import combine_data_dirs, data_dir_info, subset_data_dir
from audiokit.data.validate import validate_data_dir
from audiokit.errors import AudiokitError, DataDirError


def _ids(d: Path) -> list[str]:
    return [ln.split()[0] for ln in read_lines(d / "utt2spk")]


def test_subset_first_random_speakers_list(tmp_path: Path) -> None:
    src = make_data_dir(tmp_path)
    assert subset_data_dir(src, tmp_path / "f", first=2) == 2
    assert _ids(tmp_path / "f") == ["spkA-00", "spkA-01"]
    assert validate_data_dir(tmp_path / "f") == []
    assert read_lines(tmp_path / "f" / "spk2utt") == ["spkA spkA-00 spkA-01"]
    subset_data_dir(src, tmp_path / "r1", random=3, seed=1)
    subset_data_dir(src, tmp_path / "r2", random=3, seed=1)
    assert _ids(tmp_path / "r1") == _ids(tmp_path / "r2") and len(_ids(tmp_path / "r1")) == 3
    subset_data_dir(src, tmp_path / "s", speakers=["spkB"])
    assert _ids(tmp_path / "s") == ["spkB-00", "spkB-01", "spkB-02"]
    write_lines(tmp_path / "list", ["spkB-01", "spkA-02 extra columns ok"])
    subset_data_dir(src, tmp_path / "l", utt_list=tmp_path / "list")
    assert _ids(tmp_path / "l") == ["spkA-02", "spkB-01"]
    assert validate_data_dir(tmp_path / "l") == []


def test_subset_with_segments_keeps_recordings(tmp_path: Path) -> None:
    src = make_data_dir(tmp_path, segments=True)
    subset_data_dir(src, tmp_path / "s", speakers=["spkA"])
    assert [ln.split()[0] for ln in read_lines(tmp_path / "s" / "wav.scp")] == ["spkA-rec"]
    assert validate_data_dir(tmp_path / "s") == []


def test_subset_errors_leave_nothing(tmp_path: Path) -> None:
    src = make_data_dir(tmp_path)
    write_lines(tmp_path / "list", ["spkA-00", "ghost"])
    with pytest.raises(DataDirError, match=r"list:2: utterance 'ghost'"):
        subset_data_dir(src, tmp_path / "out", utt_list=tmp_path / "list")
    with pytest.raises(DataDirError, match="asked for 99"):
        subset_data_dir(src, tmp_path / "out", first=99)
    with pytest.raises(DataDirError, match="no speaker 'zz'"):
        subset_data_dir(src, tmp_path / "out", speakers=["zz"])
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]
    subset_data_dir(src, tmp_path / "out", first=1)
    with pytest.raises(AudiokitError, match="output exists"):
        subset_data_dir(src, tmp_path / "out", first=2)
    subset_data_dir(src, tmp_path / "out", first=2, force=True)
    assert len(_ids(tmp_path / "out")) == 2
    with pytest.raises(DataDirError, match="also an input"):
        subset_data_dir(src, src, first=1, force=True)


def test_combine(tmp_path: Path) -> None:
    a = make_data_dir(tmp_path / "a", speakers=("spkA",))
    b = make_data_dir(tmp_path / "b", speakers=("spkB",), segments=True)
    out = combine_data_dirs([a, b], tmp_path / "all")
    assert out == {"utterances": 6, "dropped_tables": []}
    all_ = tmp_path / "all"
    assert validate_data_dir(all_) == []
    dd = DataDir.load(all_)
    assert dd.segments["spkA-00"] == "spkA-00 0 -1"  # whole-file segment for the dir without
    assert len(dd.text) == 6 and len(dd.utt2dur) == 6


def test_combine_duplicates_and_optional_tables(tmp_path: Path) -> None:
    a = make_data_dir(tmp_path / "a", speakers=("spkA",))
    b = make_data_dir(tmp_path / "b", speakers=("spkA",))
    with pytest.raises(DataDirError, match=r"b/data/utt2spk:1: 'spkA-00' is also in .*a/data"):
        combine_data_dirs([a, b], tmp_path / "all")
    assert not (tmp_path / "all").exists()
    c = make_data_dir(tmp_path / "c", speakers=("spkC",), durations=False)
    out = combine_data_dirs([a, c], tmp_path / "all")
    assert out["dropped_tables"] == ["utt2dur"] and not (tmp_path / "all" / "utt2dur").exists()


def test_info(tmp_path: Path) -> None:
    d = make_data_dir(tmp_path)
    info = data_dir_info(d)
    assert info["utterances"] == 6 and info["speakers"] == 2 and info["recordings"] == 6
    assert info["hours"] == pytest.approx(2 * (0.2 + 0.3 + 0.4) / 3600, abs=1e-4)
    assert info["words"] == 24 and info["vocabulary"] == 6  # hello world number 0 1 2
    assert "spk2utt" in info["tables"] and not info["segments"]
    (d / "utt2dur").unlink()
    assert data_dir_info(d)["hours"] is None
    s = make_data_dir(tmp_path / "s", segments=True, durations=False)
    assert data_dir_info(s)["hours"] == pytest.approx(1.8 / 3600, abs=1e-4)
