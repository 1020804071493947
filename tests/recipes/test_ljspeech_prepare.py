"""egs/ljspeech/tts1/local/prepare.py on a fake LJSpeech tree (metadata.csv + wavs/), and its errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audiokit.data.kaldi import DataDir
from audiokit.data.validate import validate_data_dir

PREPARE = Path(__file__).resolve().parents[2] / "egs" / "ljspeech" / "tts1" / "local" / "prepare.py"


def fake_corpus(root: Path, n: int = 12) -> Path:
    (root / "wavs").mkdir(parents=True)
    lines = []
    for i in range(n):
        utt = f"LJ001-{i + 1:04d}"
        sf.write(root / "wavs" / f"{utt}.wav", (0.1 * np.sin(np.arange(22050 // 2) / 7)).astype(np.float32), 22050)
        raw = f"Printing, in the only sense {i}, Mr. Smith"
        norm = "" if i == 3 else f"Printing, in the only sense number {i}, Mister Smith"
        lines.append(f"{utt}|{raw}|{norm}")
    (root / "metadata.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def run(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k != "LJSPEECH"}
    full_env.update(env or {})
    return subprocess.run([sys.executable, str(PREPARE), *args], capture_output=True, text=True, env=full_env,
                          cwd=cwd, timeout=120, check=False)


def test_prepare_fake_tree(tmp_path):
    corpus = fake_corpus(tmp_path / "LJSpeech-1.1")
    out = tmp_path / "data"
    proc = run("--corpus", str(corpus), "--out", str(out), "--num-dev", "2", "--num-test", "3")
    assert proc.returncode == 0, proc.stderr
    sets = {name: DataDir.load(out / name) for name in ("train", "dev", "test")}
    assert [len(sets[n].utt_ids) for n in ("train", "dev", "test")] == [7, 2, 3]
    all_ids = [u for d in sets.values() for u in d.utt_ids]
    assert len(set(all_ids)) == 12  # disjoint and complete
    for name, dd in sets.items():
        assert set(dd.utt2spk.values()) == {"LJ"} and dd.spk2gender == {"LJ": "f"}
        assert [p for p in validate_data_dir(out / name) if p.severity == "error"] == []
    texts = {k: v for d in sets.values() for k, v in d.text.items()}
    assert texts["LJ001-0001"] == "Printing, in the only sense number 0, Mister Smith"  # normalized column
    assert texts["LJ001-0004"] == "Printing, in the only sense 3, Mr. Smith"  # raw when normalized is empty
    wav = Path(sets["train"].wav_scp[sets["train"].utt_ids[0]])
    assert wav.is_absolute() and wav.is_file()
    again = tmp_path / "again"
    assert run("--corpus", str(corpus), "--out", str(again), "--num-dev", "2", "--num-test", "3").returncode == 0
    assert (again / "test" / "text").read_text() == (out / "test" / "text").read_text()  # seeded split


def test_corpus_from_environment(tmp_path):
    corpus = fake_corpus(tmp_path / "lj")
    proc = run("--out", "data", "--num-dev", "1", "--num-test", "2", env={"LJSPEECH": str(corpus)}, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert len(DataDir.load(tmp_path / "data" / "train").utt_ids) == 9


@pytest.mark.parametrize("case", ["missing_dir", "no_metadata", "no_flag_no_env", "missing_wav", "bad_line"])
def test_errors_are_one_line(tmp_path, case):
    corpus = fake_corpus(tmp_path / "lj")
    args = ["--corpus", str(corpus)]
    expect = ""
    if case == "missing_dir":
        args, expect = ["--corpus", str(tmp_path / "nowhere")], "not found"
    elif case == "no_metadata":
        (corpus / "metadata.csv").unlink()
        expect = "metadata.csv: missing"
    elif case == "no_flag_no_env":
        args, expect = [], "LJSPEECH"
    elif case == "missing_wav":
        (corpus / "wavs" / "LJ001-0005.wav").unlink()
        expect = "metadata.csv:5:"
    elif case == "bad_line":
        with open(corpus / "metadata.csv", "a", encoding="utf-8") as fh:
            fh.write("just some words\n")
        expect = "metadata.csv:13:"
    out = tmp_path / "data"
    proc = run(*args, "--out", str(out), "--num-dev", "1", "--num-test", "2")
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and expect in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()
