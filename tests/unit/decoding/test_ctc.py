"""CTC decoding: greedy (batched, streaming) and prefix beam search."""

from __future__ import annotations

import math
import random

import pytest
import torch

from audiokit.decoding import CTCGreedyStream, ctc_greedy, ctc_prefix_beam

BLANK = 3  # V = 4: tokens 0, 1, 2 and blank last


def one_hot_path(path: list[int], V: int = 4, p: float = 0.9) -> torch.Tensor:
    """``(T, V)`` log-probs whose argmax follows ``path``."""
    probs = torch.full((len(path), V), (1 - p) / (V - 1))
    probs[torch.arange(len(path)), torch.tensor(path)] = p
    return probs.log()


def random_log_probs(B: int, T: int, V: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.log_softmax(2.0 * torch.randn(B, T, V, generator=g), dim=-1)


def test_greedy_on_hand_made_posteriors():
    b = BLANK
    paths = [
        [0, 0, b, 0, 1, 1, b, b],  # repeat with a blank in between -> two 0s
        [b, 2, 2, 2, b, 2, b, 1],
        [b, b, b, b, b, b, b, b],
    ]
    lp = torch.stack([one_hot_path(p) for p in paths])
    assert ctc_greedy(lp, blank=b) == [[0, 0, 1], [2, 2, 1], []]
    assert ctc_greedy(lp) == [[0, 0, 1], [2, 2, 1], []]  # default blank = last
    # lengths: frames past the end are ignored
    assert ctc_greedy(lp, torch.tensor([4, 3, 8]), blank=b) == [[0, 0], [2], []]


def test_greedy_blank_first_convention():
    lp = one_hot_path([0, 1, 1, 0, 2, 2])[None]
    assert ctc_greedy(lp, blank=0) == [[1, 2]]


def random_chunks(T: int, rng: random.Random) -> list[int]:
    bounds = sorted(rng.sample(range(1, T), 3)) + [T]
    sizes, start = [], 0
    for end in bounds:
        sizes.append(end - start)
        start = end
    return sizes + [0]


@pytest.mark.parametrize("seed", range(5))
def test_streaming_greedy_equals_whole(seed):
    rng = random.Random(seed)
    B, T, V = 3, 40, 4
    # few classes and a sticky argmax: many repeats fall on chunk borders
    lp = random_log_probs(B, T, V, seed).repeat_interleave(2, dim=1)[:, :T]
    lengths = [T, T - 7, 13]
    stream = CTCGreedyStream(B, blank=BLANK)
    start = 0
    for size in random_chunks(T, rng):
        chunk_lens = [max(0, min(n - start, size)) for n in lengths]
        stream.step(lp[:, start : start + size], chunk_lens)
        start += size
    assert stream.tokens == ctc_greedy(lp, lengths, blank=BLANK)
    # frames: the argmax at each recorded frame is the token
    for b in range(B):
        assert [int(lp[b, t].argmax()) for t in stream.frames[b]] == stream.tokens[b]


def test_repeat_across_chunk_border_collapses():
    b = BLANK
    stream = CTCGreedyStream(1, blank=b)
    assert stream.step(one_hot_path([1, 2, 2])[None]) == [[1, 2]]
    assert stream.step(one_hot_path([2, 2, b])[None]) == [[]]  # same token continues
    assert stream.step(one_hot_path([2])[None]) == [[2]]  # after a blank: new token
    assert stream.step(one_hot_path([2])[None], [0]) == [[]]  # ended stream
    assert stream.tokens == [[1, 2, 2]] and stream.frames == [[0, 1, 6]]


def test_prefix_beam_beats_greedy():
    # 2 frames, token "a" (0) with p=0.4 each frame, blank (1) 0.6
    lp = torch.tensor([[[0.4, 0.6], [0.4, 0.6]]]).log()
    assert ctc_greedy(lp, blank=1) == [[]]  # best path: blank blank, 0.36
    state = ctc_prefix_beam(lp, beam_size=4, blank=1)
    best = state.nbest(0)[0]
    assert best.tokens == [0]  # "a": 0.16 + 0.24 + 0.24 = 0.64
    assert best.score == pytest.approx(math.log(0.64), abs=1e-6)
    assert state.nbest(0)[1].score == pytest.approx(math.log(0.36), abs=1e-6)


@pytest.mark.parametrize("seed", range(3))
def test_prefix_beam_equals_exhaustive_search(seed, brute):
    T, V = 5, 3
    lp = random_log_probs(1, T, V, seed)[0]
    exact = brute.ctc_labelings(lp, blank=V - 1)
    state = ctc_prefix_beam(lp[None], beam_size=10_000, blank=V - 1)
    got = {tuple(h.tokens): h.acoustic for h in state.nbest(0)}
    assert set(got) == set(exact)
    for label, score in exact.items():
        assert got[label] == pytest.approx(score, abs=1e-5)
    assert tuple(state.best()[0]) == max(exact, key=exact.get)
    assert math.isclose(sum(math.exp(s) for s in got.values()), 1.0, abs_tol=1e-5)


def test_prefix_beam_streaming_and_batch_equal_whole():
    B, T, V = 3, 30, 5
    lp = random_log_probs(B, T, V, 7)
    lengths = [30, 22, 9]
    whole = ctc_prefix_beam(lp, lengths, beam_size=4)
    state = None
    for start in range(0, T, 7):
        chunk = [max(0, min(n - start, 7)) for n in lengths]
        state = ctc_prefix_beam(lp[:, start : start + 7], chunk, beam_size=4, state=state)
    for b in range(B):
        assert [(h.tokens, h.score) for h in state.nbest(b)] == [
            (h.tokens, h.score) for h in whole.nbest(b)
        ]
        single = ctc_prefix_beam(lp[b : b + 1, : lengths[b]], beam_size=4)
        assert single.best()[0] == whole.best()[b]
    assert state.num_frames == lengths


def test_prefix_beam_hook_and_token_prune():
    lp = random_log_probs(1, 12, 4, 3)
    plain = ctc_prefix_beam(lp, beam_size=6).best()[0]
    assert plain, "the example must emit something"
    banned = plain[0]
    hooked = ctc_prefix_beam(lp, beam_size=6, hook=lambda prefix, k: -100.0 if k == banned else 0.0)
    assert banned not in hooked.best()[0]
    assert hooked.nbest(0)[0].score == pytest.approx(hooked.nbest(0)[0].acoustic)
    second = torch.tensor([[[0.5, 0.3, 0.2]] * 3]).log()  # token 1 is never the top one
    assert any(1 in h.tokens for h in ctc_prefix_beam(second, beam_size=6).nbest(0))
    pruned = ctc_prefix_beam(second, beam_size=6, token_prune=1)
    assert all(set(h.tokens) <= {0} for h in pruned.nbest(0))
    wide = ctc_prefix_beam(lp, beam_size=6, token_prune=3)
    assert [h.score for h in wide.nbest(0)] == [
        h.score for h in ctc_prefix_beam(lp, beam_size=6).nbest(0)
    ]


def test_bad_arguments():
    lp = random_log_probs(2, 4, 3, 0)
    with pytest.raises(ValueError, match="lengths"):
        ctc_greedy(lp, [4])
    with pytest.raises(ValueError, match="lengths"):
        ctc_greedy(lp, [5, 4])
    with pytest.raises(ValueError, match="blank"):
        ctc_greedy(lp, blank=3)
