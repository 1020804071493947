"""Batch file jobs for CLI verbs: input expansion, output mirroring, failures, progress.

A verb such as ``audiokit encode IN... -o OUT`` turns its inputs into :class:`Job` pairs with
:func:`expand_inputs`:

* a file input goes to ``OUT/<name><out_ext>``; when it is the only input and ``OUT`` already
  ends in ``out_ext`` (``-o x.akc``), ``OUT`` is the output file itself;
* a directory input is walked recursively (hidden files and folders are skipped, files are
  taken by extension, case-insensitive, in sorted order) and its tree is mirrored under
  ``OUT``: ``IN/a/b.wav -> OUT/a/b<out_ext>``;
* problems found while expanding (missing input, empty directory, two inputs mapping to the
  same output) are failures of those inputs only.

:class:`BatchReporter` then runs the jobs: every failure is printed as ONE line
``audiokit VERB: error: <file>: <reason>`` on stderr and the batch goes on; at the end
:meth:`BatchReporter.finish` prints ``N of M files failed`` (when there was more than one
input) and returns the exit code (0, or 1 when anything failed). A progress bar is shown on
a TTY only.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

from audiokit.errors import AudiokitError

T = TypeVar("T")


@dataclass(frozen=True)
class Job:
    """One input file and the output file it produces."""

    src: Path
    dst: Path


@dataclass
class Expansion:
    """Result of :func:`expand_inputs`: runnable jobs and ``(path, reason)`` failures."""

    jobs: list[Job] = field(default_factory=list)
    failures: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.jobs) + len(self.failures)


def _walk(folder: Path, exts: set[str]) -> list[Path]:
    """Files under ``folder`` (recursive, sorted, hidden entries skipped) with a suffix in ``exts``."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith(".") and Path(name).suffix.lower() in exts:
                found.append(Path(root) / name)
    return found


def expand_inputs(
    inputs: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    in_exts: Iterable[str],
    out_ext: str,
) -> Expansion:
    """Turn files and directories into (input, output) jobs mirrored under ``out``.

    Args:
        inputs: files and/or directories as given on the command line.
        out: output directory (or the output file, for one input file whose name already
            ends in ``out_ext``).
        in_exts: extensions (with dot) taken from directories, e.g. ``{".wav", ".flac"}``.
            Files named explicitly are taken whatever their extension (the reader decides).
        out_ext: extension of the outputs, with dot (``".akc"``).

    Raises:
        AudiokitError: ``out`` names a file but several inputs (or a directory) were given.
    """
    out = Path(out)
    exts = {e.lower() for e in in_exts}
    single_file = len(inputs) == 1 and not Path(inputs[0]).is_dir()
    if out.suffix.lower() == out_ext.lower() and not out.is_dir():
        if not single_file:
            raise AudiokitError(f"{out}: -o names a single {out_ext} file, but the inputs are several "
                                f"files or a directory; give an output directory instead")
        return Expansion(jobs=[Job(Path(inputs[0]), out)])
    if out.exists() and not out.is_dir():
        raise AudiokitError(f"{out}: output exists and is not a directory")
    exp = Expansion()
    owner: dict[Path, Path] = {}
    for raw in inputs:
        src = Path(raw)
        if src.is_dir():
            files = _walk(src, exts)
            if not files:
                exp.failures.append((src, f"no input files in this directory (looked for {' '.join(sorted(exts))})"))
            pairs = [(f, out / f.relative_to(src).with_suffix(out_ext)) for f in files]
        elif src.exists():
            pairs = [(src, out / src.with_suffix(out_ext).name)]
        else:
            exp.failures.append((src, "no such file or directory"))
            continue
        for f, dst in pairs:
            key = Path(os.path.normpath(dst))
            if key in owner:
                exp.failures.append((f, f"output {dst} would also be written from {owner[key]}; skipped"))
                continue
            owner[key] = f
            exp.jobs.append(Job(f, dst))
    return exp


def group_by_length(items: Sequence[T], lengths: Sequence[int], max_batch: int,
                    *, equal_only: bool) -> list[list[T]]:
    """Group ``items`` into batches of similar length, longest first.

    Items are sorted by length; consecutive items form a batch of at most ``max_batch``.
    With ``equal_only`` a batch holds only items of exactly the same length (for codecs
    whose output depends on padding, see ``Codec.batch_invariant``).
    """
    order = sorted(range(len(items)), key=lambda i: (-lengths[i], i))
    groups: list[list[T]] = []
    last_len = None
    for i in order:
        new = (not groups or len(groups[-1]) >= max_batch
               or (equal_only and lengths[i] != last_len))
        if new:
            groups.append([])
        groups[-1].append(items[i])
        last_len = lengths[i]
    return groups


class BatchReporter:
    """Per-file error reporting, progress and the closing summary of a batch verb.

    Use :meth:`guard` around the work on one file: an :class:`AudiokitError` raised inside
    is printed as one line naming the file, counted, and swallowed so the batch continues.
    Other exceptions (bugs) are printed with their traceback, counted and swallowed too, so
    one bad file never costs the rest of the batch.
    """

    def __init__(self, verb: str, total: int, *, progress: bool | None = None,
                 stream: Any = None, unit: str = "file") -> None:
        self.verb = verb
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.failed: list[Path] = []
        self.done = 0
        self.warnings = 0
        show = self.stream.isatty() if progress is None and hasattr(self.stream, "isatty") else bool(progress)
        self._bar = None
        if show and total > 1:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=verb, unit=unit, file=self.stream, leave=False)

    # ------------------------------------------------------------------ printing
    def _print(self, line: str) -> None:
        if self._bar is not None:
            self._bar.write(line, file=self.stream)
        else:
            print(line, file=self.stream, flush=True)

    def error(self, path: Path, reason: str, *, named: bool = False) -> None:
        """Report one failed input (one line ``<path>: <reason>``) and count it.

        ``named``: the reason already starts with a file name; print it as it is.
        """
        reason = " ".join(str(reason).split())
        self._print(f"audiokit {self.verb}: error: {reason if named else f'{path}: {reason}'}")
        self.failed.append(Path(path))
        self._advance()

    def warn(self, path: Path, reason: str) -> None:
        """Print one warning line ``<path>: <reason>`` (does not fail the file)."""
        self.warnings += 1
        self._print(f"audiokit {self.verb}: warning: {path}: {' '.join(str(reason).split())}")

    def succeeded(self) -> None:
        """Count one input as done."""
        self.done += 1
        self._advance()

    def _advance(self) -> None:
        if self._bar is not None:
            self._bar.update(1)

    # ------------------------------------------------------------------ running
    def guard(self, path: Path, *, extra: Sequence[Path] = ()) -> _Guard:
        """Context manager: failures inside are reported against ``path`` and swallowed.

        ``extra`` are paths also accepted as "naming the file" in the error message (the
        output path, for instance).
        """
        return _Guard(self, Path(path), tuple(Path(p) for p in extra))

    def run(self, jobs: Iterable[Job], fn: Callable[[Job], Any]) -> None:
        """Run ``fn(job)`` for each job under :meth:`guard`; counts successes."""
        for job in jobs:
            with self.guard(job.src, extra=(job.dst,)) as g:
                fn(job)
            if g.ok:
                self.succeeded()

    def finish(self) -> int:
        """Close the progress bar, print the failure summary; return the exit code."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if self.failed:
            if self.total > 1:
                print(f"audiokit {self.verb}: {len(self.failed)} of {self.total} files failed",
                      file=self.stream, flush=True)
            return 1
        return 0


class _Guard:
    def __init__(self, reporter: BatchReporter, path: Path, extra: tuple[Path, ...]) -> None:
        self.reporter, self.path, self.extra = reporter, path, extra
        self.ok = False

    def __enter__(self) -> Self:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> bool:
        if ev is None:
            self.ok = True
            return False
        if isinstance(ev, AudiokitError):
            msg = ev.one_line()
            named = any(msg.startswith(f"{p}:") for p in (self.path, *self.extra))
            self.reporter.error(self.path, msg, named=named)
            return True
        if isinstance(ev, Exception):  # a bug: keep the traceback, but finish the batch
            traceback.print_exception(et, ev, tb, file=self.reporter.stream)
            self.reporter.error(self.path, f"internal error: {type(ev).__name__}: {ev}")
            return True
        return False  # KeyboardInterrupt, SystemExit

