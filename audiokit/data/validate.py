"""Semantic validation of a Kaldi data dir: every problem with its file and line.

:func:`validate_data_dir` never raises on a malformed dir (only when ``path`` is
not a directory); it returns a list of :class:`Problem`, errors and warnings, in
the order the checks found them. ``str(problem)`` is ``"file:line: message"``.

Checks: required tables, C-locale sorting, duplicate keys, per-table syntax
(field counts, numbers, genders, empty transcripts), ids missing from one table,
utt2spk/spk2utt agreement, segments against wav.scp, speaker-id prefix
(warning), and the audio itself (files readable; pipes refused unless allowed;
segments inside their recording).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

from audiokit.data.kaldi import c_sort_key, read_table_lines, spk2utt_from_utt2spk
from audiokit.errors import AudiokitError, DataDirError

#: most problems of one kind reported per file before they are summarised
MAX_PER_KIND = 20
#: utt2dur may differ from the audio by this many seconds before a warning
DUR_TOLERANCE_S = 0.1


@dataclass(frozen=True)
class Problem:
    """One finding: ``file`` (path of the table), 1-based ``line`` or None, ``message``."""

    file: str
    line: int | None
    message: str
    severity: str = "error"  # "error" | "warning"

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.message}"

    @property
    def is_error(self) -> bool:
        """True for an error, False for a warning."""
        return self.severity == "error"


@dataclass
class _Table:
    """A table as read: its file path and ``(line, key, value)`` rows, duplicates kept."""

    file: str
    rows: list[tuple[int, str, str]]

    def first(self) -> dict[str, tuple[int, str]]:
        """``{key: (line, value)}`` of each key's first occurrence."""
        out: dict[str, tuple[int, str]] = {}
        for lineno, key, value in self.rows:
            out.setdefault(key, (lineno, value))
        return out


class _Report:
    """Collects problems, capping repeats of one kind per file."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self._counts: dict[tuple[str, str], tuple[int, str]] = {}

    def add(self, file: str, line: int | None, message: str, severity: str = "error",
            kind: str | None = None) -> None:
        """Record a problem; after :data:`MAX_PER_KIND` of one ``kind`` in a file, only count it."""
        key = (file, kind or message)
        n = self._counts.get(key, (0, severity))[0] + 1
        self._counts[key] = (n, severity)
        if n <= MAX_PER_KIND:
            self.problems.append(Problem(file, line, message, severity))

    def finish(self) -> list[Problem]:
        """The problems, plus one summary line per capped kind."""
        for (file, kind), (n, severity) in self._counts.items():
            if n > MAX_PER_KIND:
                self.problems.append(
                    Problem(file, None, f"... and {n - MAX_PER_KIND} more like '{kind}'", severity)
                )
        return self.problems


def _load(path: Path, rep: _Report) -> _Table | None:
    """Read one table file; a decoding error becomes a problem and returns None."""
    if not path.exists():
        return None
    try:
        return _Table(str(path), read_table_lines(path))
    except DataDirError as err:
        msg = str(err)
        m = re.match(re.escape(str(path)) + r"(?::(\d+))?: (.*)$", msg)
        if m:
            rep.add(str(path), int(m.group(1)) if m.group(1) else None, m.group(2))
        else:
            rep.add(str(path), None, msg)
        return None


def _check_order(t: _Table, rep: _Report) -> None:
    """C-locale sorting and duplicate keys."""
    seen: dict[str, int] = {}
    prev: str | None = None
    unsorted = 0
    first_bad = (0, "", "")
    for lineno, key, _ in t.rows:
        if key in seen:
            rep.add(t.file, lineno, f"duplicate key {key!r} (first on line {seen[key]})",
                    kind="duplicate key")
        else:
            seen[key] = lineno
        if prev is not None and c_sort_key(key) < c_sort_key(prev):
            unsorted += 1
            if unsorted == 1:
                first_bad = (lineno, key, prev)
        prev = key
    if unsorted:
        lineno, key, prev = first_bad
        more = f" ({unsorted} lines out of order)" if unsorted > 1 else ""
        rep.add(t.file, lineno, f"not sorted in C order: {key!r} comes after {prev!r}{more}; "
                "run 'audiokit data fix'")


def finite_number(value: str) -> float | None:
    """``float(value)`` if it is a finite number, else None."""
    try:
        x = float(value)
    except ValueError:
        return None
    return x if math.isfinite(x) else None


def _check_syntax(name: str, t: _Table, rep: _Report) -> None:
    """Per-table field checks."""
    for lineno, key, value in t.rows:
        fields = value.split()
        if name == "text":
            if not fields:
                rep.add(t.file, lineno, f"empty transcript for {key!r}", kind="empty transcript")
        elif not fields:
            rep.add(t.file, lineno, f"no value for {key!r}", kind="no value")
        elif name in ("utt2spk", "utt2dur", "spk2gender") and len(fields) != 1:
            rep.add(t.file, lineno, f"expected 2 fields, got {len(fields) + 1}", kind="field count")
        elif name == "utt2dur" and ((d := finite_number(fields[0])) is None or d <= 0):
            rep.add(t.file, lineno, f"duration {fields[0]!r} is not a positive number",
                    kind="bad duration")
        elif name == "spk2gender" and fields[0] not in ("m", "f"):
            rep.add(t.file, lineno, f"gender {fields[0]!r} is not 'm' or 'f'", kind="bad gender")
        elif name == "segments":
            _check_segment_fields(t.file, lineno, fields, rep)


def _check_segment_fields(file: str, lineno: int, fields: list[str], rep: _Report) -> None:
    """``<utt> <reco> <start> <end>`` with ``0 <= start < end`` (``end`` may be -1)."""
    if len(fields) != 3:
        rep.add(file, lineno, f"expected 4 fields '<utt> <reco> <start> <end>', got {len(fields) + 1}",
                kind="segments fields")
        return
    start, end = finite_number(fields[1]), finite_number(fields[2])
    if start is None or end is None:
        rep.add(file, lineno, "start and end must be numbers (seconds)", kind="segments numbers")
    elif start < 0:
        rep.add(file, lineno, f"negative start time {fields[1]}", kind="segments start")
    elif end != -1 and end <= start:
        rep.add(file, lineno, f"end {fields[2]} is not after start {fields[1]}", kind="segments end")


def _check_ids(tables: dict[str, _Table], rep: _Report) -> None:
    """Every utterance in every per-utterance table; recordings and speakers consistent."""
    utt2spk = tables["utt2spk"].first()
    utts = set(utt2spk)
    u_file = tables["utt2spk"].file

    def compare(name: str, keys: dict[str, tuple[int, str]], what: str) -> None:
        for utt in sorted(utts - set(keys), key=c_sort_key):
            rep.add(u_file, utt2spk[utt][0], f"utterance {utt!r} is missing from {name}",
                    kind=f"missing from {name}")
        for utt in sorted(set(keys) - utts, key=c_sort_key):
            rep.add(tables[name].file, keys[utt][0], f"{what} {utt!r} is not in utt2spk",
                    kind=f"{name} not in utt2spk")

    if "text" in tables:
        compare("text", tables["text"].first(), "utterance")
    if "utt2dur" in tables:
        compare("utt2dur", tables["utt2dur"].first(), "utterance")
    if "segments" in tables:
        segs = tables["segments"].first()
        compare("segments", segs, "segment")
        if "wav.scp" in tables:
            _check_recordings(segs, tables["segments"].file, tables["wav.scp"], rep)
    elif "wav.scp" in tables:
        compare("wav.scp", tables["wav.scp"].first(), "utterance")


def _check_recordings(segs: dict[str, tuple[int, str]], seg_file: str, wav: _Table,
                      rep: _Report) -> None:
    """Each segment's recording exists in wav.scp; unused recordings are a warning."""
    recos = wav.first()
    used = set()
    for utt, (lineno, value) in segs.items():
        fields = value.split()
        if not fields:
            continue
        used.add(fields[0])
        if fields[0] not in recos:
            rep.add(seg_file, lineno, f"recording {fields[0]!r} of segment {utt!r} is not in wav.scp",
                    kind="reco missing")
    for reco in sorted(set(recos) - used, key=c_sort_key):
        rep.add(wav.file, recos[reco][0], f"recording {reco!r} is used by no segment",
                "warning", kind="unused recording")


def _check_speakers(tables: dict[str, _Table], rep: _Report) -> None:
    """spk2utt agrees with utt2spk; spk2gender covers the speakers; speaker id prefixes."""
    u = tables["utt2spk"]
    utt2spk = {k: v.split()[0] for k, (_, v) in u.first().items() if v.split()}
    for utt, (lineno, spk) in u.first().items():
        spk = spk.split()[0] if spk.split() else ""
        if spk and not utt.startswith(spk):
            rep.add(u.file, lineno, f"speaker id {spk!r} is not a prefix of utterance id {utt!r} "
                    "(sorting by utterance may not group speakers)", "warning", kind="prefix")
    speakers = set(utt2spk.values())
    if "spk2utt" in tables:
        t = tables["spk2utt"]
        expected = {s: set(v.split()) for s, v in spk2utt_from_utt2spk(utt2spk).items()}
        got = t.first()
        for spk, (lineno, value) in got.items():
            if spk not in expected:
                rep.add(t.file, lineno, f"speaker {spk!r} has no utterance in utt2spk", kind="spk2utt extra")
            elif set(value.split()) != expected[spk]:
                rep.add(t.file, lineno, f"utterances of speaker {spk!r} differ from utt2spk; "
                        "run 'audiokit data fix'", kind="spk2utt differs")
        for spk in sorted(set(expected) - set(got), key=c_sort_key):
            rep.add(t.file, None, f"speaker {spk!r} of utt2spk is missing", kind="spk2utt missing")
    if "spk2gender" in tables:
        t = tables["spk2gender"]
        got = t.first()
        for spk, (lineno, _) in got.items():
            if spk not in speakers:
                rep.add(t.file, lineno, f"speaker {spk!r} is not in utt2spk", kind="gender extra")
        for spk in sorted(speakers - set(got), key=c_sort_key):
            rep.add(t.file, None, f"no gender for speaker {spk!r}", "warning", kind="gender missing")


def _check_audio(tables: dict[str, _Table], rep: _Report, *, check_audio: bool,
                 allow_pipes: bool, sample_rate: int | None = None) -> None:
    """Pipes refused unless allowed; audio readable, mono, one sample rate; segments and
    utt2dur match the audio."""
    from audiokit.data.wavscp import is_pipe, wav_entry_format

    wav = tables["wav.scp"]
    durations: dict[str, float] = {}
    formats: dict[str, tuple[int, int, int]] = {}  # reco -> (line, sample rate, channels)
    for reco, (lineno, value) in wav.first().items():
        if not value:
            continue
        if is_pipe(value) and not allow_pipes:
            rep.add(wav.file, lineno, "wav.scp entry is a shell pipe; pass --allow-pipes to run it",
                    kind="pipe")
            continue
        if not check_audio:
            continue
        where = f"{wav.file}:{lineno}"
        try:
            durations[reco], sr, channels = wav_entry_format(value, allow_pipes=allow_pipes, where=where)
            formats[reco] = (lineno, sr, channels)
        except AudiokitError as err:
            msg = str(err)
            msg = msg[len(where) + 2:] if msg.startswith(where + ": ") else msg
            rep.add(wav.file, lineno, f"cannot read audio: {msg}", kind="audio")
    _check_formats(wav, formats, rep, sample_rate)
    if "segments" in tables:
        _check_segment_bounds(tables["segments"], durations, rep)
    elif "utt2dur" in tables:
        t = tables["utt2dur"]
        for utt, (lineno, value) in t.first().items():
            d = finite_number(value.split()[0]) if value.split() else None
            if d is not None and utt in durations and abs(d - durations[utt]) > DUR_TOLERANCE_S:
                rep.add(t.file, lineno, f"duration {d:g} s differs from the audio ({durations[utt]:.3f} s)",
                        "warning", kind="utt2dur differs")


def _check_formats(wav: _Table, formats: dict[str, tuple[int, int, int]], rep: _Report,
                   sample_rate: int | None) -> None:
    """Every recording is mono and has the expected (or the dir's most common) sample rate."""
    if not formats:
        return
    rates = [sr for _, sr, _ in formats.values()]
    expected = sample_rate or max(set(rates), key=lambda r: (rates.count(r), -r))
    source = "expected" if sample_rate else "the data dir's"
    for lineno, sr, channels in formats.values():
        if channels != 1:
            rep.add(wav.file, lineno, f"audio has {channels} channels; Kaldi data dirs need mono "
                    "audio (down-mix it, e.g. 'sox in.wav out.wav remix -')", kind="channels")
        if sr != expected:
            rep.add(wav.file, lineno, f"sample rate {sr} Hz differs from {source} {expected} Hz",
                    kind="sample rate")


def _check_segment_bounds(t: _Table, durations: dict[str, float], rep: _Report) -> None:
    """Each segment lies inside its recording (small tolerance at the end)."""
    from audiokit.data.wavscp import SEGMENT_END_TOLERANCE_S

    for _, (lineno, value) in t.first().items():
        fields = value.split()
        if len(fields) != 3 or fields[0] not in durations:
            continue
        start, end, dur = finite_number(fields[1]), finite_number(fields[2]), durations[fields[0]]
        if start is None or end is None:
            continue
        if start >= dur or (end != -1 and end > dur + SEGMENT_END_TOLERANCE_S):
            rep.add(t.file, lineno, f"segment [{fields[1]}, {fields[2]}) is outside recording "
                    f"{fields[0]!r} ({dur:.3f} s)", kind="segment bounds")


def validate_data_dir(
    path: str | os.PathLike,
    *,
    check_audio: bool = True,
    allow_pipes: bool = False,
    require_text: bool = True,
    sample_rate: int | None = None,
) -> list[Problem]:
    """Check a Kaldi data dir; return its problems (empty list: clean).

    ``require_text=False`` accepts a dir without ``text`` (codec / SSL data).
    ``check_audio=False`` skips opening audio (pipes are still refused unless
    ``allow_pipes``). Audio must be mono and share one sample rate (``sample_rate``
    if given, else the most common one). Raises :class:`DataDirError` only when ``path`` is not a directory.
    """
    path = Path(path)
    if not path.is_dir():
        raise DataDirError(f"{path}: not a directory")
    rep = _Report()
    required = ["wav.scp", "utt2spk"] + (["text"] if require_text else [])
    tables: dict[str, _Table] = {}
    for name in ("wav.scp", "text", "utt2spk", "spk2utt", "segments", "utt2dur", "spk2gender"):
        t = _load(path / name, rep)
        if t is None:
            if name in required and not (path / name).exists():
                rep.add(str(path / name), None, "required file is missing")
            continue
        if not t.rows:
            rep.add(t.file, None, "file is empty")
        tables[name] = t
        _check_order(t, rep)
        _check_syntax(name, t, rep)
    if "utt2spk" in tables and "spk2utt" not in tables and not (path / "spk2utt").exists():
        rep.add(str(path / "spk2utt"), None, "missing; run 'audiokit data fix' to create it", "warning")
    if "utt2spk" in tables:
        _check_ids(tables, rep)
        _check_speakers(tables, rep)
    if "wav.scp" in tables:
        _check_audio(tables, rep, check_audio=check_audio, allow_pipes=allow_pipes,
                     sample_rate=sample_rate)
    return rep.finish()


def errors(problems: list[Problem]) -> list[Problem]:
    """Only the error-level problems."""
    return [p for p in problems if p.is_error]
