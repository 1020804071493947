"""Corpus statistics and provenance files (stats.json, stats.txt, versions.txt).

``stats.json``/``stats.txt`` hold only values that depend on the inputs (seed, size,
installed voices and engine versions), so two builds with the same seed are
byte-identical; the wall-clock build time goes to ``build_time.txt`` alone.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import wave
from pathlib import Path
from typing import Iterable

from audiokit.data.kaldi import DataDir
from audiokit.io.atomic import write_text_atomic


def wav_seconds(path: Path) -> float:
    """Duration of a PCM wav file from its header (stdlib ``wave``)."""
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()


def split_stats(dd: DataDir) -> dict:
    """Utterances, speakers, hours, word tokens and vocabulary of one data dir."""
    words = [w for t in dd.text.values() for w in t.split()]
    seconds = sum(float(v) for v in dd.utt2dur.values())
    return {
        "utterances": len(dd.utt2spk),
        "speakers": len(set(dd.utt2spk.values())),
        "speaker_ids": sorted(set(dd.utt2spk.values())),
        "hours": round(seconds / 3600, 4),
        "words": len(words),
        "vocabulary": len(set(words)),
    }


def oov_rate(dd: DataDir, known: set[str]) -> float:
    """Fraction of word tokens of ``dd`` not in ``known`` (0.0 for an empty text)."""
    words = [w for t in dd.text.values() for w in t.split()]
    if not words:
        return 0.0
    return round(sum(w not in known for w in words) / len(words), 4)


def corpus_stats(splits: dict[str, DataDir], extra: dict) -> dict:
    """The stats dict: per-split stats, total vocabulary, OOV rates against train."""
    train_vocab = {w for t in splits["train"].text.values() for w in t.split()}
    all_vocab = {w for dd in splits.values() for t in dd.text.values() for w in t.split()}
    per_split = {name: split_stats(dd) for name, dd in splits.items()}
    return {
        **extra,
        "hours": round(sum(s["hours"] for s in per_split.values()), 4),
        "utterances": sum(s["utterances"] for s in per_split.values()),
        "vocabulary": len(all_vocab),
        "oov_token_rate_dev": oov_rate(splits["dev"], train_vocab),
        "oov_token_rate_test": oov_rate(splits["test"], train_vocab),
        "splits": per_split,
    }


def format_stats(stats: dict) -> str:
    """Human-readable summary of :func:`corpus_stats` (also printed at the end of a build)."""
    lines = [
        f"mini_synth corpus: size={stats['size']} seed={stats['seed']}",
        f"{'split':<6} {'utts':>6} {'spk':>4} {'hours':>7} {'words':>7} {'vocab':>6}  speakers",
    ]
    for name, s in stats["splits"].items():
        lines.append(f"{name:<6} {s['utterances']:>6} {s['speakers']:>4} {s['hours']:>7.3f} "
                     f"{s['words']:>7} {s['vocabulary']:>6}  {' '.join(s['speaker_ids'])}")
    lines += [
        f"total: {stats['utterances']} utterances, {stats['hours']:.3f} h, "
        f"vocabulary {stats['vocabulary']} words "
        f"(sentence pool limited to the {stats['vocab_limit']} most frequent)",
        f"OOV token rate vs train vocabulary: dev {100 * stats['oov_token_rate_dev']:.2f} %, "
        f"test {100 * stats['oov_token_rate_test']:.2f} %",
    ]
    return "\n".join(lines) + "\n"


def write_stats(out_dir: Path, stats: dict) -> None:
    """Write ``stats.json`` and ``stats.txt`` into ``out_dir`` (atomically)."""
    write_text_atomic(out_dir / "stats.json", json.dumps(stats, indent=2, sort_keys=True) + "\n")
    write_text_atomic(out_dir / "stats.txt", format_stats(stats))


def debian_versions(packages: Iterable[str]) -> dict[str, str]:
    """``{package: version}`` from ``dpkg-query``; "not-installed"/"unknown" when absent."""
    packages = sorted(set(packages))
    exe = shutil.which("dpkg-query")
    if exe is None:
        return {p: "unknown" for p in packages}
    res = subprocess.run([exe, "-W", "-f", "${Package} ${Version}\n", *packages],
                         capture_output=True, text=True, timeout=60)
    found = dict(line.split(" ", 1) for line in res.stdout.splitlines() if " " in line)
    return {p: found.get(p, "").strip() or "not-installed" for p in packages}


def format_versions(versions: dict[str, str], voice_lines: list[str], title: str,
                    list_header: str = "voices: spk split gender engine voice options") -> str:
    """``versions.txt`` text: package versions, then one line per voice or instrument set."""
    lines = [f"# {title}", "# packages (output audio depends on these versions)"]
    lines += [f"{p} {v}" for p, v in versions.items()]
    lines += [f"# {list_header}"]
    lines += voice_lines
    return "\n".join(lines) + "\n"
