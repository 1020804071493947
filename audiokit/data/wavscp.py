"""Resolving and loading ``wav.scp`` entries (plain paths and opt-in pipes).

A ``wav.scp`` value is either

* a plain path; a relative path is relative to the *current directory*, as in
  Kaldi (recipes run from their ``egs/<corpus>/<task>1`` folder), or
* a command whose standard output is a WAV/FLAC file, written ``cmd args ... |``.

Commands are run **only** when the caller opts in (``allow_pipes=True``, the
``--allow-pipes`` flag). They are split with :func:`shlex.split` and started with
``subprocess.run(argv, shell=False)``: no shell is involved, so ``;``, ``&&``,
redirections and ``$VAR`` are *not* interpreted. A pipeline of several commands
(``a | b |``) is refused with a clear error, since it would need a shell.

``segments`` entries cut ``[start, end)`` seconds out of a recording; ``end``
may be ``-1`` (Kaldi's "to the end of the recording").
"""

from __future__ import annotations

import io
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from audiokit.errors import AudioError, DataDirError

#: seconds a pipe command may run before it is killed
PIPE_TIMEOUT_S = 600.0
#: how far (seconds) a segment's end may pass the end of its recording before it is an error
SEGMENT_END_TOLERANCE_S = 0.05


@dataclass(frozen=True)
class WavEntry:
    """A parsed ``wav.scp`` value: either ``path`` (plain file) or ``argv`` (a pipe command)."""

    value: str
    path: Path | None = None
    argv: tuple[str, ...] | None = None

    @property
    def is_pipe(self) -> bool:
        """True when the entry is a command whose stdout is the audio."""
        return self.argv is not None


def is_pipe(value: str) -> bool:
    """True when a ``wav.scp`` value is a command (ends with ``|``)."""
    return value.rstrip().endswith("|")


def resolve_wav_entry(value: str, *, allow_pipes: bool, where: str = "wav.scp") -> WavEntry:
    """Parse a ``wav.scp`` value into a :class:`WavEntry`.

    ``where`` prefixes error messages (e.g. ``"data/train/wav.scp:3"``).
    Raises :class:`DataDirError` for an empty value, a pipe without opt-in, a
    multi-stage pipeline, or a command that :func:`shlex.split` cannot parse.
    """
    value = value.strip()
    if not value:
        raise DataDirError(f"{where}: empty wav.scp entry")
    if not is_pipe(value):
        return WavEntry(value=value, path=Path(value))
    if not allow_pipes:
        raise DataDirError(f"{where}: wav.scp entry is a shell pipe; pass --allow-pipes to run it")
    command = value.rstrip()[:-1].strip()
    try:
        argv = shlex.split(command)
    except ValueError as err:
        raise DataDirError(f"{where}: cannot parse pipe command ({err})") from None
    if not argv:
        raise DataDirError(f"{where}: pipe entry has no command")
    if "|" in argv:
        raise DataDirError(
            f"{where}: wav.scp entry is a pipeline of several commands; audiokit runs one "
            "command without a shell: wrap it in a script or convert the audio to files"
        )
    return WavEntry(value=value, argv=tuple(argv))


def run_pipe(entry: WavEntry, *, where: str = "wav.scp") -> bytes:
    """Run a pipe entry's command (no shell) and return its stdout bytes.

    Raises :class:`AudioError` when the command is missing, fails, times out or
    writes nothing.
    """
    assert entry.argv is not None
    try:
        proc = subprocess.run(
            list(entry.argv), shell=False, stdin=subprocess.DEVNULL, capture_output=True,
            timeout=PIPE_TIMEOUT_S, check=False,
        )
    except FileNotFoundError:
        raise AudioError(f"{where}: pipe command not found: {entry.argv[0]!r}") from None
    except PermissionError:
        raise AudioError(f"{where}: pipe command not executable: {entry.argv[0]!r}") from None
    except subprocess.TimeoutExpired:
        raise AudioError(f"{where}: pipe command timed out after {PIPE_TIMEOUT_S:.0f} s") from None
    if proc.returncode != 0:
        msg = " ".join(proc.stderr.decode("utf-8", "replace").split())[-200:]
        raise AudioError(
            f"{where}: pipe command {entry.argv[0]!r} exited with status {proc.returncode}"
            + (f": {msg}" if msg else "")
        )
    if not proc.stdout:
        raise AudioError(f"{where}: pipe command {entry.argv[0]!r} wrote no audio")
    return proc.stdout


def _decode_bytes(data: bytes, *, sr: int | None, where: str) -> tuple[np.ndarray, int]:
    """Decode audio bytes (WAV, FLAC, ...) to mono float32 ``(T,)``, resampled to ``sr``."""
    import soundfile as sf

    try:
        wav, file_sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except Exception as err:  # soundfile raises several types for bad data
        raise AudioError(f"{where}: pipe output is not readable audio ({err})") from None
    if wav.shape[0] == 0:
        raise AudioError(f"{where}: pipe output has no audio frames")
    mono = wav.mean(axis=1).astype(np.float32)
    if sr is not None and sr != file_sr:
        from audiokit.io.audio import resample

        mono = np.asarray(resample(mono, file_sr, sr), dtype=np.float32)
        file_sr = sr
    return mono, int(file_sr)


def _load_path(path: Path, *, sr: int | None, where: str) -> tuple[np.ndarray, int]:
    """Load a plain file through :func:`audiokit.io.audio.load_audio`, prefixing errors."""
    from audiokit.io.audio import load_audio

    try:
        wav, file_sr = load_audio(path, sr=sr, mono=True)
    except AudioError as err:
        msg = str(err)
        raise AudioError(msg if msg.startswith(where) else f"{where}: {msg}") from None
    return np.asarray(wav, dtype=np.float32), int(file_sr)


def cut_segment(
    wav: np.ndarray, sr: int, start: float, end: float, *, where: str = "segments"
) -> np.ndarray:
    """Cut ``[start, end)`` seconds out of ``wav`` ``(T,)``; ``end == -1`` means to the end.

    An ``end`` past the recording by at most :data:`SEGMENT_END_TOLERANCE_S` is clipped;
    more than that, or a ``start`` outside the recording, raises :class:`AudioError`.
    """
    total = wav.shape[-1]
    duration = total / sr
    if start < 0 or start >= duration:
        raise AudioError(f"{where}: segment start {start:g} s is outside the recording ({duration:.3f} s)")
    if end != -1 and end > duration + SEGMENT_END_TOLERANCE_S:
        raise AudioError(f"{where}: segment end {end:g} s is past the recording's end ({duration:.3f} s)")
    first = int(round(start * sr))
    last = total if end == -1 else min(total, int(round(end * sr)))
    if last <= first:
        raise AudioError(f"{where}: segment [{start:g}, {end:g}) is empty")
    return wav[..., first:last]


def load_wav_entry(
    value: str | WavEntry,
    *,
    allow_pipes: bool,
    sr: int | None = None,
    start: float | None = None,
    end: float | None = None,
    where: str = "wav.scp",
) -> tuple[np.ndarray, int]:
    """Load the audio a ``wav.scp`` value names, as mono float32 ``(T,)`` and its rate.

    ``sr`` resamples; ``start``/``end`` (seconds, ``end`` may be ``-1``) cut a segment.
    Errors are :class:`DataDirError`/:class:`AudioError` messages prefixed by ``where``.
    """
    entry = value if isinstance(value, WavEntry) else resolve_wav_entry(
        value, allow_pipes=allow_pipes, where=where
    )
    cut = start is not None
    load_sr = None if cut else sr  # cut at the file's rate, then resample only the segment
    if entry.is_pipe:
        if not allow_pipes:
            raise DataDirError(f"{where}: wav.scp entry is a shell pipe; pass --allow-pipes to run it")
        wav, file_sr = _decode_bytes(run_pipe(entry, where=where), sr=load_sr, where=where)
    else:
        assert entry.path is not None
        wav, file_sr = _load_path(entry.path, sr=load_sr, where=where)
    if cut:
        wav = cut_segment(wav, file_sr, start, -1 if end is None else end, where=where)
        if sr is not None and sr != file_sr:
            from audiokit.io.audio import resample

            wav, file_sr = np.asarray(resample(wav, file_sr, sr), dtype=np.float32), sr
    return wav, file_sr


def wav_entry_format(value: str | WavEntry, *, allow_pipes: bool,
                     where: str = "wav.scp") -> tuple[float, int, int]:
    """``(duration_s, sample_rate, channels)`` of a ``wav.scp`` entry.

    Plain files are read from their header only; pipes are run (and reported as mono,
    since their audio is down-mixed on load).
    """
    entry = value if isinstance(value, WavEntry) else resolve_wav_entry(
        value, allow_pipes=allow_pipes, where=where
    )
    if entry.is_pipe:
        wav, file_sr = load_wav_entry(entry, allow_pipes=allow_pipes, where=where)
        return wav.shape[-1] / file_sr, int(file_sr), 1
    from audiokit.io.audio import audio_info

    assert entry.path is not None
    try:
        info = audio_info(entry.path)
    except AudioError as err:
        msg = str(err)
        raise AudioError(msg if msg.startswith(where) else f"{where}: {msg}") from None
    return float(info.frames) / float(info.sample_rate), int(info.sample_rate), int(info.channels)


def wav_entry_duration(value: str | WavEntry, *, allow_pipes: bool, where: str = "wav.scp") -> float:
    """Duration in seconds of a ``wav.scp`` entry (header only for files; pipes are run)."""
    return wav_entry_format(value, allow_pipes=allow_pipes, where=where)[0]
