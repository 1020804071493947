"""The ASR pipeline's ``score`` and ``pack`` stages (see ``recipes/asr/__init__.py``)."""

from __future__ import annotations

import json
import math
import shlex
import sys
from pathlib import Path
from typing import Any

from audiokit.errors import AudiokitError, CheckpointError
from audiokit.io.atomic import write_text_atomic
from audiokit.recipe import StageContext
from recipes.asr.decode import read_hyps
from recipes.asr.stages import data, tokenizer_dir

PEER_NAME = "pocketsphinx"


# --------------------------------------------------------------------------- score
def score_inputs(ctx: StageContext) -> list[str]:
    """The hypotheses of both decode stages and the test sets."""
    return [f"exp/{ctx.tag}/decode", f"exp/{ctx.tag}/peer", *(data(ctx, n) for n in ctx.get("test_sets"))]


def _command() -> str:
    args = sys.argv[1:]
    if args[:2] == ["--config", "conf/recipe.yaml"]:  # what run.sh adds in front
        args = args[2:]
    return shlex.join(["./run.sh", *args])


def _pct(value: float) -> str:
    return "–" if math.isnan(value) else f"{100 * value:.2f}"


def _refs(ctx: StageContext, name: str) -> tuple[dict[str, str], dict[str, str]]:
    from audiokit.data.kaldi import DataDir

    dd = DataDir.load(Path(data(ctx, name)))
    return dd.text, dd.utt2spk


def _agreement(hyps: dict[str, dict[str, str]], systems: list[dict]) -> list[str]:
    """Lines saying how many streaming hypotheses equal the offline ones (same head, context)."""
    lines = []
    for s in systems:
        if s["mode"] != "streaming":
            continue
        twin = f"offline_{s['head']}_la{s['lookahead_ms']}"
        if twin in hyps:
            a, b = hyps[s["system"]], hyps[twin]
            same = sum(a.get(u) == b.get(u) for u in a)
            lines.append(f"{s['head']} at {s['lookahead_ms']} ms: {same}/{len(a)} identical")
    return lines


def score_set(ctx: StageContext, name: str, summary: dict, peer: dict) -> tuple[dict, list[str]]:
    """Scores of every system on one test set, and its RESULTS.md section."""
    from audiokit.metrics.wer import score_by_speaker, speaker_table

    refs, utt2spk = _refs(ctx, name)
    systems = [s for s in summary["systems"] if s["set"] == name]
    hyps = {s["system"]: read_hyps(ctx.exp_dir / "decode" / name / s["system"] / "hyp.txt") for s in systems}
    used = sorted(next(iter(hyps.values()))) if hyps else []
    refs = {u: refs[u] for u in used}
    scored = {k: score_by_speaker(refs, v, utt2spk) for k, v in hyps.items()}
    rows = [(s["system"], "audiokit", s["mode"], str(s["lookahead_ms"]), s["head"],
             scored[s["system"]], s["rtf"]) for s in systems]
    peer_set = next((p for p in peer.get("sets", []) if p["set"] == name), None)
    if peer_set is not None:
        peer_hyps = read_hyps(ctx.exp_dir / "peer" / name / "hyp.txt")
        if sorted(peer_hyps) != used:
            raise AudiokitError(f"exp/{ctx.tag}/peer/{name}/hyp.txt: not the utterances decode used "
                                "(rerun: ./run.sh --stages peer --force)")
        scored[PEER_NAME] = score_by_speaker(refs, peer_hyps, utt2spk)
        rtf = peer_set["wall_seconds"] * peer_set["jobs"] / max(peer_set["audio_seconds"], 1e-9)
        rows.append((PEER_NAME, f"pocketsphinx {peer.get('version', '')}".strip(), "offline", "–", "–",
                     scored[PEER_NAME], round(rtf, 4)))
    speakers = sorted({utt2spk.get(u, "?") for u in used})
    hours = (systems[0]["audio_seconds"] if systems else 0.0) / 3600
    lines = [f"## {name}", "",
             f"{len(used)} utterances, {hours:.3f} h, {len(speakers)} speakers ({' '.join(speakers)}).", "",
             ("| system | recogniser | mode | look-ahead (ms) | search | WER % | CER % | sub | del | ins | words "
              "| utts | RTF |"), "|---|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for system, who, mode, ms, head, sc, rtf in rows:
        w = sc.words
        lines.append(f"| {system} | {who} | {mode} | {ms} | {head} | {_pct(w.rate)} | {_pct(sc.chars.rate)} | "
                     f"{w.sub} | {w.dele} | {w.ins} | {w.ref} | {w.utts} | {'–' if rtf is None else rtf} |")
    agree = _agreement(hyps, systems)
    if agree:
        lines += ["", "Streaming hypotheses equal to the offline ones (same search, same context): "
                  + "; ".join(agree) + "."]
    table = {k: v for k, v in scored.items() if k == PEER_NAME or k.startswith("streaming_")} or scored
    lines += ["", "Per speaker (WER %, errors/words):", "", speaker_table(table).rstrip()]
    out = {k: {"wer": v.words.as_dict(), "cer": v.chars.as_dict(), "missing": v.missing,
               "speakers": {spk: {"wer": w.as_dict(), "cer": c.as_dict()} for spk, (w, c) in v.speakers.items()}}
           for k, v in scored.items()}
    return out, lines


def _train_info(ctx: StageContext) -> dict[str, Any]:
    from audiokit.checkpoint import torch_load_safe

    state = torch_load_safe(ctx.exp_dir / "train" / "checkpoints" / "last.ckpt")
    return {"global_step": int(state.get("global_step", 0)), "epoch": int(state.get("epoch", 0))}


def _header(ctx: StageContext, summary: dict, peer: dict, train: dict) -> list[str]:
    args = summary["model"]["init_args"]
    enc = args.get("encoder", {})
    tok = ctx.get("tokenizer")
    kind = "characters" if tok["type"] == "char" else f"SentencePiece {tok['model_type']}"
    overrides = " ".join(ctx.get("train_overrides"))
    lines = [
        f"# ASR results ({ctx.tag})", "",
        f"Command (from `{ctx.recipe_dir.parent.name}/{ctx.recipe_dir.name}`): `{_command()}`", "",
        (f"* model: `{summary['model']['class_path']}` ({args.get('decoder_type')}), "
         f"{summary['params'] / 1e6:.2f} M parameters, d_model {enc.get('d_model')}, {enc.get('n_layers')} layers, "
         f"attention contexts {enc.get('att_context_size')} (80-ms frames);"),
        (f"* training: `audiokit train --config {ctx.get('train_config')}` {overrides} -> "
         f"`exp/{ctx.tag}/train/checkpoints/last.ckpt` ({train['global_step']} optimiser steps);"),
        f"* tokenizer: {kind}, {summary['vocab_size']} tokens + blank (`{tokenizer_dir(ctx)}`);",
        ("* decoding: greedy search; `streaming` feeds each utterance chunk by chunk (one encoder step "
         "of audio per chunk) through `init_state`/`step` with the cache-aware encoder, `offline` encodes "
         "whole utterances (batched) under the same attention context;"),
        ("* metrics: WER and CER (jiwer) after lower-casing and removing punctuation; RTF = compute "
         "seconds per second of audio on this machine's CPU (pocketsphinx: wall time x worker processes)."),
    ]
    if peer.get("peer") == PEER_NAME:
        lines.append(f"* peer: CMU PocketSphinx {peer.get('version', '')} with the US English acoustic model, "
                     "dictionary and 3-gram language model bundled in the PyPI wheel (trained on other data; "
                     "a fixed reference point, not a like-for-like baseline).")
    return lines + [""]


def score(ctx: StageContext) -> None:
    """Write ``exp/<tag>/RESULTS.md`` and ``exp/<tag>/scores.json``."""
    summary = json.loads((ctx.exp_dir / "decode" / "summary.json").read_text(encoding="utf-8"))
    peer = json.loads((ctx.exp_dir / "peer" / "summary.json").read_text(encoding="utf-8"))
    train = _train_info(ctx)
    lines = _header(ctx, summary, peer, train)
    scores = {}
    for name in ctx.get("test_sets"):
        scores[name], section = score_set(ctx, name, summary, peer)
        lines += section + [""]
    info = {"command": _command(), "train": train, "decode": summary["systems"], "peer": peer}
    write_text_atomic(ctx.exp_dir / "scores.json",
                      json.dumps({"info": info, "scores": scores}, indent=1, default=str) + "\n")
    text = "\n".join(lines).rstrip() + "\n"
    write_text_atomic(ctx.exp_dir / "RESULTS.md", text)
    print(text, end="", flush=True)


# --------------------------------------------------------------------------- pack
def pack_inputs(ctx: StageContext) -> list[str]:
    """The final checkpoint and the tokenizer."""
    return [f"exp/{ctx.tag}/train/checkpoints/last.ckpt", tokenizer_dir(ctx)]


def pack(ctx: StageContext) -> None:
    """``exp/<tag>/packed``: weights, config and tokenizer; loaded back as the CLI loads it."""
    from audiokit.streaming.transcriber import load_asr
    from audiokit.train.asr import export_asr

    train = ctx.exp_dir / "train"
    out = export_asr(train / "checkpoints" / "last.ckpt", train / "config.yaml", tokenizer_dir(ctx),
                     ctx.exp_dir / "packed", force=True)
    model = load_asr(str(out))
    if model.tokenizer is None or model.tokenizer.vocab_size != model.vocab_size:
        raise CheckpointError(f"{out}: the packed model did not load with its tokenizer")
    print(f"packed: {out} (use: audiokit transcribe FILE --model {out})", flush=True)
