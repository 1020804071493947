"""RNN-T beam search: time-synchronous decoding (TSD, Saon et al. 2020), resumable.

Algorithm, per encoder frame ``t`` with beam ``A`` (hypotheses that ended frame
``t - 1`` with a blank):

1. for ``n = 0 .. max_symbols``: score every hypothesis of ``A`` with the joint;
   its blank extension goes to the next beam ``B`` (same token sequences merged by
   log-sum-exp: they are different alignments of the same text, and the prediction
   net depends on the text only); unless ``n == max_symbols``, the ``beam_size``
   best non-blank extensions (run through the prediction net in one batch) become
   the new ``A``. Extensions that already score below the ``beam_size``-th entry of
   ``B`` are dropped (they can only lose probability).
2. the ``beam_size`` best of ``B`` are the beam for frame ``t + 1``.

Scores are log-probabilities summed over the merged alignments, with no length
normalisation. With an unlimited beam and ``max_symbols`` at least the text length,
a hypothesis' score equals ``-rnnt_loss`` of its text. Because the search is
frame-synchronous and never looks ahead, feeding the encoder output chunk by chunk
with the returned :class:`RNNTBeamState` gives the same result as one call. The best
hypothesis of a partial state can still change later (unlike greedy).

Batches are decoded item by item; an item's hypotheses are batched through the
prediction net and joint.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from audiokit.decoding.common import State, cat_states, check_lengths, select_state
from audiokit.decoding.rnnt import (
    Transducer,
    _check_blank,
    _check_model,
    state_batch_dim,
)


@dataclass
class RNNTHypothesis:
    """One beam entry: tokens, log score, frame of each token, prediction-net output/state."""

    tokens: tuple[int, ...]
    score: float
    frames: tuple[int, ...]
    g: torch.Tensor  # (1, 1, H)
    state: State  # batch of one


@dataclass
class RNNTBeamState:
    """Per-item beams (best first) carried across chunks."""

    beams: list[list[RNNTHypothesis]]
    num_frames: list[int]

    def nbest(self, b: int) -> list[RNNTHypothesis]:
        """Item ``b``'s hypotheses, best first."""
        return self.beams[b]

    def best(self) -> list[list[int]]:
        """The best token list of every item (a partial result while streaming)."""
        return [list(beam[0].tokens) for beam in self.beams]


def rnnt_beam(
    model: Transducer,
    enc: torch.Tensor,
    lengths: torch.Tensor | Sequence[int] | None = None,
    *,
    blank: int,
    beam_size: int = 4,
    max_symbols: int = 4,
    state: RNNTBeamState | None = None,
) -> RNNTBeamState:
    """Time-synchronous RNN-T beam search over ``enc`` (a whole sequence or a chunk).

    Args:
        model: prediction net + joint (:class:`~audiokit.decoding.rnnt.Transducer`).
        enc: ``(B, T, H_enc)`` encoder output.
        lengths: ``(B,)`` valid frames in this chunk (default all).
        blank: blank id (also the prediction net's start token).
        beam_size: hypotheses kept per frame and per expansion step.
        max_symbols: most tokens one hypothesis emits on one frame.
        state: the state returned for the previous chunk (None: new streams).

    Returns:
        the state: ``state.best()`` token lists, ``state.nbest(b)`` scored hypotheses.
    """
    _check_model(model)
    blank = _check_blank(blank)
    if beam_size < 1 or max_symbols < 1:
        raise ValueError("beam_size and max_symbols must be >= 1")
    B, T, _ = enc.shape
    lens = check_lengths(lengths, B, T)
    dim = state_batch_dim(model)
    with torch.no_grad():
        if state is None:
            state = RNNTBeamState([_start(model, blank, enc.device) for _ in range(B)], [0] * B)
        elif len(state.beams) != B:
            raise ValueError(f"chunk batch {B} != state batch {len(state.beams)}")
        for b in range(B):
            beam = state.beams[b]
            for t in range(lens[b]):
                frame = state.num_frames[b] + t
                f_t = enc[b : b + 1, t : t + 1]
                beam = _frame(model, f_t, beam, frame, blank, beam_size, max_symbols, dim)
            state.beams[b] = beam
            state.num_frames[b] += lens[b]
    return state


def _start(model: Transducer, blank: int, device) -> list[RNNTHypothesis]:
    g, s = model.predict(torch.full((1, 1), blank, dtype=torch.long, device=device), None)
    return [RNNTHypothesis((), 0.0, (), g, s)]


def _merge(pool: dict[tuple[int, ...], RNNTHypothesis], hyp: RNNTHypothesis) -> None:
    """Add ``hyp`` to ``pool``, summing probabilities with an equal token sequence."""
    old = pool.get(hyp.tokens)
    if old is None:
        pool[hyp.tokens] = hyp
        return
    hi, lo = (old, hyp) if old.score >= hyp.score else (hyp, old)
    score = (
        hi.score if lo.score == -math.inf else hi.score + math.log1p(math.exp(lo.score - hi.score))
    )
    pool[hyp.tokens] = RNNTHypothesis(hi.tokens, score, hi.frames, old.g, old.state)


def _frame(
    model: Transducer,
    f_t: torch.Tensor,
    beam: list[RNNTHypothesis],
    frame: int,
    blank: int,
    beam_size: int,
    max_symbols: int,
    dim: int,
) -> list[RNNTHypothesis]:
    """Advance ``beam`` over one encoder frame ``f_t (1, 1, H)``."""
    ended: dict[tuple[int, ...], RNNTHypothesis] = {}
    active = beam
    for n in range(max_symbols + 1):
        g = torch.cat([h.g for h in active], dim=0)  # (N, 1, H)
        logits = model.joint(f_t.expand(len(active), -1, -1), g)[:, 0, 0]
        logp = torch.log_softmax(logits.float(), dim=-1)  # (N, V)
        for i, h in enumerate(active):
            _merge(
                ended,
                RNNTHypothesis(h.tokens, h.score + float(logp[i, blank]), h.frames, h.g, h.state),
            )
        if n == max_symbols:
            break
        active = _expand(model, active, logp, ended, frame, blank, beam_size, dim)
        if not active:
            break
    return sorted(ended.values(), key=lambda h: h.score, reverse=True)[:beam_size]


def _expand(
    model: Transducer,
    active: list[RNNTHypothesis],
    logp: torch.Tensor,
    ended: dict[tuple[int, ...], RNNTHypothesis],
    frame: int,
    blank: int,
    beam_size: int,
    dim: int,
) -> list[RNNTHypothesis]:
    """The ``beam_size`` best one-token extensions of ``active``, run through the prediction net."""
    scores = (
        torch.tensor([h.score for h in active], dtype=torch.float64).unsqueeze(1) + logp.double()
    )
    scores[:, blank] = -math.inf
    top = scores.flatten().topk(min(beam_size, scores.numel() - len(active)))
    floor = -math.inf
    if len(ended) >= beam_size:
        floor = sorted((h.score for h in ended.values()), reverse=True)[beam_size - 1]
    V = scores.shape[1]
    picks = [
        (s, i // V, i % V) for s, i in zip(top.values.tolist(), top.indices.tolist()) if s > floor
    ]
    if not picks:
        return []
    src = torch.tensor([i for _, i, _ in picks], device=active[0].g.device)
    tokens = torch.tensor([[k] for _, _, k in picks], dtype=torch.long, device=src.device)
    states = cat_states([h.state for h in active], dim)
    g_new, s_new = model.predict(tokens, select_state(states, src, dim))
    pool: dict[tuple[int, ...], RNNTHypothesis] = {}
    for j, (s, i, k) in enumerate(picks):
        h = active[i]
        one = torch.tensor([j], device=src.device)
        hyp = RNNTHypothesis(
            h.tokens + (k,), s, h.frames + (frame,), g_new[j : j + 1], select_state(s_new, one, dim)
        )
        _merge(pool, hyp)
    return list(pool.values())
