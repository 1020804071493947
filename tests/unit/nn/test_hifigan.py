"""HiFi-GAN shared layers: residual blocks, generator, mirrored encoder (HiFi-Codec).

End-to-end parity with the AcademiCodec reference is in tests/unit/models/codec/test_hificodec.py;
here each layer is checked against an explicit formula written with ``F.conv1d``.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from audiokit.nn.hifigan import (
    HiFiGANEncoder,
    HiFiGANGenerator,
    ResBlock1,
    ResBlock2,
    build_mrf_blocks,
    get_padding,
    make_resblock,
    mrf,
)
from audiokit.nn.weight_norm import fold_weight_norm, has_weight_norm, load_state_dict_any_style, remove_weight_norm

SMALL_GEN = dict(in_channels=12, upsample_rates=[4, 3, 2], upsample_kernel_sizes=[8, 7, 4], upsample_initial_channel=32,
                 resblock_kernel_sizes=[3, 5], resblock_dilation_sizes=[[1, 3, 5], [1, 2, 4]])
SMALL_ENC = dict(downsample_rates=[2, 3, 4], downsample_kernel_sizes=[4, 7, 8], resblock_kernel_sizes=[5, 3],
                 resblock_dilation_sizes=[[1, 2, 4], [1, 3, 5]], base_channels=8, out_channels=24)


def _folded(conv) -> torch.Tensor:
    return fold_weight_norm(conv.weight_g, conv.weight_v)


def _randomise(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.3)
    return module


def test_get_padding_keeps_length():
    for k, d in [(3, 1), (7, 3), (11, 5)]:
        conv = torch.nn.Conv1d(1, 1, k, dilation=d, padding=get_padding(k, d))
        assert conv(torch.zeros(1, 1, 50)).shape[-1] == 50


def test_resblock1_equals_explicit_formula_and_keys():
    block = _randomise(ResBlock1(6, 5, (1, 2, 4)))
    keys = set(block.state_dict())
    assert {"convs1.2.weight_g", "convs1.2.weight_v", "convs2.0.bias"} <= keys
    assert block.convs1[1].dilation == (2,) and block.convs2[1].dilation == (1,)
    x = torch.randn(2, 6, 40)
    expect = x
    for c1, c2, d in zip(block.convs1, block.convs2, (1, 2, 4)):
        h = F.conv1d(F.leaky_relu(expect, 0.1), _folded(c1), c1.bias, padding=2 * d, dilation=d)
        h = F.conv1d(F.leaky_relu(h, 0.1), _folded(c2), c2.bias, padding=2)
        expect = expect + h
    assert torch.allclose(block(x), expect, atol=1e-5)


def test_resblock1_with_zero_gain_is_identity():
    block = ResBlock1(4, 3)
    with torch.no_grad():
        for name, p in block.named_parameters():
            if name.endswith("weight_g") or name.endswith("bias"):
                p.zero_()
    x = torch.randn(1, 4, 17)
    assert torch.equal(block(x), x)


def test_resblock2_formula():
    block = _randomise(ResBlock2(4, 3, (1, 3)))
    x = torch.randn(1, 4, 21)
    expect = x
    for conv, d in zip(block.convs, (1, 3)):
        expect = expect + F.conv1d(F.leaky_relu(expect, 0.1), _folded(conv), conv.bias, padding=d, dilation=d)
    assert torch.allclose(block(x), expect, atol=1e-5)
    assert isinstance(make_resblock("2", 4, 3, (1, 3)), ResBlock2)
    with pytest.raises(ValueError, match="resblock type"):
        make_resblock("3", 4, 3, (1,))


def test_mrf_with_group_norm_normalises_each_partial_sum():
    blocks, norms = build_mrf_blocks([16], [3, 5], [[1, 3, 5], [1, 2, 4]], group_norm_size=8)
    assert len(norms) == 2 and norms[0].num_groups == 2 and norms[0].eps == 1e-6
    _randomise(blocks)
    x = torch.randn(2, 16, 30)
    expect = norms[1](norms[0](blocks[0](x)) + blocks[1](x)) / 2
    assert torch.allclose(mrf(x, blocks, norms, 0, 2), expect, atol=1e-6)
    plain = (blocks[0](x) + blocks[1](x)) / 2
    assert torch.allclose(mrf(x, blocks, None, 0, 2), plain, atol=1e-6)
    _, none = build_mrf_blocks([16], [3], [[1]])
    assert none is None


def test_generator_shapes_tanh_and_flag():
    gen = HiFiGANGenerator(**SMALL_GEN).eval()
    assert gen.hop_length == 24
    x = torch.randn(2, 12, 7) * 5
    y = gen(x)
    assert y.shape == (2, 1, 7 * 24)
    assert y.abs().max() <= 1.0
    raw = HiFiGANGenerator(**SMALL_GEN, tanh=False).eval()
    raw.load_state_dict(gen.state_dict())
    assert torch.allclose(torch.tanh(raw(x)), y, atol=1e-6)
    keys = gen.state_dict()
    assert tuple(keys["ups.0.weight_g"].shape) == (32, 1, 1)  # ConvTranspose: norm over C_in
    assert tuple(keys["ups.0.weight_v"].shape) == (32, 16, 8)
    assert tuple(keys["resblocks.5.convs1.0.weight_v"].shape) == (4, 4, 5)  # stage 2, second kernel
    assert tuple(keys["conv_post.weight_v"].shape) == (1, 4, 7)


@pytest.mark.parametrize("length", [24, 25, 47, 48, 100, 1001])
def test_encoder_length_rule_is_floor(length):
    enc = HiFiGANEncoder(**SMALL_ENC).eval()
    assert enc.num_frames(length) == length // 24
    assert enc(torch.randn(1, 1, length)).shape == (1, 24, length // 24)


def test_encoder_layout_and_flags():
    enc = HiFiGANEncoder(**SMALL_ENC)
    keys = enc.state_dict()
    assert tuple(keys["ups.0.weight_v"].shape) == (16, 8, 4)
    assert tuple(keys["ups.2.weight_v"].shape) == (64, 32, 8)
    assert tuple(keys["resblocks.0.convs1.0.weight_v"].shape) == (16, 16, 5)  # encoder order: first kernel 5
    assert tuple(keys["normalize.5.weight"].shape) == (64,)
    assert "conv_post.weight" in keys and "conv_post.weight_g" not in keys
    assert enc.normalize[0].num_groups == 1 and enc.normalize[5].num_groups == 4
    plain = HiFiGANEncoder(**SMALL_ENC, group_norm_size=None, post_weight_norm=True)
    assert not any(k.startswith("normalize.") for k in plain.state_dict())
    assert "conv_post.weight_g" in plain.state_dict()
    assert enc.min_samples() == 24 and enc.num_frames(23) == 0


def test_encoder_matches_explicit_forward():
    enc = _randomise(HiFiGANEncoder(**SMALL_ENC)).eval()
    x = torch.randn(1, 1, 96)
    h = F.conv1d(x, _folded(enc.conv_pre), enc.conv_pre.bias, padding=3)
    for i, (u, k) in enumerate(zip([2, 3, 4], [4, 7, 8])):
        down = enc.ups[i]
        h = F.conv1d(F.leaky_relu(h, 0.1), _folded(down), down.bias, stride=u, padding=(k - u) // 2)
        h = mrf(h, enc.resblocks, enc.normalize, i, 2)
    out = F.conv1d(F.leaky_relu(h, 0.01), enc.conv_post.weight, enc.conv_post.bias, padding=1)
    assert torch.allclose(enc(x), out, atol=1e-5)


def test_weight_norm_styles_and_folding_agree():
    legacy = _randomise(HiFiGANGenerator(**SMALL_GEN)).eval()
    param = HiFiGANGenerator(**SMALL_GEN, wn_style="parametrize").eval()
    load_state_dict_any_style(param, legacy.state_dict())
    x = torch.randn(1, 12, 5)
    ref = legacy(x)
    assert torch.allclose(param(x), ref, atol=1e-6)
    remove_weight_norm(legacy)
    assert not has_weight_norm(legacy)
    assert torch.allclose(legacy(x), ref, atol=1e-5)


def test_bad_settings_raise_value_error():
    with pytest.raises(ValueError, match="one kernel size per rate"):
        HiFiGANGenerator(upsample_rates=[4, 4], upsample_kernel_sizes=[8])
    with pytest.raises(ValueError, match="divisible"):
        HiFiGANGenerator(upsample_rates=[2, 2, 2], upsample_kernel_sizes=[4, 4, 4], upsample_initial_channel=12)
    with pytest.raises(ValueError, match=">= its rate"):
        HiFiGANEncoder(downsample_rates=[4], downsample_kernel_sizes=[3])
    with pytest.raises(ValueError, match="dilation list"):
        HiFiGANEncoder(resblock_kernel_sizes=[3, 5], resblock_dilation_sizes=[[1, 3, 5]])
