"""RNN-T search: greedy and TSD beam, batched, streamed chunk by chunk."""

from __future__ import annotations

import pytest
import torch
import torchaudio.functional as AF
from torch import nn

from audiokit.decoding import (
    RNNTGreedyState,
    rnnt_beam,
    rnnt_greedy,
    rnnt_greedy_decode,
)


def encoder_out(B: int, T: int, D: int = 6, seed: int = 0) -> torch.Tensor:
    return 2.0 * torch.randn(B, T, D, generator=torch.Generator().manual_seed(seed))


class Scripted(nn.Module):
    """A transducer whose joint ignores the prediction net: logits = the encoder frame."""

    def __init__(self, blank: int):
        super().__init__()
        self.blank = blank
        self.calls = 0

    def predict(self, tokens, state):
        self.calls += 1
        count = (state if state is not None else torch.zeros(1, tokens.shape[0], 1)) + 1
        return torch.zeros(tokens.shape[0], tokens.shape[1], 1), count

    def joint(self, f, g):
        return f.unsqueeze(2).expand(-1, -1, g.shape[1], -1)


def scripted_frames(path: list[int], V: int = 4) -> torch.Tensor:
    return torch.nn.functional.one_hot(torch.tensor(path), V).float()[None]


def test_greedy_hand_checked_and_max_symbols():
    blank = 3
    f = scripted_frames([0, blank, 1, 1, blank, 2])
    # a frame whose best class is a token keeps emitting it up to max_symbols
    assert rnnt_greedy_decode(Scripted(blank), f, blank=blank, max_symbols=1) == [[0, 1, 1, 2]]
    state = rnnt_greedy(Scripted(blank), f, blank=blank, max_symbols=3)
    assert state.tokens == [[0, 0, 0, 1, 1, 1, 1, 1, 1, 2, 2, 2]]
    assert state.frames == [[0, 0, 0, 2, 2, 2, 3, 3, 3, 5, 5, 5]]
    assert state.num_frames == [6]
    # the prediction-net state advanced once for SOS and once per emitted token
    assert int(state.dec_state[0, 0, 0]) == 13


def test_greedy_batch_equals_per_item_and_ignores_padding(toy):
    B, T = 4, 12
    enc = encoder_out(B, T)
    lengths = torch.tensor([12, 7, 1, 10])
    batch = rnnt_greedy(toy, enc, lengths, blank=toy.blank, max_symbols=3)
    assert any(batch.tokens), "the toy must emit tokens"
    for b in range(B):
        n = int(lengths[b])
        single = rnnt_greedy(toy, enc[b : b + 1, :n], blank=toy.blank, max_symbols=3)
        assert single.tokens[0] == batch.tokens[b]
        assert single.frames[0] == batch.frames[b]
    garbage = enc.clone()
    garbage[1, 7:] = 100.0
    assert rnnt_greedy(toy, garbage, lengths, blank=toy.blank, max_symbols=3).tokens == batch.tokens


@pytest.mark.parametrize("chunks", [[5, 5, 5, 5, 4], [1] * 24, [24], [3, 0, 13, 8]])
def test_greedy_streaming_equals_whole(toy, chunks):
    B, T = 3, 24
    enc = encoder_out(B, T, seed=1)
    lengths = [24, 17, 5]
    whole = rnnt_greedy(toy, enc, lengths, blank=toy.blank, max_symbols=4)
    state = None
    start = 0
    for size in chunks:
        chunk_lens = [max(0, min(n - start, size)) for n in lengths]
        state = rnnt_greedy(
            toy,
            enc[:, start : start + size],
            chunk_lens,
            blank=toy.blank,
            max_symbols=4,
            state=state,
        )
        start += size
    assert isinstance(state, RNNTGreedyState)
    assert state.tokens == whole.tokens and state.frames == whole.frames
    assert state.num_frames == lengths
    assert torch.equal(state.g, whole.g)
    assert all(torch.equal(a, b) for a, b in zip(state.dec_state, whole.dec_state))


def text_logprob(toy, enc, tokens: list[int]) -> float:
    """log P(tokens | enc) summed over all alignments (torchaudio's RNN-T loss)."""
    target = torch.tensor([tokens], dtype=torch.long)
    with torch.no_grad():
        loss = AF.rnnt_loss(
            toy.full_logits(enc, target),
            target.int(),
            torch.tensor([enc.shape[1]], dtype=torch.int32),
            torch.tensor([len(tokens)], dtype=torch.int32),
            blank=toy.blank,
            reduction="none",
        )
    return -float(loss)


def test_beam_scores_equal_rnnt_loss_when_exhaustive(toy_factory):
    toy = toy_factory(vocab=3, seed=5)  # tokens 0, 1 and blank 2
    T, max_symbols = 3, 3
    enc = encoder_out(1, T, seed=2)
    state = rnnt_beam(toy, enc, blank=toy.blank, beam_size=100_000, max_symbols=max_symbols)
    hyps = state.nbest(0)
    assert len(hyps) == 2**10 - 1  # every text of up to 9 tokens
    checked = 0
    for h in hyps:
        if len(h.tokens) <= max_symbols:  # longer texts have alignments the search caps
            assert h.score == pytest.approx(text_logprob(toy, enc, list(h.tokens)), abs=1e-4)
            checked += 1
    assert checked == 1 + 2 + 4 + 8  # every text of length <= 3
    assert [h.score for h in hyps] == sorted((h.score for h in hyps), reverse=True)


@pytest.mark.parametrize("chunks", [[4, 4, 4, 3], [1] * 15, [7, 0, 8]])
def test_beam_streaming_equals_whole(toy, chunks):
    B, T = 2, 15
    enc = encoder_out(B, T, seed=3)
    lengths = [15, 9]
    kw = {"blank": toy.blank, "beam_size": 3, "max_symbols": 2}
    whole = rnnt_beam(toy, enc, lengths, **kw)
    state, start = None, 0
    for size in chunks:
        chunk_lens = [max(0, min(n - start, size)) for n in lengths]
        state = rnnt_beam(toy, enc[:, start : start + size], chunk_lens, state=state, **kw)
        start += size
    for b in range(B):
        got = [(h.tokens, h.score, h.frames) for h in state.nbest(b)]
        assert got == [(h.tokens, h.score, h.frames) for h in whole.nbest(b)]
        single = rnnt_beam(toy, enc[b : b + 1, : lengths[b]], **kw)
        assert [(h.tokens, h.score) for h in single.nbest(0)] == [
            (h.tokens, h.score) for h in whole.nbest(b)
        ]
    assert state.num_frames == lengths
    assert any(whole.best())


def test_beam_finds_a_better_text_than_greedy(toy):
    enc = encoder_out(1, 6, seed=4)
    greedy = rnnt_greedy_decode(toy, enc, blank=toy.blank, max_symbols=2)[0]
    best = rnnt_beam(toy, enc, blank=toy.blank, beam_size=8, max_symbols=2).nbest(0)[0]
    assert list(best.tokens) != greedy
    # the beam's score is a lower bound of its text's probability (alignments capped)
    assert best.score <= text_logprob(toy, enc, list(best.tokens)) + 1e-4
    assert best.score > text_logprob(toy, enc, greedy) + 1.0


def test_bad_arguments(toy):
    enc = encoder_out(1, 3)
    with pytest.raises(TypeError, match="predict"):
        rnnt_greedy(object(), enc, blank=0)
    with pytest.raises(ValueError, match="blank"):
        rnnt_greedy(toy, enc, blank=-1)
    with pytest.raises(ValueError, match="max_symbols"):
        rnnt_greedy(toy, enc, blank=toy.blank, max_symbols=0)
    state = rnnt_greedy(toy, enc, blank=toy.blank)
    with pytest.raises(ValueError, match="batch"):
        rnnt_greedy(toy, encoder_out(2, 3), blank=toy.blank, state=state)
