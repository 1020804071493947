"""Smoke tests of ``bench/codec.py`` and ``bench/_common.py``: the table prints, the JSON is
complete, the memory probe sees an allocation. Nothing here asserts a speed."""

from __future__ import annotations

import json
import mmap
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))
import _common as common


def run_bench(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(BENCH / "codec.py"), *args], check=False, capture_output=True, text=True,
                          timeout=timeout)


def table_rows(stdout: str) -> list[list[str]]:
    lines = [ln for ln in stdout.splitlines() if ln.startswith("|")]
    return [[c.strip() for c in ln.strip("|").split("|")] for ln in lines]


def test_quick_prints_one_table_and_json(tmp_path):
    out = tmp_path / "bench.json"
    proc = run_bench("--quick", "--threads", "1", "--no-memory", "--codecs", "languagecodec-v2",
                     "wavtokenizer-600", "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    rows = table_rows(proc.stdout)
    header, sep, body = rows[0], rows[1], rows[2:]
    assert header[0] == "model" and header[-1] == "audiokit / vocos"
    assert all(set(c) <= set("-:") for c in sep)
    assert sum(1 for ln in proc.stdout.splitlines() if ln.startswith("| model |")) == 1  # one table
    steps = [(r[0].split(" ")[0], r[1]) for r in body]
    assert steps[:4] == [("Language-Codec", "encode"), ("Language-Codec", "decode"),
                         ("WavTokenizer", "encode"), ("WavTokenizer", "decode")]
    decoder = body[4:]
    assert [r[0].split(" ")[0] for r in decoder] == ["vocos", "audiokit", "audiokit"]
    assert decoder[0][-1].startswith("1.00x")
    assert all(r[-1].endswith(")") and "x (cpu " in r[-1] for r in decoder)
    assert all(float(r[3]) > 0 for r in body)  # RTF measured

    data = json.loads(out.read_text())
    assert data["seconds"] == 1.0 and data["repeats"] == 1
    assert len(data["rows"]) == len(body)
    by_key = {(r["codec"], r["step"]): r for r in data["rows"]}
    # released sizes (codecs.md): WavTokenizer hop-600 backbone + head + codebook; Language-Codec v2
    assert by_key[("wavtokenizer-600", "decode")]["weights_m"] == pytest.approx(68.0, abs=0.1)
    assert by_key[("languagecodec-v2", "encode")]["weights_m"] == pytest.approx(9.5, abs=0.1)
    assert by_key[("wavtokenizer-600", "encode")]["audio_s"] == pytest.approx(1.0)
    same = [r for r in data["rows"] if r.get("max_abs_diff") is not None]
    assert len(same) == 1 and same[0]["max_abs_diff"] <= 1e-4  # the same weights really were loaded


def test_memory_worker_reports_json():
    # a large parent must not lend its peak to the worker (ru_maxrss would: fork + exec keep it)
    ballast = bytearray(1024 * common.MIB)
    ballast[:: 4096] = b"\1" * len(ballast[:: 4096])
    proc = run_bench("--worker", "languagecodec-v2", "decode", "--seconds", "1", "--threads", "1")
    del ballast
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["codec"] == "languagecodec-v2" and result["op"] == "decode"
    assert result["exact"] is True
    assert result["peak"] >= result["rss_before"] > 0
    assert result["delta"] == result["peak"] - result["rss_before"]
    assert result["delta"] < 256 * common.MIB  # 1 s of Language-Codec decode, not the parent's 1 GiB


def test_bad_arguments_exit_2():
    proc = run_bench("--seconds", "0")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    proc = run_bench("--codecs", "nope")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def _fresh_pages(size: int) -> int:
    """Map ``size`` bytes of new anonymous memory, touch every page, unmap it.

    (A ``bytearray`` may reuse pages the test process already has resident from earlier tests, and
    then RSS does not grow at all: measured 0.03 MiB after tests/unit/models in one process, which
    is what failed in CI.)"""
    block = mmap.mmap(-1, size)
    try:
        for offset in range(0, size, mmap.PAGESIZE):
            block[offset] = 1
        return size
    finally:
        block.close()


def test_measure_peak_rss_sees_an_allocation():
    def allocate():
        return _fresh_pages(64 * common.MIB)

    result = common.measure_peak_rss(allocate)
    assert result["exact"]
    assert 56 * common.MIB <= result["delta"] <= 128 * common.MIB
    small = common.measure_peak_rss(lambda: None)
    assert small["delta"] < 16 * common.MIB  # the earlier peak was reset


def test_time_calls_interleaves_after_warmup():
    order: list[str] = []
    fns = {"a": lambda: order.append("a"), "b": lambda: order.append("b")}
    times = common.time_calls_detailed(fns, repeats=3, warmup=1)
    assert order == ["a", "b"] * 4
    assert set(times) == {"a", "b"} and all(len(t["wall"]) == len(t["cpu"]) == 3 for t in times.values())
    assert list(common.time_calls(fns, repeats=2, warmup=0)) == ["a", "b"]
    with pytest.raises(ValueError):
        common.time_calls(fns, repeats=0)
    assert common.summarize([3.0, 1.0, 2.0]) == {"median": 2.0, "min": 1.0, "max": 3.0}


def test_markdown_table_aligns_numbers():
    text = common.markdown_table(("name", "value"), [("a", "1.5"), ("b", None)])
    assert text.splitlines() == ["| name | value |", "|---|---:|", "| a | 1.5 |", "| b | - |"]
