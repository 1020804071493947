"""``build_mini_synth``: the offline multi-speaker English corpus of ``egs/mini_synth``.

Layout written under ``out_dir``::

    {train,dev,test}/{wav.scp,text,utt2spk,spk2utt,spk2gender,utt2dur}
    wav/<spk>/<spk>-<nnnn>.wav     16 kHz mono 16-bit, normalised, 0.15 s padding
    stats.json stats.txt           corpus statistics (deterministic)
    versions.txt                   Debian engine versions and the voice list
    build_time.txt                 wall-clock seconds of the last build (not deterministic)
    .synth_plan.json               what was planned; lets an interrupted build resume

``wav.scp`` paths are ``out_dir / "wav" / ...`` exactly as ``out_dir`` was given: a
relative ``out_dir`` gives paths relative to the current directory (the Kaldi
convention; recipes run from their own folder), an absolute one absolute paths.

Determinism: every sentence is assigned to a speaker before any synthesis, with RNGs
seeded from ``(seed, speaker)``, so neither ``jobs`` nor scheduling changes the output;
the engines and ``sox -R`` are deterministic, so two builds with the same seed (and the
same installed voices and versions) give byte-identical files, except build_time.txt.
Optional voices (MBROLA, pico2wave, festival rab_diphone) join the corpus when installed;
the voice list is in versions.txt.

Rebuilding into an existing ``out_dir`` with the same plan resumes (finished wavs are
kept); a different plan re-synthesises every planned file. Wavs of an earlier, larger
plan are left in ``wav/`` but are not listed in any table.
"""

from __future__ import annotations

import json
import random
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path

from audiokit.data.kaldi import DataDir
from audiokit.data.synth import text as textmod
from audiokit.data.synth.engines import Utterance, synthesize_chunk
from audiokit.data.synth.stats import (corpus_stats, debian_versions, format_stats,
                                       format_versions, wav_seconds, write_stats)
from audiokit.data.synth.voices import Voice, available_voices, require_program
from audiokit.errors import AudiokitError
from audiokit.io.atomic import write_text_atomic

#: utterances per festival process / per work item
CHUNK = 50


@dataclass(frozen=True)
class Size:
    """A corpus size: utterances per speaker and text limits."""

    utts_per_spk: int
    vocab_size: int
    min_words: int = 4
    max_words: int = 14


#: with the 16 Debian-main voices: ``tiny`` 48 utts (~2 s to build, for CI), ``default``
#: 2,400 utts ~1.5 h (~40 s CPU on 2 cores), ``large`` 7,040 utts ~5 h (~3 min CPU)
SIZES: dict[str, Size] = {
    "tiny": Size(utts_per_spk=3, vocab_size=1000),
    "default": Size(utts_per_spk=150, vocab_size=1000),
    "large": Size(utts_per_spk=440, vocab_size=3000),
}


def sentence_pools(size: Size, seed: int) -> dict[str, list[str]]:
    """Disjoint train/dev/test sentence pools for ``size`` (see :mod:`.text`)."""
    lexicon = textmod.load_lexicon()
    sentences = textmod.wordnet_sentences(lexicon, size.min_words, size.max_words)
    kept, _ = textmod.limit_vocabulary(sentences, size.vocab_size)
    return textmod.split_pools(kept, seed)


def plan_corpus(voices: list[Voice], pools: dict[str, list[str]], size: Size, seed: int,
                wav_root: Path) -> list[Utterance]:
    """Assign sentences to every speaker (before synthesis, independent of scheduling)."""
    plan = []
    for voice in voices:
        rng = random.Random(f"speaker:{seed}:{voice.spk}")
        for i, sent in enumerate(textmod.pick_sentences(pools[voice.split], size.utts_per_spk, rng)):
            utt = f"{voice.spk}-{i:04d}"
            plan.append(Utterance(utt, voice, sent, wav_root / voice.spk / f"{utt}.wav"))
    return plan


def chunks(plan: list[Utterance], size: int = CHUNK) -> list[list[Utterance]]:
    """Split the plan into per-speaker work items of at most ``size`` utterances."""
    by_spk: dict[str, list[Utterance]] = {}
    for u in plan:
        by_spk.setdefault(u.voice.spk, []).append(u)
    return [utts[i:i + size] for utts in by_spk.values() for i in range(0, len(utts), size)]


def plan_record(plan: list[Utterance], versions: dict[str, str]) -> str:
    """JSON text describing the plan and engine versions (resume check)."""
    rows = [[u.utt, u.text, str(u.wav), asdict(u.voice)] for u in plan]
    return json.dumps({"versions": versions, "plan": rows}, sort_keys=True) + "\n"


def pending(plan: list[Utterance], marker: Path, record: str) -> list[Utterance]:
    """Utterances still to synthesise: all, unless ``marker`` holds the same plan."""
    if marker.is_file() and marker.read_text(encoding="utf-8") == record:
        return [u for u in plan if not u.wav.is_file()]
    return list(plan)


def run_synthesis(todo: list[Utterance], jobs: int, progress: bool, total: int) -> None:
    """Synthesise ``todo`` with ``jobs`` worker threads (each drives subprocesses)."""
    from tqdm import tqdm

    work = chunks(todo)
    with tqdm(total=total, initial=total - len(todo), unit="utt", desc="synthesising",
              disable=not progress, file=sys.stderr) as bar:
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = [pool.submit(synthesize_chunk, c) for c in work]
            try:
                for fut in as_completed(futures):
                    bar.update(fut.result())
            except BaseException:
                for fut in futures:
                    fut.cancel()
                raise


def data_dirs(plan: list[Utterance]) -> dict[str, DataDir]:
    """Kaldi tables of each split from the synthesised plan (durations read from wavs)."""
    splits = {name: DataDir() for name in textmod.SPLITS}
    for u in plan:
        dd = splits[u.voice.split]
        dd.wav_scp[u.utt] = str(u.wav)
        dd.text[u.utt] = u.text
        dd.utt2spk[u.utt] = u.voice.spk
        dd.utt2dur[u.utt] = f"{wav_seconds(u.wav):.4f}"
        dd.spk2gender[u.voice.spk] = u.voice.gender
    return splits


def build_mini_synth(out_dir: Path, *, size: str = "default", seed: int = 0, jobs: int = 2,
                     progress: bool = True) -> dict:
    """Build the corpus into ``out_dir``; print and return the stats dict.

    The returned dict equals ``stats.json`` plus ``build_seconds``. Raises
    :class:`AudiokitError` for an unknown size or a missing engine/voice (naming the
    Debian package to install).
    """
    start = time.monotonic()
    if size not in SIZES:
        raise AudiokitError(f"unknown corpus size {size!r}; choose one of {', '.join(SIZES)}")
    spec = SIZES[size]
    out_dir = Path(out_dir)
    require_program("sox", "sox")
    voices = available_voices()
    packages = sorted({v.package for v in voices} | {"sox", "wordnet-base", "festlex-cmu"})
    versions = debian_versions(packages)
    plan = plan_corpus(voices, sentence_pools(spec, seed), spec, seed, out_dir / "wav")

    out_dir.mkdir(parents=True, exist_ok=True)
    marker = out_dir / ".synth_plan.json"
    record = plan_record(plan, versions)
    todo = pending(plan, marker, record)
    write_text_atomic(marker, record)
    run_synthesis(todo, jobs, progress, len(plan))

    splits = data_dirs(plan)
    for name, dd in splits.items():
        dd.save(out_dir / name)
    stats = corpus_stats(splits, {"size": size, "seed": seed, "vocab_limit": spec.vocab_size,
                                  "utts_per_spk": spec.utts_per_spk,
                                  "voices": [v.spk for v in voices]})
    write_stats(out_dir, stats)
    write_text_atomic(out_dir / "versions.txt", format_versions(
        versions, [v.describe() for v in voices], "mini_synth speech corpus"))
    seconds = time.monotonic() - start
    write_text_atomic(out_dir / "build_time.txt", f"{seconds:.1f}\n")
    print(format_stats(stats) + f"build time: {seconds:.1f} s ({jobs} jobs)", flush=True)
    return {**stats, "build_seconds": round(seconds, 1)}
