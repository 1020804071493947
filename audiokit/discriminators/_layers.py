"""Building blocks shared by every discriminator.

* :class:`WNConv1d` / :class:`WNConv2d` (from :mod:`audiokit.nn.weight_norm`, the one
  weight-norm implementation): parameters named like the legacy
  ``torch.nn.utils.weight_norm`` (``weight_g``, ``weight_v``, ``bias``), the layout every
  released discriminator and training checkpoint uses (HiFi-GAN, vocos, EnCodec, the
  Language-Codec and WavTokenizer forks); loading also accepts the parametrisation key
  style and a folded ``weight``; deep-copyable.
* :func:`make_conv`: ``norm`` = ``"weight_norm"`` | ``"spectral_norm"`` | ``"none"``.
* :class:`DiscriminatorOutput` and :class:`MultiDiscriminator`: the common interface.
  ``score(x)`` returns ``(logits list, feature-maps list)`` for one signal and
  ``forward(y, y_hat)`` returns both sides, unpacking like the vocos / HiFi-GAN 4-tuple
  ``(real_logits, fake_logits, real_fmaps, fake_fmaps)``.

Every sub-discriminator returns logits flattened to ``(B, N)``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import nn

from audiokit.nn.weight_norm import WNConv1d, WNConv2d

__all__ = ["DiscriminatorOutput", "MultiDiscriminator", "WNConv1d", "WNConv2d", "as_mono_batch",
           "conditioned_post", "conditioning", "make_conv"]


def make_conv(dims: int, *args: Any, norm: str = "weight_norm", **kwargs: Any) -> nn.Module:
    """A ``dims``-D convolution with ``norm`` in {"weight_norm", "spectral_norm", "none"}.

    Spectral norm uses ``torch.nn.utils.spectral_norm`` (keys ``weight_orig``,
    ``weight_u``, ``weight_v``), as HiFi-GAN's first MSD scale does.
    """
    if dims not in (1, 2):
        raise ValueError(f"dims must be 1 or 2, got {dims}")
    if norm == "weight_norm":
        return (WNConv1d if dims == 1 else WNConv2d)(*args, **kwargs)
    plain = (nn.Conv1d if dims == 1 else nn.Conv2d)(*args, **kwargs)
    if norm == "spectral_norm":
        return nn.utils.spectral_norm(plain)
    if norm == "none":
        return plain
    raise ValueError(f"unknown norm {norm!r}; expected weight_norm, spectral_norm or none")


def as_mono_batch(x: torch.Tensor) -> torch.Tensor:
    """Accept ``(B, T)`` or ``(B, 1, T)``; return ``(B, T)``."""
    if x.dim() == 3 and x.shape[1] == 1:
        return x[:, 0]
    if x.dim() == 2:
        return x
    raise ValueError(f"expected audio of shape (B, T) or (B, 1, T), got {tuple(x.shape)}")


def conditioning(emb: nn.Embedding, cond_id: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Projection term ``sum_c emb[cond_id]_c * x_c`` added to the logits.

    ``cond_id``: ``(1,)`` (one id for the whole batch, as the reference) or ``(B,)``;
    ``x``: ``(B, C, H, W)`` -> ``(B or 1, 1, H, W)``, broadcastable against the logits.
    """
    e = emb(cond_id.reshape(-1))
    return (e.view(e.shape[0], -1, 1, 1) * x).sum(dim=1, keepdim=True)


def conditioned_post(
    disc: nn.Module, cond_id: torch.Tensor | None, x: torch.Tensor, fmap: list[torch.Tensor]
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """The last layer of a sub-discriminator ``disc``: ``disc.conv_post(x)`` plus, given
    ``cond_id``, the projection term of :func:`conditioning` with ``disc.emb`` (the reference
    adds it in place, so the last feature map includes it). Appends the result to ``fmap``;
    returns ``(logits (B, N), fmap)``.
    """
    h = conditioning(disc.emb, cond_id, x) if cond_id is not None else None
    x = disc.conv_post(x)
    if h is not None:
        x = x + h
    fmap.append(x)
    return torch.flatten(x, 1, -1), fmap


class DiscriminatorOutput(NamedTuple):
    """Both sides of a multi-discriminator; each list has one entry per sub-discriminator.

    logits: ``(B, N_k)``; fmaps: list of feature maps per sub-discriminator.
    """

    real_logits: list[torch.Tensor]
    fake_logits: list[torch.Tensor]
    real_fmaps: list[list[torch.Tensor]]
    fake_fmaps: list[list[torch.Tensor]]


class MultiDiscriminator(nn.Module):
    """Base class: ``self.discriminators`` is an ``nn.ModuleList`` of sub-discriminators,
    each called as ``d(x, cond_id) -> (logits (B, N), fmaps)``."""

    discriminators: nn.ModuleList

    def score(
        self, x: torch.Tensor, cond_id: torch.Tensor | None = None
    ) -> tuple[list[torch.Tensor], list[list[torch.Tensor]]]:
        """Run every sub-discriminator on ``x`` (``(B, T)`` or ``(B, 1, T)``).

        Returns ``(logits, fmaps)``: ``logits[k]`` is ``(B, N_k)``.
        """
        logits, fmaps = [], []
        for d in self.discriminators:
            logit, fmap = d(x, cond_id)
            logits.append(logit)
            fmaps.append(fmap)
        return logits, fmaps

    def forward(
        self, y: torch.Tensor, y_hat: torch.Tensor, cond_id: torch.Tensor | None = None
    ) -> DiscriminatorOutput:
        """Score real ``y`` and generated ``y_hat`` (same shape)."""
        real_logits, real_fmaps = self.score(y, cond_id)
        fake_logits, fake_fmaps = self.score(y_hat, cond_id)
        return DiscriminatorOutput(real_logits, fake_logits, real_fmaps, fake_fmaps)
