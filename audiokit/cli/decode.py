"""``audiokit decode CODES... -o OUT --model M``: codec codes (``.akc``/``.npy``) back to audio.

Decisions:

* ``--model`` is required, also for ``.akc`` files (there is no model registry yet). An
  ``.akc`` file is checked against it: codec name and fingerprint (config + weights), sample
  rate, codebook size and count. A mismatch is a one-line error naming the file.
* By default the audio is resampled back to the source rate recorded in the header and cut
  (or zero-padded) to the source length, so ``x.wav -> x.akc -> y.wav`` gives ``y.wav`` with
  the length and sample rate of ``x.wav``. ``--codec-rate`` keeps the codec's rate (and the
  length at that rate). ``.npy`` codes carry no metadata: they decode at the codec rate to
  ``frames * hop_length`` samples.
* Decoding runs in chunks of codes (the encoder's chunk length recorded in the header, else
  ``--chunk-seconds``) and streams the audio to disk, so memory stays bounded.
* Samples beyond [-1, 1] are clipped, with one warning line per file and a count in the
  summary. Outputs are written atomically; a bad file is reported and the batch goes on.
"""

from __future__ import annotations

import argparse
from typing import Any

CODES_EXTS = (".akc", ".npy")
OUT_FORMATS = ("wav", "flac")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "decode", help="decode codec codes (.akc/.npy) into audio",
        description="Decode .akc (or bare .npy) codes files, or directories of them, into audio. "
        "The input tree is mirrored under OUT; outputs are never overwritten without --force.",
    )
    p.add_argument("inputs", nargs="+", metavar="CODES", help=".akc/.npy files and/or directories")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="output directory (or NAME.wav / NAME.flac for a single input file)")
    p.add_argument("--model", required=True, metavar="PATH_OR_NAME",
                   help="the codec that made the codes (required, also for .akc files: there is no "
                   "model registry yet); its fingerprint must match the .akc header")
    p.add_argument("--format", choices=OUT_FORMATS, default=None, help="output format (default wav)")
    p.add_argument("--codec-rate", action="store_true",
                   help="write at the codec's sample rate instead of the source rate recorded in the header")
    p.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    p.add_argument("--chunk-seconds", type=float, default=None, metavar="S",
                   help="decode in chunks of S seconds (default: the encoder's chunks, else 30)")
    p.add_argument("--force", action="store_true", help="overwrite existing outputs")
    return p


def _check_against_model(src: Any, cf: Any, codec: Any, fp: str) -> None:
    """Refuse codes made by another codec, other weights or another geometry."""
    from audiokit.io.codes import CodesError

    if cf.codec != codec.name or cf.config_hash != fp:
        raise CodesError(f"{src}: made by codec '{cf.codec}' with fingerprint {cf.config_hash}, but --model is "
                         f"'{codec.name}' with fingerprint {fp}; decode with the model that encoded it")
    if cf.sample_rate != codec.sample_rate or cf.codebook_size != codec.codebook_size:
        raise CodesError(f"{src}: header says {cf.sample_rate} Hz / {cf.codebook_size} entries, the model has "
                         f"{codec.sample_rate} Hz / {codec.codebook_size} entries")
    if not 1 <= cf.n_codebooks <= codec.n_codebooks:
        raise CodesError(f"{src}: {cf.n_codebooks} codebooks, the model has {codec.n_codebooks}")
    if cf.n_frames == 0:
        raise CodesError(f"{src}: holds no code frames")


def _read_npy(src: Any, codec: Any) -> Any:
    from audiokit.io.codes import CodesError, read_npy_codes

    codes = read_npy_codes(src)
    if not 1 <= codes.shape[0] <= codec.n_codebooks:
        raise CodesError(f"{src}: {codes.shape[0]} codebooks (shape {codes.shape}), the model has "
                         f"{codec.n_codebooks}; expected (n_codebooks, frames)")
    if codes.shape[1] == 0:
        raise CodesError(f"{src}: holds no code frames")
    if codes.min() < 0 or codes.max() >= codec.codebook_size:
        bad = int(codes.max()) if codes.max() >= codec.codebook_size else int(codes.min())
        raise CodesError(f"{src}: codebook index {bad} out of range [0, {codec.codebook_size})")
    return codes


class _Decoder:
    def __init__(self, codec: Any, args: argparse.Namespace, reporter: Any) -> None:

        self.codec, self.args, self.rep = codec, args, reporter
        self.fp = codec.fingerprint()
        self.clipped_files = 0

    def _chunk_frames(self, recorded: int) -> int:
        from audiokit.models.codec.chunked import chunk_samples

        if self.args.chunk_seconds is None and recorded > 0:
            return max(1, recorded // self.codec.hop_length)
        return chunk_samples(self.codec, self.args.chunk_seconds or 30.0) // self.codec.hop_length

    def __call__(self, job: Any) -> None:
        from audiokit.io.codes import read_codes
        from audiokit.models.codec.chunked import (
            decode_chunked,
            fit_length,
            resample_blocks,
            write_blocks,
        )

        c = self.codec
        if job.src.suffix.lower() == ".npy":
            codes = _read_npy(job.src, c)
            length = out_len = codes.shape[1] * c.hop_length
            out_sr, recorded = c.sample_rate, 0
        else:
            cf = read_codes(job.src)
            _check_against_model(job.src, cf, c, self.fp)
            codes, length, recorded = cf.codes, cf.original_length, int(cf.extra.get("chunk_samples", 0) or 0)
            out_sr, out_len = c.sample_rate, length
            src_sr, src_len = cf.extra.get("source_sample_rate"), cf.extra.get("source_length")
            if not self.args.codec_rate and isinstance(src_sr, int) and isinstance(src_len, int) and src_sr > 0:
                out_sr, out_len = src_sr, src_len
        blocks = decode_chunked(c, codes, chunk_frames=self._chunk_frames(recorded), device=self.args.device)
        blocks = fit_length(resample_blocks(fit_length(blocks, length), c.sample_rate, out_sr), out_len)
        _, clipped, peak = write_blocks(job.dst, blocks, out_sr, force=self.args.force)
        if clipped:
            self.clipped_files += 1
            self.rep.warn(job.dst, f"decoded audio exceeds [-1, 1]: clipped {clipped} samples (peak {peak:.3f})")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from audiokit.cli.encode import check_device, load_codec, start_batch
    from audiokit.errors import AudiokitError

    if args.chunk_seconds is not None and not args.chunk_seconds > 0:
        raise AudiokitError(f"--chunk-seconds must be positive, got {args.chunk_seconds}")
    suffix = Path(args.output).suffix.lower().lstrip(".")
    fmt = args.format or (suffix if suffix in OUT_FORMATS else "wav")
    exp, rep, jobs = start_batch("decode", args, CODES_EXTS, f".{fmt}")
    dec = None
    if jobs:
        dec = _Decoder(load_codec(args.model, check_device(args.device)), args, rep)
        rep.run(jobs, dec)
    code = rep.finish()
    if rep.done:
        clip = f", {dec.clipped_files} clipped" if dec and dec.clipped_files else ""
        print(f"decoded {rep.done} of {exp.total} files into {args.output}{clip}")
    return code
