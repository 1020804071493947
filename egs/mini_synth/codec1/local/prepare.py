#!/usr/bin/env python3
"""Build the mini_synth corpus for codec training: speech + rendered music, music split in two.

Usage (from egs/mini_synth/codec1)::

    python local/prepare.py --out data --size default --seed 0 --jobs 2 --music-songs 24 --music-test-songs 4

Writes data/{train,dev,test}/ (speech; the test voices are held out from train and dev),
data/music/ (every song), data/music_train/ and data/music_test/ (the last
--music-test-songs songs in C order of their ids are held out), data/wav/ and the corpus
stats. Rerunning with the same arguments resumes an interrupted build.
A missing engine is reported as one line naming the Debian package to install.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from audiokit.errors import AudiokitError


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    from audiokit.data.synth import SIZES

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("data"), help="output folder (default: data)")
    p.add_argument("--size", choices=sorted(SIZES), default="default", help="speech corpus size")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--jobs", type=int, default=2, help="parallel synthesis workers (default: 2)")
    p.add_argument("--music-songs", type=int, default=24, help="rendered MIDI songs (default: 24)")
    p.add_argument("--music-test-songs", type=int, default=4, help="songs held out for scoring (default: 4)")
    p.add_argument("--sample-rate", type=int, default=24000, help="music sample rate (default: 24000)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = p.parse_args(argv)
    if args.jobs < 1:
        p.error("--jobs must be at least 1")
    if not 1 <= args.music_test_songs < args.music_songs:
        p.error("need 1 <= --music-test-songs < --music-songs")
    return args


def split_music(data: Path, n_test: int) -> tuple[int, int]:
    """Write data/music_train and data/music_test from data/music; returns their sizes."""
    from audiokit.data.kaldi import DataDir

    music = DataDir.load(data / "music")
    ids = music.utt_ids
    test = set(ids[len(ids) - n_test:])
    for name, keep in (("music_train", lambda u: u not in test), ("music_test", lambda u: u in test)):
        part = DataDir()
        for table in ("wav_scp", "utt2spk", "utt2dur"):
            setattr(part, table, {k: v for k, v in getattr(music, table).items() if keep(k)})
        part.save(data / name)
    return len(ids) - n_test, n_test


def main(argv: list[str] | None = None) -> int:
    """Build speech, then music, then the music split; one-line error and exit 2 on failure."""
    args = parse_args(argv)
    from audiokit.data.synth import build_mini_synth, build_music

    try:
        build_mini_synth(args.out, size=args.size, seed=args.seed, jobs=args.jobs,
                         progress=not args.no_progress)
        music = build_music(args.out, n_songs=args.music_songs, seed=args.seed,
                            sample_rate=args.sample_rate, progress=not args.no_progress)
        n_train, n_test = split_music(args.out, args.music_test_songs)
        print(f"music: {music['songs']} songs, {music['hours']:.3f} h at {music['sample_rate']} Hz; "
              f"{n_train} for training, {n_test} held out")
    except AudiokitError as err:
        print(f"prepare.py: error: {err.one_line()}", file=sys.stderr)
        return err.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
