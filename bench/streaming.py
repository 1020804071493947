"""Streaming cost of the cache-aware FastConformer encoder against buffered and offline encoding.

Usage::

    python bench/streaming.py [--sizes mini large] [--seconds 10] [--repeats 3] [--threads 2]
                              [--quick] [--json out.json]

Prints one markdown table on stdout (progress goes to stderr). For each model size (random
weights, built from ``configs/asr/fastconformer_<size>.yaml``) and each look-ahead it was
built with (``att_context_size = [L, R]``, chunks of ``R + 1`` encoder frames of 80 ms):

* **cache-aware**: the audio is fed chunk by chunk (``frame_shift * (R + 1)`` samples) through
  ``init_stream`` / ``stream``: streaming front-end, then one cached encoder step per chunk
  (each chunk's frames attend to the cached ``L`` frames and to the chunk itself);
* **buffered** (the baseline of the cache-aware streaming paper): for each chunk the encoder
  is run again, without caches, over a window of audio holding the ``L`` frames of left
  context and the chunk (shorter at the start, where the window grows), full attention
  inside the window; the chunk's frames are kept;
* **offline**: one encoder pass over the whole utterance under the same context.

Columns: median compute per chunk (ms) of both streaming modes, real-time factors (compute
seconds / audio seconds; < 1 is faster than real time) of all three, the ratio cache-aware /
buffered of total compute (< 1: the cache saves work), and the largest difference between
the cache-aware frames and the offline ones (exact streaming gives float rounding only).
Modes are timed interleaved (one run of each per round) after a warm-up round.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common  # bench/ is a folder of scripts, not a package

REPO = Path(__file__).resolve().parents[1]
SIZES = ("debug", "mini", "streaming_large")
ALIASES = {"large": "streaming_large"}
HEADER = ("model", "params (M)", "look-ahead (ms)", "chunk (ms)", "chunks", "cache-aware ms/chunk",
          "buffered ms/chunk", "cache-aware RTF", "buffered RTF", "offline RTF", "cache-aware / buffered",
          "max abs diff vs offline")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def build_encoder(size: str) -> Any:
    """The FastConformer encoder of ``configs/asr/fastconformer_<size>.yaml``, random weights, eval."""
    import torch

    from audiokit.config import instantiate, read_yaml

    path = REPO / "configs" / "asr" / f"fastconformer_{size}.yaml"
    cfg, _ = read_yaml(path)
    torch.manual_seed(0)
    model = instantiate(cfg["task"]["init_args"]["model"], where=f"{path}: task.init_args.model")
    return model.encoder.eval()


def cache_aware_run(enc: Any, wav: Any, ctx: list[int], chunk: int, times: list[float]) -> Any:
    """Feed ``wav (T,)`` in ``chunk``-sample pieces; append each piece's seconds; return ``(T', D)``."""
    import torch

    state = enc.init_stream(1, ctx)
    outs = []
    for start in range(0, wav.shape[0], chunk):
        piece = wav[None, start:start + chunk]
        t0 = time.perf_counter()
        with torch.inference_mode():
            frames, state = enc.stream(piece, state, final=start + chunk >= wav.shape[0])
        times.append(time.perf_counter() - t0)
        outs.append(frames[0])
    return torch.cat(outs, 0)


def buffered_run(enc: Any, wav: Any, ctx: list[int], times: list[float]) -> None:
    """Re-encode ``[left context + chunk]`` of audio for every chunk; append each chunk's seconds."""
    import torch

    shift, left, size = enc.frame_shift, int(ctx[0]), int(ctx[1]) + 1
    n_frames = -(-wav.shape[0] // shift)
    for c0 in range(0, n_frames, size):
        lo, hi = max(0, c0 - left) * shift, min(wav.shape[0], (c0 + size) * shift)
        t0 = time.perf_counter()
        with torch.inference_mode():
            y, _ = enc.encode(wav[None, lo:hi], torch.tensor([hi - lo]), att_context_size=[-1, -1])
            _ = y[:, -(min(size, n_frames - c0)):]
        times.append(time.perf_counter() - t0)


def offline_run(enc: Any, wav: Any, ctx: list[int]) -> Any:
    import torch

    with torch.inference_mode():
        y, _ = enc.encode(wav[None], torch.tensor([wav.shape[0]]), att_context_size=ctx)
    return y[0]


def bench_context(enc: Any, wav: Any, ctx: list[int], repeats: int) -> dict[str, Any]:
    """Timings of the three modes at one attention context (interleaved rounds)."""
    chunk = enc.frame_shift * (int(ctx[1]) + 1)
    per_chunk: dict[str, list[float]] = {"cache": [], "buffered": []}
    results: dict[str, Any] = {}
    fns: dict[str, Callable[[], Any]] = {
        "cache": lambda: results.__setitem__("cache", cache_aware_run(enc, wav, ctx, chunk, per_chunk["cache"])),
        "buffered": lambda: buffered_run(enc, wav, ctx, per_chunk["buffered"]),
        "offline": lambda: results.__setitem__("offline", offline_run(enc, wav, ctx)),
    }
    fns["cache"]()  # warm-up round, not kept
    fns["buffered"]()
    fns["offline"]()
    per_chunk = {"cache": [], "buffered": []}
    totals = common.time_calls(fns, repeats, warmup=0)
    seconds = wav.shape[0] / enc.sample_rate
    diff = float((results["cache"] - results["offline"]).abs().max()) if results["cache"].shape == \
        results["offline"].shape else float("nan")
    return {
        "context": list(ctx), "lookahead_ms": round(int(ctx[1]) * 1000 * enc.frame_shift / enc.sample_rate),
        "chunk_ms": round(chunk * 1000 / enc.sample_rate), "chunks": len(per_chunk["cache"]) // repeats,
        "cache_ms_per_chunk": 1000 * statistics.median(per_chunk["cache"]),
        "buffered_ms_per_chunk": 1000 * statistics.median(per_chunk["buffered"]),
        "rtf": {k: statistics.median(v) / seconds for k, v in totals.items()},
        "ratio": statistics.median(totals["cache"]) / statistics.median(totals["buffered"]),
        "max_abs_diff": diff,
    }


def bench_size(size: str, seconds: float, repeats: int) -> list[dict[str, Any]]:
    """Every look-ahead of one model size."""
    import torch

    enc = build_encoder(size)
    params = sum(p.numel() for p in enc.parameters()) / 1e6
    gen = torch.Generator().manual_seed(0)
    wav = 0.1 * torch.randn(int(seconds * enc.sample_rate), generator=gen)
    rows = []
    for ctx in enc.att_context_sizes:
        log(f"[bench] {size}: att_context_size {ctx}")
        row = bench_context(enc, wav, list(ctx), repeats)
        rows.append({"model": size, "params_m": params, **row})
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    out = []
    for r in rows:
        rtf = r["rtf"]
        out.append((r["model"], f"{r['params_m']:.2f}", r["lookahead_ms"], r["chunk_ms"], r["chunks"],
                    f"{r['cache_ms_per_chunk']:.2f}", f"{r['buffered_ms_per_chunk']:.2f}",
                    common.fmt(rtf["cache"]), common.fmt(rtf["buffered"]), common.fmt(rtf["offline"]),
                    f"{r['ratio']:.2f}", f"{r['max_abs_diff']:.1e}"))
    return common.markdown_table(HEADER, out)


def ratios(rows: list[dict[str, Any]]) -> str:
    return "\n".join(f"{r['model']}: look-ahead {r['lookahead_ms']} ms: cache-aware / buffered = {r['ratio']:.2f}"
                     for r in rows)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", nargs="+", default=["mini", "large"],
                   help=f"model configs: {', '.join(SIZES)} (large = streaming_large; default: mini large)")
    p.add_argument("--seconds", type=float, default=10.0, help="audio length (default 10)")
    p.add_argument("--repeats", type=int, default=3, help="timed rounds after warm-up (default 3)")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    p.add_argument("--quick", action="store_true", help="debug size, 2 s of audio, 1 round (smoke test)")
    p.add_argument("--json", type=Path, help="also write every measurement to this JSON file")
    args = p.parse_args(argv)
    if args.quick:
        args.sizes, args.seconds, args.repeats = ["debug"], 2.0, 1
    args.sizes = [ALIASES.get(s, s) for s in args.sizes]
    bad = [s for s in args.sizes if s not in SIZES]
    if bad:
        p.error(f"--sizes: unknown size {bad[0]!r} (choose from {', '.join(SIZES)}, large)")
    if args.seconds <= 0 or args.repeats < 1 or args.threads < 1:
        p.error("--seconds must be > 0, --repeats and --threads >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    common.set_threads(args.threads)
    info = common.machine_info(args.threads)
    rows: list[dict[str, Any]] = []
    for size in args.sizes:
        rows += bench_size(size, args.seconds, args.repeats)
    info["load_avg_end"] = common.machine_info(args.threads)["load_avg"]
    print(f"streaming bench: {args.seconds:g} s of 16 kHz audio, {args.repeats} timed round(s) after a "
          f"warm-up, {info['threads']} torch thread(s), CPU {info['cpu']} x{info['cores']}, load avg "
          f"{info['load_avg']} -> {info['load_avg_end']}, torch {info['torch']}, random weights\n")
    print(table(rows))
    print("\n" + ratios(rows))
    if args.json:
        args.json.write_text(json.dumps({"info": info, "rows": rows}, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
