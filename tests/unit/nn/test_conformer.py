"""Conformer block and encoder (offline): key names, conv module, masks, limited context."""

from __future__ import annotations

import pytest
import torch

from audiokit.nn.attention import relative_sinusoids
from audiokit.nn.conformer import ConformerBlock, ConformerConvolution, ConformerEncoder
from audiokit.nn.masks import attention_mask, valid_mask

NEMO_LAYER_KEYS = {
    "norm_feed_forward1.weight", "norm_feed_forward1.bias",
    "feed_forward1.linear1.weight", "feed_forward1.linear1.bias",
    "feed_forward1.linear2.weight", "feed_forward1.linear2.bias",
    "norm_self_att.weight", "norm_self_att.bias",
    "self_attn.linear_q.weight", "self_attn.linear_q.bias", "self_attn.linear_k.weight", "self_attn.linear_k.bias",
    "self_attn.linear_v.weight", "self_attn.linear_v.bias", "self_attn.linear_out.weight", "self_attn.linear_out.bias",
    "self_attn.linear_pos.weight", "self_attn.pos_bias_u", "self_attn.pos_bias_v",
    "norm_conv.weight", "norm_conv.bias",
    "conv.pointwise_conv1.weight", "conv.pointwise_conv1.bias",
    "conv.depthwise_conv.weight", "conv.depthwise_conv.bias",
    "conv.batch_norm.weight", "conv.batch_norm.bias",
    "conv.pointwise_conv2.weight", "conv.pointwise_conv2.bias",
    "norm_feed_forward2.weight", "norm_feed_forward2.bias",
    "feed_forward2.linear1.weight", "feed_forward2.linear1.bias",
    "feed_forward2.linear2.weight", "feed_forward2.linear2.bias",
    "norm_out.weight", "norm_out.bias",
}


def randomize(module, seed=0):
    """Random weights everywhere (norms and biases too), so no term hides behind an identity."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            offset = 1.0 if "norm" in name and name.endswith("weight") else 0.0
            p.copy_(torch.randn(p.shape, generator=g) * 0.3 + offset)
    return module


def test_block_state_dict_matches_nemo_names_and_shapes():
    block = ConformerBlock(64, 4, ff_expansion=4, conv_kernel_size=9, conv_norm="layer_norm", conv_context="causal")
    sd = block.state_dict()
    assert set(sd) == NEMO_LAYER_KEYS
    assert sd["self_attn.pos_bias_u"].shape == (4, 16)
    assert sd["self_attn.linear_pos.weight"].shape == (64, 64)
    assert sd["conv.pointwise_conv1.weight"].shape == (128, 64, 1)
    assert sd["conv.depthwise_conv.weight"].shape == (64, 1, 9)
    assert sd["feed_forward1.linear1.weight"].shape == (256, 64)
    bn = ConformerBlock(64, 4, conv_norm="batch_norm").state_dict()
    assert "conv.batch_norm.running_mean" in bn


def test_encoder_keys_have_nemo_prefixes():
    enc = ConformerEncoder(80, 32, 2, 4, subsampling_conv_channels=8)
    keys = set(enc.state_dict())
    assert {"pre_encode.conv.0.weight", "pre_encode.conv.6.bias", "pre_encode.out.weight",
            "layers.1.self_attn.pos_bias_v", "layers.0.conv.depthwise_conv.weight"} <= keys
    assert enc.pre_encode.out.weight.shape == (32, 8 * 11)
    assert not any(k.startswith("pos_enc") for k in keys)


@pytest.mark.parametrize("norm", ["layer_norm", "batch_norm"])
def test_causal_conv_module_has_no_look_ahead_and_masks_padding(norm):
    conv = randomize(ConformerConvolution(8, 5, norm=norm, conv_context="causal")).eval()
    x = torch.randn(2, 12, 8)
    x2 = x.clone()
    x2[:, 7:] = torch.randn(2, 5, 8)
    with torch.no_grad():
        y, _ = conv(x)
        y2, _ = conv(x2)
        assert torch.equal(y[:, :7], y2[:, :7])
        assert not torch.allclose(y[:, 7:], y2[:, 7:])
        # padded frames are zeroed before the depthwise conv (do not leak into later valid frames)
        valid = valid_mask(torch.tensor([12, 12]), 12).clone()
        valid[1, 3] = False
        y3, _ = conv(x, valid=valid)
        assert torch.equal(y3[0], y[0])
        assert not torch.allclose(y3[1, 4:8], y[1, 4:8])


def test_conv_module_cache_equals_offline():
    conv = randomize(ConformerConvolution(8, 9, norm="layer_norm", conv_context="causal"), 1).eval()
    x = torch.randn(2, 20, 8)
    with torch.no_grad():
        full, _ = conv(x)
        cache = conv.depthwise_conv.init_cache(2)
        outs = []
        for a, b in [(0, 1), (1, 8), (8, 20)]:
            y, cache = conv(x[:, a:b], cache=cache)
            outs.append(y)
    assert (torch.cat(outs, 1) - full).abs().max() <= 1e-5


def test_conv_context_options():
    assert ConformerConvolution(8, 9, conv_context="causal").depthwise_conv.left_padding == 8
    sym = ConformerConvolution(8, 9).depthwise_conv
    assert (sym.left_padding, sym.right_padding) == (4, 4)
    assert ConformerConvolution(8, 9, conv_context=[6, 2]).depthwise_conv.right_padding == 2
    for bad in ({"conv_context": [3, 3]}, {"norm": "group_norm"}):
        with pytest.raises(ValueError):
            ConformerConvolution(8, 9, **bad)
    with pytest.raises(ValueError):
        ConformerConvolution(8, 8, conv_context="symmetric")


def test_block_padding_does_not_change_valid_outputs():
    block = randomize(ConformerBlock(16, 2, conv_kernel_size=5, conv_norm="layer_norm", conv_context="causal"), 2).eval()
    x = torch.randn(2, 10, 16)
    lengths = torch.tensor([10, 6])
    valid = valid_mask(lengths, 10)
    with torch.no_grad():
        batch = block(x, relative_sinusoids(10, 16), attention_mask(valid), valid)[0]
        single = block(x[1:, :6], relative_sinusoids(6, 16), attention_mask(valid[1:, :6]), valid[1:, :6])[0]
    assert (batch[1, :6] - single[0]).abs().max() <= 1e-5


@pytest.mark.parametrize("context", [[8, 3], [6, 2], [4, 0]])
def test_encoder_offline_respects_the_limited_context(context):
    torch.manual_seed(3)
    enc = randomize(ConformerEncoder(10, 16, 2, 2, subsampling_conv_channels=4, att_context_size=context), 3).eval()
    x = torch.randn(1, 97, 10)
    lengths = torch.tensor([97])
    chunk = context[1] + 1
    with torch.no_grad():
        y, y_len = enc(x, lengths)
        assert y.shape[1] == int(y_len[0]) == enc.pre_encode.output_length(97)
        # outputs of the first two chunks only see input frames up to 8 * (2 * chunk - 1)
        cut = 8 * (2 * chunk - 1) + 1
        x2 = x.clone()
        x2[:, cut:] = torch.randn(1, 97 - cut, 10)
        y2, _ = enc(x2, lengths)
        assert torch.equal(y[:, : 2 * chunk], y2[:, : 2 * chunk])
        assert not torch.allclose(y[:, 2 * chunk :], y2[:, 2 * chunk :])
        # with unlimited context the early frames do see the future
        y3, _ = enc(x, lengths, att_context_size=[-1, -1])
        y4, _ = enc(x2, lengths, att_context_size=[-1, -1])
        assert not torch.allclose(y3[:, :chunk], y4[:, :chunk])


def test_encoder_left_context_limit():
    enc = randomize(ConformerEncoder(10, 16, 1, 2, subsampling_conv_channels=4, conv_kernel_size=1,
                                     att_context_size=[2, 1]), 4).eval()
    x = torch.randn(1, 8 * 12 + 1, 10)
    x2 = x.clone()
    x2[:, :2] += 1.0  # changes outputs 0 and 1 of the subsampling only
    with torch.no_grad():
        y, _ = enc(x, torch.tensor([97]))
        y2, _ = enc(x2, torch.tensor([97]))
    # chunks of 2, one chunk of left context: frame 4 (chunk 2) no longer sees chunk 0
    assert not torch.allclose(y[:, :4], y2[:, :4])
    assert torch.equal(y[:, 4:], y2[:, 4:])


def test_encoder_rejects_unknown_style():
    with pytest.raises(ValueError, match="style"):
        ConformerEncoder(10, 16, 1, 2, att_context_style="banded")
