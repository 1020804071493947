"""GroupResidualVQ (HiFi-Codec GRVQ): keys, code order, eval arithmetic, losses, round trip.

``_spec_grvq`` re-states codecs.md §3.3 with the reference's operation order (rows of the
whole latent, split by group, distances sum x^2 + sum e^2 - 2 x e^T, argmin, lookups
concatenated, loss on the whole stage, straight-through x + sg(z - x) also in eval), so
audiokit's per-group codebooks can be checked against it bit for bit.
"""

from __future__ import annotations

import pytest
import torch

from audiokit.quantizers import GroupResidualVQ

DIM, GROUPS, SIZE = 16, 2, 32


def _spec_grvq(weights: list[list[torch.Tensor]], x: torch.Tensor):
    """weights[stage][group] (K, D/G); x (B, D, T) -> quantized (B, D, T), codes [B, T, S*G], loss."""
    quantized_out, residual, codes, losses = 0.0, x, [], []
    for stage_weights in weights:
        xin = residual.transpose(1, 2)
        rows = xin.reshape(-1, DIM)
        z_parts = []
        for part, weight in zip(torch.split(rows, DIM // GROUPS, dim=-1), stage_weights):
            dist = torch.sum(part ** 2, 1, keepdim=True) + torch.sum(weight ** 2, 1) - 2 * torch.matmul(part, weight.T)
            index = torch.argmin(dist, 1)
            z_parts.append(weight[index])
            codes.append(index)
        z_q = torch.cat(z_parts, -1).reshape(xin.shape)
        losses.append(torch.mean((z_q - xin.detach()) ** 2) + 0.25 * torch.mean((z_q.detach() - xin) ** 2))
        z_q = (xin + (z_q - xin).detach()).transpose(1, 2)
        residual = residual - z_q
        quantized_out = quantized_out + z_q
    batch, _, frames = x.shape
    codes = torch.stack([c.view(batch, frames) for c in codes], dim=-1)
    return quantized_out, codes, torch.stack(losses).mean()


def _grvq(n_stages=2) -> GroupResidualVQ:
    torch.manual_seed(0)
    model = GroupResidualVQ(DIM, GROUPS, n_stages, SIZE)
    with torch.no_grad():  # spread the tiny uniform(-1/K, 1/K) init so codes vary
        for name, param in model.named_parameters():
            param.copy_(torch.randn(param.shape) * (1.0 if "modules." in name else 0.3))
    return model


def _weights(model: GroupResidualVQ) -> list[list[torch.Tensor]]:
    return [[book.embedding.weight for book in model.stage(s)] for s in range(model.n_stages)]


def _latent(seed=0, frames=9) -> torch.Tensor:
    return torch.randn(3, DIM, frames, generator=torch.Generator().manual_seed(seed))


def test_keys_match_hificodec_quantizer():
    model = GroupResidualVQ()  # HiFi-Codec defaults: 512 channels, 2 groups x 2 stages, 1024 entries
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert shapes == {f"quantizer_modules{s}.{g}.embedding.weight": (1024, 256) for s in ("", "2") for g in (0, 1)}
    weight = model.stage(0)[0].embedding.weight
    assert weight.detach().abs().max().item() <= 1.0 / 1024
    assert "quantizer_modules3.1.embedding.weight" in GroupResidualVQ(8, 2, 3, 4).state_dict()


@pytest.mark.parametrize("train", [False, True])
def test_matches_spec_bit_for_bit(train):
    model = _grvq().train(train)
    x = _latent()
    out = model(x)
    ref_q, ref_codes, ref_loss = _spec_grvq(_weights(model), x)
    assert torch.equal(out.codes, ref_codes.permute(0, 2, 1))  # (B, 4, T) = reference [B, T, 4] permuted
    assert torch.equal(out.quantized, ref_q)
    assert out.loss.item() == pytest.approx(ref_loss.item(), rel=1e-6)


def test_eval_uses_straight_through_arithmetic_in_the_residual():
    model = _grvq().eval()
    x = _latent(1)
    codes = model.encode(x)
    assert torch.equal(codes, model(x).codes)
    # decoding is pure lookups, equal to forward's output up to the x + (z - x) rounding
    assert torch.allclose(model.decode(codes), model(x).quantized, atol=1e-5)
    # code order is stage-major: (s1g0, s1g1, s2g0, s2g1)
    rows = x.transpose(1, 2).reshape(-1, DIM)
    first_group = model.stage(0)[0].quantize(rows[:, : DIM // 2]).view(3, -1)
    second_group = model.stage(0)[1].quantize(rows[:, DIM // 2:]).view(3, -1)
    assert torch.equal(codes[:, 0], first_group) and torch.equal(codes[:, 1], second_group)


def test_decode_concatenates_groups_and_sums_stages():
    model = _grvq().eval()
    codes = torch.randint(0, SIZE, (2, 4, 5))
    w = _weights(model)
    expected = (torch.cat([w[0][0][codes[:, 0]], w[0][1][codes[:, 1]]], -1)
                + torch.cat([w[1][0][codes[:, 2]], w[1][1][codes[:, 3]]], -1)).transpose(1, 2)
    assert torch.allclose(model.decode(codes), expected, atol=1e-6)
    assert torch.allclose(model.decode(codes[:, :2]), expected - torch.cat(
        [w[1][0][codes[:, 2]], w[1][1][codes[:, 3]]], -1).transpose(1, 2), atol=1e-5)


def test_first_stage_only():
    model = _grvq().eval()
    x = _latent(2)
    out = model(x, n_q=2)
    assert out.codes.shape == (3, 2, 9)
    assert torch.equal(out.codes, model.encode(x)[:, :2])
    with pytest.raises(ValueError, match="multiple of 2"):
        model.encode(x, n_q=3)
    with pytest.raises(ValueError, match="multiple of 2"):
        model.decode(torch.zeros(1, 3, 4, dtype=torch.long))


def test_gradients_reach_codebooks_and_input():
    model = _grvq().train()
    x = _latent(3).requires_grad_(True)
    out = model(x)
    (out.quantized.sum() + out.loss).backward()
    for name, param in model.named_parameters():
        assert param.grad is not None and float(param.grad.abs().sum()) > 0, name
    assert x.grad is not None
    stats = out.stats
    assert set(f"q{i}/perplexity" for i in range(4)) <= set(stats)
    assert 1.0 <= float(stats["perplexity"]) <= SIZE


def test_ema_codebooks_can_be_grouped_too():
    torch.manual_seed(0)
    model = GroupResidualVQ(DIM, GROUPS, 2, SIZE, codebook="ema", kmeans_iters=3).eval()
    x = _latent(4)
    out = model(x)  # k-means initialises each codebook on its own group's rows
    assert all(float(book.inited) == 1.0 for s in range(2) for book in model.stage(s))
    assert torch.equal(model.decode(model.encode(x)), out.quantized)


def test_bad_configuration():
    with pytest.raises(ValueError, match="divisible"):
        GroupResidualVQ(10, 3, 2, 4)
