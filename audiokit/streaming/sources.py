"""Audio sources for live recognition: file, microphone, in-memory array.

Every source yields float32 mono chunks ``(t,)`` at ``source.sample_rate`` (the model's
rate), so the recogniser code path is the same whatever the audio comes from:

    with FileSource("a.wav", 16000, realtime=True) as src:
        for chunk in src:          # (t,) float32, about block_ms long
            ...

Decisions:

* Input at another rate is resampled (soxr streaming resampler, HQ) instead of refused;
  several channels are averaged. A file with no audio frames is an :class:`AudioError`.
* :class:`FileSource` reads in blocks (bounded memory for hour-long files). With
  ``realtime=True`` a chunk is handed out only when it "has been spoken" (paced against a
  monotonic clock), like a microphone; otherwise as fast as the consumer takes them.
* :class:`MicSource` never runs the model inside the audio callback: the callback puts
  100-ms blocks into a bounded queue that drops the OLDEST block when full (the consumer
  fell behind) and counts the drops. A microphone that delivers nothing for
  ``stall_s`` seconds is an error, not a hang.
"""

from __future__ import annotations

import collections
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Self

import numpy as np

from audiokit.errors import AudioError, AudiokitError


class Resampler:
    """Streaming mono resampler (soxr ``ResampleStream``); identity when rates match."""

    def __init__(self, in_rate: int, out_rate: int) -> None:
        self.in_rate, self.out_rate = int(in_rate), int(out_rate)
        self._rs = None
        if self.in_rate != self.out_rate:
            import soxr

            self._rs = soxr.ResampleStream(self.in_rate, self.out_rate, 1, dtype="float32", quality="HQ")

    def __call__(self, x: np.ndarray, last: bool = False) -> np.ndarray:
        """Resample the next ``(t,)`` block; ``last`` flushes the filter tail."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        if self._rs is None:
            return x
        return np.asarray(self._rs.resample_chunk(x, last=last), dtype=np.float32)


class _Source:
    """Shared parts: context manager, ``dropped`` counter, ``close``."""

    sample_rate: int
    name: str = "audio"
    dropped_blocks: int = 0
    block_seconds: float = 0.1

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the device/file; iteration stops."""

    def __iter__(self) -> Iterator[np.ndarray]:  # pragma: no cover - abstract
        raise NotImplementedError


def _to_mono(block: np.ndarray) -> np.ndarray:
    """``(t, C)`` or ``(t,)`` -> ``(t,)`` float32 (channel mean)."""
    block = np.asarray(block, dtype=np.float32)
    return block.mean(axis=1, dtype=np.float32) if block.ndim == 2 else block


class _Pacer:
    """Sleeps until ``n`` samples "have been spoken" since the first call."""

    def __init__(self, rate: int, clock: Callable[[], float], sleep: Callable[[float], None]) -> None:
        self.rate, self.clock, self.sleep = rate, clock, sleep
        self.t0: float | None = None

    def wait(self, n_samples: int) -> None:
        if self.t0 is None:
            self.t0 = self.clock()
        delay = self.t0 + n_samples / self.rate - self.clock()
        if delay > 0:
            self.sleep(delay)


# ----------------------------------------------------------------------------- array
class ArraySource(_Source):
    """Chunks of an in-memory signal ``(T,)`` (or ``(T, C)``) at ``in_rate``."""

    def __init__(self, wav: np.ndarray, sample_rate: int, *, in_rate: int | None = None,
                 block_ms: float = 100.0, realtime: bool = False,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.wav = _to_mono(wav)
        self.sample_rate = int(sample_rate)
        self.in_rate = int(in_rate or sample_rate)
        self.block = max(1, round(self.in_rate * block_ms / 1000))
        self.block_seconds = self.block / self.in_rate
        self.realtime, self._clock, self._sleep = realtime, clock, sleep
        self.name = "array"

    def __iter__(self) -> Iterator[np.ndarray]:
        rs = Resampler(self.in_rate, self.sample_rate)
        pacer = _Pacer(self.in_rate, self._clock, self._sleep)
        n = len(self.wav)
        for start in range(0, n, self.block):
            end = min(start + self.block, n)
            out = rs(self.wav[start:end], last=end == n)
            if self.realtime:
                pacer.wait(end)
            if out.size:
                yield out


# ----------------------------------------------------------------------------- file
class FileSource(_Source):
    """Chunks of an audio file, read block by block (bounded memory).

    Args:
        path: any file :func:`audiokit.io.audio.load_audio` reads.
        sample_rate: output rate (the model's); other rates are resampled.
        block_ms: block length read from the file, in ms (default 100).
        realtime: pace the chunks in real time (a chunk is yielded once its audio
            "has been spoken"), else as fast as possible.

    Raises (on construction) :class:`AudioError` for missing, corrupt, truncated and
    empty (0-frame) files; a file that ends early while being read raises it too.
    """

    def __init__(self, path: str | os.PathLike, sample_rate: int, *, block_ms: float = 100.0,
                 realtime: bool = False, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        from audiokit.io.audio import audio_info

        self.path = Path(path)
        self.info = audio_info(self.path)
        if self.info.frames == 0:
            raise AudioError(f"{self.path}: contains no audio (0 frames)")
        self.sample_rate = int(sample_rate)
        self.block = max(1, round(self.info.sample_rate * block_ms / 1000))
        self.block_seconds = self.block / self.info.sample_rate
        self.realtime, self._clock, self._sleep = realtime, clock, sleep
        self.name = str(self.path)

    @property
    def duration(self) -> float:
        """Length in seconds (from the header)."""
        return self.info.duration

    @property
    def num_samples(self) -> int:
        """Length in samples at the output rate (soxr's rounding)."""
        return round(self.info.frames * self.sample_rate / self.info.sample_rate)

    def __iter__(self) -> Iterator[np.ndarray]:
        import soundfile as sf

        rs = Resampler(self.info.sample_rate, self.sample_rate)
        pacer = _Pacer(self.info.sample_rate, self._clock, self._sleep)
        read = 0
        try:
            with sf.SoundFile(str(self.path)) as fh:
                while True:
                    block = fh.read(self.block, dtype="float32", always_2d=True)
                    read += len(block)
                    last = len(block) < self.block or read >= self.info.frames
                    if last:
                        self._check_complete(read)
                    out = rs(_to_mono(block), last=last)
                    if self.realtime:
                        pacer.wait(read)
                    if out.size:
                        yield out
                    if last:
                        return
        except (sf.SoundFileError, RuntimeError) as err:
            detail = " ".join(str(getattr(err, "error_string", None) or err).split())
            raise AudioError(f"{self.path}: cannot decode audio, file is truncated or corrupt ({detail})") from None

    def _check_complete(self, read: int) -> None:
        tolerance = 2 * 1152 if self.info.format == "MP3" else 0
        if read + tolerance < self.info.frames:
            raise AudioError(f"{self.path}: truncated or corrupt: decoded {read} of {self.info.frames} frames")


def read_file(path: str | os.PathLike, sample_rate: int) -> np.ndarray:
    """The whole file as ``(T,)`` float32 at ``sample_rate``, read through :class:`FileSource`.

    Used where an offline path must see exactly the samples the streaming path sees.
    """
    chunks = list(FileSource(path, sample_rate))
    return np.concatenate(chunks) if chunks else np.zeros(0, np.float32)


# ----------------------------------------------------------------------------- microphone
class BoundedBlocks:
    """Thread-safe FIFO of audio blocks holding at most ``capacity``; drops the oldest.

    ``put`` never blocks (it runs in the audio callback); ``dropped`` counts the blocks
    thrown away because the consumer fell behind.
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self._q: collections.deque[np.ndarray] = collections.deque()
        self.capacity = capacity
        self.dropped = 0
        self._cv = threading.Condition()

    def put(self, block: np.ndarray) -> None:
        with self._cv:
            if len(self._q) >= self.capacity:
                self._q.popleft()
                self.dropped += 1
            self._q.append(block)
            self._cv.notify()

    def get(self, timeout: float) -> np.ndarray | None:
        """The oldest block, or None after ``timeout`` seconds without one."""
        with self._cv:
            if not self._q:
                self._cv.wait(timeout)
            return self._q.popleft() if self._q else None

    def __len__(self) -> int:
        return len(self._q)


class MicSource(_Source):
    """Chunks captured from a microphone (``sounddevice`` / PortAudio).

    Args:
        device: input device index or (part of) its name; None = the default input
            (or the first input device when PortAudio has no default).
        sample_rate: output rate (the model's). The device is opened at this rate when it
            accepts it, else at its default rate and the audio is resampled.
        block_ms: callback block length (default 100 ms).
        max_queue_s: capture queue bound in seconds (default 30); older blocks are dropped.
        stall_s: error out when no block arrives for this long (default 5 s).
    """

    def __init__(self, device: str | int | None = None, sample_rate: int = 16000, *,
                 block_ms: float = 100.0, max_queue_s: float = 30.0, stall_s: float = 5.0) -> None:
        from audiokit.streaming.devices import import_sounddevice, resolve_input_device

        self.sd = import_sounddevice()
        self.device = resolve_input_device(self.sd, device)
        self.sample_rate = int(sample_rate)
        self.capture_rate = self._choose_rate()
        self.block = max(1, round(self.capture_rate * block_ms / 1000))
        self.block_seconds = self.block / self.capture_rate
        self.queue = BoundedBlocks(max(1, round(max_queue_s / self.block_seconds)))
        self.stall_s = stall_s
        self.status_errors = 0
        self.name = f"microphone {self.device} '{self.sd.query_devices(self.device)['name']}'"
        self._stream: Any = None
        self._closed = False

    @property
    def dropped_blocks(self) -> int:  # type: ignore[override]
        return self.queue.dropped

    def _choose_rate(self) -> int:
        try:
            self.sd.check_input_settings(device=self.device, channels=1, dtype="float32",
                                         samplerate=self.sample_rate)
            return self.sample_rate
        except Exception:  # noqa: BLE001 - PortAudio refuses the rate in many ways
            return int(self.sd.query_devices(self.device)["default_samplerate"])

    def _callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        if status:
            self.status_errors += 1
        self.queue.put(indata[:, 0].copy())

    def open(self) -> None:
        """Start capturing (done by the first iteration)."""
        if self._stream is not None:
            return
        try:
            self._stream = self.sd.InputStream(device=self.device, channels=1, dtype="float32",
                                               samplerate=self.capture_rate, blocksize=self.block,
                                               callback=self._callback)
            self._stream.start()
        except self.sd.PortAudioError as err:
            self._stream = None
            raise AudiokitError(f"{self.name}: cannot open for capture ({' '.join(str(err).split())})") from None

    def __iter__(self) -> Iterator[np.ndarray]:
        self.open()
        rs = Resampler(self.capture_rate, self.sample_rate)
        waited = 0.0
        while not self._closed:
            block = self.queue.get(timeout=0.2)
            if block is None:
                waited += 0.2
                if waited >= self.stall_s:
                    raise AudioError(f"{self.name}: no audio received for {self.stall_s:g} s "
                                     "(device stopped or muted?)")
                continue
            waited = 0.0
            out = rs(block)
            if out.size:
                yield out

    def close(self) -> None:
        """Stop capture. ``abort`` (not ``stop``): stop can hang on a silent source."""
        self._closed = True
        if self._stream is not None:
            try:
                self._stream.abort()
                self._stream.close()
            finally:
                self._stream = None
