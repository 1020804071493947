"""Parity: audiokit Vocos backbone + ISTFT head vs ``vocos`` 0.1.0, CPU fp32, max abs diff <= 1e-4.

The reference parts are built with random weights, saved as Vocos ships them (a flat
``pytorch_model.bin`` with ``backbone.*`` and ``head.*`` keys), read back with
``weights_only=True`` and loaded into audiokit's modules by prefix.
"""

from __future__ import annotations

import pytest
import torch
import vocos.heads as vocos_heads
import vocos.models as vocos_models

from audiokit.nn import ISTFTHead, VocosBackbone

TOL = 1e-4

# (backbone kwargs, head kwargs): vocos-mel-24khz, vocos-encodec-24khz, a 40 tok/s head.
CONFIGS = {
    "mel": (dict(input_channels=100, dim=512, intermediate_dim=1536, num_layers=8),
            dict(dim=512, n_fft=1024, hop_length=256, padding="center")),
    "encodec": (dict(input_channels=128, dim=384, intermediate_dim=1152, num_layers=8, adanorm_num_embeddings=4),
                dict(dim=384, n_fft=1280, hop_length=320, padding="same")),
    "hop600": (dict(input_channels=64, dim=128, intermediate_dim=384, num_layers=2, adanorm_num_embeddings=4),
               dict(dim=128, n_fft=2400, hop_length=600, padding="same")),
}


def randomise(module: torch.nn.Module, seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return module.eval()


def split(state_dict: dict, prefix: str) -> dict:
    return {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_backbone_and_head_match_vocos(name, tmp_path):
    bb_kw, head_kw = CONFIGS[name]
    ref_bb = randomise(vocos_models.VocosBackbone(**bb_kw), seed=1)
    ref_head = randomise(vocos_heads.ISTFTHead(**head_kw), seed=2)
    flat = {**{f"backbone.{k}": v for k, v in ref_bb.state_dict().items()},
            **{f"head.{k}": v for k, v in ref_head.state_dict().items()}}
    path = tmp_path / "pytorch_model.bin"
    torch.save(flat, path)
    loaded = torch.load(path, map_location="cpu", weights_only=True)

    bb, head = VocosBackbone(**bb_kw).eval(), ISTFTHead(**head_kw).eval()
    bb.load_state_dict(split(loaded, "backbone."))
    head.load_state_dict(split(loaded, "head."))

    x = torch.randn(2, bb_kw["input_channels"], 40)
    ids = [torch.tensor([i]) for i in range(4)] if "adanorm_num_embeddings" in bb_kw else [None]
    for bandwidth_id in ids:
        with torch.no_grad():
            ref_h = ref_bb(x, bandwidth_id=bandwidth_id)
            h = bb(x, bandwidth_id=bandwidth_id)
            assert h.shape == ref_h.shape == (2, 40, bb_kw["dim"])
            assert (h - ref_h).abs().max().item() <= TOL
            ref_audio, audio = ref_head(ref_h), head(ref_h)
            assert audio.shape == ref_audio.shape
            assert (audio - ref_audio).abs().max().item() <= TOL
            assert (head(h) - ref_audio).abs().max().item() <= TOL  # end to end
    hop = head_kw["hop_length"]
    assert audio.shape[-1] == (40 * hop if head_kw["padding"] == "same" else 39 * hop)
