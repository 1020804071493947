"""Adversarial and feature-matching losses for GAN training of vocoders and codecs.

Two adversarial objectives, selected by ``kind``:

* ``"hinge"`` (vocos, Language-Codec, WavTokenizer MPD/MRD):
  D: ``mean(relu(1 - D(x))) + mean(relu(1 + D(G)))``; G: ``mean(relu(1 - D(G)))``.
* ``"lsgan"`` (HiFi-GAN, HiFi-Codec, DAC):
  D: ``mean((1 - D(x))^2) + mean(D(G)^2)``; G: ``mean((1 - D(G))^2)``.

Each loss sums over sub-discriminators (as the references do); ``average=True``
divides by their number (the Language-Codec / WavTokenizer normalisation).
Feature matching is ``sum_k sum_l mean|f_real - f_fake|`` times ``scale``
(vocos: 1, HiFi-GAN/HiFi-Codec: 2).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

KINDS = ("hinge", "lsgan")


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown adversarial loss {kind!r}; expected one of {KINDS}")


def discriminator_terms(
    real: torch.Tensor, fake: torch.Tensor, kind: str = "hinge"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sub-discriminator D loss terms (real term, fake term), each a scalar."""
    _check_kind(kind)
    if kind == "hinge":
        return torch.relu(1 - real).mean(), torch.relu(1 + fake).mean()
    return (1 - real).pow(2).mean(), fake.pow(2).mean()


def generator_term(fake: torch.Tensor, kind: str = "hinge") -> torch.Tensor:
    """Per-sub-discriminator G adversarial loss (scalar)."""
    _check_kind(kind)
    if kind == "hinge":
        return torch.relu(1 - fake).mean()
    return (1 - fake).pow(2).mean()


def discriminator_loss(
    real_logits: Sequence[torch.Tensor],
    fake_logits: Sequence[torch.Tensor],
    kind: str = "hinge",
    average: bool = False,
) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
    """Discriminator-side adversarial loss.

    Returns ``(total, real_terms, fake_terms)``; total is a 0-d tensor.
    """
    real_terms, fake_terms = [], []
    for r, f in zip(real_logits, fake_logits, strict=True):
        r_loss, f_loss = discriminator_terms(r, f, kind)
        real_terms.append(r_loss)
        fake_terms.append(f_loss)
    total = torch.stack(real_terms).sum() + torch.stack(fake_terms).sum()
    if average:
        total = total / len(real_terms)
    return total, real_terms, fake_terms


def generator_loss(
    fake_logits: Sequence[torch.Tensor], kind: str = "hinge", average: bool = False
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Generator-side adversarial loss. Returns ``(total, terms)``."""
    terms = [generator_term(f, kind) for f in fake_logits]
    total = torch.stack(terms).sum()
    if average:
        total = total / len(terms)
    return total, terms


def feature_matching_loss(
    real_fmaps: Sequence[Sequence[torch.Tensor]],
    fake_fmaps: Sequence[Sequence[torch.Tensor]],
    scale: float = 1.0,
    average: bool = False,
    detach_real: bool = False,
) -> torch.Tensor:
    """L1 feature matching: ``scale * sum_k sum_l mean|real_kl - fake_kl|`` (0-d tensor).

    ``average`` divides by the number of sub-discriminators; ``detach_real`` stops the
    gradient through the real branch (DAC).
    """
    terms = []
    for rs, fs in zip(real_fmaps, fake_fmaps, strict=True):
        for r, f in zip(rs, fs, strict=True):
            if detach_real:
                r = r.detach()
            terms.append((r - f).abs().mean())
    total = torch.stack(terms).sum() * scale
    if average:
        total = total / len(real_fmaps)
    return total


class DiscriminatorLoss(nn.Module):
    """Module form of :func:`discriminator_loss` (vocos ``DiscriminatorLoss`` when hinge)."""

    def __init__(self, kind: str = "hinge", average: bool = False) -> None:
        super().__init__()
        _check_kind(kind)
        self.kind, self.average = kind, average

    def forward(self, disc_real_outputs, disc_generated_outputs):
        """Returns ``(total, real_terms, fake_terms)``."""
        return discriminator_loss(disc_real_outputs, disc_generated_outputs, self.kind, self.average)


class GeneratorLoss(nn.Module):
    """Module form of :func:`generator_loss` (vocos ``GeneratorLoss`` when hinge)."""

    def __init__(self, kind: str = "hinge", average: bool = False) -> None:
        super().__init__()
        _check_kind(kind)
        self.kind, self.average = kind, average

    def forward(self, disc_outputs):
        """Returns ``(total, terms)``."""
        return generator_loss(disc_outputs, self.kind, self.average)


class FeatureMatchingLoss(nn.Module):
    """Module form of :func:`feature_matching_loss` (vocos ``FeatureMatchingLoss`` at defaults)."""

    def __init__(self, scale: float = 1.0, average: bool = False, detach_real: bool = False) -> None:
        super().__init__()
        self.scale, self.average, self.detach_real = scale, average, detach_real

    def forward(self, fmap_r, fmap_g) -> torch.Tensor:
        return feature_matching_loss(fmap_r, fmap_g, self.scale, self.average, self.detach_real)
