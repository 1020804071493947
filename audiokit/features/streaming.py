"""Chunk-by-chunk features equal to the offline front-end, :class:`StreamingFrontend`.

Feed chunks of any size (even one sample) with :meth:`StreamingFrontend.push`; each
call returns the frames that became complete. :meth:`StreamingFrontend.flush` adds
the right edge padding, returns the last frames and starts a new stream.
Concatenating all outputs along time gives exactly ``MelFrontend(...)(whole_signal)``.

State carried between chunks:
    * the last prepared sample (signal pre-emphasis continues across chunks);
    * with reflect padding, the first ``L + 1`` samples are held back until the left
      reflection can be built; the last ``R + 1`` samples are kept for the right one;
    * the samples of the next, still incomplete frame(s).
Kaldi snip-edges (``padding="none"``) keeps only the incomplete frame; the tail that
never fills a frame is dropped at flush, as Kaldi does.

Not streamable (refused with ConfigError): per-feature normalisation, which needs the
whole utterance. Dither is never applied here (it is a training-time augmentation).
"""

from __future__ import annotations

import torch

from audiokit.errors import ConfigError
from audiokit.features.config import FrontendConfig
from audiokit.features.frontend import MelFrontend, check_reflect_length


class StreamingFrontend:
    """Stateful wrapper of a :class:`MelFrontend` for chunked input ``(B, t)``.

    Example::

        stream = StreamingFrontend("kaldi_fbank_80")
        for chunk in chunks:                  # (B, t) each
            feats = stream.push(chunk)        # (B, n_mels, f), f may be 0
        last = stream.flush()                 # (B, n_mels, f); stream is reset
    """

    def __init__(self, frontend: MelFrontend | FrontendConfig | str, **overrides) -> None:
        if not isinstance(frontend, MelFrontend):
            frontend = MelFrontend(frontend, **overrides)
        elif overrides:
            raise TypeError("overrides apply only when building the front-end from a config")
        if frontend.config.normalize is not None:
            raise ConfigError(
                f"front-end normalize={frontend.config.normalize!r} needs the whole utterance "
                "and cannot stream; use normalize=None"
            )
        self.frontend = frontend
        self.reset()

    @property
    def config(self) -> FrontendConfig:
        return self.frontend.config

    def reset(self) -> None:
        """Forget everything; the next push starts a new signal."""
        self._batch: int | None = None
        self._prev: torch.Tensor | None = None  # (B, 1) last raw (scaled) sample
        self._buf: torch.Tensor | None = None  # (B, n) samples from the next frame start
        self._started = False  # left padding already in _buf
        self._tail: torch.Tensor | None = None  # (B, <= R + 1) last prepared samples
        self._n_samples = 0

    # ------------------------------------------------------------------ public API
    @torch.inference_mode()
    def push(self, chunk: torch.Tensor) -> torch.Tensor:
        """Add ``(B, t)`` samples; return the frames now complete, ``(B, n_mels, f)``."""
        chunk = self._check_chunk(chunk)
        x = self._prepare(chunk)
        self._n_samples += x.shape[-1]
        self._remember_tail(x)
        self._buf = x if self._buf is None else torch.cat([self._buf, x], dim=1)
        if not self._started:
            self._try_start()
        if not self._started:
            return self._empty(x)
        return self._emit()

    @torch.inference_mode()
    def flush(self) -> torch.Tensor:
        """End the signal: add right padding, return the remaining frames, then reset.

        Returns ``(B, n_mels, f)``; ``(0, n_mels, 0)`` if nothing was pushed.

        Raises:
            AudioError: reflect padding and the whole signal was too short for it.
        """
        if self._buf is None:
            out = torch.zeros(0, self.config.n_mels, 0)
            self.reset()
            return out
        try:
            left, right = self.config.pad_amounts
            if self.config.pad_mode == "reflect" and (left or right):
                check_reflect_length(self._n_samples, max(left, right))
            if not self._started:
                self._try_start()
            if right:
                self._buf = torch.cat([self._buf, self._right_pad(right)], dim=1)
            return self._emit()
        finally:
            self.reset()

    # ------------------------------------------------------------------ internals
    def _check_chunk(self, chunk: torch.Tensor) -> torch.Tensor:
        if chunk.dim() == 1:
            chunk = chunk.unsqueeze(0)
        if chunk.dim() != 2:
            raise ValueError(f"expected a (B, t) chunk, got shape {tuple(chunk.shape)}")
        if self._batch is None:
            self._batch = chunk.shape[0]
        elif chunk.shape[0] != self._batch:
            raise ValueError(f"chunk batch {chunk.shape[0]} != stream batch {self._batch}")
        return chunk if chunk.is_floating_point() else chunk.float()

    def _prepare(self, chunk: torch.Tensor) -> torch.Tensor:
        """Scale + signal pre-emphasis, continuing from the previous chunk (no dither)."""
        scale = self.config.input_scale
        if chunk.shape[-1] == 0:
            return chunk * scale if scale != 1.0 else chunk
        x = self.frontend.prepare(chunk, self._prev, dither=False)
        last = chunk[:, -1:]
        self._prev = last * scale if scale != 1.0 else last
        return x

    def _remember_tail(self, x: torch.Tensor) -> None:
        keep = self.config.pad_amounts[1] + 1
        tail = x if self._tail is None else torch.cat([self._tail, x], dim=1)
        self._tail = tail[:, -keep:]

    def _try_start(self) -> None:
        """Prepend the left padding once enough samples are known."""
        left = self.config.pad_amounts[0]
        if left == 0:
            self._started = True
            return
        if self.config.pad_mode == "constant":
            pad = self._buf.new_zeros(self._buf.shape[0], left)
        else:
            if self._buf.shape[-1] <= left:
                return
            pad = self._buf[:, 1:left + 1].flip(-1)
        self._buf = torch.cat([pad, self._buf], dim=1)
        self._started = True

    def _right_pad(self, right: int) -> torch.Tensor:
        if self.config.pad_mode == "constant":
            return self._buf.new_zeros(self._buf.shape[0], right)
        return self._tail[:, -right - 1:-1].flip(-1)

    def _emit(self) -> torch.Tensor:
        """Analyse every complete frame in the buffer and drop the consumed samples."""
        fe = self.frontend
        frames = fe.frames(self._buf)
        n = frames.shape[1]
        if n == 0:
            return self._empty(self._buf)
        out = fe.analyze(frames)
        self._buf = self._buf[:, n * fe.hop_length:]
        return out

    def _empty(self, like: torch.Tensor) -> torch.Tensor:
        return like.new_zeros(like.shape[0], self.config.n_mels, 0)
