"""The configurable log-mel / fbank front-end, :class:`MelFrontend`.

The offline path and :class:`audiokit.features.StreamingFrontend` share the same
steps (:meth:`MelFrontend.prepare`, :meth:`MelFrontend.analyze`), so streaming
output equals offline output frame for frame. See :mod:`audiokit.features.config`
for the pipeline and the frame-count rule of each padding mode.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from audiokit.errors import AudioError
from audiokit.features.config import FrontendConfig, get_preset
from audiokit.features.filterbanks import make_mel_filterbank, make_window

#: NeMo's std guard for per-feature normalisation
_NORM_EPS = 1e-5


def preemphasize(x: torch.Tensor, coeff: float, prev: torch.Tensor | None = None) -> torch.Tensor:
    """Signal pre-emphasis ``y[t] = x[t] - coeff * x[t-1]``.

    Args:
        x: ``(B, T)`` samples.
        coeff: the coefficient (0.97 typically).
        prev: ``(B, 1)`` sample preceding ``x`` (streaming); None at the start of a
            signal, where ``y[0] = x[0]`` (NeMo's convention).

    Returns:
        ``(B, T)``.
    """
    if prev is None:
        return torch.cat([x[:, :1], x[:, 1:] - coeff * x[:, :-1]], dim=1)
    return x - coeff * torch.cat([prev, x[:, :-1]], dim=1)


class MelFrontend(torch.nn.Module):
    """Waveform ``(B, T)`` -> log-mel features ``(B, n_mels, F)``.

    Build from a :class:`FrontendConfig` or a preset name, with optional overrides::

        fe = MelFrontend("vocos_mel_24k")
        fe = MelFrontend("vocos_mel_24k", padding="same")

    The window and filterbank are non-persistent buffers (not in ``state_dict``).
    Dither is applied only in training mode. A 1-D input ``(T,)`` gives ``(n_mels, F)``.
    """

    def __init__(self, config: FrontendConfig | str = "nemo_mel_80", **overrides) -> None:
        super().__init__()
        if isinstance(config, str):
            config = get_preset(config, **overrides)
        elif overrides:
            config = config.replace(**overrides)
        self.config = config
        self.register_buffer("window", make_window(config), persistent=False)
        self.register_buffer("mel_fb", make_mel_filterbank(config), persistent=False)

    # ------------------------------------------------------------------ properties
    @property
    def n_mels(self) -> int:
        return self.config.n_mels

    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    @property
    def hop_length(self) -> int:
        return self.config.hop_length

    def num_frames(self, n_samples: int) -> int:
        """Frames produced for ``n_samples`` samples."""
        return self.config.num_frames(n_samples)

    def frame_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """Valid frames per item for sample ``lengths`` ``(B,)`` -> ``(B,)`` long."""
        left, right = self.config.pad_amounts
        total = lengths.long() + left + right
        n = torch.div(total - self.config.frame_length, self.hop_length, rounding_mode="floor") + 1
        return n.clamp(min=0)

    # ------------------------------------------------------------------ steps
    def prepare(
        self, wav: torch.Tensor, prev: torch.Tensor | None = None, *, dither: bool = True
    ) -> torch.Tensor:
        """Scale, dither (training mode only) and signal pre-emphasis; ``(B, T)`` -> ``(B, T)``.

        ``prev`` ``(B, 1)`` is the scaled sample before ``wav`` when streaming;
        ``dither=False`` disables dither even in training mode.
        """
        cfg = self.config
        x = wav * cfg.input_scale if cfg.input_scale != 1.0 else wav
        if dither and self.training and cfg.dither > 0:
            x = x + cfg.dither * torch.randn_like(x)
        if cfg.preemphasis and not cfg.preemphasis_per_frame:
            x = preemphasize(x, cfg.preemphasis, prev)
        return x

    def pad_edges(self, x: torch.Tensor) -> torch.Tensor:
        """Edge padding of a whole prepared signal ``(B, T)`` -> ``(B, L + T + R)``."""
        left, right = self.config.pad_amounts
        if left == 0 and right == 0:
            return x
        if self.config.pad_mode == "reflect":
            check_reflect_length(x.shape[-1], max(left, right))
            return F.pad(x.unsqueeze(1), (left, right), mode="reflect").squeeze(1)
        return F.pad(x, (left, right))

    def frames(self, x: torch.Tensor) -> torch.Tensor:
        """Cut a padded signal ``(B, T')`` into frames ``(B, F, N)`` (a view)."""
        n = self.config.frame_length
        if x.shape[-1] < n:
            return x.new_zeros(x.shape[0], 0, n)
        return x.unfold(-1, n, self.hop_length)

    def analyze(self, frames: torch.Tensor) -> torch.Tensor:
        """Frames ``(B, F, N)`` -> log-mel ``(B, n_mels, F)`` (no normalisation)."""
        cfg = self.config
        with torch.autocast(device_type=frames.device.type, enabled=False):
            x = frames.float() if frames.dtype not in (torch.float32, torch.float64) else frames
            if x.shape[1] == 0:  # FFT back-ends reject empty batches
                return x.new_zeros(x.shape[0], cfg.n_mels, 0)
            if cfg.remove_dc_offset:
                x = x - x.mean(dim=-1, keepdim=True)
            if cfg.preemphasis and cfg.preemphasis_per_frame:
                x = x - cfg.preemphasis * torch.cat([x[..., :1], x[..., :-1]], dim=-1)
            x = x * self._window_for(x)
            spec = torch.fft.rfft(x, n=cfg.n_fft, dim=-1).abs()  # (B, F, n_fft // 2 + 1)
            if cfg.power != 1.0:
                spec = spec.pow(cfg.power)
            mel = torch.matmul(spec, self.mel_fb.to(spec.dtype)).transpose(1, 2)
            if cfg.log == "clamp":
                mel = torch.log(torch.clamp(mel, min=cfg.log_floor))
            elif cfg.log == "add":
                mel = torch.log(mel + cfg.log_floor)
        return mel

    def _window_for(self, x: torch.Tensor) -> torch.Tensor:
        """The window in ``x``'s dtype; float64 input gets a float64-exact window."""
        if x.dtype == torch.float64 and self.window.dtype != torch.float64:
            return make_window(self.config, torch.float64).to(x.device)
        return self.window.to(x.dtype)

    def normalize(self, feats: torch.Tensor, n_frames: torch.Tensor | None = None) -> torch.Tensor:
        """Per-feature normalisation over valid frames (NeMo ``per_feature``).

        ``feats`` ``(B, n_mels, F)``; ``n_frames`` ``(B,)`` valid frames (all if None).
        Mean and unbiased std (+1e-5) per bin; frames beyond ``n_frames`` become 0.
        """
        b, _, f = feats.shape
        if n_frames is None:
            n_frames = torch.full((b,), f, dtype=torch.long, device=feats.device)
        valid = (torch.arange(f, device=feats.device)[None, :] < n_frames[:, None])[:, None, :]
        count = n_frames.to(feats.dtype)[:, None, None]
        mean = (feats * valid).sum(-1, keepdim=True) / count.clamp(min=1)
        var = (((feats - mean) * valid) ** 2).sum(-1, keepdim=True) / (count - 1).clamp(min=1)
        out = (feats - mean) / (var.sqrt() + _NORM_EPS)
        return out.masked_fill(~valid, 0.0)

    # ------------------------------------------------------------------ forward
    def forward(self, wav: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Waveform ``(B, T)`` (or ``(T,)``) in [-1, 1] -> features ``(B, n_mels, F)``.

        ``F = config.num_frames(T)``. ``lengths`` ``(B,)`` (samples) only matters for
        per-feature normalisation, which then uses each item's valid frames.

        Raises:
            AudioError: ``pad_mode="reflect"`` and the signal is too short to reflect.
        """
        squeeze = wav.dim() == 1
        if squeeze:
            wav = wav.unsqueeze(0)
        if wav.dim() != 2:
            raise ValueError(f"expected (B, T) or (T,) audio, got shape {tuple(wav.shape)}")
        if not wav.is_floating_point():
            wav = wav.float()
        x = self.pad_edges(self.prepare(wav))
        feats = self.analyze(self.frames(x))
        if self.config.normalize == "per_feature":
            n_frames = self.frame_lengths(lengths) if lengths is not None else None
            feats = self.normalize(feats, n_frames)
        return feats.squeeze(0) if squeeze else feats


def check_reflect_length(n_samples: int, pad: int) -> None:
    """Refuse a signal too short for ``pad`` samples of reflect padding."""
    if n_samples <= pad:
        raise AudioError(
            f"audio too short for this front-end: {n_samples} samples, reflect padding "
            f"needs more than {pad}"
        )
