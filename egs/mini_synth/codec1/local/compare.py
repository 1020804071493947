#!/usr/bin/env python3
"""Put the scores of several codec1 runs side by side in one Markdown table.

Usage (from egs/mini_synth/codec1, after ``./run.sh`` with each ``train_config`` and ``tag``)::

    python local/compare.py codec_mini languagecodec_mini hificodec_mini -o exp/RESULTS_codecs.md

Reads ``exp/<tag>/scores.json`` of each tag (written by the ``score`` stage). Each run's trained and
untrained rows are named ``<tag>: trained`` / ``<tag>: untrained``; the baseline rows (Codec 2)
are taken from the first run that has them (every run scores the same held-out items). Runs
scored on different item sets are refused.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from audiokit.errors import AudiokitError
from audiokit.io.atomic import write_text_atomic
from audiokit.metrics.codec_eval import SetScore, results_table

NEURAL = ("trained", "untrained")


def load_run(exp: Path, tag: str) -> dict[str, Any]:
    """``exp/<tag>/scores.json`` as a dict; AudiokitError when missing or unreadable."""
    path = exp / tag / "scores.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AudiokitError(f"{path}: no scores (run ./run.sh tag={tag} ... up to the score stage)") from None
    except (OSError, ValueError) as exc:
        raise AudiokitError(f"{path}: unreadable scores ({exc})") from None


def merge(runs: dict[str, dict[str, Any]]) -> tuple[list[SetScore], dict[str, float], dict[str, Any]]:
    """Rows of every run (neural systems prefixed with their tag) plus one copy of the baselines."""
    scores: list[SetScore] = []
    bitrates: dict[str, float] = {}
    tokens: dict[str, Any] = {}
    baselines: list[SetScore] = []
    sets = None
    for tag, run in runs.items():
        run_sets = run.get("info", {}).get("sets")
        if sets is None:
            sets = run_sets
        elif run_sets != sets:
            raise AudiokitError(f"run '{tag}' scored other items ({run_sets}) than the first run ({sets})")
        run_tokens = run.get("tokens_per_s", {})
        for row in run["scores"]:
            score = SetScore(**row)
            if score.system in NEURAL:
                name = f"{tag}: {score.system}"
                bitrates[name] = run["bitrates"][score.system]
                tokens[name] = run_tokens.get(score.system)
                score.system = name
                scores.append(score)
            elif score.system not in bitrates:
                bitrates[score.system] = run["bitrates"][score.system]
                tokens[score.system] = run_tokens.get(score.system)
                baselines.append(score)
            elif all(b.system != score.system or b.set != score.set for b in baselines):
                baselines.append(score)
    return scores + baselines, bitrates, tokens


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tags", nargs="+", help="experiment tags under exp/")
    parser.add_argument("-o", "--output", default="exp/RESULTS_codecs.md", help="Markdown file to write")
    parser.add_argument("--exp", default="exp", help="experiment root (default: exp)")
    args = parser.parse_args(argv)
    try:
        runs = {tag: load_run(Path(args.exp), tag) for tag in args.tags}
        scores, bitrates, tokens = merge(runs)
    except AudiokitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    lines = ["# Codecs side by side (mini_synth codec1)", "",
             f"Command (from `egs/mini_synth/codec1`): `python local/compare.py {' '.join(args.tags)}`", ""]
    for tag, run in runs.items():
        info = run.get("info", {})
        lines.append(f"* **{tag}**: `{info.get('train_config', '?')}`, {info.get('iterations', '?')} iterations "
                     f"({info.get('global_step', '?')} optimiser steps); details in `exp/{tag}/RESULTS.md`.")
    lines += ["", results_table(scores, bitrates, tokens)]
    write_text_atomic(Path(args.output), "\n".join(lines))
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
