"""RNN-T (transducer) search: the model protocol and batched greedy decoding.

The prediction net and joint network are models (``audiokit.models.asr``); the search
only needs the :class:`Transducer` protocol. Conventions (NeMo's):

* the start-of-sequence input of the prediction net is the blank id (its embedding
  row is zero in NeMo); ``predict(tokens, None)`` starts from the initial state;
* every frame ends with a blank: a frame emits up to ``max_symbols`` tokens, then
  decoding moves on (NeMo ``greedy_batch`` default ``max_symbols=10``);
* joint outputs may be logits or log-probabilities: greedy takes the argmax, beam
  search applies ``log_softmax`` itself.

Streaming: :func:`rnnt_greedy` returns an :class:`RNNTGreedyState` holding the tokens
so far and the prediction-net output and state for the last token. Feed it back with
the next encoder chunk; the result equals decoding the whole sequence in one call
(decoding is frame-synchronous and never looks ahead). Greedy partials only grow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch

from audiokit.decoding.common import State, check_lengths, where_state


@runtime_checkable
class Transducer(Protocol):
    """What RNN-T search needs from a model.

    ``predict(tokens (B, U) long, state | None) -> (g (B, U, H), state)``: run the
    prediction net on ``tokens`` from ``state`` (``None`` = initial state).
    ``joint(f (B, T, H_enc), g (B, U, H)) -> (B, T, U, V)`` logits (blank included).

    States are tensors or tuples/lists of tensors with the batch in dimension
    ``model.state_batch_dim`` (optional attribute, default 1 as for ``torch.nn.LSTM``).
    """

    def predict(self, tokens: torch.Tensor, state: State) -> tuple[torch.Tensor, State]: ...

    def joint(self, f: torch.Tensor, g: torch.Tensor) -> torch.Tensor: ...


def state_batch_dim(model: Transducer) -> int:
    """The batch dimension of ``model``'s prediction-net state tensors."""
    return int(getattr(model, "state_batch_dim", 1))


def _check_model(model: object) -> None:
    if not isinstance(model, Transducer):
        raise TypeError(f"{type(model).__name__} lacks predict()/joint() (see Transducer)")


def _check_blank(blank: int) -> int:
    if not isinstance(blank, int) or blank < 0:
        raise ValueError(f"blank must be a non-negative token id, got {blank!r}")
    return blank


@dataclass
class RNNTGreedyState:
    """Greedy search state of a batch of streams.

    Attributes:
        tokens: emitted token ids per item.
        frames: global encoder frame index of each emitted token.
        g: ``(B, 1, H)`` prediction-net output for each item's last token (or SOS).
        dec_state: the prediction-net state after that token.
        num_frames: encoder frames consumed per item.
    """

    tokens: list[list[int]]
    frames: list[list[int]]
    g: torch.Tensor
    dec_state: State
    num_frames: list[int]

    @classmethod
    def initial(
        cls, model: Transducer, batch_size: int, blank: int, device=None
    ) -> RNNTGreedyState:
        """Start ``batch_size`` streams: the prediction net has read only SOS (= blank)."""
        sos = torch.full((batch_size, 1), _check_blank(blank), dtype=torch.long, device=device)
        with torch.no_grad():
            g, dec_state = model.predict(sos, None)
        empty = [[] for _ in range(batch_size)]
        return cls(empty, [[] for _ in range(batch_size)], g, dec_state, [0] * batch_size)


def rnnt_greedy(
    model: Transducer,
    enc: torch.Tensor,
    lengths: torch.Tensor | Sequence[int] | None = None,
    *,
    blank: int,
    max_symbols: int = 10,
    state: RNNTGreedyState | None = None,
) -> RNNTGreedyState:
    """Batched greedy RNN-T decoding of ``enc`` (the whole sequence or the next chunk).

    Args:
        model: prediction net + joint (:class:`Transducer`).
        enc: ``(B, T, H_enc)`` encoder output (as the joint takes it).
        lengths: ``(B,)`` valid frames in this chunk (default all; 0 = stream ended).
        blank: blank id (audiokit tokenizers: ``tokenizer.blank_id``, the last class).
        max_symbols: most tokens emitted on one frame.
        state: the state returned for the previous chunk (None: start new streams).

    Returns:
        the updated state; ``state.tokens`` is the (partial) result.
    """
    _check_model(model)
    blank = _check_blank(blank)
    if max_symbols < 1:
        raise ValueError(f"max_symbols must be >= 1, got {max_symbols}")
    B, T, _ = enc.shape
    lens = check_lengths(lengths, B, T)
    if state is None:
        state = RNNTGreedyState.initial(model, B, blank, device=enc.device)
    elif len(state.tokens) != B:
        raise ValueError(f"chunk batch {B} != state batch {len(state.tokens)}")
    dim = state_batch_dim(model)
    lens_t = torch.tensor(lens, device=enc.device)
    with torch.no_grad():
        for t in range(max(lens, default=0)):
            _greedy_frame(model, enc[:, t : t + 1], lens_t > t, t, state, blank, max_symbols, dim)
    state.num_frames = [n + m for n, m in zip(state.num_frames, lens)]
    return state


def _greedy_frame(
    model: Transducer,
    f_t: torch.Tensor,
    active: torch.Tensor,
    t: int,
    state: RNNTGreedyState,
    blank: int,
    max_symbols: int,
    dim: int,
) -> None:
    """Emit up to ``max_symbols`` tokens per active item on one frame ``f_t (B, 1, H)``."""
    going = active
    for _ in range(max_symbols):
        logits = model.joint(f_t, state.g)  # (B, 1, 1, V)
        k = logits[:, 0, 0].argmax(dim=-1)
        emit = going & (k != blank)
        if not bool(emit.any()):
            return
        inp = torch.where(emit, k, torch.full_like(k, blank)).unsqueeze(1)
        g_new, s_new = model.predict(inp, state.dec_state)
        state.g = torch.where(emit.view(-1, 1, 1), g_new, state.g)
        state.dec_state = where_state(emit, s_new, state.dec_state, dim)
        for b in emit.nonzero().flatten().tolist():
            state.tokens[b].append(int(k[b]))
            state.frames[b].append(state.num_frames[b] + t)
        going = emit


def rnnt_greedy_decode(
    model: Transducer,
    enc: torch.Tensor,
    lengths: torch.Tensor | Sequence[int] | None = None,
    *,
    blank: int,
    max_symbols: int = 10,
) -> list[list[int]]:
    """Greedy decoding of whole sequences: token lists per item."""
    return rnnt_greedy(model, enc, lengths, blank=blank, max_symbols=max_symbols).tokens
