"""Whole-dir operations: subset, combine, info.

Outputs are new data dirs written as a whole: the tables are written into a
temporary folder next to ``dst`` which is renamed onto ``dst`` at the end, so an
error leaves no half-written dir. An existing non-empty ``dst`` is refused
unless ``force``.
"""

from __future__ import annotations

import contextlib
import os
import random as _random
import shutil
import tempfile
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from audiokit.data.kaldi import DataDir, c_sort_key, read_table_lines
from audiokit.data.validate import finite_number
from audiokit.errors import AudiokitError, DataDirError


@contextlib.contextmanager
def _output_dir(dst: Path, force: bool, srcs: Sequence[Path]) -> Iterator[Path]:
    """Yield a temp folder that replaces ``dst`` when the block succeeds."""
    dst_res = dst.resolve()
    if any(dst_res == s.resolve() for s in srcs):
        raise DataDirError(f"{dst}: output dir is also an input")
    if dst.exists() and not (dst.is_dir() and not any(dst.iterdir())) and not force:
        raise AudiokitError(f"{dst}: output exists (use --force to overwrite)")
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dst.name}.", suffix=".tmp", dir=dst.parent))
    try:
        yield tmp
        if dst.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{dst.name}.", suffix=".old", dir=dst.parent))
            os.replace(dst, old / "x")
            os.replace(tmp, dst)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, dst)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _select(dd: DataDir, utts: set[str]) -> DataDir:
    """The part of ``dd`` holding ``utts`` (recordings and speakers follow)."""
    out = DataDir(
        text={k: v for k, v in dd.text.items() if k in utts},
        utt2spk={k: v for k, v in dd.utt2spk.items() if k in utts},
        segments={k: v for k, v in dd.segments.items() if k in utts},
        utt2dur={k: v for k, v in dd.utt2dur.items() if k in utts},
    )
    if dd.segments:
        recos = {v.split()[0] for v in out.segments.values()}
        out.wav_scp = {k: v for k, v in dd.wav_scp.items() if k in recos}
    else:
        out.wav_scp = {k: v for k, v in dd.wav_scp.items() if k in utts}
    speakers = set(out.utt2spk.values())
    out.spk2gender = {k: v for k, v in dd.spk2gender.items() if k in speakers}
    return out


def _read_utt_list(utt_list: str | os.PathLike | Iterable[str], known: set[str]) -> set[str]:
    """Ids from a file (first column) or an iterable; unknown ids raise naming file:line."""
    if isinstance(utt_list, (str, os.PathLike)):
        rows = [(f"{utt_list}:{n}", key) for n, key, _ in read_table_lines(utt_list)]
    else:
        rows = [("utterance list", key) for key in utt_list]
    for where, key in rows:
        if key not in known:
            raise DataDirError(f"{where}: utterance {key!r} is not in the source dir")
    return {key for _, key in rows}


def subset_data_dir(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    *,
    utt_list: str | os.PathLike | Iterable[str] | None = None,
    first: int | None = None,
    random: int | None = None,
    speakers: Iterable[str] | None = None,
    seed: int = 0,
    force: bool = False,
) -> int:
    """Write the subset of ``src`` chosen by exactly one selector to ``dst``; return its size.

    ``utt_list``: a file of ids (first column) or ids; ``first``: the first N
    utterances in C order; ``random``: N utterances drawn with ``seed``;
    ``speakers``: every utterance of these speakers.
    """
    chosen = [x is not None for x in (utt_list, first, random, speakers)]
    if sum(chosen) != 1:
        raise ValueError("give exactly one of utt_list, first, random, speakers")
    src, dst = Path(src), Path(dst)
    dd = DataDir.load(src)
    all_utts = dd.utt_ids
    if not all_utts:
        raise DataDirError(f"{src}: data dir has no utterances")
    if first is not None or random is not None:
        n = first if first is not None else random
        if n is None or n <= 0 or n > len(all_utts):
            raise DataDirError(f"{src}: asked for {n} utterances but it has {len(all_utts)}")
        utts = set(all_utts[:n] if first is not None else _random.Random(seed).sample(all_utts, n))
    elif speakers is not None:
        speakers = list(speakers)
        known = set(dd.utt2spk.values())
        for spk in speakers:
            if spk not in known:
                raise DataDirError(f"{src}/utt2spk: no speaker {spk!r}")
        utts = {u for u, s in dd.utt2spk.items() if s in set(speakers)}
    else:
        utts = _read_utt_list(utt_list, set(all_utts))
    out = _select(dd, utts)
    with _output_dir(dst, force, [src]) as tmp:
        out.save(tmp)
    return len(utts)


def _key_line(path: Path, key: str) -> str:
    """``path:line`` of ``key``'s first line in a table (``path`` if not found)."""
    with contextlib.suppress(AudiokitError):
        for n, k, _ in read_table_lines(path):
            if k == key:
                return f"{path}:{n}"
    return str(path)


def _merge(out: dict[str, str], add: dict[str, str], src: Path, name: str, origin: dict[str, Path],
           *, same_ok: bool) -> None:
    """Merge table ``add`` of ``src`` into ``out``; a repeated key raises unless equal and ``same_ok``."""
    for key, value in add.items():
        if key in out and not (same_ok and out[key] == value):
            raise DataDirError(
                f"{_key_line(src / name, key)}: {key!r} is also in {origin[key]}; ids must be unique "
                "across combined dirs"
            )
        out[key] = value
        origin.setdefault(key, src)


def combine_data_dirs(
    srcs: Sequence[str | os.PathLike], dst: str | os.PathLike, *, force: bool = False
) -> dict:
    """Combine data dirs into ``dst``; duplicate utterance ids raise :class:`DataDirError`.

    Dirs with ``segments`` and dirs without can be mixed (whole recordings get a
    segment ``<utt> <utt> 0 -1``). An optional table (text, utt2dur, spk2gender)
    is kept only if every source has it. Returns ``{"utterances": n,
    "dropped_tables": [...]}``.
    """
    if not srcs:
        raise DataDirError("combine: no source dirs given")
    paths = [Path(s) for s in srcs]
    dirs = [DataDir.load(p) for p in paths]
    any_segments = any(d.segments for d in dirs)
    out, origin = DataDir(), {}
    for name in ("utt2spk", "text", "utt2dur", "segments"):
        origin = {}
        for p, d in zip(paths, dirs):
            table = getattr(out, DataDir.attr(name))
            _merge(table, getattr(d, DataDir.attr(name)), p, name, origin, same_ok=False)
    reco_origin: dict[str, Path] = {}
    for p, d in zip(paths, dirs):
        if any_segments and not d.segments:
            whole = {u: f"{u} 0 -1" for u in d.wav_scp}
            _merge(out.segments, whole, p, "wav.scp", {}, same_ok=False)
        _merge(out.wav_scp, d.wav_scp, p, "wav.scp", reco_origin, same_ok=any_segments)
    gender_origin: dict[str, Path] = {}
    for p, d in zip(paths, dirs):
        _merge(out.spk2gender, d.spk2gender, p, "spk2gender", gender_origin, same_ok=True)
    dropped = []
    for name in ("text", "utt2dur", "spk2gender"):
        present = [bool(getattr(d, DataDir.attr(name))) for d in dirs]
        if any(present) and not all(present):
            setattr(out, DataDir.attr(name), {})
            dropped.append(name)
    with _output_dir(Path(dst), force, paths) as tmp:
        out.save(tmp)
    return {"utterances": len(out.utt2spk), "dropped_tables": dropped}


def data_dir_info(path: str | os.PathLike) -> dict:
    """Summary of a data dir: counts, hours (None if unknown), vocabulary.

    Keys: ``path``, ``utterances``, ``speakers``, ``recordings``, ``segments``
    (bool), ``hours``, ``words``, ``vocabulary``, ``tables``.
    """
    path = Path(path)
    dd = DataDir.load(path)
    utts = dd.utt_ids
    hours = None
    if dd.utt2dur and set(dd.utt2dur) >= set(utts):
        durs = [finite_number(dd.utt2dur[u].split()[0]) for u in utts]
        hours = sum(d for d in durs if d) / 3600.0
    elif dd.segments:
        spans = [[finite_number(x) for x in v.split()[1:3]] for v in dd.segments.values()]
        if all(len(s) == 2 and None not in s and s[1] != -1 for s in spans):
            hours = sum(e - s for s, e in spans) / 3600.0
    words = [w for t in dd.text.values() for w in t.split()]
    return {
        "path": str(path),
        "utterances": len(utts),
        "speakers": len(set(dd.utt2spk.values())),
        "recordings": len(dd.wav_scp),
        "segments": bool(dd.segments),
        "hours": None if hours is None else round(hours, 4),
        "words": len(words),
        "vocabulary": len(set(words)),
        "tables": sorted((n for n in ("wav.scp", "text", "utt2spk", "spk2utt", "segments", "utt2dur",
                                      "spk2gender") if (path / n).exists()), key=c_sort_key),
    }
