"""``audiokit transcribe INPUT... --model M``: speech to text for files and directories.

Decisions:

* Inputs are files or directories (walked recursively for .wav/.flac/.ogg/.oga/.opus/.mp3,
  hidden entries skipped, sorted). Results come in input order.
* ``--format txt`` (default): ``PATH<TAB>TEXT`` lines. ``--format jsonl``: one object per
  file ``{"file", "duration", "text", "tokens": [{token, start}], "words": [{word, start,
  end}]}`` (timestamps in seconds, when the model reports token frames).
* Output goes to stdout, or to ``-o FILE`` written atomically (never overwritten without
  ``--force``); a bad input is reported as one line and the rest is transcribed (exit 1).
* Audio is read through the same reader as ``audiokit stream --file`` (mono mix-down, soxr
  streaming resampling to the model rate), so both see identical samples.
* Files up to ``--max-offline-seconds`` are batched by length (``--batch-size``); longer
  ones go through the model's streaming path, chunk by chunk, so memory stays bounded for
  hour-long files (the streaming result equals the offline one).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

AUDIO_EXTS = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "transcribe", help="transcribe audio files with a speech recognition model",
        description="Transcribe audio files (or directories of them, walked recursively).",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="audio files and/or directories")
    p.add_argument("--model", required=True, metavar="PATH_OR_NAME", help="ASR model folder")
    p.add_argument("--format", choices=("txt", "jsonl"), default="txt",
                   help="txt: PATH<TAB>TEXT lines (default); jsonl: text + token/word timestamps")
    p.add_argument("-o", "--output", metavar="FILE", help="write here (atomically) instead of stdout")
    p.add_argument("--force", action="store_true", help="overwrite an existing output file")
    p.add_argument("--batch-size", type=int, default=8, metavar="N", help="files per forward pass (default 8)")
    p.add_argument("--lookahead", type=float, default=None, metavar="MS",
                   help="attention look-ahead in ms (default: the model's first)")
    p.add_argument("--max-offline-seconds", type=float, default=120.0, metavar="S",
                   help="longer files are transcribed chunk by chunk in bounded memory (default 120)")
    p.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    p.add_argument("--threads", type=int, default=None, metavar="N", help="torch CPU threads (default: torch's)")
    return p


def collect_inputs(inputs: list[str], reporter: Any) -> list[Path]:
    """Files named and found under directories; missing inputs are reported."""
    files: list[Path] = []
    for raw in inputs:
        path = Path(raw)
        if path.is_dir():
            found = []
            for root, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                found += [Path(root) / n for n in sorted(names)
                          if not n.startswith(".") and Path(n).suffix.lower() in AUDIO_EXTS]
            if not found:
                reporter.error(path, f"no audio files in this directory (looked for {' '.join(AUDIO_EXTS)})")
            files += found
        elif path.exists():
            files.append(path)
        else:
            reporter.error(path, "no such file or directory")
    return files


def _record(model: Any, path: Path, hyp: Any, duration: float, fmt: str) -> str:
    if fmt == "txt":
        return f"{path}\t{hyp.text}"
    from audiokit.streaming.transcriber import timestamps

    rec: dict[str, Any] = {"file": str(path), "duration": round(duration, 3), "text": hyp.text}
    stamps = timestamps(model, hyp)
    if stamps is not None:
        rec.update(stamps)
    return json.dumps(rec, ensure_ascii=False)


class _Job:
    def __init__(self, model: Any, args: argparse.Namespace, reporter: Any) -> None:
        self.model, self.args, self.rep = model, args, reporter
        self.lines: dict[Path, str] = {}

    def short(self, paths: list[Path]) -> None:
        """Batched offline transcription of short files."""
        from audiokit.errors import AudioError
        from audiokit.io.batch import group_by_length
        from audiokit.streaming.sources import read_file
        from audiokit.streaming.transcriber import transcribe_batch

        sr = int(self.model.sample_rate)
        wavs: dict[Path, Any] = {}
        for path in paths:
            with self.rep.guard(path) as g:
                wav = read_file(path, sr)
                if len(wav) == 0:
                    raise AudioError(f"{path}: contains no audio after resampling")
                wavs[path] = wav
        keys = list(wavs)
        for group in group_by_length(keys, [len(wavs[k]) for k in keys], self.args.batch_size, equal_only=False):
            try:
                hyps = transcribe_batch(self.model, [wavs[k] for k in group])
            except Exception:  # noqa: BLE001 - retry one by one to name the failing file
                hyps = None
            for i, path in enumerate(group):
                with self.rep.guard(path) as g:
                    hyp = hyps[i] if hyps is not None else transcribe_batch(self.model, [wavs[path]])[0]
                    self.lines[path] = _record(self.model, path, hyp, len(wavs[path]) / sr, self.args.format)
                if g.ok:
                    self.rep.succeeded()
                wavs.pop(path, None)

    def long(self, path: Path) -> None:
        """One long file through the streaming path (bounded memory)."""
        from audiokit.streaming.sources import FileSource
        from audiokit.streaming.transcriber import transcribe_source

        with self.rep.guard(path) as g:
            src = FileSource(path, int(self.model.sample_rate), block_ms=1000.0)
            hyp = transcribe_source(self.model, _progress(src, path))
            self.lines[path] = _record(self.model, path, hyp, src.duration, self.args.format)
        if g.ok:
            self.rep.succeeded()


def _progress(src: Any, path: Path) -> Any:
    """``src`` with a seconds progress bar on a terminal."""
    if not sys.stderr.isatty():
        yield from src
        return
    from tqdm import tqdm

    with tqdm(total=round(src.duration, 1), unit="s", desc=path.name, leave=False, file=sys.stderr) as bar:
        for chunk in src:
            bar.update(round(len(chunk) / src.sample_rate, 3))
            yield chunk


def _write(lines: list[str], args: argparse.Namespace) -> None:
    text = "".join(line + "\n" for line in lines)
    if args.output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    from audiokit.io.atomic import atomic_open

    with atomic_open(args.output, "w", encoding="utf-8") as fh:
        fh.write(text)


def run(args: argparse.Namespace) -> int:
    from audiokit.cli.encode import check_device
    from audiokit.errors import AudiokitError
    from audiokit.io.atomic import check_writable
    from audiokit.io.audio import audio_info
    from audiokit.io.batch import BatchReporter

    if args.batch_size < 1:
        raise AudiokitError("--batch-size must be at least 1")
    if args.threads is not None and args.threads < 1:
        raise AudiokitError("--threads must be at least 1")
    if args.max_offline_seconds <= 0:
        raise AudiokitError("--max-offline-seconds must be positive")
    if args.output is not None:
        check_writable(args.output, args.force)
        if Path(args.output).is_dir():
            raise AudiokitError(f"{args.output}: is a directory; -o takes a file")
    device = check_device(args.device)
    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    from audiokit.streaming.transcriber import load_asr

    model = load_asr(args.model, device=device, lookahead_ms=args.lookahead)
    probe = BatchReporter("transcribe", 0, progress=False)
    files = collect_inputs(args.inputs, probe)
    rep = BatchReporter("transcribe", len(files) + len(probe.failed))
    rep.failed = list(probe.failed)
    job = _Job(model, args, rep)
    short, long_ = [], []
    for path in files:
        with rep.guard(path) as g:
            info = audio_info(path)
        if g.ok:
            (long_ if info.duration > args.max_offline_seconds else short).append(path)
    job.short(short)
    for path in long_:
        job.long(path)
    order = [p for p in files if p in job.lines]
    if order:
        _write([job.lines[p] for p in order], args)
    return rep.finish()
