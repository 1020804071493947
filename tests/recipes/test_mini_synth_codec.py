"""Smoke test of egs/mini_synth/codec1: run.sh with the debug config, in a temporary work dir.

Runs every stage (tiny corpus, a tiny WavTokenizer trained for a few steps, scoring against the
untrained model and Codec 2, packing, CLI round trip) and checks what each leaves behind.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

RECIPE = Path(__file__).resolve().parents[2] / "egs" / "mini_synth" / "codec1"


def run_sh(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHON": sys.executable}
    return subprocess.run(["bash", str(RECIPE / "run.sh"), *args], capture_output=True,
                          text=True, env=env, timeout=timeout, check=False)


def _listing() -> set[str]:
    return {str(p.relative_to(RECIPE)) for p in RECIPE.rglob("*") if "__pycache__" not in p.parts}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    work = tmp_path_factory.mktemp("codec1")
    before = _listing()
    first = run_sh("--config", "conf/recipe_debug.yaml", "--workdir", str(work))
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-3000:]
    assert _listing() == before, "the recipe wrote into the repository"
    return work, first


def test_every_stage_ran(built):
    work, first = built
    exp = work / "exp" / "codec_debug"
    rows = [json.loads(x) for x in (exp / "stages.jsonl").read_text().splitlines()]
    assert [(r["stage"], r["status"]) for r in rows] == [
        (s, "run") for s in ("prepare", "validate", "train", "score", "pack", "roundtrip")]
    for name in ("train", "dev", "test", "music_train", "music_test"):
        assert (work / "data" / name / "wav.scp").is_file()
    music_test = (work / "data" / "music_test" / "wav.scp").read_text().splitlines()
    music_train = (work / "data" / "music_train" / "wav.scp").read_text()
    assert len(music_test) == 1 and music_test[0].split()[0] not in music_train
    assert (exp / "train" / "checkpoints" / "last.ckpt").is_file()
    assert "Traceback" not in first.stderr


def test_results_have_metric_rows_for_every_system(built):
    work, _ = built
    exp = work / "exp" / "codec_debug"
    text = (exp / "RESULTS.md").read_text()
    assert "./run.sh --config conf/recipe_debug.yaml --workdir" in text
    assert "| system | bit/s | tokens/s | set | items | mel distance ↓ | mel, active frames ↓ | PESQ-wb" in text
    for system in ("trained", "untrained") + (("codec2 700C",) if shutil.which("c2enc") else ()):
        for set_name in ("test speech", "test music"):
            row = next(line for line in text.splitlines() if line.startswith(f"| {system} | ")
                       and f"| {set_name} |" in line)
            cells = [c.strip() for c in row.strip("|").split("|")]
            assert float(cells[5]) > 0 and float(cells[6]) > 0 and 0 <= float(cells[8]) <= 1, row  # mels, STOI
    scores = json.loads((exp / "scores.json").read_text())
    assert scores["bitrates"]["trained"] == pytest.approx(750 * 6)  # hop 32 at 24 kHz, 64 codes
    assert {s["system"] for s in scores["scores"]} >= {"trained", "untrained"}


def test_packed_model_loads_and_matches_the_checkpoint(built):
    from audiokit.checkpoint import load_pretrained
    from audiokit.train.codec import codec_from_checkpoint

    work, _ = built
    exp = work / "exp" / "codec_debug"
    packed = load_pretrained(exp / "packed")
    trained, _ = codec_from_checkpoint(exp / "train" / "checkpoints" / "last.ckpt", exp / "train" / "config.yaml")
    x = torch.randn(1, 1, 3200) * 0.1
    assert torch.equal(packed.encode(x), trained.encode(x))
    assert packed.decode(packed.encode(x)).shape == (1, 1, 3200)


def test_roundtrip_through_the_cli(built):
    work, _ = built
    report = (work / "exp" / "codec_debug" / "roundtrip.txt").read_text()
    assert report.startswith("skipped") or "rate and length preserved: yes" in report


def test_rerun_skips_everything(built):
    work, _ = built
    again = run_sh("--config", "conf/recipe_debug.yaml", "--workdir", str(work), "jobs=1")
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stdout.count("skip (up to date)") == 6


def test_bad_config_is_one_line(built):
    work, _ = built
    bad = run_sh("--config", "conf/recipe_debug.yaml", "--workdir", str(work), "baseline=opus")
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0 and "baseline 'opus'" in bad.stderr
    assert "Traceback" not in bad.stderr


# --------------------------------------------------------------------------- other codecs
#: train_config -> (codec class, sample rate, tokens/s, bit/s) of its debug model
OTHER_CODECS = {
    "configs/codec/train_hificodec_debug.yaml": ("HiFiCodec", 16000, 50 * 4, 50 * 4 * 10),
    "configs/codec/train_languagecodec_debug.yaml": ("LanguageCodec", 24000, 750 * 8, 750 * 8 * 5),
}


@pytest.mark.parametrize("train_config", sorted(OTHER_CODECS))
def test_recipe_trains_another_codec_by_config_switch(tmp_path, train_config):
    cls, sr, tokens, bits = OTHER_CODECS[train_config]
    tag = "other_" + Path(train_config).stem
    run = run_sh("--config", "conf/recipe_debug.yaml", "--workdir", str(tmp_path),
                 f"train_config={train_config}", f"tag={tag}")
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    exp = tmp_path / "exp" / tag
    rows = [json.loads(x) for x in (exp / "stages.jsonl").read_text().splitlines()]
    assert [(r["stage"], r["status"]) for r in rows] == [
        (s, "run") for s in ("prepare", "validate", "train", "score", "pack", "roundtrip")]
    scores = json.loads((exp / "scores.json").read_text())
    assert scores["info"]["model"]["class_path"].endswith(f".{cls}") and scores["info"]["sample_rate"] == sr
    assert scores["tokens_per_s"]["trained"] == pytest.approx(tokens)
    assert scores["bitrates"]["trained"] == pytest.approx(bits)
    text = (exp / "RESULTS.md").read_text()
    row = next(line for line in text.splitlines() if line.startswith("| trained | ") and "| test speech |" in line)
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert float(cells[1]) == bits and float(cells[2]) == tokens and float(cells[5]) > 0
    assert "rate and length preserved: yes" in (exp / "roundtrip.txt").read_text()
