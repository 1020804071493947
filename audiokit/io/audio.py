"""Audio files: read, write, resample, inspect (soundfile + soxr, no torchaudio I/O).

Conventions
-----------
* Samples are floating point in [-1, 1] (full scale of the stored PCM). Resampling and
  lossy decoders may overshoot 1 slightly; nothing is clipped on load.
* Mono audio is ``(T,)``; multi-channel audio is ``(C, T)`` (channels first).
* Formats are chosen by file extension: ``.wav``, ``.flac``, ``.ogg``/``.oga`` (Vorbis),
  ``.opus`` (Ogg/Opus) and ``.mp3``. Anything else is refused with :class:`AudioError`.
* Every problem with a user's file raises :class:`AudioError` whose one-line message
  starts with the path, e.g. ``data/a.wav: truncated: header declares 64000 data bytes,
  file has 31986``.

Truncation
----------
libsndfile silently shortens a WAV whose ``data`` chunk is cut off, so the RIFF header
is parsed here and the declared data size compared with the bytes present (a size of
0 or >= 0x7FFF0000 means "unknown length", as streaming writers leave it, and is not
checked). For every format, reading fewer frames than the header announces is an error
(MP3 frame counts without a Xing/Info header are estimates, so a shortfall of up to two
MPEG frames is tolerated there; an MP3 whose Xing header declares more stream bytes
than the file holds is refused).
Ogg files must end with a complete page flagged end-of-stream (libsndfile takes the
length from the last page it finds, so a cut Ogg file otherwise looks complete).
Decoder errors (FLAC "lost sync", malformed Ogg) become AudioErrors too.
"""

from __future__ import annotations

import os
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from audiokit.errors import AudioError
from audiokit.io.atomic import atomic_path, check_writable

#: extension -> (libsndfile format, default subtype used by :func:`save_audio`)
FORMATS: dict[str, tuple[str, str]] = {
    ".wav": ("WAV", "PCM_16"),
    ".flac": ("FLAC", "PCM_16"),
    ".ogg": ("OGG", "VORBIS"),
    ".oga": ("OGG", "VORBIS"),
    ".opus": ("OGG", "OPUS"),
    ".mp3": ("MP3", "MPEG_LAYER_III"),
}

#: sample rates the encoders accept (others are refused before writing)
_OPUS_RATES = (8000, 12000, 16000, 24000, 48000)
_MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
_MP3_FRAME = 1152
_UNKNOWN_WAV_SIZE = 0x7FFF0000


class ClippingWarning(UserWarning):
    """Samples outside [-1, 1] were clipped while saving."""


@dataclass(frozen=True)
class AudioInfo:
    """What the header of an audio file says."""

    sample_rate: int
    channels: int
    frames: int
    duration: float  # seconds
    format: str  # libsndfile major format, e.g. "WAV", "FLAC", "OGG", "MP3"
    subtype: str  # e.g. "PCM_16", "VORBIS", "OPUS", "MPEG_LAYER_III"


# ----------------------------------------------------------------------------- checks
def _format_for(path: Path) -> tuple[str, str]:
    """The (format, default subtype) for ``path``'s extension, or AudioError."""
    ext = path.suffix.lower()
    if ext not in FORMATS:
        shown = f"'{path.suffix}'" if path.suffix else "no extension"
        supported = " ".join(sorted(FORMATS))
        raise AudioError(f"{path}: unsupported audio format ({shown}; supported: {supported})")
    return FORMATS[ext]


def _check_readable(path: Path) -> int:
    """Refuse missing files, directories, empty files and unknown extensions; return size."""
    if not path.exists():
        raise AudioError(f"{path}: no such file")
    if path.is_dir():
        raise AudioError(f"{path}: is a directory, not an audio file")
    _format_for(path)
    size = path.stat().st_size
    if size == 0:
        raise AudioError(f"{path}: empty file (0 bytes)")
    return size


def _wav_truncation(path: Path, size: int) -> str | None:
    """Compare a RIFF/WAVE file's declared ``data`` size with the bytes present.

    Returns a description of the problem, or None when the file is complete (or not
    RIFF, or of unknown length).
    """
    with open(path, "rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        pos = 12
        while pos + 8 <= size:
            fh.seek(pos)
            chunk_id, chunk_size = struct.unpack("<4sI", fh.read(8))
            if chunk_id == b"data":
                if chunk_size == 0 or chunk_size >= _UNKNOWN_WAV_SIZE:
                    return None
                present = size - (pos + 8)
                if chunk_size > present:
                    return f"header declares {chunk_size} data bytes, file has {present}"
                return None
            pos += 8 + chunk_size + (chunk_size & 1)
    return None


def _ogg_truncation(path: Path, size: int) -> str | None:
    """Check that an Ogg file ends with a complete page flagged end-of-stream.

    Encoders set the EOS flag on a stream's last page; a file cut anywhere ends in a
    partial page or a page without it. Returns a description of the problem or None.
    """
    tail_len = min(size, 1 << 16)
    with open(path, "rb") as fh:
        fh.seek(size - tail_len)
        tail = fh.read(tail_len)
    start = tail.rfind(b"OggS")
    while start >= 0:  # find the page that ends exactly at the end of the file
        page = tail[start:]
        if len(page) >= 27 and page[4] == 0:  # capture pattern + structure version 0
            n_seg = page[26]
            if len(page) >= 27 + n_seg and 27 + n_seg + sum(page[27:27 + n_seg]) == len(page):
                return None if page[5] & 0x04 else "no end-of-stream page"
        start = tail.rfind(b"OggS", 0, start)
    return "last Ogg page is incomplete"


def _mp3_truncation(path: Path, size: int) -> str | None:
    """Compare an MP3's Xing/Info header stream size with the bytes present.

    Files without a Xing/Info header (or without its byte count) are not checked here.
    """
    with open(path, "rb") as fh:
        head = fh.read(10)
        start = 0
        if len(head) == 10 and head[:3] == b"ID3":  # ID3v2 tag: syncsafe size
            start = 10 + ((head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9])
            start += 10 if head[5] & 0x10 else 0
        fh.seek(start)
        first = fh.read(200)
        fh.seek(max(size - 128, 0))
        has_id3v1 = fh.read(3) == b"TAG"
    at = max(first.find(b"Xing"), first.find(b"Info"))
    if at < 0 or len(first) < at + 16:
        return None
    flags = struct.unpack(">I", first[at + 4:at + 8])[0]
    if not flags & 0x2:
        return None
    offset = at + (12 if flags & 0x1 else 8)
    declared = struct.unpack(">I", first[offset:offset + 4])[0]
    present = size - start - (128 if has_id3v1 else 0)
    if declared > present:
        return f"Xing header declares {declared} stream bytes, file has {present}"
    return None


def _sf_error(path: Path, err: Exception) -> AudioError:
    """Turn a soundfile/libsndfile exception into a one-line AudioError."""
    detail = getattr(err, "error_string", None) or str(err)
    detail = " ".join(str(detail).split()).rstrip(".")
    if "Format not recognised" in detail:
        return AudioError(f"{path}: not a readable {path.suffix.lstrip('.').lower()} file "
                          f"(unrecognised or corrupt header)")
    return AudioError(f"{path}: cannot decode audio, file is truncated or corrupt ({detail})")


def _open_info(path: Path) -> Any:
    """``soundfile.info`` with the file checks above; raises AudioError."""
    import soundfile as sf

    size = _check_readable(path)
    try:
        info = sf.info(str(path))
    except (sf.SoundFileError, RuntimeError) as err:
        raise _sf_error(path, err) from None
    if info.format == "WAV":
        problem = _wav_truncation(path, size)
        if problem:
            raise AudioError(f"{path}: truncated wav file: {problem}")
    elif info.format == "MP3":
        problem = _mp3_truncation(path, size)
        if problem:
            raise AudioError(f"{path}: truncated mp3 file: {problem}")
    elif info.format == "OGG":
        problem = _ogg_truncation(path, size)
        if problem:
            raise AudioError(f"{path}: truncated or corrupt ogg file: {problem}")
    return info


def audio_info(path: str | os.PathLike) -> AudioInfo:
    """Header facts of an audio file (no decoding).

    A file holding 0 frames is described (``frames=0``), not refused; truncated or
    unreadable files raise :class:`AudioError`.
    """
    path = Path(path)
    info = _open_info(path)
    return AudioInfo(
        sample_rate=int(info.samplerate),
        channels=int(info.channels),
        frames=int(info.frames),
        duration=float(info.frames) / float(info.samplerate),
        format=str(info.format),
        subtype=str(info.subtype),
    )


# ----------------------------------------------------------------------------- reading
def load_audio(
    path: str | os.PathLike,
    *,
    sr: int | None = None,
    mono: bool = True,
    dtype: str = "float32",
) -> tuple[np.ndarray, int]:
    """Read an audio file.

    Args:
        path: a .wav, .flac, .ogg/.oga, .opus or .mp3 file.
        sr: resample to this rate (soxr, high quality); None keeps the file's rate.
        mono: average the channels into one.
        dtype: "float32" or "float64".

    Returns:
        ``(wav, sample_rate)`` with ``wav`` of shape ``(T,)`` when ``mono`` else ``(C, T)``,
        values in [-1, 1].

    Raises:
        AudioError: missing/empty/unsupported/truncated/corrupt file, or 0 frames.
    """
    import soundfile as sf

    if dtype not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    path = Path(path)
    info = _open_info(path)
    try:
        data, file_sr = sf.read(str(path), dtype=dtype, always_2d=True)
    except (sf.SoundFileError, RuntimeError) as err:
        raise _sf_error(path, err) from None
    _check_frames_read(path, info, data.shape[0])
    wav = data.T  # (C, T)
    if mono:
        wav = wav.mean(axis=0, dtype=dtype)
    if sr is not None and int(sr) != int(file_sr):
        wav = resample(wav, int(file_sr), int(sr))
        file_sr = int(sr)
    return np.ascontiguousarray(wav, dtype=dtype), int(file_sr)


def _check_frames_read(path: Path, info: Any, n_read: int) -> None:
    """Refuse a file that decoded to fewer frames than announced, or to none."""
    expected = int(info.frames)
    tolerance = 2 * _MP3_FRAME if info.format == "MP3" else 0
    if n_read + tolerance < expected:
        raise AudioError(
            f"{path}: truncated or corrupt: decoded {n_read} of {expected} frames"
        )
    if n_read == 0:
        raise AudioError(f"{path}: contains no audio (0 frames)")


def resample(wav: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample ``(T,)`` or ``(C, T)`` audio with soxr (HQ); same layout and dtype out.

    Output length is ``round(T * target_sr / orig_sr)``.
    """
    import soxr

    wav = np.asarray(wav)
    if orig_sr <= 0 or target_sr <= 0:
        raise ValueError(f"sample rates must be positive, got {orig_sr} -> {target_sr}")
    if orig_sr == target_sr:
        return wav.copy()
    if wav.dtype not in (np.float32, np.float64):
        wav = wav.astype(np.float32)
    if wav.ndim == 1:
        return soxr.resample(wav, orig_sr, target_sr, quality="HQ")
    if wav.ndim != 2:
        raise ValueError(f"expected (T,) or (C, T) audio, got shape {wav.shape}")
    out = soxr.resample(np.ascontiguousarray(wav.T), orig_sr, target_sr, quality="HQ")
    return np.ascontiguousarray(out.T)


# ----------------------------------------------------------------------------- writing
def _to_numpy(wav: Any) -> np.ndarray:
    """Numpy ``(C, T)`` float32/float64 from numpy or torch ``(T,)``/``(C, T)``."""
    if hasattr(wav, "detach"):  # a torch tensor; avoid importing torch here
        wav = wav.detach().cpu()
        if not wav.is_floating_point() or wav.dtype.itemsize < 4:
            wav = wav.float()
        wav = wav.numpy()
    wav = np.asarray(wav)
    if wav.dtype == np.int16:
        wav = wav.astype(np.float32) / 32768.0
    elif not np.issubdtype(wav.dtype, np.floating):
        raise TypeError(f"audio must be floating point (or int16), got {wav.dtype}")
    elif wav.dtype not in (np.float32, np.float64):
        wav = wav.astype(np.float32)
    if wav.ndim == 1:
        wav = wav[None]
    if wav.ndim != 2:
        raise ValueError(f"expected (T,) or (C, T) audio, got shape {wav.shape}")
    if wav.shape[0] > 64:
        raise ValueError(f"expected (C, T) audio with C <= 64 channels, got shape {wav.shape} "
                         f"(pass channels first)")
    return wav


def _check_encodable(path: Path, fmt: str, subtype: str, sr: int, channels: int) -> None:
    """Refuse rates/channel counts the chosen encoder cannot take, before writing."""
    if subtype == "OPUS" and sr not in _OPUS_RATES:
        raise AudioError(f"{path}: opus cannot store {sr} Hz audio "
                         f"(allowed: {', '.join(map(str, _OPUS_RATES))}); resample first")
    if fmt == "MP3" and sr not in _MP3_RATES:
        raise AudioError(f"{path}: mp3 cannot store {sr} Hz audio "
                         f"(allowed: {', '.join(map(str, _MP3_RATES))}); resample first")
    if fmt == "MP3" and channels > 2:
        raise AudioError(f"{path}: mp3 stores at most 2 channels, got {channels}")


def save_audio(
    path: str | os.PathLike,
    wav: Any,
    sr: int,
    *,
    force: bool = False,
    subtype: str | None = None,
) -> Path:
    """Write ``(T,)`` or ``(C, T)`` audio (numpy or torch) to ``path``, atomically.

    The format follows the extension (see :data:`FORMATS`); ``subtype`` overrides the
    default encoding (e.g. "FLOAT" or "PCM_24" for wav). Samples beyond [-1, 1] are
    clipped with a :class:`ClippingWarning`. NaN/inf samples are refused.

    Raises:
        AudiokitError: ``path`` exists and not ``force``.
        AudioError: unsupported extension, non-finite samples, rate/channels the
            encoder cannot store, or the encoder failed (nothing is left behind).
    """
    import soundfile as sf

    path = Path(path)
    fmt, default_subtype = _format_for(path)
    subtype = (subtype or default_subtype).upper()
    check_writable(path, force)
    if path.is_dir():
        raise AudioError(f"{path}: is a directory")
    data = _to_numpy(wav)
    if not np.all(np.isfinite(data)):
        raise AudioError(f"{path}: refusing to write audio containing NaN or inf")
    _check_encodable(path, fmt, subtype, int(sr), data.shape[0])
    data = _clip(path, data)
    try:
        with atomic_path(path, suffix=path.suffix) as tmp:
            sf.write(str(tmp), data.T, int(sr), format=fmt, subtype=subtype)
    except (sf.SoundFileError, RuntimeError, ValueError) as err:
        detail = " ".join(str(err).split())
        raise AudioError(f"{path}: cannot write {fmt.lower()}/{subtype.lower()}: {detail}") from None
    return path


def _clip(path: Path, data: np.ndarray) -> np.ndarray:
    """Clip to [-1, 1], warning once with the count and peak if anything was clipped."""
    over = np.abs(data) > 1.0
    n_over = int(over.sum())
    if n_over:
        peak = float(np.abs(data).max())
        warnings.warn(f"{path}: clipping {n_over} samples (peak {peak:.3f})",
                      ClippingWarning, stacklevel=3)
        data = np.clip(data, -1.0, 1.0)
    return data
