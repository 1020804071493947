"""RoPE: the interleaved (F5-TTS / x-transformers) and half layouts against naive formulas,
partial heads (F5 v0 ``pe_attn_head=1``) and the attention-core plug point."""

from __future__ import annotations

import math

import pytest
import torch

from audiokit.nn.attention import MultiHeadAttention
from audiokit.nn.rope import RotaryEmbedding, RotaryMultiHeadAttention, apply_rotary


def naive(x: torch.Tensor, style: str, base: float = 10000.0) -> torch.Tensor:
    """Rotate ``x (T, d)`` pair by pair with explicit loops."""
    t_len, d = x.shape
    out = x.clone()
    for p in range(t_len):
        for i in range(d // 2):
            a = p * base ** (-2 * i / d)
            j, k = (2 * i, 2 * i + 1) if style == "interleaved" else (i, i + d // 2)
            out[p, j] = x[p, j] * math.cos(a) - x[p, k] * math.sin(a)
            out[p, k] = x[p, k] * math.cos(a) + x[p, j] * math.sin(a)
    return out


@pytest.mark.parametrize("style", ["interleaved", "half"])
def test_matches_naive_formula(style):
    # the angle table is float32 (as in the releases): agreement to float32 precision, far
    # below the 1e-3 by which the two layouts differ (test_interleaved_differs_from_half)
    torch.manual_seed(0)
    x = torch.randn(7, 8, dtype=torch.float64)
    angles = RotaryEmbedding(8, style=style)(7).double()
    assert torch.allclose(apply_rotary(x, angles, style), naive(x, style), atol=1e-5)


def test_interleaved_differs_from_half():
    x = torch.randn(5, 8)
    a = RotaryEmbedding(8)(5)
    b = RotaryEmbedding(8, style="half")(5)
    assert not torch.allclose(apply_rotary(x, a, "interleaved"), apply_rotary(x, b, "half"), atol=1e-3)


def test_partial_width_leaves_rest():
    x = torch.randn(2, 3, 6, 16)
    out = apply_rotary(x, RotaryEmbedding(8)(6))
    assert torch.equal(out[..., 8:], x[..., 8:])
    assert not torch.allclose(out[..., :8], x[..., :8])


def test_scores_depend_on_relative_position_only():
    q, k = torch.randn(1, 8), torch.randn(1, 8)
    ang = RotaryEmbedding(8)(20)
    def score(pq, pk):
        return (apply_rotary(q, ang[pq:pq + 1]) @ apply_rotary(k, ang[pk:pk + 1]).T).item()
    assert score(3, 1) == pytest.approx(score(13, 11), abs=1e-5)
    assert score(3, 1) != pytest.approx(score(3, 2), abs=1e-3)


def test_rope_heads_rotates_only_first_heads():
    torch.manual_seed(0)
    attn = RotaryMultiHeadAttention(16, 2, rope_heads=1)
    plain = MultiHeadAttention(16, 2)
    q, k = torch.randn(1, 2, 5, 8), torch.randn(1, 2, 5, 8)
    ang = RotaryEmbedding(8)(5)
    got, ref = attn.scores(q, k, ang), plain.scores(q, k)
    assert torch.allclose(got[:, 1], ref[:, 1])
    assert not torch.allclose(got[:, 0], ref[:, 0], atol=1e-3)
    full = RotaryMultiHeadAttention(16, 2).scores(q, k, ang)
    assert torch.allclose(full[:, 0], got[:, 0]) and not torch.allclose(full[:, 1], got[:, 1], atol=1e-3)


def test_query_shorter_than_keys_uses_last_positions():
    attn = RotaryMultiHeadAttention(8, 1)
    q, k = torch.randn(1, 1, 6, 8), torch.randn(1, 1, 6, 8)
    ang = RotaryEmbedding(8)(6)
    assert torch.allclose(attn.scores(q[:, :, 4:], k, ang), attn.scores(q, k, ang)[:, :, 4:], atol=1e-6)


def test_errors():
    attn = RotaryMultiHeadAttention(8, 2)
    with pytest.raises(ValueError, match="pos_emb"):
        attn.scores(torch.randn(1, 2, 3, 4), torch.randn(1, 2, 3, 4))
    with pytest.raises(ValueError):
        RotaryMultiHeadAttention(8, 2, rope_heads=3)
    with pytest.raises(ValueError):
        RotaryEmbedding(8, style="neox")
