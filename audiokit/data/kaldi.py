"""Reading and writing Kaldi data-directory tables.

A data dir holds plain-text tables, one entry per line, ``<key> <value...>``,
sorted by key in C locale (byte order)::

    wav.scp     <utt-or-reco-id> <path | cmd |>
    text        <utt-id> <transcript ...>
    utt2spk     <utt-id> <spk-id>
    spk2utt     <spk-id> <utt-id> <utt-id> ...
    segments    <utt-id> <reco-id> <start-sec> <end-sec>
    utt2dur     <utt-id> <seconds>
    spk2gender  <spk-id> <m|f>

Only syntax lives here; semantic checks are in :mod:`audiokit.data.validate`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from audiokit.errors import DataDirError
from audiokit.io.atomic import atomic_open

#: the table files audiokit knows, in the order they are written
TABLES = ("wav.scp", "text", "utt2spk", "spk2utt", "segments", "utt2dur", "spk2gender")


def c_sort_key(key: str) -> bytes:
    """Sort key equal to ``LC_ALL=C sort``: byte order of the UTF-8 encoding."""
    return key.encode("utf-8")


def read_table_lines(path: str | os.PathLike) -> list[tuple[int, str, str]]:
    """Read a table as ``(line_number, key, value)`` triples, keeping order and duplicates.

    Blank lines are skipped; a line with only a key has value ``""``.
    Raises :class:`DataDirError` if the file is missing or not UTF-8.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataDirError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataDirError(f"{path}: is a directory") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise DataDirError(f"{path}:{line}: not UTF-8 text") from None
    out: list[tuple[int, str, str]] = []
    for i, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        key, _, value = line.partition(" ")
        if "\t" in key:
            key, _, rest = key.partition("\t")
            value = (rest + " " + value).strip()
        out.append((i, key, value.strip()))
    return out


def read_table(path: str | os.PathLike) -> dict[str, str]:
    """Read a table into an insertion-ordered ``{key: value}`` dict.

    Raises :class:`DataDirError` naming file and line on a duplicate key.
    """
    table: dict[str, str] = {}
    for lineno, key, value in read_table_lines(path):
        if key in table:
            raise DataDirError(f"{path}:{lineno}: duplicate key {key!r}")
        table[key] = value
    return table


def format_table(table: dict[str, str]) -> str:
    """The text of ``table`` as written to disk: ``key value`` lines sorted in C order."""
    lines = []
    for key in sorted(table, key=c_sort_key):
        value = table[key]
        lines.append(f"{key} {value}\n" if value != "" else f"{key}\n")
    return "".join(lines)


def write_table(path: str | os.PathLike, table: dict[str, str]) -> None:
    """Write ``table`` sorted in C order, atomically."""
    with atomic_open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(format_table(table))


def spk2utt_from_utt2spk(utt2spk: dict[str, str]) -> dict[str, str]:
    """Invert ``utt2spk`` into ``spk2utt`` (utterances in C order)."""
    groups: dict[str, list[str]] = {}
    for utt in sorted(utt2spk, key=c_sort_key):
        groups.setdefault(utt2spk[utt], []).append(utt)
    return {spk: " ".join(utts) for spk, utts in groups.items()}


@dataclass
class DataDir:
    """An in-memory Kaldi data dir: each known table as a ``{key: value}`` dict.

    Missing optional tables are empty dicts. ``spk2utt`` is always derivable from
    ``utt2spk`` and is regenerated on :meth:`save`.
    """

    wav_scp: dict[str, str] = field(default_factory=dict)
    text: dict[str, str] = field(default_factory=dict)
    utt2spk: dict[str, str] = field(default_factory=dict)
    segments: dict[str, str] = field(default_factory=dict)
    utt2dur: dict[str, str] = field(default_factory=dict)
    spk2gender: dict[str, str] = field(default_factory=dict)
    spk2utt: dict[str, str] = field(default_factory=dict)

    @staticmethod
    def attr(name: str) -> str:
        """Attribute name of a table file name (``wav.scp`` -> ``wav_scp``)."""
        return name.replace(".", "_")

    @classmethod
    def load(cls, path: str | os.PathLike) -> "DataDir":
        """Read every known table present in ``path`` (syntax errors raise)."""
        path = Path(path)
        if not path.is_dir():
            raise DataDirError(f"{path}: not a directory")
        dd = cls()
        for name in TABLES:
            if (path / name).exists():
                setattr(dd, cls.attr(name), read_table(path / name))
        return dd

    def save(self, path: str | os.PathLike) -> None:
        """Write all non-empty tables into ``path`` (sorted, atomic per file)."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.spk2utt = spk2utt_from_utt2spk(self.utt2spk)
        for name in TABLES:
            table = getattr(self, self.attr(name))
            if table:
                write_table(path / name, table)

    @property
    def utt_ids(self) -> list[str]:
        """Utterance ids in C order (from ``utt2spk``, else ``text``, else ``wav.scp``)."""
        src = self.utt2spk or self.text or (self.segments or self.wav_scp)
        return sorted(src, key=c_sort_key)
