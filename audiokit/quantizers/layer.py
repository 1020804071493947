"""One vector-quantization layer: optional projections around a codebook.

Mirrors EnCodec's ``VectorQuantization`` (keys ``project_in``, ``_codebook``,
``project_out``) so ``vq.layers.{i}._codebook.*`` checkpoint keys load unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class LayerOutput:
    """quantized (B, D, F), codes (B, F), loss (scalar), stats (detached scalars)."""

    quantized: torch.Tensor
    codes: torch.Tensor
    loss: torch.Tensor
    stats: dict[str, torch.Tensor]


class VQLayer(nn.Module):
    """Quantize (B, D, F) latents with one codebook of dimension ``codebook.dim``.

    Args:
        dim: latent channels D.
        codebook: an :class:`~audiokit.quantizers.codebooks.EMACodebook` or
            :class:`~audiokit.quantizers.codebooks.LearnedCodebook`; when its ``dim``
            differs from ``dim``, Linear ``project_in``/``project_out`` are added.
    """

    def __init__(self, dim: int, codebook: nn.Module) -> None:
        super().__init__()
        self.dim = dim
        needs_projection = codebook.dim != dim
        self.project_in = nn.Linear(dim, codebook.dim) if needs_projection else nn.Identity()
        self.project_out = nn.Linear(codebook.dim, dim) if needs_projection else nn.Identity()
        self._codebook = codebook

    @property
    def codebook(self) -> nn.Module:
        """The codebook module."""
        return self._codebook

    @property
    def codebook_size(self) -> int:
        """Number of entries K."""
        return self._codebook.codebook_size

    def _rows(self, x: torch.Tensor) -> torch.Tensor:
        """(B, D, F) -> projected rows (B*F, D_cb), batch-major."""
        x = self.project_in(x.transpose(1, 2))
        return x.reshape(-1, x.shape[-1])

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Codes (B, F) of ``x`` (B, D, F); no codebook update, no k-means."""
        batch, _, frames = x.shape
        return self._codebook.quantize(self._rows(x)).view(batch, frames)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Plain lookup of ``codes`` (B, F) -> (B, D, F)."""
        return self.project_out(self._codebook.dequantize(codes)).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> LayerOutput:
        """Quantize ``x`` (B, D, F); in training the codebook's update rule runs."""
        batch, _, frames = x.shape
        out = self._codebook(self._rows(x))
        quantized = self.project_out(out.quantized.view(batch, frames, -1)).transpose(1, 2)
        return LayerOutput(quantized, out.codes.view(batch, frames), out.loss, out.stats)
