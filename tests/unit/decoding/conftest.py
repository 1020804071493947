"""Shared toys for the decoding tests: a tiny LSTM transducer and brute-force scorers."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from torch import nn


class ToyTransducer(nn.Module):
    """Embedding + 1-layer LSTM prediction net, additive tanh joint (NeMo's shape, tiny).

    Blank is the last class ``V - 1`` and also the start token (zero embedding row).
    """

    state_batch_dim = 1

    def __init__(self, vocab: int = 5, enc_dim: int = 6, hidden: int = 8, joint: int = 8):
        super().__init__()
        self.blank = vocab - 1
        self.embed = nn.Embedding(vocab, hidden, padding_idx=self.blank)
        self.lstm = nn.LSTM(hidden, hidden, batch_first=True)
        self.enc = nn.Linear(enc_dim, joint)
        self.pred = nn.Linear(hidden, joint)
        self.out = nn.Linear(joint, vocab)

    def predict(self, tokens, state):
        g, state = self.lstm(self.embed(tokens), state)
        return g, state

    def joint(self, f, g):
        return self.out(torch.tanh(self.enc(f).unsqueeze(2) + self.pred(g).unsqueeze(1)))

    def full_logits(self, enc, targets):
        """``(B, T, U + 1, V)`` joint over the whole grid for the loss."""
        sos = torch.full((targets.shape[0], 1), self.blank, dtype=torch.long)
        g, _ = self.predict(torch.cat([sos, targets], dim=1), None)
        return self.joint(enc, g)


def make_toy(vocab: int = 5, seed: int = 0) -> ToyTransducer:
    torch.manual_seed(seed)
    model = ToyTransducer(vocab=vocab)
    with torch.no_grad():  # sharper outputs so that hypotheses differ
        model.out.weight.mul_(3.0)
    return model.eval()


@pytest.fixture()
def toy():
    return make_toy()


@pytest.fixture()
def toy_factory():
    """``toy_factory(vocab, seed)`` builds another :class:`ToyTransducer`."""
    return make_toy


def logaddexp(a: float, b: float) -> float:
    m = max(a, b)
    return m + math.log(math.exp(a - m) + math.exp(b - m))


def ctc_labelings(log_probs: torch.Tensor, blank: int) -> dict[tuple[int, ...], float]:
    """log P(labeling) of every labeling, by enumerating all V**T paths of ``(T, V)``."""
    T, V = log_probs.shape
    out: dict[tuple[int, ...], float] = {}
    for path in itertools.product(range(V), repeat=T):
        score = float(sum(log_probs[t, k] for t, k in enumerate(path)))
        label = tuple(k for i, k in enumerate(path) if k != blank and (i == 0 or path[i - 1] != k))
        out[label] = logaddexp(out[label], score) if label in out else score
    return out


def rnnt_alignment_logprob(log_probs: torch.Tensor, target: list[int], blank: int) -> torch.Tensor:
    """log P(target) of a ``(T, U + 1, V)`` grid by enumerating every alignment (differentiable)."""
    T, U = log_probs.shape[0], len(target)
    scores = []
    # an alignment = positions of the U labels among T + U - 1 slots before the final blank
    for pos in itertools.combinations(range(T + U - 1), U):
        t = u = 0
        total = log_probs.new_zeros(())
        for slot in range(T + U - 1):
            if slot in pos:
                total = total + log_probs[t, u, target[u]]
                u += 1
            else:
                total = total + log_probs[t, u, blank]
                t += 1
        scores.append(total + log_probs[T - 1, U, blank])
    return torch.logsumexp(torch.stack(scores), dim=0)


@pytest.fixture()
def brute():
    """The brute-force scorers, as a namespace."""

    class Brute:
        ctc_labelings = staticmethod(ctc_labelings)
        rnnt = staticmethod(rnnt_alignment_logprob)

    return Brute


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny ops: intra-op threads only add overhead (and stall on a busy machine)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
