"""The work of the corpus pipeline's stages (see ``recipes/corpus/__init__.py``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from audiokit.errors import ConfigError, DataDirError
from audiokit.io.atomic import write_text_atomic
from audiokit.recipe import StageContext
from audiokit.recipe.validate import validate_data_dirs

SPLITS = ("train", "dev", "test")


def check_config(config: dict[str, Any]) -> None:
    """Reject impossible values before anything runs (ConfigError)."""
    from audiokit.data.synth import SIZES

    if config["size"] not in SIZES:
        raise ConfigError(f"size '{config['size']}': choose one of {', '.join(SIZES)}")
    for key, low in (("seed", 0), ("jobs", 1), ("music_songs", 0)):
        if config[key] < low:
            raise ConfigError(f"{key} must be >= {low}, got {config[key]}")
    data_dir = Path(str(config["data_dir"]))
    if not str(config["data_dir"]) or data_dir.is_absolute() or ".." in data_dir.parts:
        raise ConfigError(f"data_dir '{config['data_dir']}': give a folder inside the work dir")


def prepare_argv(ctx: StageContext) -> list[str]:
    """``python <recipe>/local/prepare.py --out data --size ... --music-songs N``."""
    return [
        sys.executable, str(ctx.recipe_dir / "local" / "prepare.py"),
        "--out", str(ctx.get("data_dir")), "--size", str(ctx.get("size")),
        "--seed", str(ctx.get("seed")), "--jobs", str(ctx.get("jobs")),
        "--music-songs", str(ctx.get("music_songs")),
    ]


def _sets(ctx: StageContext) -> list[str]:
    return list(SPLITS) + (["music"] if ctx.get("music_songs") > 0 else [])


def prepare_outputs(ctx: StageContext) -> list[str]:
    """What ``prepare`` makes (its resume files and build_time.txt are not tracked)."""
    data = ctx.get("data_dir")
    return [f"{data}/{name}" for name in _sets(ctx)] + [
        f"{data}/wav", f"{data}/stats.json", f"{data}/versions.txt"]


def validate_inputs(ctx: StageContext) -> list[str]:
    """The data dirs and the audio they point to."""
    data = ctx.get("data_dir")
    return [f"{data}/{name}" for name in _sets(ctx)] + [f"{data}/wav"]


def validate(ctx: StageContext) -> None:
    """Validate every set; write ``exp/<tag>/validate.txt``; DataDirError on any error.

    Runs in the work dir, so relative ``wav.scp`` paths resolve as Kaldi expects.
    """
    data = Path(ctx.get("data_dir"))
    validate_data_dirs(ctx, ((data / name, name != "music") for name in _sets(ctx)))


def _pct(value: Any) -> str:
    return f"{100 * float(value):.2f} %" if isinstance(value, (int, float)) else "–"


def format_corpus_stats(stats: dict[str, Any], tag: str, source: str) -> str:
    """Markdown report of a ``stats.json`` written by the corpus builder."""
    splits = stats.get("splits", {})
    lines = [
        f"# Corpus statistics ({tag})", "",
        f"From `{source}`: size `{stats.get('size', '?')}`, seed {stats.get('seed', '?')}, "
        f"sentence vocabulary limited to the {stats.get('vocab_limit', '?')} most frequent words.",
        "", "| set | utterances | speakers | hours | words | vocabulary | OOV rate vs train |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    order = sorted(splits, key=lambda n: (SPLITS.index(n) if n in SPLITS else len(SPLITS), n))
    splits = {name: splits[name] for name in order}
    for name, s in splits.items():
        oov = "–" if name == "train" else _pct(stats.get(f"oov_token_rate_{name}"))
        lines.append(f"| {name} | {s.get('utterances', '?')} | {s.get('speakers', '?')} | "
                     f"{float(s.get('hours', 0)):.3f} | {s.get('words', '?')} | "
                     f"{s.get('vocabulary', '?')} | {oov} |")
    speakers = {spk for s in splits.values() for spk in s.get("speaker_ids", [])}
    lines.append(f"| **total** | {stats.get('utterances', '?')} | {len(speakers)} | "
                 f"{float(stats.get('hours', 0)):.3f} | | {stats.get('vocabulary', '?')} | |")
    lines += ["", "Speakers per set (test voices are held out from train):", ""]
    lines += [f"- {name}: {' '.join(s.get('speaker_ids', []))}" for name, s in splits.items()]
    return "\n".join(lines) + "\n"


def write_corpus_stats(ctx: StageContext) -> None:
    """``exp/<tag>/corpus_stats.md`` from ``<data_dir>/stats.json``."""
    source = Path(ctx.get("data_dir")) / "stats.json"
    try:
        stats = json.loads(ctx.path(source).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise DataDirError(f"{source}: cannot read the corpus stats ({err})") from None
    if not isinstance(stats, dict) or not isinstance(stats.get("splits"), dict):
        raise DataDirError(f"{source}: expected an object with a 'splits' mapping")
    text = format_corpus_stats(stats, ctx.tag, source.as_posix())
    write_text_atomic(ctx.exp_dir / "corpus_stats.md", text)
    print(text, end="", flush=True)
