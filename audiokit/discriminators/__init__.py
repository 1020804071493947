"""GAN discriminators and their losses (training only).

Discriminators (all return ``(logits, fmaps)`` per signal via ``score`` and a
:class:`DiscriminatorOutput` for ``forward(y, y_hat, cond_id=None)``):

=============================== ====================================================
:class:`MultiPeriodDiscriminator` HiFi-GAN / vocos MPD (periods 2, 3, 5, 7, 11)
:class:`MultiScaleDiscriminator`  HiFi-GAN MSD (HiFi-Codec)
:class:`MultiResolutionDiscriminator` UnivNet magnitude MRD (Language-Codec, WavTokenizer)
:class:`MultiBandDiscriminator`   multi-band complex STFT (vocos 0.1.0 MRD, DAC MRD)
:class:`MultiScaleSTFTDiscriminator` EnCodec MS-STFT-D (HiFi-Codec)
=============================== ====================================================

Parameter names match the released training code so their state dicts load directly.
"""

from __future__ import annotations

from audiokit.discriminators._layers import (
    DiscriminatorOutput,
    MultiDiscriminator,
    WNConv1d,
    WNConv2d,
    make_conv,
)
from audiokit.discriminators.losses import (
    DiscriminatorLoss,
    FeatureMatchingLoss,
    GeneratorLoss,
    discriminator_loss,
    feature_matching_loss,
    generator_loss,
)
from audiokit.discriminators.magnitude import (
    DiscriminatorR,
    MultiResolutionDiscriminator,
)
from audiokit.discriminators.mel import (
    LogMelSpectrogram,
    MelConfig,
    MelSpecReconstructionLoss,
    MultiResolutionMelLoss,
    hificodec_mel_loss,
)
from audiokit.discriminators.msstft import (
    HIFICODEC_SCALES,
    DiscriminatorSTFT,
    MultiScaleSTFTDiscriminator,
)
from audiokit.discriminators.multiband import DiscriminatorB, MultiBandDiscriminator
from audiokit.discriminators.period import DiscriminatorP, MultiPeriodDiscriminator
from audiokit.discriminators.scale import DiscriminatorS, MultiScaleDiscriminator

__all__ = [
    "HIFICODEC_SCALES",
    "DiscriminatorB",
    "DiscriminatorLoss",
    "DiscriminatorOutput",
    "DiscriminatorP",
    "DiscriminatorR",
    "DiscriminatorS",
    "DiscriminatorSTFT",
    "FeatureMatchingLoss",
    "GeneratorLoss",
    "LogMelSpectrogram",
    "MelConfig",
    "MelSpecReconstructionLoss",
    "MultiBandDiscriminator",
    "MultiDiscriminator",
    "MultiPeriodDiscriminator",
    "MultiResolutionDiscriminator",
    "MultiResolutionMelLoss",
    "MultiScaleDiscriminator",
    "MultiScaleSTFTDiscriminator",
    "WNConv1d",
    "WNConv2d",
    "discriminator_loss",
    "feature_matching_loss",
    "generator_loss",
    "hificodec_mel_loss",
    "make_conv",
]
