"""Tests of audiokit.data.validate: each check finds its problem at the right file and line."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.unit.data._datadir_helpers import make_data_dir, read_lines, write_lines

from audiokit.data.validate import MAX_PER_KIND, Problem, errors, validate_data_dir
from audiokit.errors import DataDirError


def _only(problems: list[Problem], severity: str = "error") -> Problem:
    found = [p for p in problems if p.severity == severity]
    assert len(found) == 1, [str(p) for p in problems]
    return found[0]


def test_clean_dirs_have_no_problems(tmp_path: Path) -> None:
    assert validate_data_dir(make_data_dir(tmp_path / "a")) == []
    assert validate_data_dir(make_data_dir(tmp_path / "b", segments=True)) == []


def test_problem_str_and_not_a_directory(tmp_path: Path) -> None:
    assert str(Problem("d/text", 3, "bad")) == "d/text:3: bad"
    assert str(Problem("d/text", None, "bad")) == "d/text: bad"
    with pytest.raises(DataDirError, match="not a directory"):
        validate_data_dir(tmp_path / "nope")


def test_missing_required_file(tmp_path: Path) -> None:
    d = make_data_dir(tmp_path)
    (d / "text").unlink()
    p = _only(validate_data_dir(d))
    assert p.file == str(d / "text") and "missing" in p.message
    assert validate_data_dir(d, require_text=False) == []


def test_unsorted_line_is_named(tmp_path: Path) -> None:
    d = make_data_dir(tmp_path)
    lines = read_lines(d / "text")
    lines[1], lines[2] = lines[2], lines[1]
    write_lines(d / "text", lines)
    p = _only(validate_data_dir(d))
    assert (p.file, p.line) == (str(d / "text"), 3)
    assert "not sorted" in p.message


def test_c_locale_order_uppercase_before_lowercase(tmp_path: Path) -> None:
    d = make_data_dir(tmp_path, speakers=("B", "a"))  # "B-.." < "a-.." in C order
    assert validate_data_dir(d) == []


def test_duplicate_key(tmp_path: Path) -> None:
    d = make_data_dir(tmp_path)
    lines = read_lines(d / "utt2spk")
    write_lines(d / "utt2spk", lines[:2] + [lines[1]] + lines[2:])
    p = _only(validate_data_dir(d))
    assert (p.file, p.line) == (str(d / "utt2spk"), 3)
    assert "duplicate key 'spkA-01'" in p.message and "line 2" in p.message


def test_ids_missing_and_extra(tmp_path: Path) -> None:
    d = make_data_dir(tmp_path)
    lines = read_lines(d / "text")
    write_lines(d / "text", lines[1:] + ["zzz-00 stray utterance"])
    probs = errors(validate_data_dir(d, check_audio=False))
    msgs = {(Path(p.file).name, p.line): p.message for p in probs}
    assert "missing from text" in msgs[("utt2spk", 1)]
    assert "not in utt2spk" in msgs[("text", 6)]


def test_spk2utt_must_agree(tmp_path: Path) -> None:
    d = make_data_dir(tmp_path)
    write_lines(d / "spk2utt", ["spkA spkA-00 spkA-01", "spkB spkB-00 spkB-01 spkB-02"])
    p = _only(validate_data_dir(d))
    assert (Path(p.file).name, p.line) == ("spk2utt", 1) and "differ" in p.message


def test_empty_transcript(tmp_path: Path) -> None:
    d = make_data_dir(tmp_path)
    lines = read_lines(d / "text")
    lines[3] = lines[3].split()[0]
    write_lines(d / "text", lines)
    p = _only(validate_data_dir(d))
    assert (Path(p.file).name, p.line) == ("text", 4) and "empty transcript" in p.message


@pytest.mark.parametrize("line, needle", [
    ("spkA-00 spkA-rec 0.0", "expected 4 fields"),
    ("spkA-00 spkA-rec 0.5 0.2", "not after start"),
    ("spkA-00 spkA-rec x 0.2", "numbers"),
    ("spkA-00 nosuchrec 0.0 0.2", "not in wav.scp"),
    ("spkA-00 spkA-rec 5.0 6.0", "outside recording"),
])
def test_bad_segments(tmp_path: Path, line: str, needle: str) -> None:
    d = make_data_dir(tmp_path, segments=True)
    lines = read_lines(d / "segments")
    write_lines(d / "segments", [line] + lines[1:])
    p = _only(validate_data_dir(d))
    assert (Path(p.file).name, p.line) == ("segments", 1) and needle in p.message


def test_utt2dur_and_spk2gender_values(tmp_path: Path) -> None:
    d = make_data_dir(tmp_path)
    lines = read_lines(d / "utt2dur")
    lines[0] = "spkA-00 abc"
    write_lines(d / "utt2dur", lines)
    write_lines(d / "spk2gender", ["spkA m", "spkB x"])
    probs = errors(validate_data_dir(d))
    got = {(Path(p.file).name, p.line) for p in probs}
    assert got == {("utt2dur", 1), ("spk2gender", 2)}


def test_speaker_prefix_is_a_warning(tmp_path: Path) -> None:
    d = make_data_dir(tmp_path)
    lines = read_lines(d / "utt2spk")
    write_lines(d / "utt2spk", [ln.replace(" spkA", " other") for ln in lines])
    (d / "spk2utt").unlink()
    probs = validate_data_dir(d)
    assert errors(probs) == []
    assert any("not a prefix" in p.message and p.severity == "warning" for p in probs)


def test_missing_and_corrupt_audio(tmp_path: Path) -> None:
    d = make_data_dir(tmp_path)
    lines = read_lines(d / "wav.scp")
    Path(lines[1].split()[1]).unlink()
    Path(lines[4].split()[1]).write_text("not audio")
    probs = errors(validate_data_dir(d))
    assert [(Path(p.file).name, p.line) for p in probs] == [("wav.scp", 2), ("wav.scp", 5)]
    assert "no such file" in probs[0].message
    assert validate_data_dir(d, check_audio=False) == []


def test_pipes_refused_unless_allowed(tmp_path: Path) -> None:
    d = make_data_dir(tmp_path)
    lines = read_lines(d / "wav.scp")
    utt, path = lines[0].split()
    lines[0] = f"{utt} cat {path} |"
    write_lines(d / "wav.scp", lines)
    p = _only(validate_data_dir(d, check_audio=False))
    assert p.line == 1 and "pass --allow-pipes" in p.message
    assert validate_data_dir(d, allow_pipes=True) == []
    lines[0] = f"{utt} cat {path}.missing |"
    write_lines(d / "wav.scp", lines)
    p = _only(validate_data_dir(d, allow_pipes=True))
    assert p.line == 1 and "exited with status" in p.message


def test_not_utf8_and_repeats_are_capped(tmp_path: Path) -> None:
    d = make_data_dir(tmp_path)
    (d / "text").write_bytes(b"spkA-00 ok\nspkA-01 caf\xe9\n")
    probs = validate_data_dir(d, check_audio=False)
    assert any(Path(p.file).name == "text" and p.line == 2 and "UTF-8" in p.message for p in probs)
    d2 = make_data_dir(tmp_path / "x")
    line = read_lines(d2 / "utt2dur")[0]
    write_lines(d2 / "utt2dur", read_lines(d2 / "utt2dur") + [line] * (MAX_PER_KIND + 5))
    probs = validate_data_dir(d2, check_audio=False)
    dups = [p for p in probs if "duplicate" in p.message and p.line is not None]
    assert len(dups) == MAX_PER_KIND
    assert any("5 more" in p.message for p in probs)
