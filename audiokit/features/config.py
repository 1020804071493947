"""Front-end configuration and named presets (no torch import here).

One dataclass, :class:`FrontendConfig`, describes every log-mel / fbank front-end
audiokit uses; :data:`PRESETS` names the ones that match published models.

Pipeline (each step optional, in this order)::

    wav (B, T) * input_scale
      -> dither (training mode only)            x += dither * N(0, 1)
      -> signal pre-emphasis                    y[0] = x[0], y[t] = x[t] - a x[t-1]
      -> edge padding (padding, pad_mode)       L samples left, R right
      -> frames of N samples every hop_length
      -> per frame: DC removal, Kaldi pre-emphasis, window, |rfft(n_fft)| ** power
      -> mel filterbank -> log -> (optional) per-feature normalisation
    -> (B, n_mels, F)

Framing (``framing``):
    ``"stft"``  N = n_fft; a ``win_length`` window is centred inside the frame
                (torch.stft convention).
    ``"kaldi"`` N = win_length; the windowed frame is zero-padded on the right to n_fft
                (Kaldi's padded window).

Padding and frame count (``padding``), with T samples and hop h:
    ``"center"`` L = R = n_fft // 2                F = T // h + 1
    ``"same"``   L = R = (win_length - h) // 2     F = (T + 2 L - N) // h + 1
                 (vocos; for win_length = n_fft = 4 h this is T // h)
    ``"none"``   L = R = 0 (Kaldi snip-edges)      F = (T - N) // h + 1, 0 if T < N
``pad_mode`` "reflect" needs T > L and T > R samples; "constant" pads with zeros.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from audiokit.errors import ConfigError

WINDOWS = ("hann", "hamming", "povey", "rectangular")
FRAMINGS = ("stft", "kaldi")
PADDINGS = ("center", "same", "none")
PAD_MODES = ("reflect", "constant")
MEL_SCALES = ("htk", "slaney", "kaldi")
LOG_MODES = ("clamp", "add", "none")
NORMALIZE = (None, "per_feature")

#: float32 machine epsilon, Kaldi's floor for log mel energies
FLOAT32_EPS = 1.1920928955078125e-07


@dataclass(frozen=True)
class FrontendConfig:
    """Every knob of :class:`audiokit.features.MelFrontend`; see the module docstring."""

    sample_rate: int = 16000
    n_fft: int = 512
    win_length: int | None = None  # None: n_fft
    hop_length: int = 160
    n_mels: int = 80
    f_min: float = 0.0
    f_max: float | None = None  # None: sample_rate / 2
    window: str = "hann"
    periodic_window: bool = True  # torch.hann_window(periodic=...); Kaldi/NeMo use False
    framing: str = "stft"
    padding: str = "center"
    pad_mode: str = "reflect"
    input_scale: float = 1.0  # Kaldi works on int16-scaled samples: 32768
    dither: float = 0.0  # stddev of Gaussian noise added in training mode only
    preemphasis: float = 0.0
    preemphasis_per_frame: bool = False  # Kaldi: inside each frame, first sample x0 - a x0
    remove_dc_offset: bool = False  # Kaldi: subtract each frame's mean
    power: float = 1.0  # 1: magnitude, 2: power spectrum
    mel_scale: str = "htk"
    mel_norm: str | None = None  # None or "slaney" (area normalisation)
    log: str = "clamp"  # clamp: log(max(x, floor)); add: log(x + floor); none
    log_floor: float = 1e-7
    normalize: str | None = None  # "per_feature": mean/std over time per mel bin (offline)

    def __post_init__(self) -> None:
        choices = {
            "window": WINDOWS, "framing": FRAMINGS, "padding": PADDINGS,
            "pad_mode": PAD_MODES, "mel_scale": MEL_SCALES, "log": LOG_MODES,
            "normalize": NORMALIZE, "mel_norm": (None, "slaney"),
        }
        for name, allowed in choices.items():
            value = getattr(self, name)
            if value not in allowed:
                raise ConfigError(f"front-end {name}={value!r}: expected one of {list(allowed)}")
        for name in ("sample_rate", "n_fft", "hop_length", "n_mels"):
            if int(getattr(self, name)) <= 0:
                raise ConfigError(f"front-end {name} must be positive, got {getattr(self, name)}")
        if not 0 < self.frame_window <= self.n_fft:
            raise ConfigError(f"front-end win_length={self.win_length} must be in 1..n_fft={self.n_fft}")
        if not 0 <= self.f_min < self.mel_f_max:
            raise ConfigError(f"front-end f_min={self.f_min} must be in [0, f_max={self.mel_f_max})")
        if self.mel_f_max > self.sample_rate / 2:
            raise ConfigError(f"front-end f_max={self.f_max} above Nyquist ({self.sample_rate / 2})")
        if min(self.pad_amounts) < 0:
            raise ConfigError("front-end padding 'same' needs win_length >= hop_length")

    # ------------------------------------------------------------------ derived values
    @property
    def frame_window(self) -> int:
        """Window length in samples (``win_length`` or ``n_fft``)."""
        return int(self.win_length or self.n_fft)

    @property
    def frame_length(self) -> int:
        """Samples per analysis frame N (n_fft for stft framing, win_length for kaldi)."""
        return self.n_fft if self.framing == "stft" else self.frame_window

    @property
    def mel_f_max(self) -> float:
        """Upper edge of the mel filterbank in Hz."""
        return float(self.f_max) if self.f_max is not None else self.sample_rate / 2

    @property
    def pad_amounts(self) -> tuple[int, int]:
        """(left, right) samples of edge padding."""
        if self.padding == "center":
            return self.n_fft // 2, self.n_fft // 2
        if self.padding == "same":
            pad = (self.frame_window - self.hop_length) // 2
            return pad, pad
        return 0, 0

    @property
    def frame_rate(self) -> float:
        """Frames per second."""
        return self.sample_rate / self.hop_length

    def num_frames(self, n_samples: int) -> int:
        """Frames produced for ``n_samples`` input samples (see the module docstring)."""
        left, right = self.pad_amounts
        total = int(n_samples) + left + right
        if total < self.frame_length:
            return 0
        return (total - self.frame_length) // self.hop_length + 1

    def replace(self, **changes) -> FrontendConfig:
        """A copy with some fields changed (validated again)."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ConfigError(f"unknown front-end option(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **changes)


#: named front-ends of published models
PRESETS: dict[str, FrontendConfig] = {
    # vocos 0.1.0 MelSpectrogramFeatures (charactr/vocos-mel-24khz): torchaudio
    # MelSpectrogram(power=1, htk, no norm) then safe_log = log(clip(x, 1e-7)).
    "vocos_mel_24k": FrontendConfig(
        sample_rate=24000, n_fft=1024, win_length=1024, hop_length=256, n_mels=100,
        window="hann", periodic_window=True, framing="stft", padding="center",
        pad_mode="reflect", power=1.0, mel_scale="htk", mel_norm=None,
        log="clamp", log_floor=1e-7,
    ),
    # NeMo AudioToMelSpectrogramPreprocessor (FastConformer 80-bin): pre-emphasis on the
    # signal, centred zero-padded STFT, symmetric hann 400 in n_fft 512, power 2, librosa
    # slaney mel, log(x + 2**-24). Dither 1e-5 in training only; normalisation off
    # (cache-aware streaming models use none; set normalize="per_feature" for offline ones).
    "nemo_mel_80": FrontendConfig(
        sample_rate=16000, n_fft=512, win_length=400, hop_length=160, n_mels=80,
        window="hann", periodic_window=False, framing="stft", padding="center",
        pad_mode="constant", dither=1e-5, preemphasis=0.97, power=2.0,
        mel_scale="slaney", mel_norm="slaney", log="add", log_floor=2.0 ** -24,
    ),
    # Kaldi compute-fbank-feats (= torchaudio.compliance.kaldi.fbank defaults, 80 bins):
    # 25 ms povey window, 10 ms shift, snip-edges, DC removal, per-frame pre-emphasis,
    # padded to 512, power spectrum, Kaldi mel banks from 20 Hz, log(max(x, eps)).
    # Input in [-1, 1] is scaled by 32768 like Kaldi's int16 samples; dither 0.
    "kaldi_fbank_80": FrontendConfig(
        sample_rate=16000, n_fft=512, win_length=400, hop_length=160, n_mels=80,
        f_min=20.0, window="povey", periodic_window=False, framing="kaldi",
        padding="none", input_scale=32768.0, preemphasis=0.97,
        preemphasis_per_frame=True, remove_dc_offset=True, power=2.0,
        mel_scale="kaldi", log="clamp", log_floor=FLOAT32_EPS,
    ),
}


def get_preset(name: str, **overrides) -> FrontendConfig:
    """The preset ``name``, optionally with some fields changed.

    Raises :class:`ConfigError` for an unknown name or option.
    """
    if name not in PRESETS:
        raise ConfigError(f"unknown front-end preset {name!r}; known: {', '.join(sorted(PRESETS))}")
    cfg = PRESETS[name]
    return cfg.replace(**overrides) if overrides else cfg
