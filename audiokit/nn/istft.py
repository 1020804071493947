"""Inverse STFT with "same" or "center" padding, and the Vocos ISTFT head.

``torch.istft`` only supports ``center=True``; with "same" padding its NOLA check fails at
the edges. :class:`ISTFT` therefore does "same" itself: inverse real FFT per frame, Hann
window, overlap-add, trim ``(win - hop) // 2`` samples at each end, divide by the
overlap-added squared window. ``T`` frames give ``T * hop`` samples (when ``win - hop`` is
even). "center" defers to ``torch.istft`` and gives ``(T - 1) * hop`` samples.

Names follow Vocos checkpoints: ``head.out`` (Linear) and ``head.istft.window`` (buffer).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

PADDINGS = ("same", "center")


def overlap_add(frames: torch.Tensor, hop_length: int) -> torch.Tensor:
    """Overlap-add ``frames`` ``(B, W, T)`` with stride ``hop_length`` -> ``(B, (T - 1) * hop + W)``."""
    batch, win, n_frames = frames.shape
    length = (n_frames - 1) * hop_length + win
    out = F.fold(frames, output_size=(1, length), kernel_size=(1, win), stride=(1, hop_length))
    return out.reshape(batch, length)


class ISTFT(nn.Module):
    """Inverse STFT of a complex spectrogram ``(B, n_fft // 2 + 1, T)`` -> ``(B, L)``.

    ``padding="same"``: ``L = (T - 1) * hop + win - 2 * ((win - hop) // 2)``;
    ``padding="center"``: ``L = (T - 1) * hop`` (``torch.istft``). Periodic Hann window.
    """

    def __init__(self, n_fft: int, hop_length: int, win_length: int | None = None, padding: str = "same") -> None:
        super().__init__()
        if padding not in PADDINGS:
            raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")
        win_length = n_fft if win_length is None else win_length
        if padding == "same" and win_length != n_fft:
            raise ValueError("'same' padding needs win_length == n_fft")
        if padding == "same" and win_length - hop_length < 2:
            raise ValueError("'same' padding needs win_length >= hop_length + 2")
        self.n_fft, self.hop_length, self.win_length, self.padding = n_fft, hop_length, win_length, padding
        self.register_buffer("window", torch.hann_window(win_length))

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        """``(B, n_fft // 2 + 1, T)`` complex -> ``(B, L)`` real."""
        if self.padding == "center":
            return torch.istft(spec, self.n_fft, self.hop_length, self.win_length, self.window, center=True)
        if spec.dim() != 3:
            raise ValueError(f"expected a (B, F, T) spectrogram, got shape {tuple(spec.shape)}")
        n_frames = spec.shape[-1]
        frames = torch.fft.irfft(spec, self.n_fft, dim=1, norm="backward") * self.window[None, :, None]
        signal = overlap_add(frames, self.hop_length)
        window_sq = self.window.square()[None, :, None].expand(1, -1, n_frames)
        envelope = overlap_add(window_sq, self.hop_length)[0]
        trim = (self.win_length - self.hop_length) // 2
        signal, envelope = signal[:, trim:-trim], envelope[trim:-trim]
        if not bool((envelope > 1e-11).all()):
            raise ValueError("window overlap-add envelope vanishes; hop_length too large for the window")
        return signal / envelope


class ISTFTHead(nn.Module):
    """Predicts an STFT from backbone features and inverts it: ``(B, T, dim) -> (B, L)``.

    ``out`` = Linear(dim -> n_fft + 2) gives log-magnitude and phase halves;
    magnitude = ``exp(.)`` clipped at 100; ``S = mag * (cos p + i sin p)``; then :class:`ISTFT`.
    """

    def __init__(self, dim: int, n_fft: int, hop_length: int, padding: str = "same") -> None:
        super().__init__()
        self.out = nn.Linear(dim, n_fft + 2)
        self.istft = ISTFT(n_fft, hop_length, n_fft, padding)

    def spectrogram(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T, dim)`` features -> complex spectrogram ``(B, n_fft // 2 + 1, T)``."""
        log_mag, phase = self.out(x).transpose(1, 2).chunk(2, dim=1)
        mag = torch.exp(log_mag).clamp(max=1e2)
        return torch.complex(mag * torch.cos(phase), mag * torch.sin(phase))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T, dim) -> (B, L)``; L = T * hop for "same", (T - 1) * hop for "center"."""
        return self.istft(self.spectrogram(x))
