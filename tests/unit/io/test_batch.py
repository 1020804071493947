"""audiokit.io.batch: input expansion with mirrored trees, length grouping, failure reporting."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from audiokit.errors import AudioError, AudiokitError
from audiokit.io.batch import BatchReporter, Job, expand_inputs, group_by_length

EXTS = {".wav", ".flac", ".mp3"}


def _touch(*paths: Path) -> None:
    for p in paths:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")


def test_directory_tree_is_mirrored(tmp_path: Path) -> None:
    src = tmp_path / "in"
    _touch(src / "a.wav", src / "s" / "b.FLAC", src / "s" / "t" / "c.mp3", src / "notes.txt",
           src / ".hidden.wav", src / ".git" / "x.wav")
    exp = expand_inputs([src], tmp_path / "out", EXTS, ".akc")
    assert exp.failures == []
    assert [(j.src.relative_to(src).as_posix(), j.dst.relative_to(tmp_path).as_posix()) for j in exp.jobs] == [
        ("a.wav", "out/a.akc"), ("s/b.FLAC", "out/s/b.akc"), ("s/t/c.mp3", "out/s/t/c.akc")]


def test_files_go_to_out_dir_by_name(tmp_path: Path) -> None:
    _touch(tmp_path / "x" / "a.wav", tmp_path / "y" / "b.flac")
    exp = expand_inputs([tmp_path / "x" / "a.wav", tmp_path / "y" / "b.flac"], tmp_path / "o", EXTS, ".akc")
    assert [j.dst for j in exp.jobs] == [tmp_path / "o" / "a.akc", tmp_path / "o" / "b.akc"]


def test_single_file_may_name_output_file(tmp_path: Path) -> None:
    _touch(tmp_path / "a.wav")
    exp = expand_inputs([tmp_path / "a.wav"], tmp_path / "res" / "x.akc", EXTS, ".akc")
    assert exp.jobs == [Job(tmp_path / "a.wav", tmp_path / "res" / "x.akc")]


def test_output_file_name_with_several_inputs_is_refused(tmp_path: Path) -> None:
    _touch(tmp_path / "a.wav", tmp_path / "b.wav")
    with pytest.raises(AudiokitError, match="x.akc: -o names a single .akc file"):
        expand_inputs([tmp_path / "a.wav", tmp_path / "b.wav"], tmp_path / "x.akc", EXTS, ".akc")
    with pytest.raises(AudiokitError, match="several files or a directory"):
        expand_inputs([tmp_path], tmp_path / "x.akc", EXTS, ".akc")


def test_output_that_is_a_file_is_refused(tmp_path: Path) -> None:
    _touch(tmp_path / "a.wav", tmp_path / "outfile")
    with pytest.raises(AudiokitError, match="outfile: output exists and is not a directory"):
        expand_inputs([tmp_path / "a.wav"], tmp_path / "outfile", EXTS, ".akc")


def test_missing_input_and_empty_dir_fail_alone(tmp_path: Path) -> None:
    _touch(tmp_path / "a.wav")
    (tmp_path / "empty").mkdir()
    exp = expand_inputs([tmp_path / "nope.wav", tmp_path / "empty", tmp_path / "a.wav"], tmp_path / "o", EXTS, ".akc")
    assert [j.src for j in exp.jobs] == [tmp_path / "a.wav"]
    reasons = dict(exp.failures)
    assert reasons[tmp_path / "nope.wav"] == "no such file or directory"
    assert "no input files" in reasons[tmp_path / "empty"]
    assert exp.total == 3


def test_two_inputs_for_one_output_is_a_failure(tmp_path: Path) -> None:
    _touch(tmp_path / "d" / "a.wav", tmp_path / "d" / "a.flac")
    exp = expand_inputs([tmp_path / "d"], tmp_path / "o", EXTS, ".akc")
    assert len(exp.jobs) == 1 and len(exp.failures) == 1
    path, reason = exp.failures[0]
    assert path.name == "a.wav" and "would also be written from" in reason


def test_group_by_length_equal_only() -> None:
    items = list("abcdef")
    lengths = [5, 3, 5, 3, 5, 9]
    groups = group_by_length(items, lengths, 2, equal_only=True)
    assert groups == [["f"], ["a", "c"], ["e"], ["b", "d"]]
    for g in groups:
        assert len({lengths[items.index(x)] for x in g}) == 1


def test_group_by_length_similar() -> None:
    groups = group_by_length(list("abcdef"), [5, 3, 5, 3, 5, 9], 4, equal_only=False)
    assert groups == [["f", "a", "c", "e"], ["b", "d"]]


def test_reporter_swallows_user_errors_and_names_the_file(tmp_path: Path) -> None:
    err = io.StringIO()
    rep = BatchReporter("encode", 3, stream=err)
    seen = []

    def work(job: Job) -> None:
        seen.append(job.src.name)
        if job.src.name == "bad.wav":
            raise AudioError(f"{job.src}: contains no audio (0 frames)")
        if job.src.name == "worse.wav":
            raise AudiokitError("something unrelated")

    rep.run([Job(Path("a/bad.wav"), Path("o/bad.akc")), Job(Path("a/worse.wav"), Path("o/worse.akc")),
             Job(Path("a/ok.wav"), Path("o/ok.akc"))], work)
    assert seen == ["bad.wav", "worse.wav", "ok.wav"]
    assert rep.finish() == 1
    assert err.getvalue().splitlines() == [
        "audiokit encode: error: a/bad.wav: contains no audio (0 frames)",
        "audiokit encode: error: a/worse.wav: something unrelated",
        "audiokit encode: 2 of 3 files failed",
    ]
    assert rep.done == 1 and rep.failed == [Path("a/bad.wav"), Path("a/worse.wav")]


def test_reporter_keeps_traceback_of_bugs_but_continues() -> None:
    err = io.StringIO()
    rep = BatchReporter("decode", 2, stream=err)
    with rep.guard(Path("x.akc")):
        raise ZeroDivisionError("oops")
    with rep.guard(Path("y.akc")) as g:
        pass
    assert g.ok
    rep.succeeded()
    assert rep.finish() == 1
    text = err.getvalue()
    assert "Traceback" in text and "audiokit decode: error: x.akc: internal error: ZeroDivisionError: oops" in text


def test_reporter_lets_interrupt_through() -> None:
    rep = BatchReporter("encode", 1, stream=io.StringIO())
    with pytest.raises(KeyboardInterrupt), rep.guard(Path("a.wav")):
        raise KeyboardInterrupt


def test_single_failure_prints_one_line_and_no_summary() -> None:
    err = io.StringIO()
    rep = BatchReporter("encode", 1, stream=err)
    rep.error(Path("a.wav"), "no such file or directory")
    assert rep.finish() == 1
    assert err.getvalue().splitlines() == ["audiokit encode: error: a.wav: no such file or directory"]


def test_all_good_exit_zero_and_quiet() -> None:
    err = io.StringIO()
    rep = BatchReporter("encode", 2, stream=err)
    rep.run([Job(Path("a"), Path("b")), Job(Path("c"), Path("d"))], lambda job: None)
    assert rep.finish() == 0 and rep.done == 2 and err.getvalue() == ""


def test_progress_bar_only_on_request_or_tty() -> None:
    err = io.StringIO()
    rep = BatchReporter("encode", 3, stream=err, progress=True)
    rep.error(Path("a.wav"), "bad")
    rep.succeeded()
    rep.succeeded()
    assert rep.finish() == 1
    assert "audiokit encode: error: a.wav: bad" in err.getvalue()
    assert "0/3 [" in err.getvalue()  # tqdm drew the bar
    quiet = io.StringIO()
    BatchReporter("encode", 3, stream=quiet).finish()  # StringIO is not a TTY
    assert quiet.getvalue() == ""
