"""Bounded-memory encode/decode of long audio with any :class:`~audiokit.models.codec.base.Codec`.

Chunking rule
-------------
Audio of ``T`` samples is cut into chunks of ``C`` samples, ``C`` a multiple of the codec's
``hop_length``, with **no overlap**: chunk ``k`` covers samples ``[k*C, (k+1)*C)`` and its
codes are frames ``[k*C/hop, (k+1)*C/hop)`` of the result; only the last chunk is shorter.
The codes of the chunks are concatenated, so the result has exactly ``num_frames(T)`` frames
(checked) and equals the concatenation of encoding each chunk on its own (tested).
Decoding works the same way on ``C/hop``-frame chunks of codes, yielding audio chunk by
chunk so that an hour-long file never sits in memory as one tensor (WavTokenizer's global
attention is O(F^2) in memory, which is what makes long files fail without chunking).

Border effect
-------------
For a codec that is not streaming (WavTokenizer: non-causal convolutions and an LSTM in the
encoder; GroupNorm over time and global self-attention in the decoder) chunked results are
NOT the same as whole-file results: frames near a chunk border see zero/reflect padding
instead of the neighbouring audio, and in the decoder every sample of a chunk depends on the
whole chunk. This is the price of bounded memory; long chunks (default 30 s) keep the
affected share small. ``tests/unit/models/codec/test_chunked.py`` measures it for a
random-weight WavTokenizer (see the numbers recorded there). The chunk length used is
written into the ``.akc`` header (``extra.chunk_samples``) so the effect is traceable, and
the decoder re-uses the same chunk borders by default.

Batches
-------
:func:`encode_batch` encodes several files at once. Padding changes the results of codecs
whose output depends on the whole input (GroupNorm or attention over time), so items are
padded only when the codec declares ``batch_invariant = True``; otherwise (the default, and
WavTokenizer) all items of a batch must have the same length (callers group them that way).

Fingerprint
-----------
:func:`fingerprint` hashes the codec class, its ``init_args`` and every tensor of its state
dict. It goes into the ``.akc`` header as ``config_hash``, so codes decoded with other
weights are refused instead of silently producing noise.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from audiokit.models.codec.base import Codec

# ----------------------------------------------------------------------------- chunk sizes
def chunk_samples(codec: Codec, seconds: float) -> int:
    """Chunk length in samples: ``seconds`` rounded to a whole number of frames (>= 1 frame)."""
    if seconds <= 0:
        raise ValueError(f"chunk length must be positive, got {seconds} s")
    frames = max(1, round(seconds * codec.sample_rate / codec.hop_length))
    return frames * codec.hop_length


def rechunk(blocks: Iterable[np.ndarray], size: int) -> Iterator[np.ndarray]:
    """Re-cut a stream of 1-D arrays into arrays of exactly ``size`` (the last may be shorter)."""
    pending: list[np.ndarray] = []
    n = 0
    for block in blocks:
        block = np.asarray(block).reshape(-1)
        while block.size:
            take = min(size - n, block.size)
            pending.append(block[:take])
            n += take
            block = block[take:]
            if n == size:
                yield np.concatenate(pending)
                pending, n = [], 0
    if n:
        yield np.concatenate(pending)


# ----------------------------------------------------------------------------- encoding
def _device(codec: Codec, device: str | None):
    import torch

    if device is not None:
        return torch.device(device)
    p = next(iter(codec.parameters()), None)
    return p.device if p is not None else torch.device("cpu")


def _encode_one(codec: Codec, wav: np.ndarray, n_q: int | None, device) -> np.ndarray:
    """``(T,)`` float -> ``(n_q, F)`` int64 codes, encoded in one piece."""
    import torch

    x = torch.as_tensor(np.ascontiguousarray(wav, dtype=np.float32), device=device).view(1, 1, -1)
    return codec.encode(x, n_q)[0].cpu().numpy().astype(np.int64)


def encode_chunked(
    codec: Codec,
    blocks: Iterable[np.ndarray],
    *,
    chunk: int,
    n_q: int | None = None,
    device: str | None = None,
) -> tuple[np.ndarray, int]:
    """Encode a stream of mono audio blocks in non-overlapping chunks of ``chunk`` samples.

    Args:
        codec: the codec; audio must already be at ``codec.sample_rate``.
        blocks: 1-D float arrays of any length (e.g. read from disk piece by piece).
        chunk: chunk length in samples, a multiple of ``codec.hop_length``.
        n_q: codebooks to use (default all).
        device: torch device for the model input (default: the model's).

    Returns:
        ``(codes, n_samples)``: ``(n_q, F)`` int64 codes with ``F == codec.num_frames(n_samples)``.
    """
    if chunk <= 0 or chunk % codec.hop_length:
        raise ValueError(f"chunk ({chunk}) must be a positive multiple of hop_length ({codec.hop_length})")
    dev = _device(codec, device)
    parts, total = [], 0
    for piece in rechunk(blocks, chunk):
        parts.append(_encode_one(codec, piece, n_q, dev))
        total += piece.size
    if not parts:
        raise ValueError("no audio to encode")
    codes = np.concatenate(parts, axis=1)
    if codes.shape[1] != codec.num_frames(total):
        raise RuntimeError(f"{type(codec).__name__}: chunked encoding gave {codes.shape[1]} frames, "
                           f"num_frames({total}) = {codec.num_frames(total)}; its frame count is not "
                           f"additive over hop-aligned chunks")
    return codes, total


def encode_batch(
    codec: Codec,
    wavs: Sequence[np.ndarray],
    *,
    n_q: int | None = None,
    device: str | None = None,
) -> list[np.ndarray]:
    """Encode several ``(T_i,)`` signals in one forward pass; returns ``(n_q, F_i)`` codes each.

    Signals of different lengths are zero-padded to the longest and the codes cut back to
    ``num_frames(T_i)``, which is only allowed when ``codec.batch_invariant`` is true.
    """
    import torch

    lengths = [int(np.asarray(w).size) for w in wavs]
    if len(set(lengths)) > 1 and not getattr(codec, "batch_invariant", False):
        raise ValueError(f"{type(codec).__name__} is not batch-invariant (padding changes its codes): "
                         f"batch only signals of equal length, got {sorted(set(lengths))}")
    longest = max(lengths)
    x = np.zeros((len(wavs), 1, longest), dtype=np.float32)
    for i, w in enumerate(wavs):
        x[i, 0, :lengths[i]] = np.asarray(w, dtype=np.float32).reshape(-1)
    codes = codec.encode(torch.from_numpy(x).to(_device(codec, device)), n_q).cpu().numpy()
    return [codes[i, :, :codec.num_frames(n)].astype(np.int64) for i, n in enumerate(lengths)]


# ----------------------------------------------------------------------------- decoding
def decode_chunked(
    codec: Codec,
    codes: np.ndarray,
    *,
    chunk_frames: int,
    device: str | None = None,
) -> Iterator[np.ndarray]:
    """Decode ``(n_q, F)`` codes chunk by chunk; yields ``(chunk_frames * hop,)`` float32 audio.

    The concatenated output has ``F * hop_length`` samples (trim it to the original length).
    """
    import torch

    if chunk_frames <= 0:
        raise ValueError(f"chunk_frames must be positive, got {chunk_frames}")
    dev = _device(codec, device)
    codes = np.asarray(codes)
    for start in range(0, codes.shape[1], chunk_frames):
        piece = torch.as_tensor(codes[None, :, start:start + chunk_frames], dtype=torch.long, device=dev)
        yield codec.decode(piece)[0, 0].float().cpu().numpy()


# ----------------------------------------------------------------------------- audio streams
_READ_BLOCK = 1 << 16
_MP3_TOLERANCE = 2 * 1152  # MP3 frame counts without a Xing header are estimates (see io.audio)


class AudioBlocks:
    """Mono float32 blocks of one audio file at a given rate, read lazily (see :func:`read_blocks`).

    Attributes:
        info: the file's :class:`~audiokit.io.audio.AudioInfo` (header facts).
        frames_read: source frames decoded so far (the true length once iterated).
    """

    def __init__(self, path, info, sr: int, block: int) -> None:
        self.path, self.info, self.sr, self.block = path, info, int(sr), int(block)
        self.frames_read = 0

    def __iter__(self) -> Iterator[np.ndarray]:
        import soundfile as sf
        import soxr

        from audiokit.errors import AudioError

        path, info = self.path, self.info
        rs = None
        if info.sample_rate != self.sr:
            rs = soxr.ResampleStream(info.sample_rate, self.sr, 1, dtype="float32", quality="HQ")
        self.frames_read = 0
        try:
            fh = sf.SoundFile(str(path))
        except (sf.SoundFileError, RuntimeError) as err:
            raise AudioError(f"{path}: cannot decode audio ({' '.join(str(err).split())})") from None
        with fh:
            while True:
                try:
                    data = fh.read(self.block, dtype="float32", always_2d=True)
                except (sf.SoundFileError, RuntimeError) as err:
                    raise AudioError(f"{path}: cannot decode audio, file is truncated or corrupt "
                                     f"({' '.join(str(err).split())})") from None
                if not len(data):
                    break
                self.frames_read += len(data)
                mono = data.mean(axis=1, dtype=np.float32)
                yield rs.resample_chunk(mono, last=False) if rs else mono
        tolerance = _MP3_TOLERANCE if info.format == "MP3" else 0
        if self.frames_read + tolerance < info.frames:
            raise AudioError(f"{path}: truncated or corrupt: decoded {self.frames_read} of {info.frames} frames")
        if self.frames_read == 0:
            raise AudioError(f"{path}: contains no audio (0 frames)")
        if rs:
            yield rs.resample_chunk(np.zeros(0, dtype=np.float32), last=True)


def read_blocks(path, sr: int, *, block: int = _READ_BLOCK) -> AudioBlocks:
    """Read an audio file piece by piece as mono float32 blocks at ``sr`` (soxr HQ, streamed).

    The blocks concatenate to exactly what ``io.audio.load_audio(path, sr=sr)`` returns, but
    memory stays bounded by ``block``. Header problems raise :class:`AudioError` at once;
    decoding problems (and a file shorter than its header says) while iterating.
    """
    from audiokit.io.audio import audio_info

    return AudioBlocks(path, audio_info(path), sr, block)


def fit_length(blocks: Iterable[np.ndarray], length: int) -> Iterator[np.ndarray]:
    """Cut a block stream after ``length`` samples, or pad it with zeros up to ``length``."""
    n = 0
    for b in blocks:
        if n >= length:
            break
        b = b[: length - n]
        n += b.size
        yield b
    if n < length:
        yield np.zeros(length - n, dtype=np.float32)


def resample_blocks(blocks: Iterable[np.ndarray], in_sr: int, out_sr: int) -> Iterator[np.ndarray]:
    """Resample a stream of mono blocks (soxr HQ, streamed); identity when the rates match."""
    import soxr

    if in_sr == out_sr:
        yield from blocks
        return
    rs = soxr.ResampleStream(in_sr, out_sr, 1, dtype="float32", quality="HQ")
    for b in blocks:
        yield rs.resample_chunk(np.ascontiguousarray(b, dtype=np.float32), last=False)
    yield rs.resample_chunk(np.zeros(0, dtype=np.float32), last=True)


def write_blocks(path, blocks: Iterable[np.ndarray], sr: int, *, force: bool = False,
                 subtype: str | None = None) -> tuple[int, int, float]:
    """Stream mono blocks into an audio file (format from the extension), atomically.

    Samples beyond [-1, 1] are clipped. Returns ``(n_samples, n_clipped, peak)`` where
    ``peak`` is the largest absolute value before clipping.
    """
    from pathlib import Path

    import soundfile as sf

    from audiokit.errors import AudioError
    from audiokit.io.atomic import atomic_path, check_writable
    from audiokit.io.audio import FORMATS

    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise AudioError(f"{path}: unsupported output format '{path.suffix}'")
    fmt, default_subtype = FORMATS[path.suffix.lower()]
    check_writable(path, force)
    n = clipped = 0
    peak = 0.0
    with atomic_path(path, suffix=path.suffix) as tmp, \
            sf.SoundFile(str(tmp), "w", samplerate=int(sr), channels=1, format=fmt,
                         subtype=(subtype or default_subtype).upper()) as out:
        for b in blocks:
            b = np.asarray(b, dtype=np.float32)
            if not np.all(np.isfinite(b)):
                raise AudioError(f"{path}: decoded audio contains NaN or inf; nothing written")
            if b.size:
                peak = max(peak, float(np.abs(b).max()))
            clipped += int((np.abs(b) > 1.0).sum())
            out.write(np.clip(b, -1.0, 1.0) if clipped else b)
            n += b.size
    return n, clipped, peak
