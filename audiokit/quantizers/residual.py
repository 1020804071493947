"""Residual VQ (EnCodec, Vocos) and its one-codebook case (WavTokenizer).

State-dict keys mirror EnCodec's ``ResidualVectorQuantizer``:
``vq.layers.{i}._codebook.{inited,cluster_size,embed,embed_avg}`` (+ ``project_in``/
``project_out`` when the codebook dimension differs), so EnCodec, Vocos-EnCodec and
WavTokenizer quantizer weights load after stripping their outer prefix
(``quantizer.`` or ``feature_extractor.encodec.quantizer.``).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from audiokit.quantizers.base import (
    QuantizerOutput,
    check_codes,
    check_n_q,
    merge_stats,
)
from audiokit.quantizers.codebooks import make_codebook
from audiokit.quantizers.layer import LayerOutput, VQLayer


class LayerStack(nn.Module):
    """Holds ``layers`` so that keys read ``vq.layers.{i}...`` as in the checkpoints."""

    def __init__(self, layers: list[VQLayer]) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)


class ResidualVQ(nn.Module):
    """Residual vector quantizer: r0 = x, q_i = VQ_i(r_i), r_{i+1} = r_i - q_i, output sum q_i.

    Args:
        dim: latent channels D.
        n_q: number of codebooks.
        codebook_size: entries per codebook K.
        codebook_dim: entry dimension (default ``dim``; otherwise projections are added).
        codebook: update rule, ``"ema"`` (default) or ``"learned"``.
        detach_residual: subtract each stage's output from the running residual with
            ``.detach()`` (Language-Codec's training loop): later stages then pass their
            gradient straight to the input instead of cancelling against earlier stages.
            Codes, lookups and inference outputs are the same either way.
        **codebook_kwargs: passed to every codebook (e.g. ``kmeans_iters``, ``decay``).

    Any prefix of the codebooks can be used (``n_q`` at encode/forward): that is the
    bandwidth choice of EnCodec/Vocos (see :meth:`n_q_for_bandwidth`).
    """

    def __init__(self, dim: int, n_q: int, codebook_size: int, *, codebook_dim: int | None = None,
                 codebook: str = "ema", detach_residual: bool = False, **codebook_kwargs) -> None:
        super().__init__()
        if n_q < 1:
            raise ValueError(f"n_q must be >= 1, got {n_q}")
        self.dim = dim
        self.codebook_size = codebook_size
        self.detach_residual = detach_residual
        cb_dim = dim if codebook_dim is None else codebook_dim
        layers = [VQLayer(dim, make_codebook(codebook, cb_dim, codebook_size, **codebook_kwargs))
                  for _ in range(n_q)]
        self.vq = LayerStack(layers)

    @property
    def layers(self) -> nn.ModuleList:
        """The VQ layers, in residual order."""
        return self.vq.layers

    @property
    def n_codebooks(self) -> int:
        """Number of codebooks available."""
        return len(self.vq.layers)

    # -- bandwidth -----------------------------------------------------------------
    def bandwidth_kbps(self, n_q: int, frame_rate: float) -> float:
        """Bitrate of ``n_q`` codebooks at ``frame_rate`` frames/s, in kbit/s."""
        return n_q * math.log2(self.codebook_size) * frame_rate / 1000

    def n_q_for_bandwidth(self, bandwidth_kbps: float, frame_rate: float) -> int:
        """EnCodec's rule: max(1, floor(bandwidth / per-codebook bandwidth)), capped at ``n_codebooks``."""
        per_q = self.bandwidth_kbps(1, frame_rate)
        return min(self.n_codebooks, max(1, math.floor(bandwidth_kbps / per_q)))

    # -- the residual loop -----------------------------------------------------------
    def _stage_inputs(self, x: torch.Tensor, residual: torch.Tensor, index: int) -> torch.Tensor:
        """Input of layer ``index``: the running residual (subclasses change this)."""
        return residual

    def _run(self, x: torch.Tensor, n_q: int) -> tuple[torch.Tensor, list[LayerOutput]]:
        quantized_out: torch.Tensor | float = 0.0
        residual = x
        outs = []
        for index, layer in enumerate(self.vq.layers[:n_q]):
            out = layer(self._stage_inputs(x, residual, index))
            residual = residual - (out.quantized.detach() if self.detach_residual else out.quantized)
            quantized_out = quantized_out + out.quantized
            outs.append(out)
        return quantized_out, outs

    def forward(self, x: torch.Tensor, n_q: int | None = None) -> QuantizerOutput:
        """Quantize ``x`` (B, D, F) with the first ``n_q`` codebooks (default all).

        Training: codebook updates and straight-through gradients; the loss is the mean of
        the per-layer losses.
        """
        n_q = check_n_q(n_q, self.n_codebooks)
        quantized, outs = self._run(x, n_q)
        codes = torch.stack([o.codes for o in outs], dim=1)
        loss = torch.stack([o.loss for o in outs]).mean()
        return QuantizerOutput(quantized, codes, loss, merge_stats([o.stats for o in outs]))

    def encode(self, x: torch.Tensor, n_q: int | None = None) -> torch.Tensor:
        """Codes (B, n_q, F) of ``x`` (B, D, F); never updates the codebooks."""
        n_q = check_n_q(n_q, self.n_codebooks)
        residual = x
        codes = []
        for index, layer in enumerate(self.vq.layers[:n_q]):
            layer_codes = layer.encode(self._stage_inputs(x, residual, index))
            residual = residual - layer.decode(layer_codes)
            codes.append(layer_codes)
        return torch.stack(codes, dim=1)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Sum of the lookups of ``codes`` (B, n_q, F), n_q <= n_codebooks -> (B, D, F)."""
        check_codes(codes, self.n_codebooks, self.codebook_size)
        codes = codes.long()
        quantized = self.vq.layers[0].decode(codes[:, 0])
        for index in range(1, codes.shape[1]):
            quantized = quantized + self.vq.layers[index].decode(codes[:, index])
        return quantized


class VectorQuantizer(ResidualVQ):
    """A single codebook (WavTokenizer): ``ResidualVQ`` with ``n_q = 1``, same keys."""

    def __init__(self, dim: int, codebook_size: int, *, codebook_dim: int | None = None,
                 codebook: str = "ema", **codebook_kwargs) -> None:
        super().__init__(dim, 1, codebook_size, codebook_dim=codebook_dim, codebook=codebook, **codebook_kwargs)
