#!/usr/bin/env python3
"""LJSpeech-1.1 -> Kaldi data dirs data/{train,dev,test} for TTS.

Usage (from egs/ljspeech/tts1)::

    python local/prepare.py --corpus /data/LJSpeech-1.1 --out data [--num-dev 100 --num-test 500 --seed 0]
    LJSPEECH=/data/LJSpeech-1.1 python local/prepare.py --out data

Reads ``metadata.csv`` (``id|transcription|normalized transcription``, UTF-8, no header; the
normalized column is used, the raw one when it is empty) and ``wavs/<id>.wav`` (22.05 kHz mono).
One speaker, ``LJ``; utterance ids are the LJSpeech ids. Dev and test are drawn at random
(seeded) from the whole set, the rest is train. Writes wav.scp (absolute paths into the corpus,
nothing is copied), text, utt2spk, spk2utt, spk2gender (f) per set. Errors (missing corpus,
malformed line, missing wav) are one line naming the file and line; nothing is written then.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
from pathlib import Path

from audiokit.errors import AudiokitError, DataDirError

SPEAKER = "LJ"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", type=Path, default=None, help="LJSpeech-1.1 folder (default: $LJSPEECH)")
    p.add_argument("--out", type=Path, default=Path("data"), help="output folder (default: data)")
    p.add_argument("--num-dev", type=int, default=100, help="dev utterances (default: 100)")
    p.add_argument("--num-test", type=int, default=500, help="test utterances (default: 500)")
    p.add_argument("--seed", type=int, default=0, help="split seed (default: 0)")
    args = p.parse_args(argv)
    if args.num_dev < 1 or args.num_test < 2:
        p.error("need --num-dev >= 1 and --num-test >= 2 (a test prompt is another test utterance)")
    return args


def corpus_root(given: Path | None) -> Path:
    """The corpus folder from ``--corpus`` or ``$LJSPEECH``; DataDirError when missing."""
    if given is None:
        env = os.environ.get("LJSPEECH", "")
        if not env:
            raise DataDirError("no LJSpeech corpus: pass --corpus DIR or set LJSPEECH=DIR "
                               "(the folder with metadata.csv and wavs/)")
        given = Path(env)
    if not given.is_dir():
        raise DataDirError(f"{given}: LJSpeech corpus folder not found")
    if not (given / "metadata.csv").is_file():
        raise DataDirError(f"{given / 'metadata.csv'}: missing (is {given} an LJSpeech-1.1 folder?)")
    return given.resolve()


def read_metadata(root: Path) -> dict[str, str]:
    """``{id: transcript}`` from ``metadata.csv``; checks every line and its wav."""
    meta = root / "metadata.csv"
    out: dict[str, str] = {}
    try:
        lines = meta.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as err:
        raise DataDirError(f"{meta}: not UTF-8 text ({err.reason})") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        fields = line.split("|")
        if len(fields) < 2 or not fields[0].strip():
            raise DataDirError(f"{meta}:{n}: expected 'id|transcription|normalized transcription'")
        utt = fields[0].strip()
        text = " ".join((fields[2] if len(fields) > 2 and fields[2].strip() else fields[1]).split())
        if not text:
            raise DataDirError(f"{meta}:{n}: empty transcription for {utt!r}")
        if utt in out:
            raise DataDirError(f"{meta}:{n}: duplicate id {utt!r}")
        if not (root / "wavs" / f"{utt}.wav").is_file():
            raise DataDirError(f"{meta}:{n}: {root / 'wavs' / (utt + '.wav')} not found")
        out[utt] = text
    if not out:
        raise DataDirError(f"{meta}: no utterances")
    return out


def split(ids: list[str], num_dev: int, num_test: int, seed: int) -> dict[str, list[str]]:
    """Seeded random dev/test sets; the rest is train."""
    if num_dev + num_test >= len(ids):
        raise DataDirError(f"only {len(ids)} utterances: cannot hold out {num_dev} dev + {num_test} test")
    order = sorted(ids)
    random.Random(seed).shuffle(order)
    return {"test": order[:num_test], "dev": order[num_test:num_test + num_dev], "train": order[num_test + num_dev:]}


def prepare(root: Path, out: Path, num_dev: int, num_test: int, seed: int) -> dict[str, int]:
    """Write the three data dirs; returns their sizes."""
    from audiokit.data.kaldi import DataDir

    texts = read_metadata(root)
    sizes = {}
    for name, ids in split(list(texts), num_dev, num_test, seed).items():
        dd = DataDir()
        for utt in ids:
            dd.wav_scp[utt] = str(root / "wavs" / f"{utt}.wav")
            dd.text[utt] = texts[utt]
            dd.utt2spk[utt] = SPEAKER
        dd.spk2gender = {SPEAKER: "f"}
        dd.save(out / name)
        sizes[name] = len(ids)
    return sizes


def main(argv: list[str] | None = None) -> int:
    """Prepare LJSpeech; one-line error and exit 2 on a user error."""
    args = parse_args(argv)
    try:
        sizes = prepare(corpus_root(args.corpus), args.out, args.num_dev, args.num_test, args.seed)
    except AudiokitError as err:
        print(f"prepare.py: error: {err.one_line()}", file=sys.stderr)
        return err.exit_code
    print("LJSpeech: " + ", ".join(f"{k} {v}" for k, v in sizes.items()) + f" utterances in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
