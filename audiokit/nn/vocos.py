"""Vocos backbone: embedding conv, optional WavTokenizer ``pos_net``, ConvNeXt stack.

Serves vocos-mel (LayerNorm), vocos-encodec and Language-Codec (AdaLayerNorm over
bandwidth ids) and WavTokenizer (``pos_net=True``). Names follow the checkpoints:
``embed``, ``pos_net.{i}``, ``norm``, ``convnext.{i}``, ``final_layer_norm``.
"""

from __future__ import annotations

import torch
from torch import nn

from audiokit.nn.convnext import ConvNeXtBlock, apply_norm, make_norm
from audiokit.nn.vqgan import build_pos_net


class VocosBackbone(nn.Module):
    """Features ``(B, input_channels, T)`` -> hidden states ``(B, T, dim)``.

    Order: ``embed`` Conv1d k7 -> [``pos_net``] -> ``norm`` (LayerNorm, or AdaLayerNorm when
    ``adanorm_num_embeddings`` is set) -> ``num_layers`` ConvNeXt blocks (layer scale
    ``layer_scale_init_value``, default ``1 / num_layers``) -> ``final_layer_norm``.
    Conv and Linear weights start truncated-normal (std 0.02) with zero bias; the
    ``pos_net`` keeps PyTorch's default init, as in WavTokenizer.
    """

    def __init__(
        self,
        input_channels: int,
        dim: int,
        intermediate_dim: int,
        num_layers: int,
        layer_scale_init_value: float | None = None,
        adanorm_num_embeddings: int | None = None,
        pos_net: bool = False,
        pos_net_dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.input_channels, self.dim = input_channels, dim
        self.adanorm_num_embeddings = adanorm_num_embeddings
        self.embed = nn.Conv1d(input_channels, dim, kernel_size=7, padding=3)
        self.norm = make_norm(dim, adanorm_num_embeddings)
        scale = layer_scale_init_value or 1.0 / num_layers
        self.convnext = nn.ModuleList(
            ConvNeXtBlock(dim, intermediate_dim, scale, adanorm_num_embeddings) for _ in range(num_layers)
        )
        self.final_layer_norm = nn.LayerNorm(dim, eps=1e-6)
        self.apply(_init_weights)
        self.pos_net = build_pos_net(dim, pos_net_dropout) if pos_net else None

    def forward(self, x: torch.Tensor, bandwidth_id: torch.Tensor | int | None = None) -> torch.Tensor:
        """``(B, input_channels, T) -> (B, T, dim)``.

        ``bandwidth_id`` (int, ``(1,)`` or ``(B,)`` LongTensor) selects the AdaLayerNorm
        scale/shift; it is required when the backbone is conditioned and ignored otherwise.
        """
        h = self.embed(x)
        if self.pos_net is not None:
            h = self.pos_net(h)
        h = apply_norm(self.norm, h.transpose(1, 2), bandwidth_id).transpose(1, 2)
        for block in self.convnext:
            h = block(h, bandwidth_id)
        return self.final_layer_norm(h.transpose(1, 2))


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, (nn.Conv1d, nn.Linear)):
        nn.init.trunc_normal_(module.weight, std=0.02)
        nn.init.constant_(module.bias, 0)
