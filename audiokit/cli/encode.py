"""``audiokit encode INPUT... -o OUT --model M``: audio files to codec codes (``.akc`` or ``.npy``).

Decisions (see also :mod:`audiokit.models.codec.chunked` and :mod:`audiokit.io.batch`):

* Inputs are files or directories (walked recursively for .wav/.flac/.ogg/.oga/.opus/.mp3);
  the tree is mirrored under OUT with the ``.akc`` (or ``.npy``) extension. One input file
  may take ``-o name.akc`` as its output file.
* Audio is down-mixed to mono and resampled (soxr HQ) to the codec rate without asking; the
  source rate, length and channel count go into the header (``extra``) so ``audiokit decode``
  can restore the original rate and length.
* Audio shorter than one code frame (``hop_length`` samples at the codec rate) is an error;
  silent audio is encoded like any other.
* Files longer than ``--chunk-seconds`` are read, resampled and encoded in non-overlapping
  chunks (bounded memory); the chunk length is recorded in the header (``extra.chunk_samples``;
  a file was chunked iff its ``original_length`` exceeds it) and re-used by ``decode``.
* Shorter files are batched by length (``--batch-size``). A codec that is not batch-invariant
  (WavTokenizer: GroupNorm and attention over time) is only batched with files of exactly the
  same length, so batching never changes the codes.
* A bad input is reported as one line and the batch goes on; exit code 1 if any failed.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

AUDIO_EXTS = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "encode", help="encode audio files into codec codes (.akc)",
        description="Encode audio files (or directories of them, walked recursively) into codec codes. "
        "The input tree is mirrored under OUT; outputs are never overwritten without --force.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="audio files and/or directories")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="output directory (or NAME.akc / NAME.npy for a single input file)")
    p.add_argument("--model", required=True, metavar="PATH_OR_NAME",
                   help="audiokit model folder, official checkpoint file or bundle name (required: "
                   "there is no default model)")
    p.add_argument("--n-q", type=int, default=None, metavar="N", help="codebooks to use (default: all)")
    p.add_argument("--format", choices=("akc", "npy"), default=None,
                   help="akc: codes + metadata (default); npy: bare (n_q, F) int array")
    p.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    p.add_argument("--batch-size", type=int, default=8, metavar="N", help="files per forward pass (default 8); a codec that is not batch-invariant "
                   "(WavTokenizer) is only batched with files of identical length")
    p.add_argument("--chunk-seconds", type=float, default=30.0, metavar="S",
                   help="encode longer files in chunks of S seconds, no overlap (default 30)")
    p.add_argument("--force", action="store_true", help="overwrite existing outputs")
    return p


# ----------------------------------------------------------------------------- shared helpers
def check_device(device: str) -> str:
    """Validate a torch device string before any model is loaded."""
    import torch

    from audiokit.errors import AudiokitError

    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise AudiokitError(f"--device {device}: not a torch device (e.g. cpu, cuda, cuda:1)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise AudiokitError(f"--device {device}: CUDA is not available on this machine")
    return device


def load_codec(spec: str, device: str) -> Any:
    """Load the codec named by ``--model`` (folder, official checkpoint or bundle name)."""
    from audiokit.errors import AudiokitError
    from audiokit.models.codec.base import Codec

    try:
        from audiokit.pretrained import load
    except ImportError:  # pretrained.py not shipped: audiokit model folders only
        from audiokit.checkpoint import load_pretrained as _lp

        def load(path: str, *, device: str = "cpu") -> Any:
            return _lp(path, map_location=device)

    model = load(spec, device=device)
    if not isinstance(model, Codec):
        raise AudiokitError(f"{spec}: not a codec model (it holds a {type(model).__name__})")
    return model.eval()


def precheck_outputs(reporter: Any, jobs: list, force: bool) -> list:
    """Report (and drop) jobs whose output exists when not ``force``."""
    keep = []
    for job in jobs:
        if job.dst.exists() and not force:
            reporter.error(job.src, f"output {job.dst} exists (use --force to overwrite)")
        elif job.dst.is_dir():
            reporter.error(job.src, f"output {job.dst} is a directory")
        else:
            keep.append(job)
    return keep


def start_batch(verb: str, args: argparse.Namespace, exts: tuple[str, ...], out_ext: str) -> tuple[Any, Any, list]:
    """Expand ``args.inputs`` into jobs mirrored under ``args.output`` and report the inputs that
    cannot be used and the outputs in the way: ``(expansion, reporter, jobs to run)``."""
    from audiokit.io.batch import BatchReporter, expand_inputs

    exp = expand_inputs(args.inputs, args.output, exts, out_ext)
    rep = BatchReporter(verb, exp.total)
    for path, reason in exp.failures:
        rep.error(path, reason)
    return exp, rep, precheck_outputs(rep, exp.jobs, args.force)


# ----------------------------------------------------------------------------- encoding
class _Encoder:
    """Encodes the jobs of one run; failures go to the reporter."""

    def __init__(self, codec: Any, args: argparse.Namespace, reporter: Any) -> None:
        from audiokit.models.codec.chunked import chunk_samples

        self.codec, self.args, self.rep = codec, args, reporter
        self.chunk = chunk_samples(codec, args.chunk_seconds)
        self.fp = codec.fingerprint()
        self.seconds = 0.0

    def _check_length(self, src: Any, n: int) -> None:
        from audiokit.errors import AudioError

        if n < self.codec.hop_length:
            raise AudioError(f"{src}: shorter than one code frame ({n} samples at {self.codec.sample_rate} Hz; "
                             f"one frame is {self.codec.hop_length} samples)")

    def _write(self, job: Any, codes: Any, n: int, info: Any, src_len: int) -> None:
        """Write one codes file; ``extra.chunk_samples`` is the chunk setting (the file was
        chunked iff ``original_length > chunk_samples``)."""
        from audiokit.io.codes import CodesFile, write_codes

        c = self.codec
        cf = CodesFile(codes=codes, codec=c.name, config_hash=self.fp, sample_rate=c.sample_rate,
                       frame_rate=c.frame_rate, codebook_size=c.codebook_size, original_length=n,
                       extra={"source_sample_rate": info.sample_rate, "source_length": src_len,
                              "source_channels": info.channels, "chunk_samples": self.chunk,
                              "hop_length": c.hop_length})
        write_codes(job.dst, cf, force=self.args.force)
        self.seconds += n / c.sample_rate

    def encode_long(self, job: Any, info: Any) -> None:
        """Chunked, streamed encoding of one long file."""
        from audiokit.models.codec.chunked import encode_chunked, read_blocks

        with self.rep.guard(job.src, extra=(job.dst,)) as g:
            blocks = read_blocks(job.src, self.codec.sample_rate)
            codes, n = encode_chunked(self.codec, blocks, chunk=self.chunk, n_q=self.args.n_q,
                                      device=self.args.device)
            self._check_length(job.src, n)
            self._write(job, codes, n, info, blocks.frames_read)
        if g.ok:
            self.rep.succeeded()

    def encode_group(self, items: list) -> None:
        """Load a group of short files and encode equal-length sub-batches together."""
        from audiokit.io.audio import load_audio, resample

        loaded: dict[int, list] = {}
        for job, info in items:
            with self.rep.guard(job.src, extra=(job.dst,)) as g:
                wav, sr = load_audio(job.src)
                src_len = wav.size
                wav = resample(wav, sr, self.codec.sample_rate)
                self._check_length(job.src, wav.size)
            if g.ok:
                key = 0 if getattr(self.codec, "batch_invariant", False) else wav.size
                loaded.setdefault(key, []).append((job, info, wav, src_len))
        for batch in loaded.values():
            self._encode_batch(batch)

    def _encode_batch(self, batch: list) -> None:
        from audiokit.models.codec.chunked import encode_batch

        try:
            codes = encode_batch(self.codec, [w for _, _, w, _ in batch], n_q=self.args.n_q,
                                 device=self.args.device)
        except Exception:  # noqa: BLE001 - redo one by one so the failure is pinned to a file
            if len(batch) == 1:
                codes = [None]
            else:
                for item in batch:
                    self._encode_batch([item])
                return
        for (job, info, wav, src_len), c in zip(batch, codes):
            with self.rep.guard(job.src, extra=(job.dst,)) as g:
                if c is None:
                    c = encode_batch(self.codec, [wav], n_q=self.args.n_q, device=self.args.device)[0]
                self._write(job, c, wav.size, info, src_len)
            if g.ok:
                self.rep.succeeded()


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from audiokit.errors import AudiokitError
    from audiokit.io.audio import audio_info
    from audiokit.io.batch import group_by_length

    if args.batch_size < 1:
        raise AudiokitError(f"--batch-size must be at least 1, got {args.batch_size}")
    if not args.chunk_seconds > 0:
        raise AudiokitError(f"--chunk-seconds must be positive, got {args.chunk_seconds}")
    fmt = args.format or ("npy" if Path(args.output).suffix.lower() == ".npy" else "akc")
    exp, rep, jobs = start_batch("encode", args, AUDIO_EXTS, f".{fmt}")
    enc = None
    start = time.perf_counter()
    if jobs:
        codec = load_codec(args.model, check_device(args.device))
        start = time.perf_counter()  # real-time factor of the encoding, not of loading
        if args.n_q is not None and not 1 <= args.n_q <= codec.n_codebooks:
            raise AudiokitError(f"--n-q must be in [1, {codec.n_codebooks}] for {args.model}, got {args.n_q}")
        enc = _Encoder(codec, args, rep)
        short, lengths = [], []
        for job in jobs:
            with rep.guard(job.src) as g:
                info = audio_info(job.src)
            if not g.ok:
                continue
            n = round(info.frames * codec.sample_rate / info.sample_rate)
            if n > enc.chunk:
                enc.encode_long(job, info)
            else:
                short.append((job, info))
                lengths.append(n)
        equal = not getattr(codec, "batch_invariant", False)
        for group in group_by_length(short, lengths, args.batch_size, equal_only=equal):
            enc.encode_group(group)
    code = rep.finish()
    if rep.done:
        secs = enc.seconds if enc else 0.0
        wall = time.perf_counter() - start
        print(f"encoded {rep.done} of {exp.total} files ({secs:.1f} s of audio, "
              f"{secs / max(wall, 1e-9):.1f}x real time) into {args.output}")
    return code
