"""Small helpers shared by the decoders: blank index, lengths, batched recurrent states.

A decoder state ("state tree") is ``None``, a tensor, or a tuple/list of state trees
(an LSTM's ``(h, c)`` for example). Every tensor in one tree has its batch in the same
dimension ``dim`` (1 for ``torch.nn.LSTM``'s ``(layers, B, H)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

State = Any


def resolve_blank(blank: int | None, num_classes: int) -> int:
    """The blank index in ``[0, num_classes)``; None or negative counts from the end."""
    if blank is None:
        blank = -1
    if blank < 0:
        blank += num_classes
    if not 0 <= blank < num_classes:
        raise ValueError(f"blank index {blank} outside 0..{num_classes - 1}")
    return blank


def check_lengths(
    lengths: torch.Tensor | Sequence[int] | None, batch: int, max_len: int
) -> list[int]:
    """Valid lengths as a list of ints (default: all ``max_len``), each in ``0..max_len``."""
    if lengths is None:
        return [max_len] * batch
    lens = [int(x) for x in (lengths.tolist() if torch.is_tensor(lengths) else lengths)]
    if len(lens) != batch:
        raise ValueError(f"{len(lens)} lengths for a batch of {batch}")
    if any(not 0 <= n <= max_len for n in lens):
        raise ValueError(f"lengths {lens} must lie in 0..{max_len}")
    return lens


def select_state(state: State, index: torch.Tensor, dim: int) -> State:
    """Gather batch entries ``index (N,)`` of every tensor in ``state``."""
    if state is None:
        return None
    if torch.is_tensor(state):
        return state.index_select(dim, index.to(state.device))
    return type(state)(select_state(s, index, dim) for s in state)


def where_state(mask: torch.Tensor, new: State, old: State, dim: int) -> State:
    """Per batch entry, ``new`` where ``mask (B,)`` is true, else ``old``."""
    if new is None:
        return None
    if torch.is_tensor(new):
        shape = [1] * new.dim()
        shape[dim] = -1
        return torch.where(mask.to(new.device).view(shape), new, old)
    return type(new)(where_state(mask, n, o, dim) for n, o in zip(new, old))


def cat_states(states: Sequence[State], dim: int) -> State:
    """Concatenate states of several batches along the batch dimension."""
    first = states[0]
    if first is None:
        return None
    if torch.is_tensor(first):
        return torch.cat(list(states), dim=dim)
    return type(first)(cat_states([s[i] for s in states], dim) for i in range(len(first)))
