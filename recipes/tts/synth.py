"""The ``synthesize`` stage: held-out test sentences in held-out test voices.

For each selected test utterance (up to ``synth_max_utts``, spread evenly over the C-sorted
ids, so over the test speakers) the prompt is **another** utterance of the same speaker (the
next one in C order whose duration is at most ``ref_max_seconds``) with its transcript; the model
speaks the test transcript in that voice. Systems written under ``exp/<tag>/synth/``:

* ``trained/``   the final checkpoint's EMA weights;
* ``untrained/`` the same config and seed, no training (the floor);
* ``copysynth/`` the real test audio -> F5 log-mel -> the vocoder (the vocoder's ceiling);
* ``sweep/nfe<N>_<sway|nosway>/`` the trained model on the first ``sweep_utts`` items for every
  NFE in ``sweep_nfe``, with and without sway sampling; model and vocoder times in ``sweep.json``.

``items.json`` lists every item (ids, texts, prompt, durations). Length: ``duration: estimate``
uses F5's rule from the prompt's speech rate, ``oracle`` the real utterance's duration.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from audiokit.io.atomic import write_text_atomic
from audiokit.recipe import StageContext
from recipes.tts.stages import checkpoint, data, set_threads, vocab_file

SR = 24000


def select_items(ctx: StageContext) -> list[dict[str, Any]]:
    """The test items and their prompts (see the module doc)."""
    from audiokit.data.dataset import KaldiAudioDataset

    ds = KaldiAudioDataset(ctx.path(data(ctx, "test")), sample_rate=SR)
    dd, ids, lengths = ds.dd, ds.ids, ds.lengths
    limit = int(ctx.get("synth_max_utts"))
    index = list(range(len(ids)))
    if len(index) > limit:
        index = [index[(i * len(ids)) // limit] for i in range(limit)]
    by_spk: dict[str, list[int]] = {}
    for i, utt in enumerate(ids):
        by_spk.setdefault(dd.utt2spk[utt], []).append(i)
    items = []
    for i in index:
        utt, spk = ids[i], dd.utt2spk[ids[i]]
        same = by_spk[spk]
        pos = same.index(i)
        ref = next((same[(pos + k) % len(same)] for k in range(1, len(same))
                    if lengths[same[(pos + k) % len(same)]] <= float(ctx.get("ref_max_seconds"))), None)
        if ref is None:
            print(f"synthesize: {utt}: no other utterance of {spk} within ref_max_seconds; skipped", flush=True)
            continue
        items.append({"utt": utt, "spk": spk, "text": dd.text[utt], "seconds": round(lengths[i], 3),
                      "ref": ids[ref], "ref_text": dd.text[ids[ref]], "ref_seconds": round(lengths[ref], 3),
                      "index": i, "ref_index": ref})
    if not items:
        from audiokit.errors import DataDirError

        raise DataDirError(f"{data(ctx, 'test')}: no test item has a prompt (need two utterances per speaker)")
    return items


def _save(path: Path, wav: Any) -> None:
    from audiokit.io.audio import save_audio

    x = np.asarray(wav, dtype=np.float32).reshape(-1)
    peak = float(np.abs(x).max()) if x.size else 0.0
    if peak > 0.99:  # an untrained model may produce anything: keep the file valid, not clipped
        x = x * (0.99 / peak)
    save_audio(path, x, SR, force=True)


def _generate(model: Any, item: dict, ref: np.ndarray, ctx: StageContext, vocab: Any, vocoder: Any,
              nfe: int, sway: float | None, seed: int) -> tuple[np.ndarray, float, float]:
    """``(wav, model seconds, vocoder seconds)`` for one item."""
    import torch

    total = None
    if ctx.get("duration") == "oracle":
        total = item["ref_seconds"] + item["seconds"]
    t0 = time.perf_counter()
    mel = model.synthesize(item["text"], torch.from_numpy(ref), item["ref_text"], vocab=vocab, vocoder=None,
                           nfe=nfe, cfg_strength=float(ctx.get("cfg_strength")), sway_coef=sway,
                           speed=float(ctx.get("speed")), total_seconds=total, seed=seed)
    t1 = time.perf_counter()
    wav = vocoder(mel.T[None]).reshape(-1)
    rms = float(np.sqrt(np.mean(ref.astype(np.float64) ** 2)))
    if rms < 0.1 and rms > 0:  # synthesize() raised the prompt to RMS 0.1; scale back as F5 does
        wav = wav * rms / 0.1
    return wav.numpy(), t1 - t0, time.perf_counter() - t1


def synthesize(ctx: StageContext) -> None:
    """Write every system's audio, ``items.json`` and ``sweep.json`` (see the module doc)."""
    import torch

    from audiokit.config import read_yaml
    from audiokit.data.dataset import KaldiAudioDataset
    from audiokit.train.tts import build_tts, tts_from_checkpoint
    from audiokit.train.tts_data import read_vocab
    from recipes.tts.vocoder import load_vocoder

    torch.set_grad_enabled(False)
    set_threads(ctx)
    out = ctx.exp_dir / "synth"
    items = select_items(ctx)
    ckpt, cfg = checkpoint(ctx)
    run_seed = int((read_yaml(cfg)[0] or {}).get("seed", 0))
    trained, _ = tts_from_checkpoint(ckpt, cfg)
    untrained, _ = build_tts(cfg, seed=run_seed)
    vocab = read_vocab(ctx.path(vocab_file(ctx)))
    vocoder = load_vocoder(str(ctx.get("vocoder")), trained, n_iter=int(ctx.get("griffinlim_iters")))
    ds = KaldiAudioDataset(ctx.path(data(ctx, "test")), sample_rate=SR)
    nfe, sway, seed = int(ctx.get("nfe")), ctx.get("sway"), int(ctx.get("seed"))
    for n, item in enumerate(items):
        ref = ds[item["ref_index"]]["wav"].numpy()
        real = ds[item["index"]]["wav"]
        _save(out / "copysynth" / f"{item['utt']}.wav", vocoder(trained.mel(real[None]).transpose(1, 2)).reshape(-1))
        for name, model in (("trained", trained), ("untrained", untrained)):
            wav, _, _ = _generate(model, item, ref, ctx, vocab, vocoder, nfe, sway, seed + n)
            _save(out / name / f"{item['utt']}.wav", wav)
        print(f"synthesize: {n + 1}/{len(items)} {item['utt']} (prompt {item['ref']})", flush=True)
    sweep = []
    for nfe_i in ctx.get("sweep_nfe"):
        for sway_i in (float(sway) if sway is not None else -1.0, None):
            name = f"nfe{nfe_i}_{'sway' if sway_i is not None else 'nosway'}"
            times = {"model": 0.0, "vocoder": 0.0, "audio": 0.0}
            for n, item in enumerate(items[: int(ctx.get("sweep_utts"))]):
                ref = ds[item["ref_index"]]["wav"].numpy()
                wav, t_model, t_voc = _generate(trained, item, ref, ctx, vocab, vocoder, nfe_i, sway_i, seed + n)
                _save(out / "sweep" / name / f"{item['utt']}.wav", wav)
                times["model"] += t_model
                times["vocoder"] += t_voc
                times["audio"] += len(wav) / SR
            sweep.append({"name": name, "nfe": nfe_i, "sway": sway_i, **{k: round(v, 3) for k, v in times.items()},
                          "items": min(len(items), int(ctx.get("sweep_utts")))})
            print(f"synthesize: sweep {name}: model {times['model']:.1f} s for {times['audio']:.1f} s of audio",
                  flush=True)
    write_text_atomic(out / "sweep.json", json.dumps(sweep, indent=1) + "\n")
    write_text_atomic(out / "items.json", json.dumps(items, indent=1) + "\n")
