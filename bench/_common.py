"""Timing and peak-memory helpers shared by the benchmarks in ``bench/``.

Timing: :func:`time_calls` runs callables interleaved (A, B, A, B, ...) after warm-up
runs, so that load from other processes hits every contender alike; :func:`summarize`
gives median / min / max.

Memory: :func:`measure_peak_rss` runs one call and reports how far the process's peak
resident set size rose above the resident size just before the call. Before the call it
resets the kernel's high-water mark (writing ``5`` to ``/proc/self/clear_refs``, Linux >=
4.0), so an earlier, larger peak (imports, model construction) cannot hide the call's own
peak; the peak is then read from ``VmHWM`` in ``/proc/self/status``. Not from
``resource.getrusage(RUSAGE_SELF).ru_maxrss``: across fork + exec Linux keeps the parent's
peak in it, so a worker started by a large parent reports at least the parent's RSS
(measured: every worker of one run reported the same 1.28 GB peak); ``ru_maxrss`` is only
the fallback where ``/proc`` is missing. Meant to run in a fresh process per measurement (:func:`run_worker` starts one and reads its JSON answer), so allocator caches
from other measurements do not lend memory to this one. It counts everything the process
touches: torch's CPU allocator, Python objects, libraries' scratch buffers.

Nothing here imports torch at module level, so a worker can set thread counts first.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

KIB = 1024
MIB = 1024 * 1024


# --------------------------------------------------------------------------- timing
def time_once(fn: Callable[[], Any]) -> tuple[float, float]:
    """``(wall, cpu)`` seconds of one call of ``fn``; cpu = this process's CPU time, all threads."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def time_calls_detailed(
    fns: Mapping[str, Callable[[], Any]], repeats: int, warmup: int = 1
) -> dict[str, dict[str, list[float]]]:
    """Time each callable ``repeats`` times, interleaved, after ``warmup`` untimed rounds.

    Order per round: the mapping's order (A, B, C, A, B, C, ...). Returns
    ``{name: {"wall": [seconds...], "cpu": [seconds...]}}``. CPU time does not count time
    spent waiting for a core, so it is steadier than wall time on a busy machine (but it
    does count OpenMP threads spinning at barriers).
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, dict[str, list[float]]] = {name: {"wall": [], "cpu": []} for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            wall, cpu = time_once(fn)
            times[name]["wall"].append(wall)
            times[name]["cpu"].append(cpu)
    return times


def time_calls(fns: Mapping[str, Callable[[], Any]], repeats: int, warmup: int = 1) -> dict[str, list[float]]:
    """Like :func:`time_calls_detailed`, wall-clock seconds only: ``{name: [seconds...]}``."""
    return {name: t["wall"] for name, t in time_calls_detailed(fns, repeats, warmup).items()}


def summarize(times: Sequence[float]) -> dict[str, float]:
    """``{"median", "min", "max"}`` of a list of seconds."""
    return {"median": statistics.median(times), "min": min(times), "max": max(times)}


# --------------------------------------------------------------------------- memory
def _status_kib(field: str) -> int | None:
    """A ``/proc/self/status`` field in KiB (``VmRSS``, ``VmHWM``), or ``None`` off Linux."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def current_rss_bytes() -> int | None:
    """Resident set size now, in bytes (Linux only)."""
    kib = _status_kib("VmRSS")
    return None if kib is None else kib * KIB


def peak_rss_bytes() -> int:
    """Peak RSS of this process since start or the last :func:`reset_peak_rss`, in bytes.

    ``VmHWM`` (per address space, reset by :func:`reset_peak_rss`); off Linux ``ru_maxrss``.
    """
    kib = _status_kib("VmHWM")
    return maxrss_bytes() if kib is None else kib * KIB


def maxrss_bytes() -> int:
    """Peak RSS of this process so far (``ru_maxrss``; KiB on Linux, bytes on macOS)."""
    value = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return value if sys.platform == "darwin" else value * KIB


def reset_peak_rss() -> bool:
    """Reset the kernel's RSS high-water mark to the current RSS; ``False`` if unsupported."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
    except OSError:
        return False
    return True


def measure_peak_rss(fn: Callable[[], Any]) -> dict[str, Any]:
    """Run ``fn`` once; report its peak RSS above the RSS just before it.

    Returns ``{"rss_before": bytes, "peak": bytes, "delta": bytes, "exact": bool}``.
    ``exact`` is ``False`` when the high-water mark could not be reset and ``fn`` never
    exceeded an earlier peak: then ``delta`` is only an upper bound. Memory that ``fn`` takes from
    pages the process already holds (malloc reusing freed heap) is not new RSS and is not
    counted: measure in a fresh process (:func:`run_worker`) for a model's footprint.
    """
    import gc

    gc.collect()
    reset = reset_peak_rss()
    before = current_rss_bytes()
    peak_before = peak_rss_bytes()
    if before is None:
        before = peak_before
    fn()
    peak = peak_rss_bytes()
    exact = reset or peak > peak_before
    return {"rss_before": before, "peak": peak, "delta": max(0, peak - before), "exact": exact}


def run_worker(argv: Sequence[str], timeout: float | None = None) -> dict[str, Any]:
    """Run ``python argv...`` in a fresh process; return the JSON object on its last stdout line.

    Raises ``RuntimeError`` with the worker's stderr tail when it fails.
    """
    proc = subprocess.run([sys.executable, *argv], check=False, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
        raise RuntimeError(f"worker {' '.join(argv)} failed (exit {proc.returncode}): {tail}")
    return json.loads(lines[-1])


# --------------------------------------------------------------------------- context
def machine_info(threads: int) -> dict[str, Any]:
    """What the numbers depend on: CPU, core count, load, library versions, threads."""
    import torch

    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {
        "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "load_avg": load,
        "python": platform.python_version(), "torch": torch.__version__, "threads": threads,
    }


def set_threads(threads: int) -> None:
    """``torch.set_num_threads(threads)`` (intra-op); inter-op stays torch's default."""
    import torch

    torch.set_num_threads(int(threads))


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub markdown table; numbers and ``None`` (shown as ``-``) are right-aligned."""
    def cell(v: Any) -> str:
        return "-" if v is None else str(v)

    body = [[cell(v) for v in row] for row in rows]
    numeric = [bool(body) and all(_is_number(r[i]) for r in body) for i in range(len(header))]
    align = ["---:" if n else "---" for n in numeric]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in body]
    return "\n".join(lines)


def _is_number(text: str) -> bool:
    if text == "-":
        return True
    try:
        float(text.rstrip("x"))
    except ValueError:
        return False
    return True


def fmt(value: float | None, digits: int = 3) -> str | None:
    """A float with ``digits`` decimals, or ``None``."""
    return None if value is None else f"{value:.{digits}f}"
