"""The ASR pipeline's ``decode`` and ``peer`` stages (see ``recipes/asr/__init__.py``).

Hypotheses are Kaldi ``text`` files (``utt words...``), one per system:
``exp/<tag>/decode/<set>/<mode>_<head>_la<ms>/hyp.txt`` and ``exp/<tag>/peer/<set>/hyp.txt``;
``summary.json`` next to them records what each system is and its compute time.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from audiokit.errors import ConfigError
from audiokit.io.atomic import write_text_atomic
from audiokit.recipe import StageContext
from recipes.asr.stages import data, tokenizer_dir


# --------------------------------------------------------------------------- shared
def select_utts(ids: list[str], max_utts: int) -> list[str]:
    """All ids (``max_utts`` 0), else ``max_utts`` of them spread evenly over the sorted ids
    (the corpus sorts by speaker, so every speaker keeps a share)."""
    if max_utts <= 0 or len(ids) <= max_utts:
        return list(ids)
    return [ids[(i * len(ids)) // max_utts] for i in range(max_utts)]


def utterances(ctx: StageContext, name: str, sample_rate: int) -> tuple[Any, list[int]]:
    """The dataset of test set ``name`` at ``sample_rate`` and the indices decode uses."""
    from audiokit.data.dataset import KaldiAudioDataset

    ds = KaldiAudioDataset(data(ctx, name), sample_rate=sample_rate)
    keep = set(select_utts(list(ds.ids), int(ctx.get("decode.max_utts"))))
    return ds, [i for i, utt in enumerate(ds.ids) if utt in keep]


def write_hyps(path: Path, hyps: dict[str, str]) -> None:
    """A Kaldi text file (C-sorted ids; an empty hypothesis leaves just the id)."""
    from audiokit.data.kaldi import c_sort_key

    lines = [f"{utt} {hyps[utt]}".rstrip() for utt in sorted(hyps, key=c_sort_key)]
    write_text_atomic(path, "".join(line + "\n" for line in lines))


def read_hyps(path: Path) -> dict[str, str]:
    """``{utt: text}`` of a hypothesis file written by :func:`write_hyps`."""
    out = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        utt, _, text = line.partition(" ")
        if utt:
            out[utt] = text.strip()
    return out


def _batches(ds: Any, index: list[int], batch_size: int) -> Iterator[tuple[list[str], list[Any]]]:
    """Batches of ``(ids, (T,) tensors)``, longest first, so padding stays small."""
    order = sorted(index, key=lambda i: -ds.lengths[i])
    for start in range(0, len(order), batch_size):
        items = [ds[i] for i in order[start:start + batch_size]]
        yield [it["id"] for it in items], [it["wav"] for it in items]


def _pad(wavs: list[Any]) -> tuple[Any, Any]:
    import torch

    lens = torch.tensor([len(w) for w in wavs])
    batch = torch.zeros(len(wavs), int(lens.max()))
    for b, w in enumerate(wavs):
        batch[b, : len(w)] = w
    return batch, lens


# --------------------------------------------------------------------------- audiokit model
def decode_inputs(ctx: StageContext) -> list[str]:
    """The final checkpoint, the tokenizer and the test sets."""
    return [f"exp/{ctx.tag}/train/checkpoints/last.ckpt", tokenizer_dir(ctx),
            *(data(ctx, n) for n in ctx.get("test_sets"))]


def load_trained(ctx: StageContext) -> tuple[Any, dict]:
    """The trained model (eval mode, tokenizer attached) and its config node."""
    from audiokit.text import load_tokenizer
    from audiokit.train.asr import asr_from_checkpoint

    train = ctx.exp_dir / "train"
    model, node = asr_from_checkpoint(train / "checkpoints" / "last.ckpt", train / "config.yaml")
    model.set_tokenizer(load_tokenizer(tokenizer_dir(ctx)))
    return model, node


def contexts(model: Any, lookaheads_ms: list[float]) -> dict[int, list[int]]:
    """``{look-ahead ms: [left, right]}`` to decode with (default: the model's first context)."""
    from audiokit.streaming.transcriber import lookahead_choices

    choices = lookahead_choices(model)
    if not lookaheads_ms:
        ctx = list(model.encoder.att_context_size)
        return {ms: c for ms, c in choices.items() if c == ctx} or {0: ctx}
    out = {}
    for ms in lookaheads_ms:
        key = min(choices, key=lambda k: abs(k - ms)) if choices else None
        if key is None or abs(key - ms) > 0.5:
            raise ConfigError(f"decode.lookaheads_ms: {ms:g} ms is not a look-ahead of this model "
                              f"(choose from {', '.join(str(k) for k in sorted(choices))})")
        out[key] = choices[key]
    return out


def decode_offline(model: Any, ds: Any, index: list[int], ctx: list[int], heads: list[str],
                   batch_size: int) -> dict[str, tuple[dict[str, str], float]]:
    """Whole utterances, batched: ``{head: ({utt: text}, compute seconds)}``. One encoder pass
    per batch serves every head; each head is charged the encoder time plus its own search."""
    import torch

    hyps: dict[str, dict[str, str]] = {h: {} for h in heads}
    seconds = {h: 0.0 for h in heads}
    for ids, wavs in _batches(ds, index, batch_size):
        batch, lens = _pad(wavs)
        start = time.perf_counter()
        with torch.inference_mode():
            enc, enc_lens = model.encode(batch, lens, att_context_size=ctx)
        encoder = time.perf_counter() - start
        for h in heads:
            start = time.perf_counter()
            with torch.inference_mode():
                texts = model.tokenizer.decode_batch(model.greedy(enc, enc_lens, h))
            seconds[h] += encoder + time.perf_counter() - start
            hyps[h].update(zip(ids, texts))
    return {h: (hyps[h], seconds[h]) for h in heads}


def stream_batch(model: Any, wavs: list[Any], ctx: list[int], head: str) -> list[list[int]]:
    """Token ids of a batch of waveforms fed chunk by chunk (one encoder step of audio per
    chunk: ``frame_shift * (R + 1)`` samples) through ``init_state`` / ``step_ids``."""
    import torch

    batch, lens = _pad(wavs)
    chunk = model.encoder.frame_shift * (int(ctx[1]) + 1)
    state = model.init_state(len(wavs), decoder=head, att_context_size=ctx)
    total = int(lens.max())
    tokens = state.tokens
    for start in range(0, total, chunk):
        piece = batch[:, start:start + chunk]
        valid = [max(0, min(int(n) - start, piece.shape[1])) for n in lens]
        final = [start + piece.shape[1] >= int(n) for n in lens]
        with torch.inference_mode():
            tokens, state = model.step_ids(piece, state, lengths=valid, final=final)
    return tokens


def decode_streaming(model: Any, ds: Any, index: list[int], ctx: list[int], head: str,
                     batch_size: int) -> tuple[dict[str, str], float]:
    """Chunk-by-chunk decoding of every utterance: ``({utt: text}, compute seconds)``."""
    hyps: dict[str, str] = {}
    seconds = 0.0
    for ids, wavs in _batches(ds, index, batch_size):
        start = time.perf_counter()
        texts = model.tokenizer.decode_batch(stream_batch(model, wavs, ctx, head))
        seconds += time.perf_counter() - start
        hyps.update(zip(ids, texts))
    return hyps, seconds


def decode(ctx: StageContext) -> None:
    """Decode every test set in every mode, look-ahead and search head; write hyps + summary."""
    model, node = load_trained(ctx)
    cfg = ctx.get("decode")
    heads = list(cfg["heads"]) or list(model.decoders)
    missing = [h for h in heads if h not in model.decoders]
    if missing:
        raise ConfigError(f"decode.heads: this {model.decoder_type} model has no {missing[0]} head "
                          f"(it has {', '.join(model.decoders)})")
    looks = contexts(model, list(cfg["lookaheads_ms"]))
    out = ctx.exp_dir / "decode"
    systems = []
    for name in ctx.get("test_sets"):
        ds, index = utterances(ctx, name, model.sample_rate)
        audio = sum(ds.lengths[i] for i in index)
        for ms, att in looks.items():
            for mode in cfg["modes"]:
                if mode == "offline":
                    results = decode_offline(model, ds, index, att, heads, int(cfg["batch_size"]))
                else:
                    results = {h: decode_streaming(model, ds, index, att, h, int(cfg["batch_size"]))
                               for h in heads}
                for head, (hyps, secs) in results.items():
                    system = f"{mode}_{head}_la{ms}"
                    write_hyps(out / name / system / "hyp.txt", hyps)
                    systems.append({"set": name, "system": system, "mode": mode, "head": head,
                                    "lookahead_ms": ms, "att_context_size": att, "utts": len(hyps),
                                    "audio_seconds": round(audio, 3), "compute_seconds": round(secs, 3),
                                    "rtf": round(secs / audio, 4) if audio else None})
                    print(f"decoded {name}: {system} ({len(hyps)} utts, RTF {secs / max(audio, 1e-9):.3f})",
                          flush=True)
    params = sum(p.numel() for p in model.parameters())
    summary = {"model": node, "params": params, "vocab_size": model.vocab_size, "heads": heads,
               "systems": systems}
    write_text_atomic(out / "summary.json", json.dumps(summary, indent=1, default=str) + "\n")


# --------------------------------------------------------------------------- peer recogniser
def peer_inputs(ctx: StageContext) -> list[str]:
    """The test sets."""
    return [data(ctx, n) for n in ctx.get("test_sets")]


def peer(ctx: StageContext) -> None:
    """Transcribe the decoded utterances with pocketsphinx (or record that no peer is used)."""
    out = ctx.exp_dir / "peer"
    if ctx.get("peer") == "none":
        write_text_atomic(out / "summary.json", json.dumps({"peer": "none", "sets": []}) + "\n")
        return
    from audiokit.metrics.wer import PocketSphinx, pocketsphinx_transcribe

    sets = []
    version = PocketSphinx.version()
    for name in ctx.get("test_sets"):
        ds, index = utterances(ctx, name, PocketSphinx.sample_rate)
        hyps: dict[str, str] = {}
        seconds = 0.0
        for start in range(0, len(index), 64):  # bounded memory on large test sets
            items = [ds[i] for i in index[start:start + 64]]
            t0 = time.perf_counter()
            texts = pocketsphinx_transcribe([it["wav"].numpy() for it in items], jobs=int(ctx.get("jobs")))
            seconds += time.perf_counter() - t0
            hyps.update(zip((it["id"] for it in items), texts))
            print(f"pocketsphinx {name}: {len(hyps)}/{len(index)}", flush=True)
        write_hyps(out / name / "hyp.txt", hyps)
        audio = sum(ds.lengths[i] for i in index)
        sets.append({"set": name, "utts": len(hyps), "audio_seconds": round(audio, 3),
                     "wall_seconds": round(seconds, 3), "jobs": int(ctx.get("jobs"))})
    summary = {"peer": "pocketsphinx", "version": version, "model": "en-us (bundled with the wheel)",
               "sets": sets}
    write_text_atomic(out / "summary.json", json.dumps(summary, indent=1) + "\n")
