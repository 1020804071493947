"""EMA and learned codebooks: assignment, k-means init, EMA maths, dead codes, losses, stats."""

from __future__ import annotations

import pytest
import torch

from audiokit.quantizers import EMACodebook, LearnedCodebook, make_codebook, usage_stats
from audiokit.quantizers.kmeans import kmeans, nearest, sample_vectors


def _rows(n: int, dim: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed))


def _ema(dim=4, size=8, **kwargs) -> EMACodebook:
    book = EMACodebook(dim, size, kmeans_init=False, **kwargs)
    with torch.no_grad():
        book.embed.copy_(_rows(size, dim, seed=1))
        book.embed_avg.copy_(book.embed * 3)
        book.cluster_size.fill_(3.0)
    return book


def test_ema_buffers_are_named_as_checkpoints_and_not_parameters():
    book = EMACodebook(6, 10)
    assert set(book.state_dict()) == {"inited", "cluster_size", "embed", "embed_avg"}
    assert list(book.parameters()) == []
    assert float(book.inited) == 0.0 and float(book.embed.abs().sum()) == 0.0  # zeros until k-means
    assert float(EMACodebook(6, 10, kmeans_init=False).inited) == 1.0


def test_ema_codes_are_nearest_entries():
    book = _ema(dim=5, size=16)
    x = _rows(200, 5, seed=2)
    expected = torch.cdist(x, book.embed).argmin(1)
    assert torch.equal(book.quantize(x), expected)
    assert torch.equal(book.dequantize(expected), book.embed[expected])


def test_learned_codes_are_nearest_entries_and_first_on_ties():
    book = LearnedCodebook(5, 16)
    x = _rows(200, 5, seed=3) * 0.001
    assert torch.equal(book.quantize(x), torch.cdist(x, book.embedding.weight).argmin(1))
    with torch.no_grad():
        book.embedding.weight[7] = book.embedding.weight[3]
    x = book.embedding.weight[3:4].detach().clone()
    assert int(book.quantize(x)) == 3


def test_kmeans_init_runs_once_in_eval_too_and_encode_does_not_init():
    torch.manual_seed(0)
    centres = torch.tensor([[10.0, 0.0], [0.0, 10.0], [-10.0, 0.0], [0.0, -10.0]])
    x = centres.repeat(25, 1) + 0.01 * _rows(100, 2, seed=4)
    book = EMACodebook(2, 4, kmeans_iters=10).eval()
    book.quantize(x)  # a pure assignment must not initialise
    assert float(book.inited) == 0.0
    out = book(x)
    assert float(book.inited) == 1.0
    # each centroid sits on one centre and holds its 25 rows
    order = torch.cdist(centres, book.embed).argmin(1)
    assert sorted(order.tolist()) == [0, 1, 2, 3]
    assert torch.allclose(book.embed[order], centres, atol=0.01)
    assert book.cluster_size.tolist() == [25.0] * 4
    assert torch.equal(book.embed_avg, book.embed)
    assert float(out.stats["perplexity"]) == pytest.approx(4.0)
    before = book.embed.clone()
    book(x * 2)  # already inited: no second k-means (and eval: no EMA)
    assert torch.equal(book.embed, before)


def test_kmeans_keeps_empty_cluster_means_and_reports_last_bins():
    samples = torch.tensor([[0.0], [0.1], [10.0]])
    torch.manual_seed(0)
    means, bins = kmeans(samples, 3, num_iters=3)
    assert means.shape == (3, 1) and int(bins.sum()) == 3
    assert torch.equal(nearest(samples, means).bincount(minlength=3), bins)


def test_sample_vectors_without_then_with_replacement():
    rows = torch.arange(10.0).unsqueeze(1)
    picked = sample_vectors(rows, 10)
    assert sorted(picked.squeeze(1).tolist()) == list(range(10))  # a permutation
    many = sample_vectors(rows, 50)
    assert many.shape == (50, 1) and set(many.squeeze(1).tolist()) <= set(range(10))


def test_ema_update_follows_laplace_smoothed_rule():
    book = _ema(dim=3, size=4, threshold_ema_dead_code=0, decay=0.9, epsilon=1e-5).train()
    x = _rows(30, 3, seed=5)
    cluster, embed_avg = book.cluster_size.clone(), book.embed_avg.clone()
    codes = book.quantize(x)
    out = book(x)
    assert torch.equal(out.codes, codes)
    counts = torch.bincount(codes, minlength=4).float()
    sums = torch.stack([x[codes == k].sum(0) for k in range(4)])
    new_cluster = 0.9 * cluster + 0.1 * counts
    new_avg = 0.9 * embed_avg + 0.1 * sums
    total = new_cluster.sum()
    smoothed = (new_cluster + 1e-5) / (total + 4 * 1e-5) * total
    assert torch.allclose(book.cluster_size, new_cluster, atol=1e-6)
    assert torch.allclose(book.embed_avg, new_avg, atol=1e-6)
    assert torch.allclose(book.embed, new_avg / smoothed.unsqueeze(1), atol=1e-6)


def test_ema_eval_changes_nothing_and_has_zero_loss():
    book = _ema().eval()
    state = {k: v.clone() for k, v in book.state_dict().items()}
    x = _rows(20, 4, seed=6).requires_grad_(True)
    out = book(x)
    assert float(out.loss) == 0.0
    assert torch.equal(out.quantized, book.embed[out.codes])  # plain lookup in eval
    for key, value in book.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_ema_training_straight_through_and_commitment_loss():
    book = _ema(commitment_weight=2.0).train()
    x = _rows(20, 4, seed=7).requires_grad_(True)
    lookup = book.embed.clone()
    out = book(x)
    assert torch.allclose(out.quantized, lookup[out.codes], atol=1e-6)
    assert out.loss.item() == pytest.approx(2.0 * ((lookup[out.codes] - x.detach()) ** 2).mean().item(), rel=1e-5)
    out.quantized.sum().backward()
    assert torch.equal(x.grad, torch.ones_like(x))  # straight-through: identity gradient


def test_dead_codes_reference_rule_is_overwritten_by_the_ema_update():
    """The reference replaces ``embed`` rows only; the same step's EMA update overwrites them."""
    book = _ema(size=8, threshold_ema_dead_code=2).train()
    with torch.no_grad():
        book.cluster_size[:3] = 0.5  # three dead entries
    x = _rows(40, 4, seed=8)
    twin = _ema(size=8, threshold_ema_dead_code=0).train()
    twin.load_state_dict(book.state_dict())
    out = book(x)
    twin(x)
    assert int(out.stats["dead_codes"]) == 3
    assert torch.allclose(book.embed, twin.embed)


def test_dead_codes_effective_rule_moves_entries_onto_batch_rows():
    book = _ema(size=8, threshold_ema_dead_code=2, effective_dead_code=True).train()
    with torch.no_grad():
        book.embed[:3] = 1000.0  # far away: never chosen, so they receive no rows
        book.cluster_size[:3] = 0.5
    x = _rows(40, 4, seed=9)
    out = book(x)
    assert int(out.stats["dead_codes"]) == 3
    assert bool((book.cluster_size[:3] >= 2 * 0.99 - 1e-6).all())
    # each replaced entry is (up to Laplace smoothing) one of the batch rows
    dist = torch.cdist(book.embed[:3], x).min(1).values
    assert bool((dist < 1e-3).all()), dist
    assert bool((book.embed[3:].abs() < 100).all())
    # entries on batch rows now win rows of their own
    assert set(range(3)) <= set(book.quantize(x).tolist())


def test_learned_losses_gradients_and_eval_straight_through():
    book = LearnedCodebook(4, 8, codebook_weight=1.0, commitment_weight=0.25).eval()
    x = _rows(16, 4, seed=10).requires_grad_(True)
    out = book(x)
    z = book.embedding.weight[out.codes]
    assert out.loss.item() == pytest.approx(1.25 * ((z - x) ** 2).mean().item(), rel=1e-5)
    # straight-through arithmetic x + (z - x) also in eval
    assert torch.equal(out.quantized, x + (z - x))
    out.loss.backward(retain_graph=True)
    assert book.embedding.weight.grad is not None and float(book.embedding.weight.grad.abs().sum()) > 0
    grad_x = x.grad.clone()
    assert torch.allclose(grad_x, 0.25 * 2 * (x - z).detach() / x.numel(), atol=1e-7)
    x.grad = None
    out.quantized.sum().backward()
    assert torch.equal(x.grad, torch.ones_like(x))


def test_usage_stats_perplexity_and_dead_codes():
    uniform = usage_stats(torch.arange(8).repeat(5), 8)
    assert float(uniform["perplexity"]) == pytest.approx(8.0)
    assert int(uniform["used_codes"]) == 8 and int(uniform["dead_codes"]) == 0
    single = usage_stats(torch.full((20,), 3), 8)
    assert float(single["perplexity"]) == pytest.approx(1.0)
    assert int(single["used_codes"]) == 1 and int(single["dead_codes"]) == 7
    half = usage_stats(torch.tensor([0, 1] * 10), 8)
    assert float(half["perplexity"]) == pytest.approx(2.0)


def test_make_codebook_kinds():
    assert isinstance(make_codebook("ema", 4, 8), EMACodebook)
    assert isinstance(make_codebook("learned", 4, 8, commitment_weight=0.5), LearnedCodebook)
    with pytest.raises(ValueError, match="unknown codebook kind"):
        make_codebook("fsq", 4, 8)


def test_consistent_init_keeps_kmeans_entries_after_the_first_ema_step():
    """With fewer rows than entries, the reference's k-means statistics blow empty clusters up to
    ~1/epsilon; ``consistent_init`` keeps every used entry where k-means put it."""
    x = _rows(6, 4, seed=11)  # 6 rows for 16 entries: most clusters are empty
    ref = EMACodebook(4, 16, kmeans_iters=5).train()
    fixed = EMACodebook(4, 16, kmeans_iters=5, consistent_init=True).train()
    torch.manual_seed(0)
    ref(x)
    torch.manual_seed(0)
    fixed(x)
    assert float(ref.embed.norm(dim=1).max()) > 1e3  # the reference quirk, reproduced
    assert float(fixed.embed.norm(dim=1).max()) < 10
    used = fixed.cluster_size > 0
    # every row's entry is still (EMA of the row with itself) the row: codes map back onto x
    assert torch.allclose(fixed.dequantize(fixed.quantize(x)), x, atol=1e-4)
    assert int(used.sum()) == len(torch.unique(fixed.quantize(x)))

