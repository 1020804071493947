"""Smoke test of bench/streaming.py --quick: it runs and prints its one table (no speed asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "streaming.py"


def test_quick_run_prints_one_table(tmp_path):
    out = tmp_path / "bench.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = subprocess.run([sys.executable, str(BENCH), "--quick", "--threads", "1", "--json", str(out)],
                         capture_output=True, text=True, env=env, timeout=300, check=False)
    assert res.returncode == 0, res.stderr[-2000:]
    lines = res.stdout.splitlines()
    header = [i for i, line in enumerate(lines) if line.startswith("| model |")]
    assert len(header) == 1, res.stdout  # one table
    cols = [c.strip() for c in lines[header[0]].strip("|").split("|")]
    assert cols[5:7] == ["cache-aware ms/chunk", "buffered ms/chunk"]
    assert "cache-aware / buffered" in cols and "offline RTF" in cols
    rows = [line for line in lines[header[0] + 2:] if line.startswith("| debug |")]
    assert len(rows) == 2  # the debug model's two look-aheads: 240 and 0 ms
    data = json.loads(out.read_text())
    assert [r["lookahead_ms"] for r in data["rows"]] == [240, 0]
    for r in data["rows"]:
        assert r["ratio"] > 0 and r["chunks"] > 0 and all(v > 0 for v in r["rtf"].values())
        assert r["max_abs_diff"] < 1e-3  # the cache-aware frames equal the offline ones
        assert f"look-ahead {r['lookahead_ms']} ms: cache-aware / buffered = {r['ratio']:.2f}" in res.stdout


def test_bad_size_is_refused():
    res = subprocess.run([sys.executable, str(BENCH), "--sizes", "huge"], capture_output=True, text=True,
                         timeout=120, check=False)
    assert res.returncode == 2 and "unknown size 'huge'" in res.stderr and "Traceback" not in res.stderr
