"""``audiokit codec info FILE.akc...``: show the header of codes files (no model needed)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("codec", help="inspect codec codes files",
                              description="Tools for codec codes files (.akc).")
    sub = p.add_subparsers(dest="codec_cmd", metavar="CMD", required=True)
    info = sub.add_parser("info", help="print the header of .akc files (codec, fingerprint, rate, "
                          "frames, duration, bitrate)")
    info.add_argument("files", nargs="+", metavar="FILE.akc")
    info.add_argument("--json", action="store_true", help="one JSON object per line")
    return p


def describe(path: Any) -> dict[str, Any]:
    """Header facts of one ``.akc`` file (fully read and checked: size, CRC, code range)."""
    from audiokit.io.codes import bits_for, read_codes

    cf = read_codes(path)
    duration = cf.original_length / cf.sample_rate
    return {
        "file": str(path),
        "codec": cf.codec,
        "fingerprint": cf.config_hash,
        "sample_rate": cf.sample_rate,
        "frame_rate": cf.frame_rate,
        "n_codebooks": cf.n_codebooks,
        "codebook_size": cf.codebook_size,
        "frames": cf.n_frames,
        "samples": cf.original_length,
        "duration_s": round(duration, 6),
        "bitrate_bps": round(cf.frame_rate * cf.n_codebooks * bits_for(cf.codebook_size), 3),
        **{k: v for k, v in sorted(cf.extra.items())},
    }


def run(args: argparse.Namespace) -> int:
    from audiokit.errors import AudiokitError

    failed = 0
    for i, f in enumerate(args.files):
        try:
            d = describe(f)
        except AudiokitError as err:
            print(f"audiokit codec: error: {err.one_line()}", file=sys.stderr)
            failed += 1
            continue
        if args.json:
            print(json.dumps(d, sort_keys=False))
            continue
        if i:
            print()
        width = max(len(k) for k in d)
        for k, v in d.items():
            print(f"{k + ':':<{width + 1}} {v}")
    return 1 if failed else 0
