"""``audiokit data``: validate, fix, inspect, subset and combine Kaldi data dirs.

Examples::

    audiokit data validate data/train            # problems one per line, exit 1 on errors
    audiokit data fix data/train                 # sort, drop incomplete utts, backup in .backup/
    audiokit data info data/train --json
    audiokit data subset data/train data/train_1k --first 1000
    audiokit data combine data/all data/a data/b
"""

from __future__ import annotations

import argparse
import json
import sys


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``data`` and its sub-commands."""
    p = subparsers.add_parser("data", help="validate, fix, inspect, subset and combine Kaldi data dirs",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="data_cmd", metavar="CMD", required=True)

    v = sub.add_parser("validate", help="check a data dir; print problems as 'file:line: message'")
    v.add_argument("dir")
    v.add_argument("--no-audio", action="store_true", help="do not open the audio files")
    v.add_argument("--allow-pipes", action="store_true", help="run 'cmd |' wav.scp entries (no shell)")
    v.add_argument("--no-text", action="store_true", help="a missing text file is not an error")
    v.add_argument("--sample-rate", type=int, default=None, metavar="HZ",
                   help="every recording must have this rate (default: the dir's most common rate)")

    f = sub.add_parser("fix", help="sort tables, drop incomplete utterances, regenerate spk2utt "
                       "(originals kept in DIR/.backup/)")
    f.add_argument("dir")
    f.add_argument("--drop-missing-audio", action="store_true",
                   help="also drop utterances whose audio file does not exist")

    i = sub.add_parser("info", help="counts, hours and vocabulary of a data dir")
    i.add_argument("dir")
    i.add_argument("--json", action="store_true", help="print one JSON object")

    s = sub.add_parser("subset", help="write part of a data dir to a new dir")
    s.add_argument("src")
    s.add_argument("dst")
    sel = s.add_mutually_exclusive_group(required=True)
    sel.add_argument("--first", type=int, metavar="N", help="first N utterances (C order)")
    sel.add_argument("--random", type=int, metavar="N", help="N utterances drawn with --seed")
    sel.add_argument("--utt-list", metavar="FILE", help="utterance ids, first column of FILE")
    sel.add_argument("--speakers", nargs="+", metavar="SPK", help="all utterances of these speakers")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--force", action="store_true", help="replace an existing DST")

    c = sub.add_parser("combine", help="combine data dirs (utterance ids must be unique)")
    c.add_argument("dst")
    c.add_argument("srcs", nargs="+", metavar="SRC")
    c.add_argument("--force", action="store_true", help="replace an existing DST")
    return p


def _validate(args: argparse.Namespace) -> int:
    from audiokit.data.validate import validate_data_dir
    from audiokit.errors import DataDirError

    problems = validate_data_dir(args.dir, check_audio=not args.no_audio,
                                 allow_pipes=args.allow_pipes, require_text=not args.no_text,
                                 sample_rate=args.sample_rate)
    n_err = sum(p.is_error for p in problems)
    n_warn = len(problems) - n_err
    for p in problems:
        print(str(p) if p.is_error else f"{p.file}{'' if p.line is None else f':{p.line}'}: "
              f"warning: {p.message}")
    if n_err:
        print(f"audiokit data validate: {args.dir}: {n_err} error(s), {n_warn} warning(s)",
              file=sys.stderr)
        return 1
    from audiokit.data.ops import data_dir_info

    try:
        info = data_dir_info(args.dir)
    except DataDirError:
        info = None
    counts = f" ({info['utterances']} utterances, {info['speakers']} speakers)" if info else ""
    warn = f", {n_warn} warning(s)" if n_warn else ""
    print(f"{args.dir}: OK{counts}{warn}")
    return 0


def _fix(args: argparse.Namespace) -> int:
    from audiokit.data.fix import fix_data_dir

    report = fix_data_dir(args.dir, drop_missing_audio=args.drop_missing_audio)
    print(f"{args.dir}: {report.summary()}")
    return 0


def _info(args: argparse.Namespace) -> int:
    from audiokit.data.ops import data_dir_info

    info = data_dir_info(args.dir)
    if args.json:
        print(json.dumps(info, sort_keys=True))
        return 0
    for key in ("path", "utterances", "speakers", "recordings", "segments", "hours", "words",
                "vocabulary"):
        print(f"{key:<11} {info[key]}")
    print(f"{'tables':<11} {' '.join(info['tables'])}")
    return 0


def _subset(args: argparse.Namespace) -> int:
    from audiokit.data.ops import subset_data_dir

    n = subset_data_dir(args.src, args.dst, utt_list=args.utt_list, first=args.first,
                        random=args.random, speakers=args.speakers, seed=args.seed, force=args.force)
    print(f"{args.dst}: {n} utterances from {args.src}")
    return 0


def _combine(args: argparse.Namespace) -> int:
    from audiokit.data.ops import combine_data_dirs

    out = combine_data_dirs(args.srcs, args.dst, force=args.force)
    note = f" (dropped tables missing from some sources: {', '.join(out['dropped_tables'])})" \
        if out["dropped_tables"] else ""
    print(f"{args.dst}: {out['utterances']} utterances from {len(args.srcs)} dirs{note}")
    return 0


def run(args: argparse.Namespace) -> int:
    """Dispatch to the sub-command; user errors propagate as AudiokitError."""
    return {"validate": _validate, "fix": _fix, "info": _info, "subset": _subset,
            "combine": _combine}[args.data_cmd](args)
