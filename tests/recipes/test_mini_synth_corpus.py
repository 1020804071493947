"""Smoke test of egs/mini_synth/corpus1: run.sh with the debug config, in a temporary work dir.

``--workdir`` sends data/ and exp/ to a tmp folder, so the repository is not touched; the
recipe's own files (conf/, local/prepare.py) are used in place.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

RECIPE = Path(__file__).resolve().parents[2] / "egs" / "mini_synth" / "corpus1"


def run_sh(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHON": sys.executable}
    return subprocess.run(["bash", str(RECIPE / "run.sh"), *args], capture_output=True,
                          text=True, env=env, timeout=timeout)


def _listing() -> set[str]:
    return {str(p.relative_to(RECIPE)) for p in RECIPE.rglob("*") if "__pycache__" not in p.parts}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    work = tmp_path_factory.mktemp("corpus1")
    before = _listing()
    first = run_sh("--config", "conf/recipe_debug.yaml", "--workdir", str(work))
    assert first.returncode == 0, first.stderr[-3000:]
    assert _listing() == before, "the recipe wrote into the repository"
    return work, first


def test_all_stages_run_and_write_their_outputs(built):
    work, first = built
    for name in ("train", "dev", "test", "music"):
        assert (work / "data" / name / "wav.scp").is_file()
    exp = work / "exp" / "corpus_debug"
    lines = [json.loads(x) for x in (exp / "stages.jsonl").read_text().splitlines()]
    assert [(r["stage"], r["number"], r["status"]) for r in lines] == [
        ("prepare", 1, "run"), ("validate", 2, "run"), ("stats", 3, "run")]
    for name in ("prepare", "validate", "stats"):
        assert json.loads((exp / "stages" / f"{name}.json").read_text())["stage"] == name
    assert "0 problem(s)" in (exp / "validate.txt").read_text()
    stats = json.loads((work / "data" / "stats.json").read_text())
    report = (exp / "corpus_stats.md").read_text()
    train = stats["splits"]["train"]
    assert f"| train | {train['utterances']} | {train['speakers']} |" in report
    assert f"| **total** | {stats['utterances']} |" in report
    assert "OOV rate" in report and "Traceback" not in first.stderr


def test_second_run_skips_everything_and_jobs_do_not_matter(built):
    work, _ = built
    again = run_sh("--config", "conf/recipe_debug.yaml", "--workdir", str(work), "jobs=1")
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("skip (up to date)") == 3


def test_removed_stats_report_reruns_only_that_stage(built):
    work, _ = built
    (work / "exp" / "corpus_debug" / "corpus_stats.md").unlink()
    again = run_sh("--config", "conf/recipe_debug.yaml", "--workdir", str(work))
    assert again.returncode == 0, again.stderr
    assert "stage 3 stats: run (output missing: exp/corpus_debug/corpus_stats.md)" in again.stdout
    assert again.stdout.count("skip (up to date)") == 2


def test_broken_data_dir_fails_validate_with_one_line(built, tmp_path):
    work, _ = built
    text = work / "data" / "dev" / "text"
    original = text.read_text()
    try:
        text.write_text(original + "zzz-9999 not in wav.scp\n")
        res = run_sh("--config", "conf/recipe_debug.yaml", "--workdir", str(work), "--stages", "validate")
        assert res.returncode == 2
        assert len(res.stderr.strip().splitlines()) == 1, res.stderr
        assert "stage 2 validate failed" in res.stderr and "data/dev/text" in res.stderr
        assert not (work / "exp/corpus_debug/stages/validate.json").exists()
    finally:
        text.write_text(original)


@pytest.mark.parametrize("config", sorted(p.name for p in (RECIPE / "conf").glob("*.yaml")))
def test_every_config_loads_in_a_dry_run(config, tmp_path):
    work = tmp_path / "w"
    res = run_sh("--config", f"conf/{config}", "--workdir", str(work), "--dry-run")
    assert res.returncode == 0, res.stderr
    assert "1 prepare" in res.stdout and "3 stats" in res.stdout
    assert not work.exists()


@pytest.mark.parametrize("args, message", [
    (["--stag", "2"], "did you mean '--stage'?"),
    (["sise=tiny"], "did you mean 'size'?"),
    (["size=huge"], "size 'huge': choose one of"),
    (["--stages", "valdate"], "did you mean 'validate'?"),
])
def test_user_errors_are_one_line_and_create_nothing(args, message, tmp_path):
    work = tmp_path / "w"
    res = run_sh("--workdir", str(work), *args)
    assert res.returncode == 2
    assert len(res.stderr.strip().splitlines()) == 1 and message in res.stderr
    assert "Traceback" not in res.stderr
    assert not work.exists()


def test_run_sh_is_thin_and_portable():
    text = (RECIPE / "run.sh").read_text()
    code = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    assert len(code) <= 10
    assert "/work/" not in text and "/home/" not in text and "/tmp/" not in text
    assert not any(p.is_symlink() for p in RECIPE.rglob("*"))
