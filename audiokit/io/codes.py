"""The ``.akc`` codes container: codec tokens of one audio file, with what is needed to decode them.

Layout (all integers little-endian)::

    offset  size  field
    0       4     magic b"AKC1"
    4       2     format version (uint16), currently 1
    6       4     header length H (uint32)
    10      H     header: UTF-8 JSON object (see :class:`CodesFile`)
    10+H    P     payload: codes bit-packed, frame-major (frame 0: q0 q1 ..., frame 1: ...),
                  ``bits = ceil(log2(codebook_size))`` bits per code, LSB first
    10+H+P  4     CRC-32 of the payload (uint32)

The header carries the codec name, a hash of the codec's config (decoding with other
weights fails loudly), sample rate, frame rate, number of codebooks, codebook size,
number of frames, payload size and the original length in samples. Nothing is pickled.
``.npy`` files (a plain integer array ``(n_q, F)``, no metadata) are accepted and written
on request; they need the codec to be named separately.
"""

from __future__ import annotations

import json
import math
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from audiokit.errors import AudiokitError
from audiokit.io.atomic import atomic_path, check_writable

MAGIC = b"AKC1"
VERSION = 1
_PREFIX = struct.Struct("<4sHI")
_CRC = struct.Struct("<I")
_REQUIRED = ("codec", "config_hash", "sample_rate", "frame_rate", "n_codebooks", "codebook_size",
             "n_frames", "payload_bytes", "original_length")


class CodesError(AudiokitError):
    """A codes file that cannot be read or does not fit the codec."""


@dataclass
class CodesFile:
    """Codes of one audio signal and their metadata.

    Attributes:
        codes: ``(n_q, F)`` integer array, values in ``[0, codebook_size)``.
        codec: codec name (e.g. ``"wavtokenizer"``).
        config_hash: hash of the codec config that produced the codes.
        sample_rate: sample rate of the decoded audio (Hz).
        frame_rate: code frames per second.
        codebook_size: entries per codebook.
        original_length: length of the encoded audio in samples at ``sample_rate``.
        extra: free JSON metadata (e.g. bandwidth id, source sample rate).
    """

    codes: np.ndarray
    codec: str
    config_hash: str
    sample_rate: int
    frame_rate: float
    codebook_size: int
    original_length: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def n_codebooks(self) -> int:
        return int(self.codes.shape[0])

    @property
    def n_frames(self) -> int:
        return int(self.codes.shape[1])

    def header(self) -> dict[str, Any]:
        """The JSON header written before the payload."""
        return {
            "codec": self.codec,
            "config_hash": self.config_hash,
            "sample_rate": int(self.sample_rate),
            "frame_rate": float(self.frame_rate),
            "n_codebooks": self.n_codebooks,
            "codebook_size": int(self.codebook_size),
            "n_frames": self.n_frames,
            "payload_bytes": _payload_bytes(self.codes.size, bits_for(self.codebook_size)),
            "original_length": int(self.original_length),
            "extra": self.extra,
        }


def bits_for(codebook_size: int) -> int:
    """Bits per code: ``ceil(log2(codebook_size))``, at least 1."""
    return max(1, math.ceil(math.log2(codebook_size)))


def _payload_bytes(n_codes: int, bits: int) -> int:
    return (n_codes * bits + 7) // 8


def pack_codes(codes: np.ndarray, bits: int) -> bytes:
    """Bit-pack ``(n_q, F)`` codes frame-major, ``bits`` per code, LSB first."""
    flat = np.ascontiguousarray(codes.T).reshape(-1).astype(np.uint64)
    shifts = np.arange(bits, dtype=np.uint64)
    bitplanes = ((flat[:, None] >> shifts) & np.uint64(1)).astype(np.uint8)
    return np.packbits(bitplanes.reshape(-1), bitorder="little").tobytes()


def unpack_codes(payload: bytes, n_q: int, n_frames: int, bits: int) -> np.ndarray:
    """Inverse of :func:`pack_codes`; returns ``(n_q, F)`` int64."""
    n = n_q * n_frames
    bitplanes = np.unpackbits(np.frombuffer(payload, dtype=np.uint8), bitorder="little")[: n * bits]
    weights = (np.uint64(1) << np.arange(bits, dtype=np.uint64))
    flat = (bitplanes.reshape(n, bits).astype(np.uint64) * weights).sum(axis=1)
    return flat.astype(np.int64).reshape(n_frames, n_q).T.copy()


def _check_codes(codes: np.ndarray, codebook_size: int, where: str) -> np.ndarray:
    codes = np.asarray(codes)
    if codes.ndim != 2:
        raise CodesError(f"{where}: codes must be a 2-D array (n_codebooks, frames), got shape {codes.shape}")
    if not np.issubdtype(codes.dtype, np.integer):
        raise CodesError(f"{where}: codes must be integers, got {codes.dtype}")
    if codes.size and (codes.min() < 0 or codes.max() >= codebook_size):
        bad = int(codes.max()) if codes.max() >= codebook_size else int(codes.min())
        raise CodesError(f"{where}: codebook index {bad} out of range [0, {codebook_size})")
    return codes.astype(np.int64)


def write_codes(path: str | os.PathLike, cf: CodesFile, *, force: bool = False) -> Path:
    """Write ``cf`` to ``path`` (``.akc``, or ``.npy`` for the bare array), atomically."""
    path = check_writable(path, force)
    codes = _check_codes(cf.codes, cf.codebook_size, str(path))
    with atomic_path(path) as tmp:
        if path.suffix == ".npy":
            with open(tmp, "wb") as fh:  # a file object: np.save would append ".npy" to a path
                np.save(fh, codes, allow_pickle=False)
        else:
            header = json.dumps(cf.header(), sort_keys=True).encode("utf-8")
            payload = pack_codes(codes, bits_for(cf.codebook_size))
            with open(tmp, "wb") as fh:
                fh.write(_PREFIX.pack(MAGIC, VERSION, len(header)))
                fh.write(header)
                fh.write(payload)
                fh.write(_CRC.pack(zlib.crc32(payload)))
    return path


def read_npy_codes(path: str | os.PathLike) -> np.ndarray:
    """Read a bare ``(n_q, F)`` integer ``.npy`` (no pickles)."""
    try:
        arr = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise CodesError(f"{path}: no such file") from None
    except (ValueError, OSError, EOFError) as err:
        raise CodesError(f"{path}: not a readable .npy codes file ({err})") from None
    if arr.ndim == 3 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2 or not np.issubdtype(arr.dtype, np.integer):
        raise CodesError(f"{path}: expected an integer array (n_codebooks, frames), got {arr.dtype} {arr.shape}")
    return arr.astype(np.int64)


def read_header(path: str | os.PathLike) -> tuple[dict[str, Any], int]:
    """Read and check the header of an ``.akc`` file; returns ``(header, payload_offset)``."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            prefix = fh.read(_PREFIX.size)
            if len(prefix) < _PREFIX.size or prefix[:4] != MAGIC:
                raise CodesError(f"{path}: not an audiokit codes file (.akc magic missing)")
            _, version, hlen = _PREFIX.unpack(prefix)
            if version != VERSION:
                raise CodesError(f"{path}: codes format version {version} is not supported "
                                 f"(this audiokit reads version {VERSION})")
            raw = fh.read(hlen)
    except FileNotFoundError:
        raise CodesError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CodesError(f"{path}: is a directory") from None
    if len(raw) < hlen:
        raise CodesError(f"{path}: truncated codes file (header incomplete)")
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CodesError(f"{path}: corrupt codes header") from None
    missing = [k for k in _REQUIRED if k not in header] if isinstance(header, dict) else list(_REQUIRED)
    if missing:
        raise CodesError(f"{path}: codes header lacks {', '.join(missing)}")
    return header, _PREFIX.size + hlen


def read_codes(path: str | os.PathLike) -> CodesFile:
    """Read an ``.akc`` file, checking size, CRC and code range."""
    path = Path(path)
    if path.suffix == ".npy":
        raise CodesError(f"{path}: a .npy file has no metadata; use read_npy_codes and name the codec")
    header, offset = read_header(path)
    with open(path, "rb") as fh:
        fh.seek(offset)
        rest = fh.read()
    n_bytes = int(header["payload_bytes"])
    if len(rest) < n_bytes + _CRC.size:
        raise CodesError(f"{path}: truncated codes file ({len(rest)} of {n_bytes + _CRC.size} payload bytes)")
    if len(rest) > n_bytes + _CRC.size:
        raise CodesError(f"{path}: trailing bytes after the codes payload")
    payload, (crc,) = rest[:n_bytes], _CRC.unpack(rest[n_bytes:])
    if zlib.crc32(payload) != crc:
        raise CodesError(f"{path}: corrupt codes payload (CRC mismatch)")
    n_q, n_frames, size = int(header["n_codebooks"]), int(header["n_frames"]), int(header["codebook_size"])
    bits = bits_for(size)
    if _payload_bytes(n_q * n_frames, bits) != n_bytes:
        raise CodesError(f"{path}: payload size does not match {n_q} codebooks x {n_frames} frames")
    codes = _check_codes(unpack_codes(payload, n_q, n_frames, bits), size, str(path))
    return CodesFile(
        codes=codes, codec=header["codec"], config_hash=header["config_hash"],
        sample_rate=int(header["sample_rate"]), frame_rate=float(header["frame_rate"]),
        codebook_size=size, original_length=int(header["original_length"]),
        extra=dict(header.get("extra") or {}),
    )
