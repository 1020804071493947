"""Codec speed and memory on CPU, and audiokit's Vocos decoder against the ``vocos`` package.

Usage::

    python bench/codec.py [--seconds 10] [--repeats 3] [--threads 2] [--quick]
                          [--codecs NAME ...] [--no-memory] [--json out.json]

Prints one markdown table on stdout (progress goes to stderr):

* one ``encode`` and one ``decode`` row per codec configuration, built at its released size
  with random weights (no downloads; EMA codebooks get random entries and ``inited = 1`` so no
  k-means runs): real-time factor (seconds of compute per second of audio; < 1 is faster than
  real time) and peak RSS above the loaded model, measured in a fresh process per row;
* the decoder side-by-side, per WavTokenizer hop: ``vocos`` 0.1.0 ``VocosBackbone`` (AdaLN)
  + ``ISTFTHead("same")`` against audiokit's ``VocosBackbone(pos_net=False)`` + ``ISTFTHead``
  with the same weights loaded into both, and audiokit's full WavTokenizer ``decode`` (codebook
  lookup + ``pos_net`` + the same common part) as an extra row; timed in one process,
  interleaved, with the ratio audiokit / vocos.

See ``bench/README.md`` for the method and how to read the numbers.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common


@dataclass(frozen=True)
class CodecSpec:
    """A benchmarked configuration: a row label and how to build it."""

    label: str
    family: str
    release: str
    encode_parts: tuple[str, ...]
    decode_parts: tuple[str, ...]


_WT_PARTS = (("encoder", "quantizer"), ("quantizer", "backbone", "head"))
SPECS: dict[str, CodecSpec] = {
    "wavtokenizer-320": CodecSpec("WavTokenizer 75 tok/s (hop 320; small = medium = large)", "wavtokenizer",
                                  "320", *_WT_PARTS),
    "wavtokenizer-600": CodecSpec("WavTokenizer 40 tok/s (hop 600; small = large)", "wavtokenizer", "600",
                                  *_WT_PARTS),
    "hificodec-24k-320d": CodecSpec("HiFi-Codec 24k-320d (4 codebooks)", "hificodec", "hificodec-24k-320d",
                                    ("encoder", "quantizer"), ("quantizer", "generator")),
    "hificodec-24k-240d": CodecSpec("HiFi-Codec 24k-240d (4 codebooks)", "hificodec", "hificodec-24k-240d",
                                    ("encoder", "quantizer"), ("quantizer", "generator")),
    "languagecodec-v2": CodecSpec("Language-Codec v2 (8 codebooks)", "languagecodec", "v2", *_WT_PARTS),
    "languagecodec-v1": CodecSpec("Language-Codec v1 (8 codebooks)", "languagecodec", "v1", *_WT_PARTS),
}
DEFAULT_CODECS = ("wavtokenizer-320", "wavtokenizer-600", "hificodec-24k-320d", "languagecodec-v2")
OPS = ("encode", "decode")
HEADER = ("model", "step", "weights (M)", "RTF median", "RTF min", "CPU RTF median", "peak RSS Δ (MiB)",
          "audiokit / vocos")


# --------------------------------------------------------------------------- models
def init_args(spec: CodecSpec) -> dict[str, Any]:
    """Released init args of ``spec`` (from ``audiokit.pretrained`` / ``audiokit.convert``)."""
    if spec.family == "wavtokenizer":
        from audiokit.pretrained import wavtokenizer_args

        return wavtokenizer_args(int(spec.release))
    if spec.family == "hificodec":
        from audiokit.convert.hificodec import RELEASES

        return dict(RELEASES[spec.release])
    from audiokit.convert.languagecodec import release_init_args

    return release_init_args(spec.release)


def build_codec(name: str, seed: int = 0) -> Any:
    """The codec ``name`` at full size with random weights, eval mode, codebooks initialised."""
    import torch

    from audiokit.models.codec.hificodec import HiFiCodec
    from audiokit.models.codec.languagecodec import LanguageCodec
    from audiokit.models.codec.wavtokenizer import WavTokenizer

    spec = SPECS[name]
    cls = {"wavtokenizer": WavTokenizer, "hificodec": HiFiCodec, "languagecodec": LanguageCodec}[spec.family]
    torch.manual_seed(seed)
    model = cls(**init_args(spec)).eval()
    fill_codebooks_(model)
    return model


def fill_codebooks_(model: Any) -> None:
    """Give every EMA codebook random entries and ``inited = 1`` (so no k-means ever runs)."""
    import torch

    with torch.no_grad():
        for module in model.modules():
            if isinstance(getattr(module, "inited", None), torch.Tensor) and hasattr(module, "embed"):
                module.embed.normal_()
                module.embed_avg.copy_(module.embed)
                module.cluster_size.fill_(1.0)
                module.inited.fill_(1.0)


def count_weights(model: Any, parts: tuple[str, ...]) -> float:
    """Millions of parameter + buffer values in the named sub-modules."""
    tensors = [t for p in parts for t in (*getattr(model, p).parameters(), *getattr(model, p).buffers())]
    return sum(t.numel() for t in tensors) / 1e6


def make_audio(seconds: float, sample_rate: int) -> Any:
    """Deterministic test signal ``(1, 1, L)``: a chirp plus low noise, peak below 0.5."""
    import torch

    n = round(seconds * sample_rate)
    t = torch.arange(n, dtype=torch.float32) / sample_rate
    chirp = 0.3 * torch.sin(2 * math.pi * (100 + 400 * t) * t)
    noise = 0.02 * torch.randn(n, generator=torch.Generator().manual_seed(0))
    return (chirp + noise).reshape(1, 1, n)


def random_codes(model: Any, n_samples: int) -> Any:
    """Random codes ``(1, n_codebooks, F)`` for ``n_samples`` of audio."""
    import torch

    shape = (1, model.n_codebooks, model.num_frames(n_samples))
    return torch.randint(0, model.codebook_size, shape, generator=torch.Generator().manual_seed(0))


# --------------------------------------------------------------------------- memory worker
def memory_worker(name: str, op: str, seconds: float, threads: int) -> dict[str, Any]:
    """In a fresh process: build ``name``, then peak RSS of one ``op`` (encode or decode)."""
    common.set_threads(threads)
    model = build_codec(name)
    wav = make_audio(seconds, model.sample_rate)
    if op == "encode":
        result = common.measure_peak_rss(lambda: model.encode(wav))
    else:
        codes = random_codes(model, wav.shape[-1])
        del wav
        result = common.measure_peak_rss(lambda: model.decode(codes))
    return {"codec": name, "op": op, **result}


def measure_memory(name: str, op: str, seconds: float, threads: int) -> dict[str, Any]:
    """:func:`memory_worker` in a fresh interpreter (``python bench/codec.py --worker ...``)."""
    argv = [str(Path(__file__).resolve()), "--worker", name, op, "--seconds", str(seconds),
            "--threads", str(threads)]
    return common.run_worker(argv)


# --------------------------------------------------------------------------- benches
def rtf_fields(times: dict[str, list[float]], audio_s: float) -> dict[str, Any]:
    """Row fields from ``{"wall": [...], "cpu": [...]}`` seconds: raw times, wall and CPU RTF stats."""
    return {"audio_s": audio_s, "times_s": times,
            "rtf": {k: v / audio_s for k, v in common.summarize(times["wall"]).items()},
            "cpu_rtf": {k: v / audio_s for k, v in common.summarize(times["cpu"]).items()}}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def bench_codec(name: str, seconds: float, repeats: int, memory: bool, threads: int) -> list[dict[str, Any]]:
    """Encode and decode RTF (interleaved) and, unless ``memory`` is off, peak RSS of one codec."""
    spec = SPECS[name]
    model = build_codec(name)
    wav = make_audio(seconds, model.sample_rate)
    codes = model.encode(wav)
    audio_s = wav.shape[-1] / model.sample_rate
    fns = {"encode": lambda: model.encode(wav), "decode": lambda: model.decode(codes)}
    times = common.time_calls_detailed(fns, repeats, warmup=1)
    rows = []
    for op, parts in zip(OPS, (spec.encode_parts, spec.decode_parts)):
        mem = measure_memory(name, op, seconds, threads) if memory else None
        rows.append({"section": "codec", "codec": name, "model": spec.label, "step": op,
                     "weights_m": count_weights(model, parts), **rtf_fields(times[op], audio_s),
                     "memory": mem, "ratio": None})
    return rows


def build_decoders(hop: int) -> tuple[Callable, Callable, Any, float]:
    """vocos and audiokit common decoders with one set of weights, and a WavTokenizer sharing them.

    Returns ``(vocos_fn(features), audiokit_fn(features), wavtokenizer, max_abs_diff)``;
    features are ``(B, 512, F)``.
    """
    import torch
    import vocos.heads
    import vocos.models

    from audiokit.models.codec.wavtokenizer import WavTokenizer
    from audiokit.nn import ISTFTHead, VocosBackbone
    from audiokit.pretrained import wavtokenizer_args

    args = wavtokenizer_args(hop)
    bb_kw = {"input_channels": args["dimension"], "dim": args["backbone_dim"],
             "intermediate_dim": args["intermediate_dim"], "num_layers": args["num_layers"],
             "adanorm_num_embeddings": args["adanorm_num_embeddings"]}
    head_kw = {"dim": args["backbone_dim"], "n_fft": args["n_fft"], "hop_length": hop, "padding": "same"}
    torch.manual_seed(hop)
    ref_bb, ref_head = vocos.models.VocosBackbone(**bb_kw).eval(), vocos.heads.ISTFTHead(**head_kw).eval()
    with torch.no_grad():  # AdaLN starts at scale 1 / shift 0: make the rows differ, as trained ones do
        for p in (*ref_bb.parameters(), *ref_head.parameters()):
            p.add_(0.01 * torch.randn_like(p))
    ak_bb, ak_head = VocosBackbone(**bb_kw).eval(), ISTFTHead(**head_kw).eval()
    ak_bb.load_state_dict(ref_bb.state_dict())
    ak_head.load_state_dict(ref_head.state_dict())
    wt = WavTokenizer(**args).eval()
    fill_codebooks_(wt)
    missing, unexpected = wt.backbone.load_state_dict(ref_bb.state_dict(), strict=False)
    if unexpected or any(not k.startswith("pos_net.") for k in missing):
        raise RuntimeError(f"weights do not fit WavTokenizer: missing {missing}, unexpected {unexpected}")
    wt.head.load_state_dict(ref_head.state_dict())
    bid = torch.tensor([0])

    def vocos_fn(feats: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return ref_head(ref_bb(feats, bandwidth_id=bid))

    def audiokit_fn(feats: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return ak_head(ak_bb(feats, bid))

    check = torch.randn(1, args["dimension"], 50)
    diff = float((vocos_fn(check) - audiokit_fn(check)).abs().max())
    return vocos_fn, audiokit_fn, wt, diff


def bench_decoders(hop: int, seconds: float, repeats: int) -> list[dict[str, Any]]:
    """vocos vs audiokit on the common decoder part, plus the full WavTokenizer decode."""
    vocos_fn, audiokit_fn, wt, diff = build_decoders(hop)
    n_samples = round(seconds * wt.sample_rate)
    codes = random_codes(wt, n_samples)
    feats = wt.codes_to_features(codes).detach()
    audio_s = codes.shape[-1] * hop / wt.sample_rate
    fns = {"vocos": lambda: vocos_fn(feats), "audiokit": lambda: audiokit_fn(feats),
           "audiokit-full": lambda: wt.decode(codes)}
    times = common.time_calls_detailed(fns, repeats, warmup=2)
    common_m = count_weights(wt, ("backbone", "head")) - sum(p.numel() for p in wt.backbone.pos_net.parameters()) / 1e6
    vocos_wall = common.summarize(times["vocos"]["wall"])["median"]
    vocos_cpu = common.summarize(times["vocos"]["cpu"])["median"]
    ref = f"vocos {metadata.version('vocos')}"
    labels = {
        "vocos": (f"{ref} VocosBackbone(AdaLN) + ISTFTHead (hop {hop})", "decode features", common_m),
        "audiokit": (f"audiokit VocosBackbone + ISTFTHead, same weights (hop {hop})", "decode features", common_m),
        "audiokit-full": (f"audiokit WavTokenizer decode: + codebook, pos_net (hop {hop})", "decode codes",
                          count_weights(wt, ("quantizer", "backbone", "head"))),
    }
    rows = []
    for key, (label, step, weights) in labels.items():
        fields = rtf_fields(times[key], audio_s)
        ratio = {"wall": fields["rtf"]["median"] * audio_s / vocos_wall,
                 "cpu": fields["cpu_rtf"]["median"] * audio_s / vocos_cpu}
        rows.append({"section": "decoder", "codec": f"wavtokenizer-{hop}", "model": label, "step": step,
                     "weights_m": weights, **fields, "memory": None, "ratio": ratio,
                     "max_abs_diff": diff if key == "audiokit" else None})
    return rows


# --------------------------------------------------------------------------- output
def table(rows: list[dict[str, Any]]) -> str:
    """The markdown table of all rows."""
    out = []
    for r in rows:
        mem = r["memory"]
        mem_cell = None if mem is None else f"{mem['delta'] / common.MIB:.0f}" + ("" if mem["exact"] else " (≤)")
        ratio = None if r["ratio"] is None else f"{r['ratio']['wall']:.2f}x (cpu {r['ratio']['cpu']:.2f}x)"
        out.append((r["model"], r["step"], f"{r['weights_m']:.1f}", common.fmt(r["rtf"]["median"]),
                    common.fmt(r["rtf"]["min"]), common.fmt(r["cpu_rtf"]["median"]), mem_cell, ratio))
    return common.markdown_table(HEADER, out)


def preamble(info: dict[str, Any], args: argparse.Namespace) -> str:
    """One line: what was run, where, and how busy the machine was (load at start -> end)."""
    return (f"codec bench: {args.seconds:g} s of 24 kHz audio per call, {args.repeats} timed repeat(s) "
            f"after warm-up, {info['threads']} torch thread(s), CPU {info['cpu']} x{info['cores']}, "
            f"load avg {info['load_avg']} -> {info.get('load_avg_end')}, torch {info['torch']}, "
            "random weights at released sizes\n")


def notes(rows: list[dict[str, Any]]) -> str:
    diffs = [f"hop {r['codec'].split('-')[-1]}: {r['max_abs_diff']:.1e}" for r in rows
             if r.get("max_abs_diff") is not None]
    lines = ["", "RTF = compute seconds / audio seconds (< 1 is faster than real time). Peak RSS Δ: peak",
             "resident memory of one call above the loaded model, fresh process per row (VmHWM after",
             "resetting the high-water mark). CPU RTF: process CPU time (all threads) / audio seconds.",
             "Decoder rows: one process, interleaved; ratios of medians (wall, and CPU time)."]
    if diffs:
        lines.append("audiokit vs vocos max |Δ| on the same weights: " + ", ".join(diffs))
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=10.0, help="audio length per call (default 10)")
    p.add_argument("--repeats", type=int, default=3, help="timed repeats after warm-up (default 3)")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    p.add_argument("--quick", action="store_true", help="1 s of audio, 1 repeat (smoke test)")
    p.add_argument("--codecs", nargs="+", choices=sorted(SPECS), default=list(DEFAULT_CODECS),
                   help=f"configurations to run (default: {' '.join(DEFAULT_CODECS)})")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    p.add_argument("--no-compare", action="store_true", help="skip the vocos decoder side-by-side")
    p.add_argument("--json", type=Path, help="also write every measurement to this JSON file")
    p.add_argument("--worker", nargs=2, metavar=("CODEC", "OP"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.seconds, args.repeats = 1.0, 1
    if args.seconds <= 0 or args.repeats < 1 or args.threads < 1:
        p.error("--seconds must be > 0, --repeats and --threads >= 1")
    if args.worker and (args.worker[0] not in SPECS or args.worker[1] not in OPS):
        p.error(f"--worker takes a codec name and one of {OPS}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    common.set_threads(args.threads)
    if args.worker:
        print(json.dumps(memory_worker(args.worker[0], args.worker[1], args.seconds, args.threads)))
        return 0
    info = common.machine_info(args.threads)
    rows: list[dict[str, Any]] = []
    for name in args.codecs:
        log(f"[bench] {name}: encode/decode")
        rows += bench_codec(name, args.seconds, args.repeats, not args.no_memory, args.threads)
    hops = sorted({int(SPECS[n].release) for n in args.codecs if SPECS[n].family == "wavtokenizer"})
    for hop in ([] if args.no_compare else hops):
        log(f"[bench] decoder side-by-side, hop {hop}")
        rows += bench_decoders(hop, args.seconds, args.repeats)
    info["load_avg_end"] = common.machine_info(args.threads)["load_avg"]
    print(preamble(info, args) + "\n" + table(rows) + "\n" + notes(rows))
    if args.json:
        from audiokit.io.atomic import write_text_atomic

        payload = {"info": info, "seconds": args.seconds, "repeats": args.repeats, "rows": rows}
        write_text_atomic(args.json, json.dumps(payload, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
