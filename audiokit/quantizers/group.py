"""Group-residual VQ (GRVQ, HiFi-Codec; codecs.md §3.3).

The latent's channels are split into ``n_groups`` equal groups; each of ``n_stages``
residual stages quantizes every group with its own codebook. Keys mirror HiFi-Codec's
``Quantizer``: stage 1 codebooks are ``quantizer_modules.{g}``, stage s >= 2 are
``quantizer_modules{s}.{g}`` (each ``LearnedCodebook`` holds ``embedding.weight``), so the
released ``quantizer`` state dict loads directly.

Codes are (B, n_stages * n_groups, F) in stage-major order (s1g0, s1g1, s2g0, s2g1);
HiFi-Codec's own layout is that tensor permuted to (B, F, 4).
"""

from __future__ import annotations

import torch
from torch import nn

from audiokit.quantizers.base import CodebookOutput, QuantizerOutput, check_codes, check_n_q, merge_stats
from audiokit.quantizers.codebooks import make_codebook


def stage_name(stage: int) -> str:
    """Attribute name of stage ``stage`` (0-based): ``quantizer_modules``, ``quantizer_modules2``, ..."""
    return "quantizer_modules" if stage == 0 else f"quantizer_modules{stage + 1}"


class GroupResidualVQ(nn.Module):
    """Groups x residual stages of codebooks.

    Args:
        dim: latent channels D (HiFi-Codec 512); must divide by ``n_groups``.
        n_groups: channel groups G (2).
        n_stages: residual stages S (2).
        codebook_size: entries per codebook K (1024).
        codebook: update rule, ``"learned"`` (default, HiFi-Codec) or ``"ema"``.
        **codebook_kwargs: passed to each codebook (e.g. ``commitment_weight``).

    With learned codebooks the straight-through ``x + sg(z - x)`` also runs in eval and the
    stage-2 residual is ``x - (x + (z - x))``, exactly as the reference computes it.
    """

    def __init__(self, dim: int = 512, n_groups: int = 2, n_stages: int = 2, codebook_size: int = 1024, *,
                 codebook: str = "learned", **codebook_kwargs) -> None:
        super().__init__()
        if dim % n_groups:
            raise ValueError(f"dim {dim} is not divisible by n_groups {n_groups}")
        if n_stages < 1 or n_groups < 1:
            raise ValueError("n_groups and n_stages must be >= 1")
        self.dim = dim
        self.n_groups = n_groups
        self.n_stages = n_stages
        self.codebook_size = codebook_size
        self.group_dim = dim // n_groups
        for stage in range(n_stages):
            books = [make_codebook(codebook, self.group_dim, codebook_size, **codebook_kwargs)
                     for _ in range(n_groups)]
            self.add_module(stage_name(stage), nn.ModuleList(books))

    @property
    def n_codebooks(self) -> int:
        """n_stages * n_groups."""
        return self.n_stages * self.n_groups

    def stage(self, index: int) -> nn.ModuleList:
        """The ``n_groups`` codebooks of stage ``index`` (0-based)."""
        return getattr(self, stage_name(index))

    def _split_rows(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(B, D, F) -> G views of rows (B*F, D/G), batch-major."""
        rows = x.transpose(1, 2).reshape(-1, self.dim)
        return torch.split(rows, self.group_dim, dim=-1)

    def _join_rows(self, parts: list[torch.Tensor], like: torch.Tensor) -> torch.Tensor:
        """G row blocks (B*F, D/G) -> (B, D, F) shaped as ``like``."""
        batch, _, frames = like.shape
        return torch.cat(parts, -1).reshape(batch, frames, self.dim).transpose(1, 2)

    def _stage_forward(self, x: torch.Tensor, stage: int) -> tuple[torch.Tensor, list[CodebookOutput]]:
        outs = [book(rows) for book, rows in zip(self.stage(stage), self._split_rows(x))]
        return self._join_rows([o.quantized for o in outs], x), outs

    def forward(self, x: torch.Tensor, n_q: int | None = None) -> QuantizerOutput:
        """Quantize ``x`` (B, D, F) with the first ``n_q`` codebooks (a multiple of n_groups; default all).

        The loss is the mean over stages of the mean over groups of the codebook losses.
        """
        n_stages = check_n_q(n_q, self.n_codebooks, self.n_groups) // self.n_groups
        quantized_out: torch.Tensor | float = 0.0
        residual = x
        outs: list[CodebookOutput] = []
        stage_losses = []
        batch, _, frames = x.shape
        for stage in range(n_stages):
            quantized, stage_outs = self._stage_forward(residual, stage)
            residual = residual - quantized
            quantized_out = quantized_out + quantized
            stage_losses.append(torch.stack([o.loss for o in stage_outs]).mean())
            outs.extend(stage_outs)
        codes = torch.stack([o.codes.view(batch, frames) for o in outs], dim=1)
        loss = torch.stack(stage_losses).mean()
        return QuantizerOutput(quantized_out, codes, loss, merge_stats([o.stats for o in outs]))

    def encode(self, x: torch.Tensor, n_q: int | None = None) -> torch.Tensor:
        """Codes (B, n_q, F) of ``x`` (B, D, F), stage-major; never updates the codebooks."""
        n_stages = check_n_q(n_q, self.n_codebooks, self.n_groups) // self.n_groups
        batch, _, frames = x.shape
        residual = x
        codes = []
        for stage in range(n_stages):
            parts = []
            for book, rows in zip(self.stage(stage), self._split_rows(residual)):
                book_codes = book.quantize(rows)
                parts.append(book.straight_through(rows, book.dequantize(book_codes)))
                codes.append(book_codes.view(batch, frames))
            residual = residual - self._join_rows(parts, residual)
        return torch.stack(codes, dim=1)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Pure lookups: per stage, concatenate the group entries; sum the stages. (B, n_q, F) -> (B, D, F)."""
        check_codes(codes, self.n_codebooks, self.codebook_size, self.n_groups)
        codes = codes.long()
        quantized: torch.Tensor | None = None
        for stage in range(codes.shape[1] // self.n_groups):
            parts = [book.dequantize(codes[:, stage * self.n_groups + g]) for g, book in enumerate(self.stage(stage))]
            lookup = torch.cat(parts, -1)
            quantized = lookup if quantized is None else quantized + lookup
        return quantized.transpose(1, 2)
