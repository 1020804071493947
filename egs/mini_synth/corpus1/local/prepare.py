#!/usr/bin/env python3
"""Build the mini_synth corpus (speech + optional music) into a data folder.

Usage (from egs/mini_synth/corpus1)::

    python local/prepare.py --out data --size default --seed 0 --jobs 2 --music-songs 20

Writes data/{train,dev,test}/ Kaldi dirs, data/wav/, data/stats.{json,txt},
data/versions.txt and, unless --music-songs 0, data/music/. wav.scp paths are
relative to the current folder when --out is relative. Rerunning with the same
arguments resumes an interrupted build; other arguments rebuild in place.
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
    p.add_argument("--size", choices=sorted(SIZES), default="default",
                   help="corpus size: tiny (CI), default (~1.5 h), large (~5 h)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--jobs", type=int, default=2, help="parallel synthesis workers (default: 2)")
    p.add_argument("--music-songs", type=int, default=0,
                   help="number of rendered MIDI songs in data/music (0 = skip, default)")
    p.add_argument("--music-sample-rate", type=int, default=24000, help="music sample rate")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = p.parse_args(argv)
    if args.jobs < 1:
        p.error("--jobs must be at least 1")
    if args.music_songs < 0:
        p.error("--music-songs must be 0 or more")
    return args


def main(argv: list[str] | None = None) -> int:
    """Build speech, then music; one-line error and exit 2 on a user/environment error."""
    args = parse_args(argv)
    from audiokit.data.synth import build_mini_synth, build_music

    try:
        build_mini_synth(args.out, size=args.size, seed=args.seed, jobs=args.jobs,
                         progress=not args.no_progress)
        if args.music_songs > 0:
            music = build_music(args.out, n_songs=args.music_songs, seed=args.seed,
                                sample_rate=args.music_sample_rate, progress=not args.no_progress)
            print(f"music: {music['songs']} songs, {music['hours']:.3f} h at "
                  f"{music['sample_rate']} Hz ({len(music['speakers'])} instrument sets)")
    except AudiokitError as err:
        print(f"prepare.py: error: {err.one_line()}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("prepare.py: interrupted (run again to resume)", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
