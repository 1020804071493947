"""ConvNeXt blocks (1-D) with optional adaptive layer norm, as in the Vocos backbone.

Names follow Vocos checkpoints: ``dwconv``, ``norm`` (``norm.weight``/``norm.bias`` or, for
:class:`AdaLayerNorm`, ``norm.scale.weight``/``norm.shift.weight``), ``pwconv1``,
``pwconv2``, ``gamma``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def as_cond_ids(cond_id: torch.Tensor | int, batch: int, device: torch.device) -> torch.Tensor:
    """Normalise a conditioning id to a LongTensor of shape ``(1,)`` or ``(batch,)``.

    Accepts an int, a 0-d tensor, a ``(1,)`` tensor (the reference's convention: one id for
    the whole batch) or a ``(B,)`` tensor (one id per item).
    """
    ids = torch.as_tensor(cond_id, dtype=torch.long, device=device).reshape(-1)
    if ids.numel() not in (1, batch):
        raise ValueError(f"expected 1 or {batch} conditioning ids, got {ids.numel()}")
    return ids


class AdaLayerNorm(nn.Module):
    """Layer norm whose scale and shift are looked up per conditioning id.

    ``y = layer_norm(x) * scale[id] + shift[id]`` with ``scale``/``shift`` embeddings of
    ``(num_embeddings, dim)`` initialised to ones/zeros. ``x``: ``(B, T, dim)``.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.dim = embedding_dim
        self.eps = eps
        self.scale = nn.Embedding(num_embeddings, embedding_dim)
        self.shift = nn.Embedding(num_embeddings, embedding_dim)
        nn.init.ones_(self.scale.weight)
        nn.init.zeros_(self.shift.weight)

    def forward(self, x: torch.Tensor, cond_id: torch.Tensor | int) -> torch.Tensor:
        """``x``: ``(B, T, dim)``; ``cond_id``: int, ``(1,)`` or ``(B,)`` -> ``(B, T, dim)``."""
        ids = as_cond_ids(cond_id, x.shape[0], x.device)
        scale = self.scale(ids)[:, None, :]  # (1 or B, 1, dim)
        shift = self.shift(ids)[:, None, :]
        return F.layer_norm(x, (self.dim,), eps=self.eps) * scale + shift


def make_norm(dim: int, adanorm_num_embeddings: int | None, eps: float = 1e-6) -> nn.Module:
    """``AdaLayerNorm`` when ``adanorm_num_embeddings`` is set, else ``nn.LayerNorm``."""
    if adanorm_num_embeddings:
        return AdaLayerNorm(adanorm_num_embeddings, dim, eps=eps)
    return nn.LayerNorm(dim, eps=eps)


def apply_norm(norm: nn.Module, x: torch.Tensor, cond_id: torch.Tensor | int | None) -> torch.Tensor:
    """Run ``norm`` on ``(B, T, D)``, passing ``cond_id`` only to :class:`AdaLayerNorm`."""
    if isinstance(norm, AdaLayerNorm):
        if cond_id is None:
            raise ValueError("this model is conditioned: pass a bandwidth/condition id")
        return norm(x, cond_id)
    return norm(x)


class ConvNeXtBlock(nn.Module):
    """ConvNeXt block for ``(B, dim, T)`` sequences.

    depthwise conv k7 -> (Ada)LayerNorm -> Linear(dim -> intermediate) -> GELU ->
    Linear(intermediate -> dim) -> layer scale ``gamma`` (absent when
    ``layer_scale_init_value <= 0``) -> residual add.
    """

    def __init__(
        self,
        dim: int,
        intermediate_dim: int,
        layer_scale_init_value: float,
        adanorm_num_embeddings: int | None = None,
    ) -> None:
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = make_norm(dim, adanorm_num_embeddings)
        self.pwconv1 = nn.Linear(dim, intermediate_dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(intermediate_dim, dim)
        if layer_scale_init_value > 0:
            self.gamma = nn.Parameter(torch.full((dim,), float(layer_scale_init_value)))
        else:
            self.gamma = None

    def forward(self, x: torch.Tensor, cond_id: torch.Tensor | int | None = None) -> torch.Tensor:
        """``(B, dim, T) -> (B, dim, T)``; ``cond_id`` is required with AdaLayerNorm."""
        h = self.dwconv(x).transpose(1, 2)  # (B, T, dim)
        h = apply_norm(self.norm, h, cond_id)
        h = self.pwconv2(self.act(self.pwconv1(h)))
        if self.gamma is not None:
            h = h * self.gamma
        return x + h.transpose(1, 2)
