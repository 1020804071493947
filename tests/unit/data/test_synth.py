"""The tiny mini_synth build end to end: splits, held-out voices, exact text, determinism, music.

Builds run with a relative ``--out data`` from their own folder, as the recipe does, so
``wav.scp`` holds relative paths and two builds can be compared byte for byte.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audiokit.data.kaldi import DataDir, read_table
from audiokit.data.synth import SIZES, build_mini_synth, build_music
from audiokit.data.synth.voices import VOICES, available_voices

REPO = Path(__file__).resolve().parents[3]
PREPARE = REPO / "egs" / "mini_synth" / "corpus1" / "local" / "prepare.py"
SPLITS = ("train", "dev", "test")
TABLES = ("wav.scp", "text", "utt2spk", "spk2utt", "spk2gender", "utt2dur")
BY_SPK = {v.spk: v for v in VOICES}


def _prepare(cwd: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(PREPARE), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300, env=env)


def _build(root: Path, seed: int, music: int = 0) -> Path:
    root.mkdir(parents=True)
    with contextlib.chdir(root):
        build_mini_synth(Path("data"), size="tiny", seed=seed, jobs=2, progress=False)
        if music:
            build_music(Path("data"), n_songs=music, seed=seed, progress=False)
    return root / "data"


def _files(data: Path) -> dict[str, bytes]:
    return {str(p.relative_to(data)): p.read_bytes() for p in sorted(data.rglob("*"))
            if p.is_file() and p.name != "build_time.txt"}


@pytest.fixture(scope="module")
def builds(tmp_path_factory) -> dict[str, Path]:
    """a: via prepare.py (seed 0, 2 songs); b: via the function (seed 0, 2 songs); c: seed 1."""
    base = tmp_path_factory.mktemp("synth")
    (base / "a").mkdir()
    res = _prepare(base / "a", "--out", "data", "--size", "tiny", "--seed", "0", "--jobs", "2",
                   "--music-songs", "2", "--no-progress")
    assert res.returncode == 0, res.stderr
    assert "OOV token rate" in res.stdout and "music: 2 songs" in res.stdout
    return {"a": base / "a" / "data", "b": _build(base / "b", 0, music=2),
            "c": _build(base / "c", 1)}


@pytest.fixture(scope="module")
def dirs(builds) -> dict[str, DataDir]:
    with contextlib.chdir(builds["a"].parent):
        return {s: DataDir.load(Path("data") / s) for s in SPLITS}


def test_three_splits_with_all_tables(builds, dirs):
    n_voices = len(available_voices())
    for split in SPLITS:
        for name in TABLES:
            assert (builds["a"] / split / name).is_file(), f"{split}/{name} missing"
    assert sum(len(d.utt2spk) for d in dirs.values()) == n_voices * SIZES["tiny"].utts_per_spk
    for split, dd in dirs.items():
        assert set(dd.wav_scp) == set(dd.text) == set(dd.utt2spk) == set(dd.utt2dur)
        for utt, spk in dd.utt2spk.items():
            assert utt.startswith(spk + "-") and BY_SPK[spk].split == split
            assert dd.wav_scp[utt] == f"data/wav/{spk}/{utt}.wav"  # relative, as --out was
            assert dd.spk2gender[spk] == BY_SPK[spk].gender


def test_test_voices_are_held_out(dirs):
    train = {BY_SPK[s] for s in dirs["train"].utt2spk.values()}
    test = {BY_SPK[s] for s in dirs["test"].utt2spk.values()}
    assert len(test) >= 3 and len(train) >= 11
    assert not {(v.engine, v.name) for v in train} & {(v.engine, v.name) for v in test}
    assert not {v.family for v in train if v.family} & {v.family for v in test if v.family}
    assert {"fe_kal", "fl_kal16"} <= {v.spk for v in train}  # twins together, on one side
    assert any("hts" in v.name for v in test) and not any("hts" in v.name for v in train)


def test_sentence_pools_are_disjoint(dirs):
    pools = {s: set(dd.text.values()) for s, dd in dirs.items()}
    assert not pools["train"] & pools["dev"]
    assert not pools["train"] & pools["test"]
    assert not pools["dev"] & pools["test"]


def test_text_is_the_requested_sentence(builds, dirs):
    plan = json.loads((builds["a"] / ".synth_plan.json").read_text())["plan"]
    requested = {utt: text for utt, text, _, _ in plan}
    got = {u: t for dd in dirs.values() for u, t in dd.text.items()}
    assert got == requested
    for text in got.values():
        assert 4 <= len(text.split()) <= 14 and text == text.lower()


def test_audio_is_16k_mono_normalised_and_padded(builds, dirs):
    for dd in dirs.values():
        for utt, path in dd.wav_scp.items():
            with wave.open(str(builds["a"].parent / path)) as w:
                assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
                assert abs(w.getnframes() / 16000 - float(dd.utt2dur[utt])) < 1e-3
            x, _ = sf.read(builds["a"].parent / path, dtype="float32")
            words = len(dd.text[utt].split())
            assert 0.3 + 0.1 * words < len(x) / 16000 < 2.0 + 1.0 * words, utt
            assert 0.85 < np.abs(x).max() <= 0.9  # norm -1 dBFS = 0.891
            assert np.abs(x[:2000]).max() < 0.05  # 0.15 s padding (minus resampler ringing)
            assert np.sqrt(np.mean(x ** 2)) > 0.03


def test_same_seed_is_byte_identical(builds):
    a, b = _files(builds["a"]), _files(builds["b"])
    assert sorted(a) == sorted(b)
    assert [k for k in a if a[k] != b[k]] == []
    assert sum(k.endswith(".wav") for k in a) > 40


def test_different_seed_differs(builds):
    a, c = _files(builds["a"]), _files(builds["c"])
    for split in SPLITS:
        assert a[f"{split}/text"] != c[f"{split}/text"]
    common = [k for k in a if k.endswith(".wav") and k in c]
    assert sum(a[k] != c[k] for k in common) > len(common) // 2


def test_stats_and_versions_written(builds):
    stats = json.loads((builds["a"] / "stats.json").read_text())
    assert stats["seed"] == 0 and stats["size"] == "tiny"
    assert stats["utterances"] == sum(stats["splits"][s]["utterances"] for s in SPLITS)
    assert set(stats["splits"]) == set(SPLITS) and stats["splits"]["test"]["speakers"] >= 3
    assert 0 < stats["hours"] < 0.2 and stats["vocabulary"] > 50
    assert 0 < stats["oov_token_rate_test"] < 1
    txt = (builds["a"] / "stats.txt").read_text()
    assert "OOV token rate" in txt and "test" in txt
    assert float((builds["a"] / "build_time.txt").read_text()) > 0
    versions = (builds["a"] / "versions.txt").read_text()
    for pkg in ("espeak-ng", "flite", "festival", "sox"):
        assert pkg in versions
    assert "fe_slthts test f festival cmu_us_slt_arctic_hts" in versions


def test_music_set_is_readable(builds):
    music = builds["a"] / "music"
    utt2spk = read_table(music / "utt2spk")
    wav_scp = read_table(music / "wav.scp")
    utt2dur = read_table(music / "utt2dur")
    assert len(utt2spk) == 2 and set(utt2spk) == set(wav_scp) == set(utt2dur)
    for utt, path in wav_scp.items():
        assert utt.startswith(utt2spk[utt] + "-") and utt2spk[utt].startswith("music_")
        x, sr = sf.read(builds["a"].parent / path, dtype="float32")
        assert sr == 24000 and x.ndim == 1
        assert abs(len(x) / sr - float(utt2dur[utt])) < 1e-3 and len(x) / sr > 10
        assert np.sqrt(np.mean(x ** 2)) > 0.02
    assert "fluidsynth" in (builds["a"] / "music_versions.txt").read_text()


def test_validator_finds_no_errors(builds):
    if importlib.util.find_spec("audiokit.data.validate") is None:
        pytest.skip("audiokit.data.validate not written yet")
    from audiokit.data.validate import validate_data_dir

    with contextlib.chdir(builds["a"].parent):
        for split in SPLITS:
            errors = [str(p) for p in validate_data_dir(Path("data") / split)
                      if p.severity == "error"]
            assert errors == [], errors


def test_interrupted_build_resumes(tmp_path):
    data = _build(tmp_path / "r", 0)
    before = _files(data)
    victim = sorted(data.glob("wav/fe_ked/*.wav"))[0]
    keep = sorted(data.glob("wav/es_us_m1/*.wav"))[0]
    victim.unlink()
    os.utime(keep, (1, 1))
    with contextlib.chdir(tmp_path / "r"):
        build_mini_synth(Path("data"), size="tiny", seed=0, progress=False)
    assert _files(data) == before
    assert keep.stat().st_mtime == 1  # finished utterances were not synthesised again


def test_missing_sox_is_one_line_error(tmp_path):
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}
    res = _prepare(tmp_path, "--out", "data", "--size", "tiny", env=env)
    assert res.returncode == 2
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr
    assert "install the Debian package 'sox'" in res.stderr
    assert not (tmp_path / "data").exists()
