"""ConvNeXt-V2 1-D block with Global Response Normalization (GRN).

Used as the F5-TTS text refiner. Names follow the F5-TTS checkpoints: ``dwconv``, ``norm``,
``pwconv1``, ``grn.gamma``, ``grn.beta``, ``pwconv2``. Unlike :class:`~audiokit.nn.ConvNeXtBlock`
(ConvNeXt-V1, Vocos) there is no layer scale, and the block works on ``(B, T, D)``.
"""

from __future__ import annotations

import torch
from torch import nn


class GRN(nn.Module):
    """Global Response Normalization over time: ``(B, T, D) -> (B, T, D)``.

    ``G = ||x||_2`` over ``T`` per channel, ``N = G / (mean_D(G) + eps)``,
    ``y = gamma * (x * N) + beta + x``. ``gamma``/``beta`` are ``(1, 1, D)``, zero-initialised
    (the block starts as the identity).
    """

    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.gamma = nn.Parameter(torch.zeros(1, 1, dim))
        self.beta = nn.Parameter(torch.zeros(1, 1, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gx = torch.linalg.vector_norm(x, ord=2, dim=1, keepdim=True)  # (B, 1, D)
        nx = gx / (gx.mean(dim=-1, keepdim=True) + self.eps)
        return self.gamma * (x * nx) + self.beta + x


class ConvNeXtV2Block(nn.Module):
    """``(B, T, D) -> (B, T, D)``: depthwise conv (k7, dilation) -> LayerNorm(eps 1e-6) ->
    Linear(D -> intermediate) -> GELU -> GRN -> Linear(intermediate -> D) -> residual add."""

    def __init__(self, dim: int, intermediate_dim: int, dilation: int = 1, kernel_size: int = 7) -> None:
        super().__init__()
        padding = dilation * (kernel_size - 1) // 2
        self.dwconv = nn.Conv1d(dim, dim, kernel_size, padding=padding, groups=dim, dilation=dilation)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, intermediate_dim)
        self.act = nn.GELU()
        self.grn = GRN(intermediate_dim)
        self.pwconv2 = nn.Linear(intermediate_dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.dwconv(x.transpose(1, 2)).transpose(1, 2)
        h = self.grn(self.act(self.pwconv1(self.norm(h))))
        return x + self.pwconv2(h)
