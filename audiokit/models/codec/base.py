"""The contract every codec fulfils, so that any tool handling codes handles every codec.

A codec maps mono audio at ``sample_rate`` to integer codes at ``frame_rate`` and back::

    codes = codec.encode(wav)      # (B, 1, T) float -> (B, n_q, F) long
    wav = codec.decode(codes)      # (B, n_q, F) long -> (B, 1, F * hop_length) float

Subclasses implement :meth:`_encode`, :meth:`_decode` and :meth:`num_frames`, and set the
attributes in ``__init__``. They also keep ``self.init_args`` (the keyword arguments they were
built with) so that the audiokit checkpoint format can rebuild them.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import torch
from torch import nn


class Codec(nn.Module):
    """Base class of audiokit's neural audio codecs.

    Attributes:
        name: short codec family name written into ``.akc`` headers (e.g. ``"wavtokenizer"``).
        sample_rate: audio rate in Hz (input and output).
        hop_length: samples per code frame.
        n_codebooks: codebooks used by :meth:`encode` by default.
        codebook_size: entries per codebook.
    """

    name: str = "codec"
    sample_rate: int
    hop_length: int
    n_codebooks: int
    codebook_size: int
    init_args: dict[str, Any]

    @property
    def frame_rate(self) -> float:
        """Code frames per second."""
        return self.sample_rate / self.hop_length

    def num_frames(self, n_samples: int) -> int:
        """Number of code frames :meth:`encode` gives for ``n_samples`` of audio."""
        raise NotImplementedError

    def config_hash(self) -> str:
        """Hash of the class and constructor arguments (identifies a configuration)."""
        blob = json.dumps({"class": f"{type(self).__module__}.{type(self).__qualname__}",
                           "init_args": self.init_args}, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def fingerprint(self) -> str:
        """A 16-hex-digit hash of :meth:`config_hash` and the weights (written into ``.akc``).

        Cached; the cache is dropped when any tensor is replaced or modified in place, so a
        codec trained further gets a new fingerprint.
        """
        key = tuple((k, t.data_ptr(), t._version) for k, t in self.state_dict().items())
        cached = self.__dict__.get("_fingerprint_cache")
        if cached is not None and cached[0] == key:
            return cached[1]
        h = hashlib.sha256(self.config_hash().encode())
        for name, t in sorted(self.state_dict().items()):
            t = t.detach().cpu().contiguous()
            h.update(f"{name}|{t.dtype}|{tuple(t.shape)}".encode())
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
        value = h.hexdigest()[:16]
        self.__dict__["_fingerprint_cache"] = (key, value)
        return value

    def _encode(self, wav: torch.Tensor, n_q: int) -> torch.Tensor:
        raise NotImplementedError

    def _decode(self, codes: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @torch.inference_mode()
    def encode(self, wav: torch.Tensor, n_q: int | None = None) -> torch.Tensor:
        """Encode audio.

        Args:
            wav: ``(B, 1, T)`` float audio at :attr:`sample_rate`.
            n_q: number of codebooks (default :attr:`n_codebooks`), where the codec supports fewer.
        Returns:
            ``(B, n_q, F)`` long codes with ``F == num_frames(T)``.
        """
        if wav.dim() != 3 or wav.shape[1] != 1:
            raise ValueError(f"expected wav of shape (B, 1, T), got {tuple(wav.shape)}")
        n_q = self.n_codebooks if n_q is None else n_q
        if not 1 <= n_q <= self.n_codebooks:
            raise ValueError(f"n_q must be in [1, {self.n_codebooks}], got {n_q}")
        return self._encode(wav, n_q)

    @torch.inference_mode()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Decode codes.

        Args:
            codes: ``(B, n_q, F)`` integer codes, ``0 <= code < codebook_size``.
        Returns:
            ``(B, 1, F * hop_length)`` float audio.
        """
        if codes.dim() != 3:
            raise ValueError(f"expected codes of shape (B, n_q, F), got {tuple(codes.shape)}")
        if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= self.codebook_size):
            raise ValueError(f"codebook index out of range [0, {self.codebook_size})")
        if not 1 <= codes.shape[1] <= self.n_codebooks:
            raise ValueError(f"codes have {codes.shape[1]} codebooks; this codec has {self.n_codebooks}")
        return self._decode(codes.long())
