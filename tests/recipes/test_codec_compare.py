"""egs/mini_synth/codec1/local/compare.py: several runs' scores.json in one table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "egs" / "mini_synth" / "codec1" / "local" / "compare.py"
SETS = {"test speech": {"items": 2, "seconds": 4.0}}


def _row(system: str, mel: float, active: bool = True) -> dict:
    usage = {"perplexity": 9.0, "used": 10, "used_fraction": 0.01, "frames": 300} if "codec2" not in system else {}
    row = {"system": system, "set": "test speech", "items": 2, "mel": mel, "pesq": 1.5, "pesq_items": 2,
           "stoi": 0.6, "usage": usage}
    return {**row, "mel_active": mel / 2} if active else row  # scores.json from before mel_active: no key


def _write(exp: Path, tag: str, bitrate: float, tokens: float, mel: float, sets=SETS, active: bool = True) -> None:
    run = {"info": {"train_config": f"configs/codec/{tag}.yaml", "iterations": 10, "global_step": 12, "sets": sets},
           "bitrates": {"trained": bitrate, "untrained": bitrate, "codec2 700C": 700},
           "tokens_per_s": {"trained": tokens, "untrained": tokens, "codec2 700C": None},
           "scores": [_row("trained", mel, active), _row("untrained", 4.0, active), _row("codec2 700C", 3.5, active)]}
    (exp / tag).mkdir(parents=True)
    (exp / tag / "scores.json").write_text(json.dumps(run))


def _run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=env, check=False)


def test_two_runs_side_by_side_with_one_copy_of_the_baseline(tmp_path):
    _write(tmp_path, "wt", 750, 75, 2.5, active=False)
    _write(tmp_path, "lc", 6000, 600, 1.9)
    out = tmp_path / "cmp.md"
    proc = _run("wt", "lc", "--exp", str(tmp_path), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    rows = [line for line in out.read_text().splitlines() if line.startswith("| ") and "system" not in line]
    names = [r.split("|")[1].strip() for r in rows]
    assert names == ["wt: trained", "wt: untrained", "lc: trained", "lc: untrained", "codec2 700C"]
    assert "| lc: trained | 6000 | 600 | test speech | 2 | 1.900 | 0.950 |" in out.read_text()
    assert "| wt: trained | 750 | 75 | test speech | 2 | 2.500 | – |" in out.read_text()  # older scores
    assert "| codec2 700C | 700 | – | test speech | 2 | 3.500 | – |" in out.read_text()  # the first run's copy


def test_missing_run_or_other_items_is_one_line_error_and_no_output(tmp_path):
    _write(tmp_path, "wt", 750, 75, 2.5)
    _write(tmp_path, "other", 750, 75, 2.5, sets={"test speech": {"items": 3, "seconds": 6.0}})
    out = tmp_path / "cmp.md"
    for args in (["wt", "nope"], ["wt", "other"]):
        proc = _run(*args, "--exp", str(tmp_path), "-o", str(out))
        assert proc.returncode == 1 and "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1 and proc.stderr.startswith("error: ")
        assert not out.exists()
