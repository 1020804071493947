"""Small pieces shared by every codebook and quantizer topology.

* :class:`CodebookOutput` / :class:`QuantizerOutput`: what ``forward`` returns.
* :func:`usage_stats`: perplexity, used and dead codes of one codebook.
* :func:`check_codes`: shape/range checks for ``decode``.
* :func:`broadcast_buffers`: keep codebook buffers equal across DDP workers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn


@dataclass
class CodebookOutput:
    """Result of one codebook on flattened rows.

    Attributes:
        quantized: (N, D) quantized rows (straight-through where the update rule says so).
        codes: (N,) long code indices.
        loss: scalar codebook/commitment loss (0 where the rule has none).
        stats: detached scalars: ``perplexity``, ``used_codes``, ``dead_codes``.
    """

    quantized: torch.Tensor
    codes: torch.Tensor
    loss: torch.Tensor
    stats: dict[str, torch.Tensor] = field(default_factory=dict)


@dataclass
class QuantizerOutput:
    """Result of a quantizer topology.

    Attributes:
        quantized: (B, D, F) quantized latent.
        codes: (B, n_q, F) long codes, one row per codebook used.
        loss: scalar, the mean of the per-codebook (or per-stage) losses.
        stats: detached scalars; ``q{i}/perplexity``, ``q{i}/used_codes``, ``q{i}/dead_codes``
            per codebook ``i`` (codes order), plus ``perplexity`` (mean) and ``dead_codes`` (sum).
    """

    quantized: torch.Tensor
    codes: torch.Tensor
    loss: torch.Tensor
    stats: dict[str, torch.Tensor] = field(default_factory=dict)


def usage_stats(codes: torch.Tensor, codebook_size: int, dead_codes: torch.Tensor | None = None
                ) -> dict[str, torch.Tensor]:
    """Code usage of one batch.

    Args:
        codes: (...) long code indices.
        codebook_size: number of entries K.
        dead_codes: a count computed by the update rule; default: codes unused in this batch.

    Returns:
        ``perplexity`` = exp(entropy of the batch code histogram) in [1, K], ``used_codes``
        (distinct codes in the batch) and ``dead_codes``, all detached 0-d tensors.
    """
    with torch.no_grad():
        counts = torch.bincount(codes.reshape(-1), minlength=codebook_size).float()
        probs = counts / counts.sum().clamp(min=1.0)
        perplexity = torch.exp(torch.special.entr(probs).sum())
        used = (counts > 0).sum()
        dead = codebook_size - used if dead_codes is None else dead_codes.detach()
    return {"perplexity": perplexity, "used_codes": used, "dead_codes": dead}


def merge_stats(per_codebook: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Prefix each codebook's stats with ``q{i}/`` and add ``perplexity`` (mean) and ``dead_codes`` (sum)."""
    merged: dict[str, torch.Tensor] = {}
    for i, stats in enumerate(per_codebook):
        for name, value in stats.items():
            merged[f"q{i}/{name}"] = value
    if per_codebook:
        merged["perplexity"] = torch.stack([s["perplexity"] for s in per_codebook]).mean()
        merged["dead_codes"] = torch.stack([torch.as_tensor(s["dead_codes"]) for s in per_codebook]).sum()
    return merged


def check_n_q(n_q: int | None, n_max: int, multiple_of: int = 1) -> int:
    """Resolve an optional number of codebooks: ``None`` means all ``n_max``."""
    if n_q is None:
        return n_max
    if not 1 <= n_q <= n_max or n_q % multiple_of:
        extra = f" and a multiple of {multiple_of}" if multiple_of > 1 else ""
        raise ValueError(f"n_q must be between 1 and {n_max}{extra}, got {n_q}")
    return n_q


def check_codes(codes: torch.Tensor, n_max: int, codebook_size: int, multiple_of: int = 1) -> None:
    """Raise ``ValueError`` unless ``codes`` is an integer (B, n_q, F) tensor with valid entries.

    Callers that read codes from a user's file should catch it and re-raise a user error
    naming the file.
    """
    if codes.dim() != 3:
        raise ValueError(f"codes must have shape (B, n_q, F), got {tuple(codes.shape)}")
    if codes.dtype.is_floating_point or codes.dtype.is_complex or codes.dtype == torch.bool:
        raise ValueError(f"codes must be an integer tensor, got {codes.dtype}")
    check_n_q(codes.shape[1], n_max, multiple_of)
    if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= codebook_size):
        raise ValueError(f"codes must lie in [0, {codebook_size - 1}], got values in "
                         f"[{int(codes.min())}, {int(codes.max())}]")


def broadcast_buffers(module: nn.Module) -> None:
    """Copy rank 0's floating-point buffers of ``module`` to every worker (no-op without DDP)."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return
    for buf in module.buffers():
        if buf.is_floating_point():
            torch.distributed.broadcast(buf, src=0)


def all_reduce_mean_(tensor: torch.Tensor) -> torch.Tensor:
    """Average ``tensor`` in place over DDP workers (no-op without DDP)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.all_reduce(tensor)
        tensor /= torch.distributed.get_world_size()
    return tensor
