"""WavTokenizer backbone (pos_net + AdaLayerNorm ConvNeXt) against reference outputs.

WavTokenizer has no PyPI package, so ``data/wavtokenizer_backbone.safetensors`` holds the
output of the reference ``decoder.models.VocosBackbone`` (jishengpeng/WavTokenizer, commit
in the file's metadata) for the weights and input defined below; regenerate it with
``python tests/unit/nn/data/make_wavtokenizer_backbone.py --ref <WavTokenizer checkout>``.
Weights and input come from a closed-form hash, so no random generator state is involved.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from audiokit.nn import VocosBackbone
from audiokit.nn.vqgan import AttnBlock1d

FIXTURE = Path(__file__).parent / "data" / "wavtokenizer_backbone.safetensors"
CONFIG = dict(input_channels=16, dim=32, intermediate_dim=48, num_layers=2, adanorm_num_embeddings=4)
INPUT_SHAPE = (2, 16, 9)
BANDWIDTH_ID = 1


def hash_uniform(n: int, seed: int) -> np.ndarray:
    """``n`` deterministic pseudo-random floats in [0, 1) (float64 sine hash)."""
    k = np.arange(n, dtype=np.float64)
    return np.modf(np.abs(np.sin(k * 12.9898 + seed * 78.233)) * 43758.5453)[0]


def fixture_state_dict(keys_shapes: dict[str, tuple[int, ...]]) -> dict[str, torch.Tensor]:
    """Weights for every key: values in [-0.3, 0.3), seeded by the key's sorted position."""
    out = {}
    for i, key in enumerate(sorted(keys_shapes)):
        shape = keys_shapes[key]
        n = int(np.prod(shape)) if shape else 1
        out[key] = torch.from_numpy((hash_uniform(n, i + 1) - 0.5) * 0.6).float().reshape(shape)
    return out


def fixture_input() -> torch.Tensor:
    n = int(np.prod(INPUT_SHAPE))
    return torch.from_numpy(hash_uniform(n, 1000) * 2 - 1).float().reshape(INPUT_SHAPE)


def build_model() -> VocosBackbone:
    model = VocosBackbone(**CONFIG, pos_net=True).eval()
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    model.load_state_dict(fixture_state_dict(shapes))
    return model


def load_fixture() -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    from safetensors import safe_open

    with safe_open(str(FIXTURE), framework="pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, f.metadata()


def test_keys_match_reference_checkpoint_layout():
    _, meta = load_fixture()
    assert sorted(build_model().state_dict()) == meta["keys"].split(",")
    assert "pos_net.2.proj_out.weight" in meta["keys"].split(",")


def test_backbone_matches_reference_output():
    tensors, _ = load_fixture()
    with torch.no_grad():
        y = build_model()(fixture_input(), bandwidth_id=torch.tensor([BANDWIDTH_ID]))
    assert y.shape == (2, 9, 32)
    assert (y - tensors["output"]).abs().max().item() <= 1e-4
    with torch.no_grad():
        other = build_model()(fixture_input(), bandwidth_id=torch.tensor([0]))
    assert (other - tensors["output"]).abs().max().item() > 1e-3  # the id matters


def test_attention_is_global_and_matches_explicit_formula():
    torch.manual_seed(0)
    block = AttnBlock1d(32).eval()
    x = torch.randn(2, 32, 11)
    h = block.norm(x)
    q, k, v = block.q(h), block.k(h), block.v(h)
    w = torch.softmax(torch.einsum("bci,bcj->bij", q, k) / 32**0.5, dim=-1)
    expected = x + block.proj_out(torch.einsum("bij,bcj->bci", w, v))
    with torch.no_grad():
        assert torch.allclose(block(x), expected, atol=1e-5)
        x2 = x.clone()
        x2[..., -1] += 1.0  # the last frame changes every output frame
        assert (block(x2)[..., 0] - block(x)[..., 0]).abs().max() > 1e-4


def test_pos_net_dropout_only_in_training():
    model = build_model()
    x = fixture_input()
    with torch.no_grad():
        a, b = model(x, 1), model(x, 1)
        assert torch.equal(a, b)
        model.train()
        torch.manual_seed(1)
        c = model(x, 1)
    assert not torch.allclose(a, c)


def test_group_norm_needs_divisible_width():
    with pytest.raises(ValueError, match="groups"):
        VocosBackbone(8, 48, 64, 1, pos_net=True)
