"""CTC decoding: batched greedy, a streaming greedy state, prefix beam search.

Inputs are per-frame scores ``log_probs (B, T, V)`` (log-softmax outputs; greedy only
needs their argmax) with valid lengths ``lengths (B,)``. ``blank`` is an explicit
argument: audiokit tokenizers and NeMo put it last (``V - 1``, the default), ESPnet /
OWSM-CTC put it first (0).

Greedy = argmax per frame, collapse repeats, drop blanks. A repeat is collapsed only
when no blank separates the two frames, across chunk borders too.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from audiokit.decoding.common import check_lengths, resolve_blank

#: ``hook(prefix, token) -> extra log score`` for appending ``token`` to ``prefix``
PrefixHook = Callable[[tuple[int, ...], int], float]


def ctc_greedy(
    log_probs: torch.Tensor,
    lengths: torch.Tensor | Sequence[int] | None = None,
    blank: int | None = None,
) -> list[list[int]]:
    """Greedy CTC decoding of a batch.

    Args:
        log_probs: ``(B, T, V)`` frame scores.
        lengths: ``(B,)`` valid frames per item (default: all ``T``).
        blank: blank index (default ``V - 1``).

    Returns:
        one token-id list per item.
    """
    stream = CTCGreedyStream(log_probs.shape[0], blank=resolve_blank(blank, log_probs.shape[-1]))
    stream.step(log_probs, lengths)
    return stream.tokens


@dataclass
class CTCGreedyStream:
    """Greedy CTC over a stream fed chunk by chunk; equals :func:`ctc_greedy` on the whole.

    ``step`` takes the next ``(B, Tc, V)`` chunk with ``(B,)`` valid lengths (an item
    whose stream has ended passes 0). ``tokens[b]`` and ``frames[b]`` (global frame
    index of each emitted token) only ever grow, so every partial result is stable.
    """

    batch_size: int
    blank: int = -1
    tokens: list[list[int]] = field(init=False)
    frames: list[list[int]] = field(init=False)
    last: list[int] = field(init=False)
    num_frames: list[int] = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = [[] for _ in range(self.batch_size)]
        self.frames = [[] for _ in range(self.batch_size)]
        self.last = [-1] * self.batch_size  # last frame's argmax (-1: none yet)
        self.num_frames = [0] * self.batch_size

    def step(
        self, log_probs: torch.Tensor, lengths: torch.Tensor | Sequence[int] | None = None
    ) -> list[list[int]]:
        """Consume one chunk ``(B, Tc, V)``; return the tokens it added per item."""
        B, T, V = log_probs.shape
        if B != self.batch_size:
            raise ValueError(f"chunk batch {B} != stream batch {self.batch_size}")
        blank = resolve_blank(self.blank, V)
        lens = check_lengths(lengths, B, T)
        best = log_probs.argmax(dim=-1).tolist()
        added: list[list[int]] = []
        for b in range(B):
            new: list[int] = []
            prev = self.last[b]
            for t in range(lens[b]):
                k = best[b][t]
                if k != blank and k != prev:
                    new.append(k)
                    self.frames[b].append(self.num_frames[b] + t)
                prev = k
            if lens[b]:
                self.last[b] = prev
            self.num_frames[b] += lens[b]
            self.tokens[b].extend(new)
            added.append(new)
        return added


# --------------------------------------------------------------------------- beam
@dataclass
class _Prefix:
    """Log probabilities of a prefix ending in blank / non-blank, plus hook score."""

    blank: float = -math.inf
    nonblank: float = -math.inf
    extra: float = 0.0

    @property
    def acoustic(self) -> float:
        return _logaddexp(self.blank, self.nonblank)

    @property
    def total(self) -> float:
        return self.acoustic + self.extra


def _logaddexp(a: float, b: float) -> float:
    if a == -math.inf:
        return b
    if b == -math.inf:
        return a
    m = max(a, b)
    return m + math.log(math.exp(a - m) + math.exp(b - m))


@dataclass
class CTCHypothesis:
    """A prefix-beam result: ``score`` = acoustic log prob (sum over paths) + hook score."""

    tokens: list[int]
    score: float
    acoustic: float


@dataclass
class CTCBeamState:
    """Per-item prefix beams carried across chunks (see :func:`ctc_prefix_beam`)."""

    beams: list[dict[tuple[int, ...], _Prefix]]
    num_frames: list[int]

    @classmethod
    def initial(cls, batch_size: int) -> CTCBeamState:
        return cls([{(): _Prefix(blank=0.0)} for _ in range(batch_size)], [0] * batch_size)

    def nbest(self, b: int) -> list[CTCHypothesis]:
        """Item ``b``'s hypotheses, best first."""
        items = sorted(self.beams[b].items(), key=lambda kv: kv[1].total, reverse=True)
        return [CTCHypothesis(list(k), p.total, p.acoustic) for k, p in items]

    def best(self) -> list[list[int]]:
        """The best token list of every item (a partial result while streaming)."""
        return [self.nbest(b)[0].tokens for b in range(len(self.beams))]


def ctc_prefix_beam(
    log_probs: torch.Tensor,
    lengths: torch.Tensor | Sequence[int] | None = None,
    beam_size: int = 8,
    blank: int | None = None,
    token_prune: int | None = None,
    hook: PrefixHook | None = None,
    state: CTCBeamState | None = None,
) -> CTCBeamState:
    """CTC prefix beam search (Hannun et al. 2014), frame-synchronous and resumable.

    Each prefix keeps the log probability of all paths that end in blank and in
    non-blank, so its score is the exact sum over alignments (with an unlimited beam
    the result equals exhaustive search). ``hook(prefix, token)`` adds a score when a
    token is appended (an LM or a word bonus; a word-level LM scores at word-boundary
    tokens); the ranking uses acoustic + hook scores.

    Args:
        log_probs: ``(B, T, V)`` log-softmax outputs.
        lengths: ``(B,)`` valid frames (default all).
        beam_size: prefixes kept after each frame.
        blank: blank index (default ``V - 1``).
        token_prune: per frame, only the ``token_prune`` best non-blank tokens are
            considered (default: all).
        hook: optional prefix-extension score.
        state: the state returned for the previous chunk, to continue a stream.

    Returns:
        the state; ``state.best()`` gives token lists, ``state.nbest(b)`` scores.
    """
    B, T, V = log_probs.shape
    blank = resolve_blank(blank, V)
    lens = check_lengths(lengths, B, T)
    state = state or CTCBeamState.initial(B)
    if len(state.beams) != B:
        raise ValueError(f"chunk batch {B} != state batch {len(state.beams)}")
    lp = log_probs.detach().float().cpu()
    for b in range(B):
        beam = state.beams[b]
        for t in range(lens[b]):
            beam = _prefix_step(beam, lp[b, t], blank, beam_size, token_prune, hook)
        state.beams[b] = beam
        state.num_frames[b] += lens[b]
    return state


def _prefix_step(
    beam: dict[tuple[int, ...], _Prefix],
    frame: torch.Tensor,
    blank: int,
    beam_size: int,
    token_prune: int | None,
    hook: PrefixHook | None,
) -> dict[tuple[int, ...], _Prefix]:
    """Advance every prefix by one frame ``(V,)`` and keep the ``beam_size`` best."""
    scores = frame.tolist()
    tokens = [k for k in range(len(scores)) if k != blank]
    if token_prune is not None and token_prune < len(tokens):
        tokens = sorted(tokens, key=lambda k: scores[k], reverse=True)[:token_prune]
    p_blank = scores[blank]
    nxt: dict[tuple[int, ...], _Prefix] = {}

    def entry(prefix: tuple[int, ...], extra: float) -> _Prefix:
        if prefix not in nxt:
            nxt[prefix] = _Prefix(extra=extra)
        return nxt[prefix]

    for prefix, p in beam.items():
        stay = entry(prefix, p.extra)
        stay.blank = _logaddexp(stay.blank, p.acoustic + p_blank)
        last = prefix[-1] if prefix else None
        if last is not None:  # repeat of the last token without a blank: same prefix
            stay.nonblank = _logaddexp(stay.nonblank, p.nonblank + scores[last])
        for k in tokens:
            # after a blank any token extends; the same token needs a blank in between
            src = p.blank if k == last else p.acoustic
            if src == -math.inf:
                continue
            longer = prefix + (k,)
            if longer not in nxt:
                extra = p.extra + (hook(prefix, k) if hook is not None else 0.0)
                ext = entry(longer, extra)
            else:
                ext = nxt[longer]
            ext.nonblank = _logaddexp(ext.nonblank, src + scores[k])
    ranked = sorted(nxt.items(), key=lambda kv: kv[1].total, reverse=True)[:beam_size]
    return dict(ranked)
