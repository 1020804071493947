"""Attention core: rel_shift, Transformer-XL scores, masking, positional table, caches."""

from __future__ import annotations

import math

import pytest
import torch

from audiokit.nn.attention import (
    MultiHeadAttention,
    RelPositionalEncoding,
    RelPositionMultiHeadAttention,
    rel_shift,
    relative_sinusoids,
    update_input_cache,
)
from audiokit.nn.masks import causal_mask, chunked_limited_mask


def naive_rel_shift(x, key_len):
    """Loop version: query i sits at key position n - T_q + i; row r of x is distance n-1-r."""
    b, h, t_q, p = x.shape
    n = (p + 1) // 2
    out = torch.empty(b, h, t_q, key_len, dtype=x.dtype)
    for i in range(t_q):
        pos_i = n - t_q + i
        for j in range(key_len):
            out[:, :, i, j] = x[:, :, i, (n - 1) - (pos_i - j)]
    return out


@pytest.mark.parametrize("t_q,n", [(5, 5), (1, 1), (3, 8), (1, 6), (7, 7)])
def test_rel_shift_matches_naive_loop(t_q, n):
    x = torch.randn(2, 3, t_q, 2 * n - 1)
    assert torch.equal(rel_shift(x), naive_rel_shift(x, n))
    assert torch.equal(rel_shift(x, n - 1 if n > 1 else 1), naive_rel_shift(x, n - 1 if n > 1 else 1))


def test_rel_shift_rejects_bad_shapes_and_has_gradients():
    with pytest.raises(ValueError):
        rel_shift(torch.randn(1, 1, 4, 6))  # even number of positions
    with pytest.raises(ValueError):
        rel_shift(torch.randn(1, 1, 4, 5))  # 4 queries, only 3 keys
    x = torch.randn(1, 2, 3, 7, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: rel_shift(t * 2.0), (x,))


def test_relative_sinusoids_table():
    table = relative_sinusoids(4, 6)
    assert table.shape == (1, 7, 6)
    positions = [3, 2, 1, 0, -1, -2, -3]
    for r, pos in enumerate(positions):
        for i in range(3):
            freq = math.exp(-math.log(10000.0) * 2 * i / 6)
            assert table[0, r, 2 * i].item() == pytest.approx(math.sin(pos * freq), abs=1e-6)
            assert table[0, r, 2 * i + 1].item() == pytest.approx(math.cos(pos * freq), abs=1e-6)


def test_positional_encoding_scales_input_and_covers_the_cache():
    enc = RelPositionalEncoding(16, xscaling=True)
    x = torch.randn(2, 5, 16)
    y, pos = enc(x, cache_len=3)
    assert torch.allclose(y, x * 4.0)
    assert pos.shape == (1, 2 * 8 - 1, 16)
    y2, _ = RelPositionalEncoding(16, xscaling=False)(x)
    assert torch.equal(y2, x)


def naive_rel_attention(att, x_q, x_kv, mask):
    """Per-pair Transformer-XL attention: ((q+u).k_j + (q+v).p(pos_i - j)) / sqrt(d_k)."""
    b, t_q, d = x_q.shape
    t_k = x_kv.shape[1]
    h, dk = att.n_heads, att.d_k
    q = att.linear_q(x_q).view(b, t_q, h, dk)
    k = att.linear_k(x_kv).view(b, t_k, h, dk)
    v = att.linear_v(x_kv).view(b, t_k, h, dk)
    table = relative_sinusoids(t_k, d)[0]
    out = torch.zeros(b, t_q, h, dk)
    for i in range(t_q):
        pos_i = t_k - t_q + i
        s = torch.zeros(b, h, t_k)
        for j in range(t_k):
            p = att.linear_pos(table[(t_k - 1) - (pos_i - j)]).view(h, dk)
            s[:, :, j] = ((q[:, i] + att.pos_bias_u) * k[:, j]).sum(-1) + ((q[:, i] + att.pos_bias_v) * p).sum(-1)
        s = s / math.sqrt(dk)
        allowed = mask[:, i].unsqueeze(1).expand(b, h, t_k)
        w = torch.softmax(s.masked_fill(~allowed, -10000.0), -1).masked_fill(~allowed, 0.0)
        out[:, i] = torch.einsum("bhj,bjhd->bhd", w, v)
    return att.linear_out(out.reshape(b, t_q, d))


def test_rel_pos_attention_matches_naive_computation():
    torch.manual_seed(0)
    att = RelPositionMultiHeadAttention(16, 4).eval()
    x = torch.randn(2, 7, 16)
    mask = chunked_limited_mask(7, 2, 1).unsqueeze(0).expand(2, 7, 7).clone()
    mask[1, :, 5:] = False
    with torch.no_grad():
        y = att(x, x, x, mask=mask, pos_emb=relative_sinusoids(7, 16))
        ref = naive_rel_attention(att, x, x, mask)
    assert (y - ref).abs().max() < 1e-5
    with pytest.raises(ValueError):
        att(x, x, x, pos_emb=relative_sinusoids(6, 16))
    with pytest.raises(ValueError):
        att(x, x, x)


def test_rel_pos_attention_with_input_cache_equals_offline_rows():
    torch.manual_seed(1)
    att = RelPositionMultiHeadAttention(16, 2).eval()
    x = torch.randn(1, 9, 16)
    mask = causal_mask(9)
    with torch.no_grad():
        full = att(x, x, x, mask=mask, pos_emb=relative_sinusoids(9, 16))
        cache = x[:, :6]
        window = torch.cat([cache, x[:, 6:]], dim=1)
        part = att(x[:, 6:], window, window, mask=mask[6:], pos_emb=relative_sinusoids(9, 16))
        ref = naive_rel_attention(att, x[:, 6:], window, mask[6:].unsqueeze(0))
    assert (part - full[:, 6:]).abs().max() < 1e-5
    assert (part - ref).abs().max() < 1e-5


def test_fully_masked_rows_give_zero_context():
    att = MultiHeadAttention(8, 2).eval()
    x = torch.randn(1, 3, 8)
    mask = torch.ones(1, 3, 3, dtype=torch.bool)
    mask[0, 2] = False
    with torch.no_grad():
        y = att(x, x, x, mask=mask)
    assert torch.allclose(y[0, 2], att.linear_out.bias)
    assert not torch.allclose(y[0, 1], att.linear_out.bias)


def test_mask_value_none_uses_dtype_minimum():
    torch.manual_seed(2)
    a = MultiHeadAttention(8, 2, mask_value=None).eval()
    b = MultiHeadAttention(8, 2).eval()
    b.load_state_dict(a.state_dict())
    x = torch.randn(2, 5, 8)
    with torch.no_grad():
        assert torch.allclose(a(x, x, x, mask=causal_mask(5)), b(x, x, x, mask=causal_mask(5)), atol=1e-6)
        # unmasked attention differs: the mask really is applied
        assert not torch.allclose(a(x, x, x), a(x, x, x, mask=causal_mask(5)))


def test_kv_cache_incremental_decoding_equals_full_causal_pass():
    torch.manual_seed(3)
    att = MultiHeadAttention(12, 3).eval()
    x = torch.randn(2, 6, 12)
    with torch.no_grad():
        full = att(x, x, x, mask=causal_mask(6))
        past, outs = None, []
        for t in range(6):
            y, past = att.forward_with_kv(x[:, t : t + 1], x[:, t : t + 1], x[:, t : t + 1], past_kv=past)
            outs.append(y)
    assert past[0].shape == (2, 3, 6, 4)
    assert (torch.cat(outs, 1) - full).abs().max() < 1e-5


def test_update_input_cache_keeps_the_last_frames():
    cache = torch.arange(3.0).view(1, 3, 1)
    x = torch.arange(10.0, 14.0).view(1, 4, 1)
    assert update_input_cache(cache, x).flatten().tolist() == [11.0, 12.0, 13.0]
    assert update_input_cache(cache, x[:, :2]).flatten().tolist() == [2.0, 10.0, 11.0]
    assert update_input_cache(cache, x, keep=1).flatten().tolist() == [1.0, 2.0, 10.0]
    assert update_input_cache(torch.zeros(1, 0, 1), x).shape == (1, 0, 1)


def test_bad_head_count():
    with pytest.raises(ValueError):
        MultiHeadAttention(10, 3)


@pytest.mark.parametrize("mask_kind", ["none", "2d", "3d_with_empty_row"])
def test_fused_forward_equals_explicit_scores_softmax(mask_kind):
    """forward's fused kernel path == attend(scores(...)) for plain and rotary attention."""
    from audiokit.nn.rope import RotaryEmbedding, RotaryMultiHeadAttention

    torch.manual_seed(4)
    x = torch.randn(2, 7, 16)
    mask = {"none": None, "2d": causal_mask(7),
            "3d_with_empty_row": torch.rand(2, 7, 7) > 0.4}[mask_kind]
    if mask is not None and mask.dim() == 3:
        mask[1, 3] = False
    angles = RotaryEmbedding(4)(7)
    for att, pos in ((MultiHeadAttention(16, 4).eval(), None), (RotaryMultiHeadAttention(16, 4).eval(), angles)):
        assert att.plain_dot_product
        with torch.no_grad():
            q, k, v = att.project(x, x, x)
            explicit = att.attend(att.scores(q, k, pos), v, mask)
            fused = att(x, x, x, mask=mask, pos_emb=pos)
        assert (fused - explicit).abs().max() < 1e-5
    drop = MultiHeadAttention(16, 4, dropout=0.5).train()
    assert not torch.allclose(drop(x, x, x), drop.eval()(x, x, x))  # dropout still applies in training
