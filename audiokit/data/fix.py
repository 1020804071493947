"""Repairing a Kaldi data dir in place, keeping a backup of everything changed.

:func:`fix_data_dir` sorts every table in C order, removes exact duplicate
lines, drops keys whose duplicate lines disagree, drops malformed lines and
empty transcripts, keeps only utterances present in every per-utterance table
(``utt2spk``, ``text``, ``wav.scp``/``segments``), filters the other tables to
match and regenerates ``spk2utt``. Before the first file is rewritten, every
table is copied to ``<dir>/.backup/<timestamp>/``, so nothing the user had is
lost. A dir that needs no change is left untouched (no backup).
"""

from __future__ import annotations

import datetime as _dt
import os
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from audiokit.data.kaldi import TABLES, format_table, read_table_lines, spk2utt_from_utt2spk
from audiokit.data.validate import finite_number
from audiokit.errors import DataDirError
from audiokit.io.atomic import write_text_atomic

BACKUP_DIR = ".backup"


@dataclass
class FixReport:
    """What :func:`fix_data_dir` did.

    ``kept``: utterances left; ``dropped``: ``{reason: count}`` of removed lines or
    utterances; ``changed``/``removed``: table files rewritten / deleted;
    ``backup``: folder holding the originals (None when nothing changed).
    """

    kept: int = 0
    dropped: Counter = field(default_factory=Counter)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    backup: Path | None = None

    def summary(self) -> str:
        """One line describing the fix."""
        if not self.changed and not self.removed:
            return f"nothing to fix ({self.kept} utterances)"
        parts = [f"kept {self.kept} utterances"]
        parts += [f"dropped {n} ({reason})" for reason, n in sorted(self.dropped.items())]
        parts.append("rewrote " + ", ".join(self.changed) if self.changed else "")
        parts.append("removed " + ", ".join(self.removed) if self.removed else "")
        parts.append(f"originals in {self.backup}")
        return "; ".join(p for p in parts if p)


def _dedupe(rows: list[tuple[int, str, str]], dropped: Counter, name: str) -> dict[str, str]:
    """Collapse identical duplicate lines; drop keys whose lines disagree."""
    values: dict[str, list[str]] = {}
    for _, key, value in rows:
        values.setdefault(key, []).append(value)
    out: dict[str, str] = {}
    for key, vals in values.items():
        if len(set(vals)) > 1:
            dropped[f"{name}: conflicting duplicate key"] += 1
            continue
        if len(vals) > 1:
            dropped[f"{name}: duplicate line"] += len(vals) - 1
        out[key] = vals[0]
    return out


def _valid(name: str, value: str) -> str | None:
    """None if a table value is well formed, else the reason it is not."""
    fields = value.split()
    if name == "text":
        return None if fields else "empty transcript"
    if not fields:
        return "no value"
    if name in ("utt2spk", "utt2dur", "spk2gender") and len(fields) != 1:
        return "wrong field count"
    if name == "utt2dur" and ((d := finite_number(fields[0])) is None or d <= 0):
        return "bad duration"
    if name == "spk2gender" and fields[0] not in ("m", "f"):
        return "bad gender"
    if name == "segments":
        if len(fields) != 3:
            return "wrong field count"
        start, end = finite_number(fields[1]), finite_number(fields[2])
        if start is None or end is None or start < 0 or (end != -1 and end <= start):
            return "bad times"
    return None


def _read_clean(path: Path, dropped: Counter) -> dict[str, dict[str, str]]:
    """Every present table, deduplicated and with malformed lines dropped."""
    tables: dict[str, dict[str, str]] = {}
    for name in TABLES:
        if name == "spk2utt" or not (path / name).exists():
            continue
        table = _dedupe(read_table_lines(path / name), dropped, name)
        for key in list(table):
            reason = _valid(name, table[key])
            if reason:
                dropped[f"{name}: {reason}"] += 1
                del table[key]
        tables[name] = table
    return tables


def _complete_utts(tables: dict[str, dict[str, str]], drop_missing_audio: bool,
                   dropped: Counter) -> set[str]:
    """Utterances present in every per-utterance table (and, optionally, with audio)."""
    wav, segs = tables["wav.scp"], tables.get("segments")
    utts = set(tables["utt2spk"])
    candidates = set(utts)
    for name in ("text", "segments"):
        if name in tables:
            candidates |= set(tables[name])
    if segs is None:
        candidates |= set(wav)
    for utt in candidates:
        missing = [n for n in ("utt2spk", "text", "segments") if n in tables and utt not in tables[n]]
        if segs is not None and utt in segs and segs[utt].split()[0] not in wav:
            missing.append("wav.scp")
        if segs is None and utt not in wav:
            missing.append("wav.scp")
        if not missing and drop_missing_audio and _audio_missing(tables, utt):
            missing.append("audio file")
        if missing:
            utts.discard(utt)
            dropped[f"utterance not in {missing[0]}"] += 1
    return utts


def _audio_missing(tables: dict[str, dict[str, str]], utt: str) -> bool:
    """True when the utterance's wav.scp entry is a plain path that does not exist."""
    from audiokit.data.wavscp import is_pipe

    segs = tables.get("segments")
    value = tables["wav.scp"][segs[utt].split()[0] if segs is not None else utt]
    return not is_pipe(value) and not Path(value).is_file()


def _filtered(tables: dict[str, dict[str, str]], utts: set[str]) -> dict[str, dict[str, str] | None]:
    """The fixed tables; ``None`` marks a table to delete (incomplete utt2dur)."""
    out: dict[str, dict[str, str] | None] = {}
    for name in ("text", "utt2spk", "segments", "utt2dur"):
        if name in tables:
            out[name] = {k: v for k, v in tables[name].items() if k in utts}
    if "utt2dur" in out and set(out["utt2dur"] or {}) != utts:
        out["utt2dur"] = None  # incomplete durations are worse than none: regenerate them
    if "segments" in tables:
        recos = {v.split()[0] for k, v in tables["segments"].items() if k in utts}
        out["wav.scp"] = {k: v for k, v in tables["wav.scp"].items() if k in recos}
    else:
        out["wav.scp"] = {k: v for k, v in tables["wav.scp"].items() if k in utts}
    utt2spk = {k: v.split()[0] for k, v in out["utt2spk"].items()}
    out["spk2utt"] = spk2utt_from_utt2spk(utt2spk)
    if "spk2gender" in tables:
        speakers = set(utt2spk.values())
        out["spk2gender"] = {k: v for k, v in tables["spk2gender"].items() if k in speakers}
    return out


def _make_backup(path: Path) -> Path:
    """Copy every table file into a new ``.backup/<timestamp>`` folder; return it."""
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    root = path / BACKUP_DIR
    dest, n = root / stamp, 1
    while dest.exists():
        n += 1
        dest = root / f"{stamp}-{n}"
    dest.mkdir(parents=True)
    for name in TABLES:
        if (path / name).exists():
            shutil.copy2(path / name, dest / name)
    return dest


def fix_data_dir(path: str | os.PathLike, *, drop_missing_audio: bool = False) -> FixReport:
    """Fix a data dir in place (see the module doc); return what was done.

    ``drop_missing_audio`` also drops utterances whose audio file does not exist.
    Raises :class:`DataDirError` (changing nothing) when ``wav.scp`` or ``utt2spk``
    is missing or no utterance would be left.
    """
    path = Path(path)
    if not path.is_dir():
        raise DataDirError(f"{path}: not a directory")
    for name in ("wav.scp", "utt2spk"):
        if not (path / name).is_file():
            raise DataDirError(f"{path / name}: required file is missing; cannot fix")
    report = FixReport()
    tables = _read_clean(path, report.dropped)
    utts = _complete_utts(tables, drop_missing_audio, report.dropped)
    if not utts:
        raise DataDirError(f"{path}: no utterance is present in every table; nothing changed")
    report.kept = len(utts)
    new = _filtered(tables, utts)
    writes: dict[str, str] = {}
    for name, table in new.items():
        if table is None:
            report.removed.append(name)
            continue
        text = format_table(table)
        old = (path / name).read_bytes() if (path / name).exists() else None
        if old != text.encode("utf-8"):
            writes[name] = text
    report.changed = [n for n in TABLES if n in writes]
    if not writes and not report.removed:
        return report
    report.backup = _make_backup(path)
    for name in report.changed:
        write_text_atomic(path / name, writes[name])
    for name in report.removed:
        (path / name).unlink()
    return report
