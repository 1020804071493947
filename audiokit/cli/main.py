"""Entry point of the ``audiokit`` command.

Each verb lives in its own module ``audiokit.cli.<verb>`` exposing
``add_parser(subparsers) -> argparse.ArgumentParser`` and ``run(args) -> int``.
Verb modules import only the standard library at module level, so that
``audiokit --help`` stays fast; heavy imports happen inside ``run``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from audiokit import __version__
from audiokit.errors import AudiokitError

#: verb name -> module under audiokit.cli (order = order in --help)
VERBS: dict[str, str] = {
    "doctor": "doctor",
    "data": "data",
    "train": "train",
    "convert": "convert",
    "encode": "encode",
    "decode": "decode",
    "codec": "codec",
    "transcribe": "transcribe",
    "stream": "stream",
    "synthesize": "synthesize",
}


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with one sub-parser per verb."""
    parser = argparse.ArgumentParser(
        prog="audiokit",
        description="Neural audio codecs and speech models: encode/decode audio, "
        "train recipes, recognise speech.",
    )
    parser.add_argument("--version", action="version", version=f"audiokit {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    for name, module in VERBS.items():
        try:
            mod = importlib.import_module(f"audiokit.cli.{module}")
        except ModuleNotFoundError as err:  # a verb not shipped in this build
            if err.name != f"audiokit.cli.{module}":
                raise
            continue
        p = mod.add_parser(sub)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code.

    User errors (:class:`AudiokitError`) are printed as one line on stderr and give
    their ``exit_code``; Ctrl-C gives 130.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 0
    try:
        return int(args._run(args) or 0)
    except AudiokitError as err:
        print(f"audiokit {args.verb}: error: {err.one_line()}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print(f"audiokit {args.verb}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
