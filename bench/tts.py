"""F5-TTS sampling speed: audiokit's ``F5TTS.sample`` against the ``f5-tts`` package, same weights.

Usage::

    python bench/tts.py [--sizes small v1-base] [--nfe 16 32] [--ref-seconds 3] [--gen-seconds 5]
                        [--repeats 3] [--threads 2] [--device cpu] [--quick] [--json out.json]

For each model size a reference ``CFM(DiT)`` is built by ``f5-tts`` (1.1.22, installed with
``--no-deps``; its trainer is not imported) with random weights, saved in the released layout
(``ema_model.*`` safetensors) and loaded into audiokit through
:func:`audiokit.convert.f5tts.load_f5tts`, so both run the very same weights. Then, per NFE and
sway setting (``-1`` and off), both sample the same prompt mel / text ids / seed (CFG 2, Euler,
EPSS grid where defined), timed in this process and interleaved (audiokit, f5-tts, audiokit,
...) after one warm-up round.

Printed: one markdown table (progress on stderr). RTF = seconds of compute / seconds of
*generated* audio (the prompt part is not counted), mel sampling only: the vocoder is the
same for both and not timed. ``max abs diff`` is the largest difference between the two sampled
mels (a check that both ran the same computation). Sway changes the time grid, not the
work, so with and without sway should time alike.

Sizes: ``debug`` (configs/tts/f5tts_debug.yaml, for ``--quick``), ``small`` (DiT 512 x 8,
8 heads; not released), ``v1-small`` (768 x 18, 12 heads; F5TTS_v1_Small), ``v1-base``
(1024 x 22, 16 heads, 2545 tokens; F5TTS_v1_Base, ~336 M parameters).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import sys
import tempfile
import types
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common  # noqa: E402  (bench/ is a folder of scripts, not a package)

ROOT = Path(__file__).resolve().parents[1]
_SHARED = dict(ff_mult=2, mel_dim=100, conv_layers=4, text_mask_padding=True, pe_attn_head=None, dropout=0.0)
SIZES: dict[str, dict[str, Any]] = {
    "debug": dict(_SHARED, dim=64, depth=2, heads=4, vocab_size=64, text_dim=32, conv_layers=2),
    "small": dict(_SHARED, dim=512, depth=8, heads=8, vocab_size=2545, text_dim=256),
    "v1-small": dict(_SHARED, dim=768, depth=18, heads=12, vocab_size=2545, text_dim=512),
    "v1-base": dict(_SHARED, dim=1024, depth=22, heads=16, vocab_size=2545, text_dim=512),
}
SR, HOP, CFG, SEED = 24000, 256, 2.0, 0
CHARS_PER_SECOND = 15  # text ids per second of speech (prompt + target), as English at a normal pace
HEADER = ("model", "params (M)", "NFE", "sway", "audiokit RTF", "f5-tts RTF", "audiokit / f5-tts", "max abs diff")


# --------------------------------------------------------------------------- models
def import_reference() -> tuple[types.ModuleType, types.ModuleType]:
    """``(f5_tts.model.backbones.dit, f5_tts.model.cfm)`` without the trainer ``f5_tts.model`` imports."""
    spec = importlib.util.find_spec("f5_tts")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("bench/tts.py needs the f5-tts package: pip install --no-deps f5-tts==1.1.22 "
                         "x-transformers torchdiffeq (see docs/design.md)")
    if "f5_tts.model" not in sys.modules:
        bare = types.ModuleType("f5_tts.model")
        bare.__path__ = [os.path.join(next(iter(spec.submodule_search_locations)), "model")]
        sys.modules["f5_tts.model"] = bare
    return importlib.import_module("f5_tts.model.backbones.dit"), importlib.import_module("f5_tts.model.cfm")


def build_pair(size: str, device: str) -> tuple[Any, Any]:
    """``(audiokit F5TTS, reference CFM)`` holding the same random weights, eval mode."""
    import torch
    from safetensors.torch import save_file

    from audiokit.convert.f5tts import load_f5tts

    args = SIZES[size]
    dit, cfm = import_reference()
    torch.manual_seed(0)
    transformer = dit.DiT(dim=args["dim"], depth=args["depth"], heads=args["heads"], dim_head=args["dim"] // args["heads"],
                          ff_mult=args["ff_mult"], mel_dim=args["mel_dim"], text_num_embeds=args["vocab_size"],
                          text_dim=args["text_dim"], conv_layers=args["conv_layers"],
                          text_mask_padding=args["text_mask_padding"], pe_attn_head=args["pe_attn_head"],
                          dropout=args["dropout"], attn_mask_enabled=False)
    ref = cfm.CFM(transformer=transformer, num_channels=args["mel_dim"])
    with torch.no_grad():  # the zero-initialised AdaLN / output layers would make the flow trivial
        for p in ref.parameters():
            p.add_(0.02 * torch.randn_like(p))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.safetensors"
        save_file({f"ema_model.{k}": v.contiguous() for k, v in ref.state_dict().items()
                   if not k.startswith("mel_spec.")}, str(path))
        ours, _ = load_f5tts(path, config=dict(args))
    return ours.to(device).eval(), ref.to(device).eval()


def inputs(vocab: int, ref_seconds: float, gen_seconds: float, device: str) -> dict[str, Any]:
    """A random prompt mel ``(1, T_ref, 100)``, text ids ``(1, N)`` and the total frame count."""
    import torch

    g = torch.Generator().manual_seed(1)
    ref_frames = int(ref_seconds * SR / HOP)
    total = ref_frames + int(gen_seconds * SR / HOP)
    n_text = int((ref_seconds + gen_seconds) * CHARS_PER_SECOND)
    return {"cond": torch.randn(1, ref_frames, 100, generator=g).to(device),
            "text": torch.randint(0, vocab, (1, n_text), generator=g).to(device), "total": total,
            "gen_seconds": (total - ref_frames) * HOP / SR}


def samplers(ours: Any, ref: Any, inp: dict[str, Any], nfe: int, sway: float | None) -> dict[str, Any]:
    """The two callables to time; each returns the sampled mel ``(1, T, 100)``."""
    import torch

    def run_ours() -> torch.Tensor:
        return ours.sample(inp["cond"], inp["text"], inp["total"], nfe=nfe, cfg_strength=CFG, sway_coef=sway,
                           epss=True, seed=SEED)

    def run_ref() -> torch.Tensor:
        with torch.inference_mode():
            out, _ = ref.sample(cond=inp["cond"], text=inp["text"], duration=inp["total"], steps=nfe,
                                cfg_strength=CFG, sway_sampling_coef=sway, seed=SEED, use_epss=True)
        return out

    return {"audiokit": run_ours, "f5-tts": run_ref}


# --------------------------------------------------------------------------- main
def bench_size(size: str, args: argparse.Namespace) -> list[list[Any]]:
    import torch

    print(f"[tts] building {size} ...", file=sys.stderr, flush=True)
    ours, ref = build_pair(size, args.device)
    params = sum(p.numel() for p in ours.parameters()) / 1e6
    inp = inputs(SIZES[size]["vocab_size"], args.ref_seconds, args.gen_seconds, args.device)
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    rows = []
    for nfe in args.nfe:
        for sway in (-1.0, None):
            fns = samplers(ours, ref, inp, nfe, sway)
            diff = (fns["audiokit"]() - fns["f5-tts"]()).abs().max().item()
            timed = {k: (lambda f=f: (f(), sync())) for k, f in fns.items()}
            times = common.time_calls(timed, args.repeats, warmup=0)  # the diff check was the warm-up
            med = {k: common.summarize(v)["median"] / inp["gen_seconds"] for k, v in times.items()}
            print(f"[tts] {size} nfe {nfe} sway {sway}: {med}", file=sys.stderr, flush=True)
            rows.append([size, common.fmt(params, 1), nfe, "-1" if sway is not None else "off",
                         common.fmt(med["audiokit"]), common.fmt(med["f5-tts"]),
                         f"{med['audiokit'] / med['f5-tts']:.2f}x", f"{diff:.1e}"])
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", nargs="+", choices=list(SIZES), default=["small", "v1-base"])
    p.add_argument("--nfe", nargs="+", type=int, default=[16, 32])
    p.add_argument("--ref-seconds", type=float, default=3.0, help="prompt length (default 3 s)")
    p.add_argument("--gen-seconds", type=float, default=5.0, help="generated length (default 5 s)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--quick", action="store_true", help="smoke run: debug size, NFE 4, 1 s, 1 repeat")
    p.add_argument("--json", metavar="FILE", help="also write rows and machine info as JSON")
    args = p.parse_args(argv)
    if args.quick:
        args.sizes, args.nfe, args.ref_seconds, args.gen_seconds, args.repeats = ["debug"], [4], 1.0, 1.0, 1
    common.set_threads(args.threads)
    rows = [row for size in args.sizes for row in bench_size(size, args)]
    info = common.machine_info(args.threads)
    print(f"F5-TTS mel sampling, {args.device}, CFG {CFG}, Euler + EPSS, prompt {args.ref_seconds:g} s, "
          f"generated {args.gen_seconds:g} s, median of {args.repeats}; {info}")
    print(common.markdown_table(HEADER, rows))
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "header": HEADER, "machine": info,
                                               "args": vars(args)}, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
