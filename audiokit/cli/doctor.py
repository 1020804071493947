"""``audiokit doctor``: what is installed, what is missing, and how to get it."""

from __future__ import annotations

import argparse
import json
import sys


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "doctor",
        help="report versions, TTS engines, audio devices and optional extras",
        description="Report library versions, the Debian TTS engines the mini_synth corpus "
        "uses, audio devices and optional extras, with install hints for what is missing.",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    return p


def run(args: argparse.Namespace) -> int:
    from audiokit.doctor import collect_report, format_report

    report = collect_report()
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(format_report(report))
    return 0 if not report["missing_required"] else 1
