"""Vocos backbone: release configurations, names, conditioning, parameter counts."""

from __future__ import annotations

import pytest
import torch

from audiokit.nn import ISTFTHead, VocosBackbone


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())



def test_shapes_and_names_plain():
    bb = VocosBackbone(10, 16, 32, 3)
    keys = set(bb.state_dict())
    assert {"embed.weight", "norm.weight", "convnext.2.pwconv2.weight", "final_layer_norm.bias"} <= keys
    assert not any(k.startswith("pos_net") for k in keys)
    assert bb(torch.randn(2, 10, 7)).shape == (2, 7, 16)
    assert torch.allclose(bb.convnext[0].gamma, torch.full((16,), 1 / 3))


def test_conditioned_backbone_uses_the_bandwidth_id():
    torch.manual_seed(0)
    bb = VocosBackbone(10, 16, 32, 2, adanorm_num_embeddings=4).eval()
    with torch.no_grad():
        bb.norm.scale.weight.normal_()
    x = torch.randn(2, 10, 7)
    with torch.no_grad():
        a, b = bb(x, bandwidth_id=torch.tensor([0])), bb(x, bandwidth_id=torch.tensor([3]))
        both = bb(x, bandwidth_id=torch.tensor([0, 3]))
    assert not torch.allclose(a, b)
    assert torch.allclose(both[0], a[0], atol=1e-6) and torch.allclose(both[1], b[1], atol=1e-6)
    assert "norm.scale.weight" in bb.state_dict()
    with pytest.raises(ValueError):
        bb(x)


def test_pos_net_layout():
    bb = VocosBackbone(10, 32, 48, 1, pos_net=True)
    keys = set(bb.state_dict())
    for key in ["pos_net.0.norm1.weight", "pos_net.1.conv2.bias", "pos_net.2.q.weight", "pos_net.2.proj_out.bias",
                "pos_net.4.norm2.weight", "pos_net.5.weight"]:
        assert key in keys, key
    assert bb(torch.randn(1, 10, 5)).shape == (1, 5, 32)


def test_parameter_counts_match_the_releases():
    with torch.device("meta"):  # counting parameters needs no memory
        # codecs.md: vocos-mel 13.53 M; WavTokenizer backbone 61.96 M (pos_net 16.54 M),
        # head 0.99 M (hop 320) / 1.85 M (hop 600); Language-Codec decoder 11.06 M + 0.49 M.
        mel = VocosBackbone(100, 512, 1536, 8), ISTFTHead(512, 1024, 256, "center")
        assert round(sum(n_params(m) for m in mel) / 1e4) == 1353
        wt = VocosBackbone(512, 768, 2304, 12, adanorm_num_embeddings=4, pos_net=True)
        assert round(n_params(wt) / 1e4) == 6196 and round(n_params(wt.pos_net) / 1e4) == 1654
        assert round(n_params(ISTFTHead(768, 1280, 320)) / 1e4) == 99
        assert round(n_params(ISTFTHead(768, 2400, 600)) / 1e4) == 185
        assert round(n_params(VocosBackbone(128, 384, 1152, 12, adanorm_num_embeddings=4)) / 1e4) == 1106
