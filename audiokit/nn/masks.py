"""Attention and padding masks.

Convention: every mask built here is boolean and ``True`` means "allowed / valid" (the
convention of ``torch.nn.functional.scaled_dot_product_attention``). Attention masks are
``(T_q, T_k)`` (shared by the batch) or ``(B, T_q, T_k)``.

Context styles (``att_context_size = [left, right]`` in frames, ``-1`` = unlimited):

* ``"regular"``: a band; frame ``i`` sees frames ``i - left ... i + right``.
* ``"chunked_limited"``: frames are grouped in chunks of ``right + 1``; a frame sees its whole
  chunk and ``left // (right + 1)`` previous chunks (cache-aware streaming Conformer). With
  ``right == -1`` only the left limit applies (a band with unlimited right context).
"""

from __future__ import annotations

import torch

CONTEXT_STYLES = ("regular", "chunked_limited")


def valid_mask(lengths: torch.Tensor, max_len: int | None = None) -> torch.Tensor:
    """``(B,)`` lengths -> ``(B, T)`` mask, ``True`` on the first ``lengths[b]`` steps."""
    if max_len is None:
        max_len = int(lengths.max()) if lengths.numel() else 0
    steps = torch.arange(max_len, device=lengths.device)
    return steps.unsqueeze(0) < lengths.unsqueeze(1)


def window_valid_mask(lengths: torch.Tensor, cache_len: torch.Tensor, cache_size: int, chunk_len: int) -> torch.Tensor:
    """Valid slots of a streaming window ``[cache (cache_size) | chunk (chunk_len)]``.

    The cache is right-aligned: only its last ``cache_len[b]`` slots hold frames; the chunk
    holds ``lengths[b]`` valid frames. Returns ``(B, cache_size + chunk_len)``.
    """
    steps = torch.arange(cache_size + chunk_len, device=lengths.device).unsqueeze(0)
    first = (cache_size - cache_len).unsqueeze(1)
    return (steps >= first) & (steps < (cache_size + lengths).unsqueeze(1))


def causal_mask(size: int, device: torch.device | None = None) -> torch.Tensor:
    """``(T, T)`` lower-triangular mask: frame ``i`` sees frames ``0 ... i``."""
    return torch.ones(size, size, dtype=torch.bool, device=device).tril()


def regular_mask(size: int, left: int, right: int, device: torch.device | None = None) -> torch.Tensor:
    """``(T, T)`` band mask: ``i - left <= j <= i + right`` (``-1`` = unlimited side)."""
    mask = torch.ones(size, size, dtype=torch.bool, device=device)
    if left >= 0:
        mask = mask.triu(diagonal=-left)
    if right >= 0:
        mask = mask.tril(diagonal=right)
    return mask


def chunked_limited_mask(size: int, left: int, right: int, device: torch.device | None = None) -> torch.Tensor:
    """``(T, T)`` chunked limited-context mask (chunks of ``right + 1`` frames).

    Frame ``i`` may attend to frame ``j`` iff ``0 <= i // c - j // c <= left // c`` with
    ``c = right + 1``. ``left = -1``: all previous chunks; ``right = -1``: only the left limit.
    """
    if right < 0:
        return regular_mask(size, left, -1, device)
    chunk = right + 1
    idx = torch.arange(size, device=device) // chunk
    diff = idx.unsqueeze(1) - idx.unsqueeze(0)
    mask = diff >= 0
    if left >= 0:
        mask &= diff <= left // chunk
    return mask


def context_mask(
    size: int, att_context_size: tuple[int, int] | list[int], style: str = "chunked_limited",
    device: torch.device | None = None,
) -> torch.Tensor | None:
    """``(T, T)`` mask for ``att_context_size = [left, right]``; ``None`` when unlimited."""
    left, right = int(att_context_size[0]), int(att_context_size[1])
    if style not in CONTEXT_STYLES:
        raise ValueError(f"unknown attention context style {style!r}; expected one of {CONTEXT_STYLES}")
    if left < 0 and right < 0:
        return None
    if style == "regular":
        return regular_mask(size, left, right, device)
    return chunked_limited_mask(size, left, right, device)


def attention_mask(valid: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
    """Combine a ``(B, T)`` validity mask with an optional ``(T, T)`` context mask.

    Returns ``(B, T, T)``: ``True`` where both query and key are valid and the context
    allows it (padded query rows are fully masked, as in NeMo/ESPnet).
    """
    mask = valid.unsqueeze(1) & valid.unsqueeze(2)
    if context is not None:
        mask = mask & context.unsqueeze(0)
    return mask


def check_streamable(att_context_size: tuple[int, int] | list[int], style: str = "chunked_limited") -> int:
    """Check that ``[left, right]`` can stream with a finite cache; return the chunk size.

    Streaming needs a finite left context that is a whole number of chunks (so that the
    cache boundary falls on a chunk boundary). ``regular`` streams only with ``right == 0``.
    """
    left, right = int(att_context_size[0]), int(att_context_size[1])
    if left < 0:
        raise ValueError(f"att_context_size {[left, right]}: streaming needs a finite left context")
    if style == "regular" and right != 0:
        raise ValueError(f"att_context_size {[left, right]}: 'regular' style streams only with right = 0")
    if right < 0:
        raise ValueError(f"att_context_size {[left, right]}: streaming needs a finite right context")
    chunk = right + 1
    if left % chunk:
        raise ValueError(f"att_context_size {[left, right]}: left context must be a multiple of right + 1 = {chunk}")
    return chunk
