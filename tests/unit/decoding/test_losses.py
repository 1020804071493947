"""CTC and RNN-T losses here: values and gradients against brute force; a toy learns."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F
import torchaudio.functional as AF

from audiokit.decoding import ctc_greedy, rnnt_greedy_decode


def ctc_brute_logprob(log_probs: torch.Tensor, target: list[int], blank: int) -> torch.Tensor:
    """log P(target) of ``(T, V)`` by summing every path that collapses to it."""
    T, V = log_probs.shape
    scores = []
    for path in itertools.product(range(V), repeat=T):
        label = [k for i, k in enumerate(path) if k != blank and (i == 0 or path[i - 1] != k)]
        if label == target:
            scores.append(log_probs[torch.arange(T), torch.tensor(path)].sum())
    return torch.logsumexp(torch.stack(scores), dim=0)


def test_ctc_loss_and_gradient_match_brute_force():
    g = torch.Generator().manual_seed(0)
    T, V = 5, 3
    blank = V - 1  # audiokit/NeMo convention: blank last
    logits = torch.randn(2, T, V, generator=g, dtype=torch.float64, requires_grad=True)
    targets = [[0, 1], [1, 1]]
    lengths = [5, 4]
    log_probs = logits.log_softmax(-1)
    loss = F.ctc_loss(
        log_probs.transpose(0, 1),
        torch.tensor(targets),
        torch.tensor(lengths),
        torch.tensor([2, 2]),
        blank=blank,
        reduction="sum",
    )
    (grad,) = torch.autograd.grad(loss, logits, retain_graph=True)
    brute = -sum(ctc_brute_logprob(log_probs[b, : lengths[b]], targets[b], blank) for b in range(2))
    (grad_brute,) = torch.autograd.grad(brute, logits)
    assert loss.item() == pytest.approx(brute.item(), abs=1e-9)
    assert torch.allclose(grad, grad_brute, atol=1e-9)
    assert grad[1, 4].abs().max() == 0  # padded frame gets no gradient


def test_rnnt_loss_and_gradient_match_brute_force(toy, brute):
    enc = torch.randn(2, 4, 6, generator=torch.Generator().manual_seed(1))
    targets = torch.tensor([[0, 3, 1], [2, 2, 0]])
    lengths, target_lengths = [4, 3], [3, 2]
    logits = toy.full_logits(enc, targets).detach().requires_grad_(True)  # (B, T, U + 1, V)
    loss = AF.rnnt_loss(
        logits,
        targets.int(),
        torch.tensor(lengths, dtype=torch.int32),
        torch.tensor(target_lengths, dtype=torch.int32),
        blank=toy.blank,
        reduction="sum",
    )
    (grad,) = torch.autograd.grad(loss, logits)
    lp = logits.double().log_softmax(-1)
    brute_loss = -sum(
        brute.rnnt(
            lp[b, : lengths[b], : target_lengths[b] + 1],
            targets[b, : target_lengths[b]].tolist(),
            toy.blank,
        )
        for b in range(2)
    )
    (grad_brute,) = torch.autograd.grad(brute_loss, logits)
    assert loss.item() == pytest.approx(brute_loss.item(), abs=1e-4)
    assert torch.allclose(grad, grad_brute.float(), atol=1e-5)
    assert grad[1, 3:].abs().max() == 0 and grad[1, :, 3:].abs().max() == 0  # padding


def test_hybrid_rnnt_ctc_toy_learns_a_transcript(toy):
    """A linear encoder + the toy transducer + a CTC head overfit one utterance."""
    torch.manual_seed(0)
    T, D = 12, 6
    feats = torch.randn(1, T, D)
    target = torch.tensor([[0, 2, 2, 1, 3]])
    encoder = torch.nn.Linear(D, D)
    ctc_head = torch.nn.Linear(D, toy.blank + 1)
    params = [*encoder.parameters(), *ctc_head.parameters(), *toy.parameters()]
    opt = torch.optim.Adam(params, lr=0.03)
    toy.train()
    losses = []
    for _ in range(150):
        enc = encoder(feats)
        rnnt = AF.rnnt_loss(
            toy.full_logits(enc, target),
            target.int(),
            torch.tensor([T], dtype=torch.int32),
            torch.tensor([5], dtype=torch.int32),
            blank=toy.blank,
        )
        log_probs = ctc_head(enc).log_softmax(-1)
        ctc = F.ctc_loss(
            log_probs.transpose(0, 1), target, torch.tensor([T]), torch.tensor([5]), blank=toy.blank
        )
        loss = 0.7 * rnnt + 0.3 * ctc  # NeMo's hybrid weighting
        opt.zero_grad()
        loss.backward()
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in params)
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.1 * losses[0]
    toy.eval()
    with torch.no_grad():
        enc = encoder(feats)
        assert rnnt_greedy_decode(toy, enc, blank=toy.blank) == target.tolist()
        assert ctc_greedy(ctc_head(enc).log_softmax(-1), blank=toy.blank) == target.tolist()
