"""The ``score`` stage: mel distances and WER of every system -> ``RESULTS.md`` and ``scores.json``.

Metrics are defined in :mod:`recipes.tts.scoring`. Rows: ``real`` (the test recordings
themselves: the ASR's own error rate on these voices), ``copysynth`` (real audio through the
vocoder: the vocoder ceiling), ``trained``, ``untrained``; then the NFE / sway sweep of the
trained model with its real-time factors.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Any

import numpy as np

from audiokit.io.atomic import write_text_atomic
from audiokit.recipe import StageContext, stage_minutes
from recipes.tts.stages import checkpoint, data, set_threads

SR = 24000


def _mel(frontend: Any, wav: np.ndarray) -> np.ndarray:
    import torch

    return frontend(torch.from_numpy(np.ascontiguousarray(wav, dtype=np.float32))[None])[0].T.numpy()


def score_system(folder: Path | None, items: list[dict], real: dict[str, np.ndarray], frontend: Any,
                 asr: Any) -> dict[str, Any]:
    """Scores of one system's wavs in ``folder`` (None: the real audio itself)."""
    from audiokit.io.audio import load_audio
    from recipes.tts.scoring import dtw_mel_l1, mel_stats_l1, word_errors

    dtw, stats, errors, words, seconds, hyps = [], [], 0, 0, 0.0, {}
    for item in items:
        ref_wav = real[item["utt"]]
        wav = ref_wav if folder is None else load_audio(folder / f"{item['utt']}.wav", sr=SR)[0]
        wav = np.asarray(wav, dtype=np.float32).reshape(-1)
        seconds += len(wav) / SR
        if folder is not None:
            a, b = _mel(frontend, wav), _mel(frontend, ref_wav)
            dtw.append(dtw_mel_l1(a, b))
            stats.append(mel_stats_l1(a, b))
        if asr is not None:
            hyp = asr.transcribe(wav, SR)
            e, w = word_errors(item["text"], hyp)
            errors, words, hyps[item["utt"]] = errors + e, words + w, hyp
    return {"items": len(items), "seconds": round(seconds, 2),
            "mel_l1_dtw": float(np.mean(dtw)) if dtw else None,
            "mel_stats_l1": float(np.mean(stats)) if stats else None,
            "wer": errors / words if asr is not None and words else None, "hyps": hyps}


def _fmt(value: Any, pct: bool = False) -> str:
    if value is None:
        return "–"
    return f"{100 * value:.1f} %" if pct else f"{value:.3f}"


def _command() -> str:
    args = sys.argv[1:]
    if len(args) >= 2 and args[0] == "--config" and args[1] == "conf/recipe.yaml":  # what run.sh adds
        args = args[2:]
    return shlex.join(["./run.sh", *args])


def score(ctx: StageContext) -> None:
    """Score every system; write ``RESULTS.md`` and ``scores.json``."""
    from audiokit.checkpoint import torch_load_safe
    from audiokit.data.dataset import KaldiAudioDataset
    from audiokit.features import MelFrontend
    from recipes.tts.scoring import PocketSphinx

    set_threads(ctx)
    synth = ctx.exp_dir / "synth"
    items = json.loads((synth / "items.json").read_text(encoding="utf-8"))
    sweep = json.loads((synth / "sweep.json").read_text(encoding="utf-8"))
    ds = KaldiAudioDataset(ctx.path(data(ctx, "test")), sample_rate=SR)
    real = {it["utt"]: ds[it["index"]]["wav"].numpy() for it in items}
    frontend = MelFrontend("vocos_mel_24k", log_floor=1e-5).eval()
    asr = PocketSphinx() if ctx.get("asr") == "pocketsphinx" else None
    rows = {}
    for name in ("real", "copysynth", "trained", "untrained"):
        rows[name] = score_system(None if name == "real" else synth / name, items, real, frontend, asr)
        print(f"score: {name}: {_row(name, rows[name])}", flush=True)
    sweep_rows = []
    for entry in sweep:
        sub = items[: entry["items"]]
        s = score_system(synth / "sweep" / entry["name"], sub, real, frontend, asr)
        sweep_rows.append({**entry, **s, "rtf_model": entry["model"] / max(entry["audio"], 1e-9),
                           "rtf_total": (entry["model"] + entry["vocoder"]) / max(entry["audio"], 1e-9)})
    ckpt, _ = checkpoint(ctx)
    state = torch_load_safe(ckpt)
    info = {"checkpoint": f"exp/{ctx.tag}/train/checkpoints/last.ckpt", "global_step": int(state.get("global_step", 0)),
            "train_config": str(ctx.get("train_config")), "train_overrides": list(ctx.get("train_overrides")),
            "command": _command(), "test_speakers": sorted({it["spk"] for it in items})}
    out = {"info": info, "systems": rows, "sweep": sweep_rows, "items": items}
    write_text_atomic(ctx.exp_dir / "scores.json", json.dumps(out, indent=1) + "\n")
    text = format_results(ctx, info, rows, sweep_rows, items)
    write_text_atomic(ctx.exp_dir / "RESULTS.md", text)
    print(text, end="", flush=True)


def _row(name: str, r: dict) -> str:
    return (f"| {name} | {r['items']} | {r['seconds']:.1f} | {_fmt(r['mel_l1_dtw'])} | {_fmt(r['mel_stats_l1'])} | "
            f"{_fmt(r['wer'], pct=True)} |")


def format_results(ctx: StageContext, info: dict, rows: dict, sweep: list[dict], items: list[dict]) -> str:
    """The RESULTS.md text."""
    sway = ctx.get("sway")
    lines = [
        f"# TTS results ({ctx.tag})", "",
        f"Command (from `{ctx.recipe_dir.name}` recipe dir): `{info['command']}`", "",
        (f"* training: `audiokit train --config {info['train_config']}` {' '.join(info['train_overrides'])} -> "
         f"`{info['checkpoint']}` ({info['global_step']} steps; train stage {stage_minutes(ctx, 'train')}); "
         "synthesis uses the EMA weights;"),
        (f"* test: {len(items)} held-out sentences of `{data(ctx, 'test')}` spoken by held-out voices "
         f"({', '.join(info['test_speakers'])}); prompt = another utterance of the same speaker (<= "
         f"{ctx.get('ref_max_seconds')} s) with its transcript;"),
        (f"* sampling: Euler, NFE {ctx.get('nfe')}, sway {sway}, CFG {ctx.get('cfg_strength')}, speed "
         f"{ctx.get('speed')}, duration `{ctx.get('duration')}`; vocoder `{ctx.get('vocoder')}`"
         + (f" ({ctx.get('griffinlim_iters')} iterations)" if ctx.get("vocoder") == "griffinlim" else "") + ";"),
        ("* mel L1 (DTW) = mean absolute log-mel difference (F5 mel: 24 kHz, 100 mels, hop 256, floor 1e-5) along "
         "the dynamic-time-warping path between the synthesized and the real utterance (0 = identical); mel-stats L1 = "
         "difference of the time-averaged log-mels (timing-free); WER = pocketsphinx en-us (bundled model) vs the "
         "transcript" + (" (asr=none: not computed)" if ctx.get("asr") == "none" else "") + "."), "",
        "| system | items | seconds | mel L1 (DTW) | mel-stats L1 | WER |", "|---|---|---|---|---|---|",
    ]
    lines += [_row(name, r) for name, r in rows.items()]
    lines += [
        "", "Systems: **real** = the recordings (the ASR's own error on these voices); **copysynth** = real audio -> "
        "mel -> vocoder (vocoder ceiling); **trained** = this run; **untrained** = same config and seed, no training.",
        "", f"## NFE and sway (trained model, first {sweep[0]['items'] if sweep else 0} item(s))", "",
        "RTF = processing seconds / seconds of generated audio on this machine (model = the ODE with CFG; total adds the "
        "vocoder)" + (f", torch threads {ctx.get('torch_threads')}" if ctx.get("torch_threads") else "") + ".", "",
        "| NFE | sway | items | audio s | RTF model | RTF total | mel L1 (DTW) | WER |", "|---|---|---|---|---|---|---|---|",
    ]
    for r in sweep:
        lines.append(f"| {r['nfe']} | {r['sway'] if r['sway'] is not None else 'off'} | {r['items']} | "
                     f"{r['audio']:.1f} | {r['rtf_model']:.3f} | {r['rtf_total']:.3f} | {_fmt(r['mel_l1_dtw'])} | "
                     f"{_fmt(r['wer'], pct=True)} |")
    return "\n".join(lines) + "\n"
