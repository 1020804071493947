#!/usr/bin/env python3
"""Build the mini_synth speech corpus for ASR: data/{train,dev,test} with held-out test voices.

Usage (from egs/mini_synth/asr1)::

    python local/prepare.py --out data --size default --seed 0 --jobs 2

Writes data/{train,dev,test}/ Kaldi dirs (16 kHz speech from Debian TTS voices with exact
transcripts; the test voices are never heard in train or dev), data/wav/ and the corpus stats.
Rerunning with the same arguments resumes an interrupted build. A missing engine is reported
as one line naming the Debian package to install.
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
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = p.parse_args(argv)
    if args.jobs < 1:
        p.error("--jobs must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Build the speech corpus; one-line error and exit 2 on a user/environment error."""
    args = parse_args(argv)
    from audiokit.data.synth import build_mini_synth

    try:
        build_mini_synth(args.out, size=args.size, seed=args.seed, jobs=args.jobs,
                         progress=not args.no_progress)
    except AudiokitError as err:
        print(f"prepare.py: error: {err.one_line()}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("prepare.py: interrupted (run again to resume)", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
