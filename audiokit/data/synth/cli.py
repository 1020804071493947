"""The shared command line of the ``egs/mini_synth/*/local/prepare.py`` scripts.

Each recipe's ``prepare.py`` calls :func:`main` with its own options: speech only (asr1,
tts1), speech plus optional music (corpus1), or speech plus music split into a training
and a held-out part (codec1). Errors print one line and exit with the error's code;
Ctrl-C prints one line and exits 130 (rerunning with the same arguments resumes).
Only the standard library is imported at module top.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

PROG = "prepare.py"


def build_parser(description: str, *, music_songs: int | None, music_test_songs: int | None,
                 rate_flag: str) -> argparse.ArgumentParser:
    """The options: speech always; music only when ``music_songs`` is not None."""
    from audiokit.data.synth import SIZES

    p = argparse.ArgumentParser(description=description)
    p.add_argument("--out", type=Path, default=Path("data"), help="output folder (default: data)")
    p.add_argument("--size", choices=sorted(SIZES), default="default",
                   help="speech corpus size: tiny (CI), default (~1.5 h), large (~5 h)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--jobs", type=int, default=2, help="parallel synthesis workers (default: 2)")
    if music_songs is not None:
        skip = " (0 = skip)" if music_test_songs is None else ""
        p.add_argument("--music-songs", type=int, default=music_songs,
                       help=f"rendered MIDI songs in data/music{skip} (default: {music_songs})")
        if music_test_songs is not None:
            p.add_argument("--music-test-songs", type=int, default=music_test_songs,
                           help=f"songs held out for scoring (default: {music_test_songs})")
        p.add_argument(rate_flag, dest="music_sample_rate", type=int, default=24000,
                       metavar=rate_flag.lstrip("-").replace("-", "_").upper(),
                       help="music sample rate (default: 24000)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p


def parse_args(argv: Sequence[str] | None, description: str, *, music_songs: int | None = None,
               music_test_songs: int | None = None,
               rate_flag: str = "--music-sample-rate") -> argparse.Namespace:
    """Parse and check the options; usage error (exit 2) on a bad value."""
    p = build_parser(description, music_songs=music_songs, music_test_songs=music_test_songs,
                     rate_flag=rate_flag)
    args = p.parse_args(argv)
    if args.jobs < 1:
        p.error("--jobs must be at least 1")
    if music_songs is not None and music_test_songs is None and args.music_songs < 0:
        p.error("--music-songs must be 0 or more")
    if music_test_songs is not None and not 1 <= args.music_test_songs < args.music_songs:
        p.error("need 1 <= --music-test-songs < --music-songs")
    return args


def split_music(data: Path, n_test: int) -> tuple[int, int]:
    """Write ``data/music_train`` and ``data/music_test`` from ``data/music``; returns their sizes.

    The last ``n_test`` songs in C order of their ids are held out.
    """
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


def build(args: argparse.Namespace) -> None:
    """Build speech, then (when asked) music, then (when asked) the music split."""
    from audiokit.data.synth import build_mini_synth, build_music

    progress = not args.no_progress
    build_mini_synth(args.out, size=args.size, seed=args.seed, jobs=args.jobs, progress=progress)
    if getattr(args, "music_songs", 0) <= 0:
        return
    music = build_music(args.out, n_songs=args.music_songs, seed=args.seed,
                        sample_rate=args.music_sample_rate, progress=progress)
    head = f"music: {music['songs']} songs, {music['hours']:.3f} h at {music['sample_rate']} Hz"
    if getattr(args, "music_test_songs", None) is None:
        print(f"{head} ({len(music['speakers'])} instrument sets)")
        return
    n_train, n_test = split_music(args.out, args.music_test_songs)
    print(f"{head}; {n_train} for training, {n_test} held out")


def main(argv: Sequence[str] | None = None, *, description: str, music_songs: int | None = None,
         music_test_songs: int | None = None, rate_flag: str = "--music-sample-rate") -> int:
    """Run one mini_synth ``prepare.py``; returns the exit code.

    Args:
        argv: the arguments (default: ``sys.argv[1:]``).
        description: the ``--help`` description (the script's first docstring line).
        music_songs: ``None``: speech only; otherwise the default of ``--music-songs``.
        music_test_songs: ``None``: ``--music-songs 0`` skips music; otherwise the default of
            ``--music-test-songs`` (held-out songs, written to ``music_train``/``music_test``).
        rate_flag: the name of the music sample-rate option.
    """
    from audiokit.errors import AudiokitError

    args = parse_args(argv, description, music_songs=music_songs,
                      music_test_songs=music_test_songs, rate_flag=rate_flag)
    try:
        build(args)
    except AudiokitError as err:
        print(f"{PROG}: error: {err.one_line()}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted (run again to resume)", file=sys.stderr)
        return 130
    return 0
