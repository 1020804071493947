"""`audiokit data ...` end to end: exit codes, one-line messages naming file and line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

SR = 16000


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def _write(path: Path, lines: list[str]) -> None:
    path.write_text("".join(ln + "\n" for ln in lines))


def _data_dir(root: Path, speakers=("s1", "s2"), per_spk: int = 2) -> Path:
    """A clean data dir with short tones; ids ``<spk>-<n>``."""
    d = root / "data"
    d.mkdir(parents=True)
    wav, text, u2s = [], [], []
    for spk in speakers:
        for i in range(per_spk):
            utt = f"{spk}-{i}"
            f = root / f"{utt}.wav"
            sf.write(f, (0.1 * np.sin(np.arange(3200) / 5.0)).astype(np.float32), SR)
            wav.append(f"{utt} {f}")
            text.append(f"{utt} word{i} other")
            u2s.append(f"{utt} {spk}")
    _write(d / "wav.scp", wav)
    _write(d / "text", text)
    _write(d / "utt2spk", u2s)
    _write(d / "spk2utt", [f"{s} " + " ".join(f"{s}-{i}" for i in range(per_spk)) for s in speakers])
    return d


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "audiokit", "data", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=120)


def _assert_user_error(r: subprocess.CompletedProcess, *needles: str) -> None:
    assert r.returncode != 0
    assert "Traceback" not in r.stderr + r.stdout
    err = r.stderr.strip().splitlines()
    assert len(err) == 1, r.stderr
    for n in needles:
        assert n in err[0], err[0]


def test_validate_clean(tmp_path: Path) -> None:
    d = _data_dir(tmp_path)
    r = _run("validate", d)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == f"{d}: OK (4 utterances, 2 speakers)" and r.stderr == ""


@pytest.mark.parametrize("kind", ["unsorted", "duplicate", "missing_audio"])
def test_validate_bad_line(tmp_path: Path, kind: str) -> None:
    d = _data_dir(tmp_path)
    if kind == "unsorted":
        t = _lines(d / "text")
        _write(d / "text", [t[0], t[2], t[1], t[3]])
        where, needle = f"{d / 'text'}:3: ", "not sorted"
    elif kind == "duplicate":
        u = _lines(d / "utt2spk")
        _write(d / "utt2spk", u[:2] + [u[1]] + u[2:])
        where, needle = f"{d / 'utt2spk'}:3: ", "duplicate key 's1-1'"
    else:
        Path(_lines(d / "wav.scp")[3].split()[1]).unlink()
        where, needle = f"{d / 'wav.scp'}:4: ", "no such file"
    r = _run("validate", d)
    assert r.returncode == 1
    out = r.stdout.strip().splitlines()
    assert len(out) == 1 and out[0].startswith(where) and needle in out[0], r.stdout
    _assert_user_error(r, "1 error(s)")


def test_validate_not_a_dir_and_pipes(tmp_path: Path) -> None:
    _assert_user_error(_run("validate", tmp_path / "nope"), "nope: not a directory")
    d = _data_dir(tmp_path)
    w = _lines(d / "wav.scp")
    utt, f = w[0].split()
    _write(d / "wav.scp", [f"{utt} cat {f} |"] + w[1:])
    r = _run("validate", d)
    assert r.returncode == 1 and "wav.scp:1: wav.scp entry is a shell pipe" in r.stdout
    assert _run("validate", d, "--allow-pipes").returncode == 0


def test_fix_then_validate(tmp_path: Path) -> None:
    d = _data_dir(tmp_path)
    _write(d / "text", list(reversed(_lines(d / "text")))[1:])
    r = _run("fix", d)
    assert r.returncode == 0 and "kept 3 utterances" in r.stdout, r.stdout + r.stderr
    assert (d / ".backup").is_dir()
    assert _run("validate", d).returncode == 0


def test_info_json(tmp_path: Path) -> None:
    r = _run("info", _data_dir(tmp_path), "--json")
    info = json.loads(r.stdout)
    assert info["utterances"] == 4 and info["speakers"] == 2 and info["vocabulary"] == 3


def test_subset_and_combine(tmp_path: Path) -> None:
    d = _data_dir(tmp_path)
    r = _run("subset", d, tmp_path / "sub", "--first", "3")
    assert r.returncode == 0 and _run("validate", tmp_path / "sub").returncode == 0
    _write(tmp_path / "list", ["s1-0", "ghost"])
    r = _run("subset", d, tmp_path / "bad", "--utt-list", tmp_path / "list")
    _assert_user_error(r, f"{tmp_path / 'list'}:2:", "'ghost'")
    assert not (tmp_path / "bad").exists()
    _assert_user_error(_run("subset", d, tmp_path / "sub", "--first", "1"), "output exists")
    r = _run("combine", tmp_path / "all", d, tmp_path / "sub")
    _assert_user_error(r, "utt2spk:1:", "'s1-0' is also in")
    assert not (tmp_path / "all").exists()
    e = _data_dir(tmp_path / "other", speakers=("s3",))
    r = _run("combine", tmp_path / "all", d, e)
    assert r.returncode == 0 and "6 utterances" in r.stdout
    assert _run("validate", tmp_path / "all").returncode == 0
