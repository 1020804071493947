"""Building blocks shared by every discriminator.

* :class:`WNConv1d` / :class:`WNConv2d`: convolutions with weight normalisation whose
  parameters are named exactly like the legacy ``torch.nn.utils.weight_norm``
  (``weight_g``, ``weight_v``, ``bias``), the layout every released discriminator and
  training checkpoint uses (HiFi-GAN, vocos, EnCodec, the Language-Codec and
  WavTokenizer forks). They also accept the newer parametrisation key style
  (``parametrizations.weight.original0/1``) and a plain folded ``weight`` when loading.
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

_G_ALIASES = ("parametrizations.weight.original0",)
_V_ALIASES = ("parametrizations.weight.original1",)


def _weight_norm_pre_hook(module: nn.Module, state_dict: dict, prefix: str, *_: Any) -> None:
    """Rename new-style or folded weight-norm keys to ``weight_g`` / ``weight_v``."""
    g_key, v_key = prefix + "weight_g", prefix + "weight_v"
    for alias_g, alias_v in zip(_G_ALIASES, _V_ALIASES):
        if prefix + alias_g in state_dict and g_key not in state_dict:
            state_dict[g_key] = state_dict.pop(prefix + alias_g)
            state_dict[v_key] = state_dict.pop(prefix + alias_v)
    folded = prefix + "weight"
    if folded in state_dict and g_key not in state_dict:
        w = state_dict.pop(folded)
        state_dict[v_key] = w
        state_dict[g_key] = torch.norm_except_dim(w, 2, 0)


class _WeightNormMixin:
    """Replaces the ``weight`` parameter of a conv by ``weight_g`` (C_out, 1, ...) and
    ``weight_v`` (same shape as the weight); ``weight = g * v / ||v||`` per output channel."""

    def _init_weight_norm(self) -> None:
        w = self.weight.detach().clone()  # type: ignore[attr-defined]
        del self.weight  # type: ignore[attr-defined]
        self.weight_g = nn.Parameter(torch.norm_except_dim(w, 2, 0))
        self.weight_v = nn.Parameter(w)
        self.register_load_state_dict_pre_hook(_weight_norm_pre_hook)  # type: ignore[attr-defined]

    def folded_weight(self) -> torch.Tensor:
        """The effective convolution weight ``g * v / ||v||``."""
        return torch._weight_norm(self.weight_v, self.weight_g, 0)  # type: ignore[attr-defined]


class WNConv1d(_WeightNormMixin, nn.Conv1d):
    """``nn.Conv1d`` with weight normalisation; input ``(B, C_in, T)``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._init_weight_norm()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.folded_weight(), self.bias)


class WNConv2d(_WeightNormMixin, nn.Conv2d):
    """``nn.Conv2d`` with weight normalisation; input ``(B, C_in, H, W)``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._init_weight_norm()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.folded_weight(), self.bias)


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
