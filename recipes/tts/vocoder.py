"""Vocoders for the TTS recipe: Griffin-Lim from the F5 log-mel (no training, no download), or a
released Vocos mel-24 kHz folder (``config.yaml`` + ``pytorch_model.bin``) when one is at hand.

Griffin-Lim: ``exp(log-mel)`` -> linear magnitude by least squares through the mel filterbank
(pseudo-inverse, clamped at 0) -> Griffin-Lim phase reconstruction (fast variant with momentum
0.99, Perraudin et al. 2013) with the same STFT as the front-end (n_fft 1024, the model's hop,
periodic Hann, centred). It is a classical, untrained baseline vocoder: intelligible but buzzy, so the
recipe also scores real test audio passed through it ("copy synthesis") as the vocoder ceiling.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from audiokit.models.tts.f5tts import F5TTS


class GriffinLimVocoder:
    """F5 log-mel ``(B, n_mels, T)`` -> waveform ``(B, (T - 1) * hop)``."""

    def __init__(self, sample_rate: int = 24000, n_fft: int = 1024, hop_length: int = 256, n_mels: int = 100,
                 n_iter: int = 32, momentum: float = 0.99, seed: int = 0) -> None:
        from audiokit.features.config import get_preset
        from audiokit.features.filterbanks import make_mel_filterbank, make_window

        cfg = get_preset("vocos_mel_24k", sample_rate=sample_rate, n_fft=n_fft, win_length=n_fft,
                         hop_length=hop_length, n_mels=n_mels)
        self.fb_pinv = torch.linalg.pinv(make_mel_filterbank(cfg).double()).float()  # (n_mels, n_fft//2+1)
        self.window = make_window(cfg)
        self.sample_rate, self.n_fft, self.hop_length = sample_rate, n_fft, hop_length
        self.n_iter, self.momentum, self.seed = int(n_iter), float(momentum), int(seed)

    def _stft(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stft(x, self.n_fft, self.hop_length, window=self.window, center=True,
                          pad_mode="reflect", return_complex=True)

    def _istft(self, spec: torch.Tensor, length: int) -> torch.Tensor:
        return torch.istft(spec, self.n_fft, self.hop_length, window=self.window, center=True, length=length)

    @torch.inference_mode()
    def __call__(self, mel: torch.Tensor) -> torch.Tensor:
        mag = (mel.float().exp().transpose(1, 2) @ self.fb_pinv).clamp(min=0).transpose(1, 2)  # (B, F, T)
        length = (mag.shape[-1] - 1) * self.hop_length
        gen = torch.Generator().manual_seed(self.seed)
        phase = torch.exp(2j * torch.pi * torch.rand(mag.shape, generator=gen))
        prev = torch.zeros_like(phase)
        spec = mag * phase
        for _ in range(self.n_iter):
            rebuilt = self._stft(self._istft(spec, length))[..., : mag.shape[-1]]
            accel = rebuilt - self.momentum / (1 + self.momentum) * prev
            prev = rebuilt
            spec = mag * accel / accel.abs().clamp(min=1e-8)
        return self._istft(spec, length)


def load_vocoder(name: str, model: F5TTS, *, n_iter: int = 32) -> Callable[[torch.Tensor], torch.Tensor]:
    """``"griffinlim"`` or the path of a Vocos mel folder -> ``mel (B, C, T) -> wav (B, L)`` for ``model``'s
    mel (its rate, hop and channels; a Vocos folder whose settings differ is refused)."""
    if name == "griffinlim":
        return GriffinLimVocoder(model.sample_rate, 1024, model.hop_length, model.mel_dim, n_iter)
    from audiokit.models.tts.bundle import check_compatible
    from audiokit.models.tts.bundle import load_vocoder as load_vocos

    vocos = load_vocos(name).eval()
    check_compatible(model, vocos, name)
    return vocos.decode
