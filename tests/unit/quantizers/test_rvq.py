"""ResidualVQ and VectorQuantizer: shapes, prefixes, round trip, gradients, projections, checks."""

from __future__ import annotations

import pytest
import torch

from audiokit.quantizers import QuantizerOutput, ResidualVQ, VectorQuantizer


def _latent(batch=2, dim=8, frames=12, seed=0) -> torch.Tensor:
    return torch.randn(batch, dim, frames, generator=torch.Generator().manual_seed(seed))


def _rvq(dim=8, n_q=4, size=16, **kwargs) -> ResidualVQ:
    torch.manual_seed(0)
    return ResidualVQ(dim, n_q, size, kmeans_init=False, **kwargs)


def test_shapes_keys_and_output_type():
    rvq = _rvq().eval()
    out = rvq(_latent())
    assert isinstance(out, QuantizerOutput)
    assert out.quantized.shape == (2, 8, 12)
    assert out.codes.shape == (2, 4, 12) and out.codes.dtype == torch.long
    assert out.loss.dim() == 0
    assert {"perplexity", "dead_codes", "q0/perplexity", "q3/used_codes"} <= set(out.stats)
    assert "vq.layers.3._codebook.embed_avg" in rvq.state_dict()
    assert rvq.n_codebooks == 4


@pytest.mark.parametrize("n_q", [1, 3, 4])
def test_encode_decode_roundtrip_equals_forward_in_eval(n_q):
    rvq = _rvq().eval()
    x = _latent()
    out = rvq(x, n_q=n_q)
    codes = rvq.encode(x, n_q=n_q)
    assert torch.equal(codes, out.codes)
    assert torch.equal(rvq.decode(codes), out.quantized)
    # a prefix of the codebooks gives a prefix of the codes
    assert torch.equal(codes, rvq.encode(x)[:, :n_q])


def test_quantized_is_sum_of_lookups_and_residuals_shrink():
    rvq = _rvq(n_q=3).eval()
    x = _latent()
    codes = rvq.encode(x)
    manual = sum(rvq.layers[i].codebook.embed[codes[:, i]].transpose(1, 2) for i in range(3))
    assert torch.allclose(rvq.decode(codes), manual, atol=1e-6)
    errors = [float((x - rvq.decode(codes[:, :k])).pow(2).mean()) for k in (1, 2, 3)]
    assert errors[0] >= errors[1] >= errors[2]


def test_training_straight_through_gradient_and_updates():
    rvq = _rvq().train()
    x = _latent().requires_grad_(True)
    before = rvq.layers[0].codebook.embed.clone()
    out = rvq(x)
    assert out.loss.item() > 0
    out.quantized.sum().backward()
    assert torch.allclose(x.grad, torch.ones_like(x))
    assert not torch.equal(rvq.layers[0].codebook.embed, before)  # EMA moved the codebook


def test_ema_training_reduces_quantization_error():
    torch.manual_seed(0)
    centres = torch.randn(16, 8) * 3
    rvq = ResidualVQ(8, 2, 16, kmeans_init=False, decay=0.8, threshold_ema_dead_code=0)

    def batch():
        rows = centres[torch.randint(0, 16, (256,))] + 0.05 * torch.randn(256, 8)
        return rows.view(4, 64, 8).transpose(1, 2)

    def error(x):
        rvq.eval()
        value = float((rvq(x).quantized - x).pow(2).mean())
        rvq.train()
        return value

    probe = batch()
    first = error(probe)
    for _ in range(40):
        rvq(batch())
    assert error(probe) < 0.5 * first


def test_kmeans_init_then_first_ema_step_shrinks_codebook_like_the_reference():
    """k-means sets embed_avg = means (not means * counts), so the first EMA step scales the
    entries by about 1/count; this is the reference behaviour, kept on purpose."""
    torch.manual_seed(0)
    vq = VectorQuantizer(2, 2, kmeans_iters=5)
    rows = torch.tensor([[4.0, 0.0], [0.0, 4.0]]).repeat(10, 1)
    x = rows.view(1, 20, 2).transpose(1, 2)
    vq.eval()
    vq(x)
    book = vq.layers[0].codebook
    assert book.cluster_size.tolist() == [10.0, 10.0]
    norm_before = float(book.embed.norm(dim=1).mean())
    vq.train()
    vq(x)
    ratio = float(book.embed.norm(dim=1).mean()) / norm_before
    assert ratio == pytest.approx((0.99 + 0.01 * 10) / 10, rel=1e-3)


def test_projection_when_codebook_dim_differs():
    torch.manual_seed(0)
    rvq = ResidualVQ(8, 2, 16, codebook_dim=4, kmeans_init=False).eval()
    keys = set(rvq.state_dict())
    assert {"vq.layers.0.project_in.weight", "vq.layers.0.project_out.bias"} <= keys
    assert rvq.layers[0].codebook.embed.shape == (16, 4)
    x = _latent()
    out = rvq(x)
    assert out.quantized.shape == x.shape
    assert torch.equal(rvq.decode(rvq.encode(x)), out.quantized)
    assert not any(k.startswith("vq.layers.0.project") for k in _rvq().state_dict())


def test_learned_codebooks_in_a_residual_stack():
    torch.manual_seed(0)
    rvq = ResidualVQ(8, 2, 16, codebook="learned").train()
    x = _latent().requires_grad_(True)
    out = rvq(x)
    out.loss.backward()
    assert rvq.layers[0].codebook.embedding.weight.grad is not None


def test_single_vector_quantizer_has_one_layer():
    torch.manual_seed(0)
    vq = VectorQuantizer(8, 32, kmeans_init=False).eval()
    assert vq.n_codebooks == 1
    assert {k.split("._codebook.")[0] for k in vq.state_dict()} == {"vq.layers.0"}
    out = vq(_latent())
    assert out.codes.shape == (2, 1, 12)
    assert torch.equal(vq.decode(out.codes), out.quantized)


def test_bandwidth_helpers():
    rvq = ResidualVQ(8, 32, 1024, kmeans_init=False)
    assert rvq.bandwidth_kbps(8, 75) == pytest.approx(6.0)
    assert [rvq.n_q_for_bandwidth(bw, 75) for bw in (0.1, 1.5, 3.0, 6.0, 12.0, 99.0)] == [1, 2, 4, 8, 16, 32]


def test_bad_codes_and_n_q_raise_clear_errors():
    rvq = _rvq().eval()
    with pytest.raises(ValueError, match="n_q must be between 1 and 4"):
        rvq.encode(_latent(), n_q=5)
    with pytest.raises(ValueError, match="n_q must be between 1 and 4"):
        rvq(_latent(), n_q=0)
    with pytest.raises(ValueError, match=r"codes must lie in \[0, 15\]"):
        rvq.decode(torch.full((1, 2, 3), 16))
    with pytest.raises(ValueError, match="shape"):
        rvq.decode(torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="integer"):
        rvq.decode(torch.zeros(1, 2, 3))
    with pytest.raises(ValueError, match="n_q must be between 1 and 4"):
        rvq.decode(torch.zeros(1, 5, 3, dtype=torch.long))


def _grad_and_codes(model, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    x = x.clone().requires_grad_(True)
    out = model(x)
    out.quantized.sum().backward()
    return x.grad, out.codes, out.quantized.detach()


def test_detach_residual_changes_gradients_only():
    """Language-Codec's loop subtracts earlier stages with .detach(): each straight-through
    stage then passes its gradient to the input (n_q x), whereas without it every later
    residual cancels against the earlier stage's straight-through term (1 x)."""
    x = _latent()
    plain, detached = _rvq(n_q=3).train(), _rvq(n_q=3, detach_residual=True).train()
    assert not plain.detach_residual and detached.detach_residual
    g_plain, codes_plain, q_plain = _grad_and_codes(plain, x)
    g_det, codes_det, q_det = _grad_and_codes(detached, x)
    assert torch.allclose(g_plain, torch.ones_like(x))
    assert torch.allclose(g_det, torch.full_like(x, 3.0))
    assert torch.equal(codes_plain, codes_det)  # same codes, same values: only gradients differ
    assert torch.allclose(q_plain, q_det)
    for model in (plain, detached):
        model.eval()
    assert torch.equal(plain.encode(x), detached.encode(x))
    assert torch.equal(plain(x).quantized, detached(x).quantized)
