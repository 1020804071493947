"""Log-mel reconstruction losses.

* :class:`LogMelSpectrogram`: one configurable log-mel (:class:`MelConfig`) covering both
  conventions the codecs train with:

  - vocos / Language-Codec / WavTokenizer: torchaudio ``MelSpectrogram`` maths (periodic
    Hann, ``center=True`` reflect padding, magnitude ``|S|``, HTK mel scale, no filter
    normalisation), ``log(clamp(mel, 1e-7))``. This is the shared front-end's maths, so
    it is computed by :class:`audiokit.features.MelFrontend` (preset ``vocos_mel_24k``
    is the 24 kHz case);
  - HiFi-GAN / HiFi-Codec: reflect-pad ``(n_fft - hop) // 2`` each side, ``center=False``,
    magnitude ``sqrt(re^2 + im^2 + 1e-9)``, librosa Slaney mel filters,
    ``log(clamp(mel, 1e-5))`` (``MelConfig.hifigan(...)``). The ``1e-9`` inside the
    square root (which keeps the gradient finite at silent bins) is not a front-end
    option, so this convention keeps its own STFT here.

* :class:`MelSpecReconstructionLoss`: vocos 0.1.0's ``L1(log mel(y), log mel(y_hat))``.
* :class:`MultiResolutionMelLoss`: weighted sum of L1 log-mel distances at several
  resolutions; :func:`hificodec_mel_loss` builds HiFi-Codec's ``45 * mel_main + mel_512 +
  mel_256``.

Filter banks and windows are non-persistent buffers: losses add no state-dict keys.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class MelConfig:
    """One log-mel resolution.

    padding: "center" (reflect ``n_fft // 2``, torch.stft ``center=True``), "hifigan"
    (reflect ``(n_fft - hop) // 2`` then ``center=False``) or "none".
    mel_scale: "htk" or "slaney"; norm: None or "slaney" (librosa's default is both slaney).
    mag_eps: added to ``re^2 + im^2`` before the power (HiFi-GAN: 1e-9).
    """

    sample_rate: int = 24000
    n_fft: int = 1024
    hop_length: int = 256
    win_length: int | None = None
    n_mels: int = 100
    f_min: float = 0.0
    f_max: float | None = None
    mel_scale: str = "htk"
    norm: str | None = None
    padding: str = "center"
    power: float = 1.0
    mag_eps: float = 0.0
    log_floor: float = 1e-7

    @classmethod
    def hifigan(
        cls,
        sample_rate: int,
        n_fft: int,
        hop_length: int,
        win_length: int | None = None,
        n_mels: int = 80,
        f_min: float = 0.0,
        f_max: float | None = None,
    ) -> MelConfig:
        """HiFi-GAN ``mel_spectrogram`` conventions (used by HiFi-Codec's losses)."""
        return cls(
            sample_rate, n_fft, hop_length, win_length, n_mels, f_min, f_max,
            mel_scale="slaney", norm="slaney", padding="hifigan", power=1.0,
            mag_eps=1e-9, log_floor=1e-5,
        )


class LogMelSpectrogram(nn.Module):
    """``(B, T)`` or ``(B, 1, T)`` audio -> log-mel ``(B, n_mels, frames)``.

    Frames: center: ``T // hop + 1``; hifigan: ``(T + 2*((n_fft-hop)//2) - n_fft) // hop + 1``.
    Configs the shared front-end computes (no ``mag_eps``, padding "center" or "none") run
    through :class:`~audiokit.features.MelFrontend` (``self.frontend``); the others here.
    """

    def __init__(self, config: MelConfig) -> None:
        super().__init__()
        if config.padding not in ("center", "hifigan", "none"):
            raise ValueError(f"unknown mel padding {config.padding!r}")
        self.config = config
        self.frontend = _frontend(config)
        if self.frontend is not None:
            return
        import torchaudio.functional as AF

        win = config.win_length or config.n_fft
        self.register_buffer("window", torch.hann_window(win), persistent=False)
        with warnings.catch_warnings():  # small n_fft with many mels: empty filters, as upstream
            warnings.filterwarnings("ignore", message=".*filterbank has all zero values.*")
            fb = AF.melscale_fbanks(
                config.n_fft // 2 + 1, config.f_min, config.f_max or config.sample_rate / 2,
                config.n_mels, config.sample_rate, config.norm, config.mel_scale,
            )
        self.register_buffer("fb", fb, persistent=False)  # (n_freqs, n_mels)

    def magnitude(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` -> ``(|STFT|**2 + mag_eps) ** (power / 2)`` ``(B, n_fft/2+1, frames)`` (own-STFT configs)."""
        c = self.config
        if c.padding == "hifigan":
            p = (c.n_fft - c.hop_length) // 2
            x = F.pad(x.unsqueeze(1), (p, p), mode="reflect").squeeze(1)
        spec = torch.stft(
            x, c.n_fft, c.hop_length, self.window.shape[0], self.window,
            center=c.padding == "center", pad_mode="reflect", return_complex=True,
        )
        if c.mag_eps == 0.0 and c.power == 1.0:
            return spec.abs()
        return (spec.real.pow(2) + spec.imag.pow(2) + c.mag_eps).pow(c.power / 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 3:
            x = x.squeeze(1)
        if self.frontend is not None:
            return self.frontend(x)
        mel = torch.matmul(self.magnitude(x).transpose(-1, -2), self.fb).transpose(-1, -2)
        return torch.log(torch.clamp(mel, min=self.config.log_floor))


def _frontend(config: MelConfig) -> nn.Module | None:
    """The :class:`~audiokit.features.MelFrontend` computing ``config``, or ``None`` when its maths differ."""
    if config.mag_eps != 0.0 or config.padding == "hifigan":
        return None
    from audiokit.features import FrontendConfig, MelFrontend

    return MelFrontend(FrontendConfig(
        sample_rate=config.sample_rate, n_fft=config.n_fft, win_length=config.win_length,
        hop_length=config.hop_length, n_mels=config.n_mels, f_min=config.f_min, f_max=config.f_max,
        window="hann", periodic_window=True, framing="stft", padding=config.padding, pad_mode="reflect",
        power=config.power, mel_scale=config.mel_scale, mel_norm=config.norm, log="clamp",
        log_floor=config.log_floor,
    ))


class MultiResolutionMelLoss(nn.Module):
    """``sum_i weights[i] * L1(logmel_i(y), logmel_i(y_hat))``.

    Args:
        configs: one :class:`MelConfig` per resolution.
        weights: one weight per resolution (default all 1).
    """

    def __init__(self, configs: Sequence[MelConfig], weights: Sequence[float] | None = None) -> None:
        super().__init__()
        if not configs:
            raise ValueError("MultiResolutionMelLoss needs at least one resolution")
        weights = [1.0] * len(configs) if weights is None else list(weights)
        if len(weights) != len(configs):
            raise ValueError(f"{len(weights)} weights for {len(configs)} mel resolutions")
        self.mels = nn.ModuleList([LogMelSpectrogram(c) for c in configs])
        self.weights = weights

    def terms(self, y_hat: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
        """Unweighted L1 distance per resolution."""
        return [F.l1_loss(m(y_hat), m(y)) for m in self.mels]

    def forward(self, y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """y_hat, y: ``(B, T)`` or ``(B, 1, T)`` -> 0-d loss."""
        return sum(w * t for w, t in zip(self.weights, self.terms(y_hat, y)))


class MelSpecReconstructionLoss(MultiResolutionMelLoss):
    """vocos mel loss: L1 on ``log(clamp(mel, 1e-7))`` of torchaudio's HTK mel, power 1."""

    def __init__(
        self, sample_rate: int = 24000, n_fft: int = 1024, hop_length: int = 256, n_mels: int = 100
    ) -> None:
        super().__init__([MelConfig(sample_rate, n_fft, hop_length, n_mels=n_mels)])


def hificodec_mel_loss(
    sample_rate: int,
    n_fft: int = 1024,
    hop_length: int = 240,
    win_length: int = 1024,
    n_mels: int = 80,
    f_min: float = 0.0,
    f_max: float | None = None,
) -> MultiResolutionMelLoss:
    """HiFi-Codec's mel objective: ``45 * L1(mel n_fft/hop/win) + L1(mel 512/120) +
    L1(mel 256/60)``, all with HiFi-GAN conventions (80 Slaney mels, full band)."""
    main = MelConfig.hifigan(sample_rate, n_fft, hop_length, win_length, n_mels, f_min, f_max)
    extra = [replace(main, n_fft=n, hop_length=h, win_length=n) for n, h in ((512, 120), (256, 60))]
    return MultiResolutionMelLoss([main, *extra], weights=[45.0, 1.0, 1.0])
