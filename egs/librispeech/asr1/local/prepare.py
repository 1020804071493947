#!/usr/bin/env python3
"""Kaldi data dirs from a local copy of LibriSpeech (openslr.org/12): one dir per subset.

Usage (from egs/librispeech/asr1)::

    python local/prepare.py --corpus /data/LibriSpeech --out data \\
        --subsets train-clean-100 dev-clean test-clean test-other

``--corpus`` (default: ``$LIBRISPEECH``) is the folder holding the subset folders, or the
folder above it (the one the archives unpack into, holding ``LibriSpeech/``). Each subset
``<corpus>/<subset>/<speaker>/<chapter>/`` has ``<speaker>-<chapter>.trans.txt`` (``UTT-ID
TRANSCRIPT`` lines) and one ``<UTT-ID>.flac`` per line. Written to ``<out>/<subset with _>``
(``train-clean-100`` -> ``data/train_clean_100``): ``wav.scp`` (absolute flac paths; the
corpus is read in place), ``text`` (lower case unless ``--keep-case``), ``utt2spk`` (the
reader's id), ``spk2utt``, ``utt2dur`` and ``spk2gender`` (from ``SPEAKERS.TXT`` when present).

Every subset is read and checked before anything is written: a transcript line whose flac is
missing, a malformed line or an empty subset stops with one line naming the file and line;
flac files without a transcript line are counted and left out.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from audiokit.errors import AudiokitError, DataDirError

SUBSETS = ("train-clean-100", "train-clean-360", "train-other-500", "dev-clean", "dev-other",
           "test-clean", "test-other")
_UTT = re.compile(r"^(\d+)-(\d+)-(\d+)$")


def find_subset(corpus: Path, subset: str) -> Path:
    """``corpus/subset`` or ``corpus/LibriSpeech/subset``; DataDirError naming both when absent."""
    if not corpus.is_dir():
        raise DataDirError(f"{corpus}: LibriSpeech corpus folder not found")
    for path in (corpus / subset, corpus / "LibriSpeech" / subset):
        if path.is_dir():
            return path
    raise DataDirError(f"{corpus}: no LibriSpeech subset '{subset}' (looked for {corpus / subset} "
                       f"and {corpus / 'LibriSpeech' / subset})")


def read_genders(corpus: Path) -> dict[str, str]:
    """``{speaker: "m"|"f"}`` from ``SPEAKERS.TXT`` (``ID | SEX | SUBSET | MINUTES | NAME``), if any."""
    for path in (corpus / "SPEAKERS.TXT", corpus / "LibriSpeech" / "SPEAKERS.TXT"):
        if path.is_file():
            genders = {}
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                fields = [f.strip() for f in line.split("|")]
                if line.startswith(";") or len(fields) < 2 or fields[1].upper() not in ("M", "F"):
                    continue
                genders[fields[0]] = fields[1].lower()
            return genders
    return {}


def read_transcripts(subset_dir: Path, keep_case: bool) -> tuple[dict[str, str], dict[str, Path], int]:
    """``({utt: text}, {utt: flac path}, flac files without a transcript)`` of one subset."""
    text: dict[str, str] = {}
    audio: dict[str, Path] = {}
    flacs = 0
    for trans in sorted(subset_dir.glob("*/*/*.trans.txt")):
        chapter = trans.parent
        prefix = trans.name[: -len(".trans.txt")]
        flacs += sum(1 for _ in chapter.glob("*.flac"))
        for lineno, line in enumerate(trans.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            utt, _, words = line.strip().partition(" ")
            where = f"{trans}:{lineno}"
            if not _UTT.match(utt) or not utt.startswith(prefix + "-"):
                raise DataDirError(f"{where}: utterance id {utt!r} is not {prefix}-NNNN")
            if not words.strip():
                raise DataDirError(f"{where}: empty transcript for {utt}")
            if utt in text:
                raise DataDirError(f"{where}: duplicate utterance id {utt!r}")
            flac = chapter / f"{utt}.flac"
            if not flac.is_file():
                raise DataDirError(f"{where}: {flac.name} is missing")
            text[utt] = " ".join(words.split()) if keep_case else " ".join(words.lower().split())
            audio[utt] = flac.resolve()
    if not text:
        raise DataDirError(f"{subset_dir}: no */*/*.trans.txt transcripts (not a LibriSpeech subset)")
    return text, audio, flacs - len(text)


def durations(paths: dict[str, Path], jobs: int) -> dict[str, str]:
    """``{utt: seconds}`` (3 decimals) from the flac headers."""
    import soundfile as sf

    def one(path: Path) -> str:
        try:
            info = sf.info(str(path))
        except (RuntimeError, sf.SoundFileError) as err:
            raise DataDirError(f"{path}: cannot read this flac ({err})") from None
        return f"{info.frames / info.samplerate:.3f}"

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return dict(zip(paths, pool.map(one, paths.values())))


def prepare_subset(corpus: Path, subset: str, *, keep_case: bool = False, jobs: int = 2,
                   genders: dict[str, str] | None = None):
    """The :class:`~audiokit.data.kaldi.DataDir` of one subset (nothing written)."""
    from audiokit.data.kaldi import DataDir

    text, audio, untranscribed = read_transcripts(find_subset(corpus, subset), keep_case)
    dd = DataDir()
    dd.text = text
    dd.wav_scp = {utt: str(path) for utt, path in audio.items()}
    dd.utt2spk = {utt: utt.split("-", 1)[0] for utt in text}
    dd.utt2dur = durations(audio, jobs)
    speakers = set(dd.utt2spk.values())
    dd.spk2gender = {s: g for s, g in (genders or {}).items() if s in speakers}
    if dd.spk2gender and len(dd.spk2gender) != len(speakers):
        dd.spk2gender = {}  # partial genders would fail validation; leave the table out
    print(f"{subset}: {len(text)} utterances, {len(speakers)} speakers, "
          f"{sum(float(d) for d in dd.utt2dur.values()) / 3600:.2f} h"
          + (f" ({untranscribed} flac files without a transcript left out)" if untranscribed else ""),
          flush=True)
    return dd


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", type=Path, default=None,
                   help="LibriSpeech folder (default: $LIBRISPEECH)")
    p.add_argument("--out", type=Path, default=Path("data"), help="output folder (default: data)")
    p.add_argument("--subsets", nargs="+", default=["train-clean-100", "dev-clean", "test-clean"],
                   choices=SUBSETS, metavar="SUBSET", help=f"subsets to prepare ({', '.join(SUBSETS)})")
    p.add_argument("--jobs", type=int, default=2, help="threads reading flac headers (default: 2)")
    p.add_argument("--keep-case", action="store_true", help="keep LibriSpeech's upper-case transcripts")
    args = p.parse_args(argv)
    if args.jobs < 1:
        p.error("--jobs must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Read every subset, then write the data dirs; one-line error and exit 2 on failure."""
    args = parse_args(argv)
    try:
        corpus = args.corpus or (Path(os.environ["LIBRISPEECH"]) if os.environ.get("LIBRISPEECH") else None)
        if corpus is None:
            raise DataDirError("no corpus: pass --corpus /path/to/LibriSpeech or set $LIBRISPEECH")
        genders = read_genders(corpus) if corpus.is_dir() else {}
        dirs = {s: prepare_subset(corpus, s, keep_case=args.keep_case, jobs=args.jobs, genders=genders)
                for s in dict.fromkeys(args.subsets)}
        for subset, dd in dirs.items():
            dd.save(args.out / subset.replace("-", "_"))
    except AudiokitError as err:
        print(f"prepare.py: error: {err.one_line()}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("prepare.py: interrupted (run it again)", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
