"""DiT layers: timestep sinusoid, AdaLN-zero block, final norm, conv position embedding."""

from __future__ import annotations

import math

import torch

from audiokit.nn.dit import (
    AdaLayerNormFinal,
    ConvPositionEmbedding,
    DiTBlock,
    TimestepEmbedding,
    timestep_sinusoid,
)
from audiokit.nn.rope import RotaryEmbedding


def randomise(module: torch.nn.Module) -> torch.nn.Module:
    torch.manual_seed(0)
    with torch.no_grad():
        for p in module.parameters():
            p.normal_(std=0.2)
    return module.eval()


def test_timestep_sinusoid_formula():
    t = torch.tensor([0.0, 0.25, 1.0])
    emb = timestep_sinusoid(t, 8)
    freqs = [math.exp(-i * math.log(10000) / 3) for i in range(4)]
    want = torch.tensor([[math.sin(1000 * v * f) for f in freqs] + [math.cos(1000 * v * f) for f in freqs]
                         for v in t.tolist()])
    assert torch.allclose(emb, want, atol=1e-4)
    assert TimestepEmbedding(16)(t).shape == (3, 16)


def test_block_shapes_and_zero_init_identity():
    block = DiTBlock(32, 4, ff_mult=2)
    x, cond = torch.randn(2, 7, 32), torch.randn(2, 32)
    rope = RotaryEmbedding(8)(7)
    assert torch.equal(block(x, cond, rope), x)  # AdaLN-zero: gates start at 0
    randomise(block)
    y = block(x, cond, rope)
    assert y.shape == x.shape and not torch.allclose(y, x)


def test_padded_keys_masked_only_with_attn_mask():
    x, cond = torch.randn(1, 8, 16), torch.randn(1, 16)
    mask = torch.tensor([[True] * 5 + [False] * 3])
    x2 = x.clone()
    x2[0, 6] += 3.0 * torch.randn(16)  # change a padded frame
    rope = RotaryEmbedding(4)(8)
    masked = randomise(DiTBlock(16, 4, attn_mask=True))
    assert torch.allclose(masked(x, cond, rope, mask)[0, :5], masked(x2, cond, rope, mask)[0, :5], atol=1e-6)
    open_ = randomise(DiTBlock(16, 4, attn_mask=False))  # the F5 releases: padded keys are attended
    assert not torch.allclose(open_(x, cond, rope, mask)[0, :5], open_(x2, cond, rope, mask)[0, :5], atol=1e-4)


def test_final_norm_chunk_order_is_scale_then_shift():
    norm = AdaLayerNormFinal(4)
    with torch.no_grad():
        norm.linear.bias.copy_(torch.tensor([1.0] * 4 + [5.0] * 4))  # scale 1, shift 5
    x = torch.randn(1, 3, 4)
    out = norm(x, torch.zeros(1, 4))
    ln = torch.nn.functional.layer_norm(x, (4,), eps=1e-6)
    assert torch.allclose(out, ln * 2 + 5, atol=1e-6)


def test_conv_position_embedding_masks_padding():
    conv = randomise(ConvPositionEmbedding(16, kernel_size=5, groups=4))
    x = torch.randn(1, 10, 16)
    mask = torch.tensor([[True] * 6 + [False] * 4])
    y = conv(x, mask)
    assert torch.equal(y[0, 6:], torch.zeros(4, 16))
    x2 = x.clone()
    x2[0, 8] = 100.0
    assert torch.allclose(conv(x2, mask), y)
