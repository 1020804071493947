"""WavTokenizer model: Codec contract, length rule, training forward, codebook handling, configs.

Facts checked come from codecs.md §6.1/§6.4: one codebook, codes ``(B, 1, F)`` with
``F = ceil(L / hop)``, output ``F * hop`` samples, ``bandwidth_id`` 0 at inference, k-means
only when ``inited == 0``.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import yaml

from audiokit.config import instantiate
from audiokit.models.codec.wavtokenizer import WavTokenizer
from audiokit.pretrained import BUNDLES
from audiokit.quantizers import QuantizerOutput

ROOT = Path(__file__).resolve().parents[4]
CONFIGS = ROOT / "configs" / "codec"
TINY = {"ratios": [2, 2, 2], "dimension": 16, "n_filters": 4, "lstm": 1, "codebook_size": 32, "kmeans_iters": 3,
        "backbone_dim": 32, "intermediate_dim": 48, "num_layers": 2}


def trained_tiny(seed: int = 0) -> WavTokenizer:
    torch.manual_seed(seed)
    model = WavTokenizer(**TINY).eval()
    cb = model.quantizer.layers[0].codebook
    with torch.no_grad():
        cb.embed.normal_()
        cb.embed_avg.copy_(cb.embed)
        cb.cluster_size.fill_(1.0)
        cb.inited.fill_(1.0)
    return model


def test_codec_attributes():
    model = trained_tiny()
    assert model.name == "wavtokenizer"
    assert (model.sample_rate, model.hop_length, model.n_codebooks, model.codebook_size) == (24000, 8, 1, 32)
    assert model.frame_rate == 3000
    assert model.init_args["n_fft"] == 32  # 4 * hop by default
    rebuilt = WavTokenizer(**model.init_args)
    assert rebuilt.init_args == model.init_args and rebuilt.config_hash() == model.config_hash()


@pytest.mark.parametrize("length", [1, 7, 8, 9, 100, 257])
def test_length_rule(length):
    model = trained_tiny()
    wav = torch.randn(2, 1, length) * 0.3
    codes = model.encode(wav)
    frames = math.ceil(length / 8)
    assert codes.shape == (2, 1, frames) and codes.dtype == torch.long
    assert model.num_frames(length) == frames
    assert int(codes.min()) >= 0 and int(codes.max()) < 32
    out = model.decode(codes)
    assert out.shape == (2, 1, frames * 8)
    assert torch.isfinite(out).all()


def test_decode_is_lookup_then_decoder():
    model = trained_tiny()
    codes = torch.randint(0, 32, (1, 1, 13))
    feats = model.codes_to_features(codes)
    embed = model.quantizer.layers[0].codebook.embed
    assert torch.equal(feats[0].T, embed[codes[0, 0]])
    with torch.no_grad():
        model.backbone.norm.scale.weight[2] += 1.0  # make AdaLN row 2 differ from row 0
    with torch.inference_mode():
        assert torch.equal(model.decode(codes), model.decode_features(feats, 0))  # bandwidth_id 0
        assert not torch.allclose(model.decode_features(feats, 2), model.decode(codes))
    with pytest.raises(ValueError):
        model.codes_to_features(codes[:, 0])


def test_encode_batch_equals_single_items():
    model = trained_tiny()
    wav = torch.randn(3, 1, 64)
    batch = model.encode(wav)
    for i in range(3):
        assert torch.equal(batch[i: i + 1], model.encode(wav[i: i + 1]))


def test_contract_errors():
    model = trained_tiny()
    with pytest.raises(ValueError):
        model.encode(torch.randn(2, 64))
    with pytest.raises(ValueError):
        model.encode(torch.randn(1, 1, 64), n_q=2)
    with pytest.raises(ValueError):
        model.decode(torch.full((1, 1, 4), 32))
    with pytest.raises(ValueError):
        model.decode(torch.zeros(1, 2, 4, dtype=torch.long))


def test_encode_never_runs_kmeans():
    model = WavTokenizer(**TINY).eval()  # fresh: inited = 0, zero codebook
    cb = model.quantizer.layers[0].codebook
    model.encode(torch.randn(1, 1, 200))
    assert not model.codebook_initialized
    assert torch.count_nonzero(cb.embed) == 0

    model = trained_tiny()
    cb = model.quantizer.layers[0].codebook
    before = {k: v.clone() for k, v in cb.state_dict().items()}
    model.encode(torch.randn(1, 1, 200))
    with torch.no_grad():
        model(torch.randn(1, 1, 200))  # eval forward: inited = 1 -> no k-means, no EMA
    for key, value in cb.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_training_forward_initialises_and_backpropagates():
    torch.manual_seed(0)
    model = WavTokenizer(**TINY).train()
    wav = torch.randn(2, 1, 160, requires_grad=False) * 0.5
    wav_hat, q = model(wav, bandwidth_id=torch.tensor([1]))
    assert isinstance(q, QuantizerOutput)
    assert wav_hat.shape == (2, 1, 160) and q.codes.shape == (2, 1, 20)
    assert model.codebook_initialized  # k-means ran on the first training batch
    assert q.loss.ndim == 0 and q.loss.item() > 0
    (wav_hat.square().mean() + q.loss).backward()
    enc_grad = model.encoder.model[0].conv.conv.weight_v.grad
    assert enc_grad is not None and enc_grad.abs().sum() > 0  # straight-through reaches the encoder
    assert model.head.out.weight.grad.abs().sum() > 0
    wav_hat2, _ = model(wav[:, 0])  # (B, L) input accepted for training
    assert wav_hat2.shape == (2, 1, 160)


def _config_files() -> list[Path]:
    return sorted(CONFIGS.glob("wavtokenizer_*.yaml"))


def test_configs_cover_every_release():
    names = {p.stem for p in _config_files()}
    assert {"wavtokenizer_debug", "wavtokenizer_small_40", "wavtokenizer_small_75", "wavtokenizer_medium_75",
            "wavtokenizer_large_40", "wavtokenizer_large_75"} <= names
    release_args = [b.init_args for b in BUNDLES.values()]
    for path in _config_files():
        node = yaml.safe_load(path.read_text())["model"]
        assert node["class_path"] == "audiokit.models.codec.wavtokenizer.WavTokenizer"
        if path.stem != "wavtokenizer_debug":
            assert node["init_args"] in release_args, path.name
            hop = 600 if path.stem.endswith("_40") else 320
            assert math.prod(node["init_args"]["ratios"]) == hop and node["init_args"]["n_fft"] == 4 * hop


def test_debug_config_builds_and_runs():
    node = yaml.safe_load((CONFIGS / "wavtokenizer_debug.yaml").read_text())["model"]
    model = instantiate(node, where="wavtokenizer_debug.yaml").eval()
    assert isinstance(model, WavTokenizer)
    wav = torch.randn(1, 1, 2400) * 0.1
    model.train()
    model(wav)  # k-means init
    model.eval()
    codes = model.encode(wav)
    assert codes.shape == (1, 1, 2400 // model.hop_length)
    assert model.decode(codes).shape == (1, 1, 2400)


def test_small_batch_training_options_reach_the_codebook_and_only_then_the_config():
    plain = WavTokenizer(**TINY)
    for key in ("effective_dead_code", "consistent_init", "codebook_dim"):
        assert key not in plain.init_args
    model = WavTokenizer(**TINY, effective_dead_code=True, consistent_init=True, codebook_dim=4)
    layer = model.quantizer.layers[0]
    assert layer.codebook.effective_dead_code and layer.codebook.consistent_init and layer.codebook.dim == 4
    assert model.init_args["codebook_dim"] == 4 and model.init_args["effective_dead_code"] is True
    rebuilt = WavTokenizer(**model.init_args)
    assert set(rebuilt.state_dict()) == set(model.state_dict())
    assert any(k.endswith("project_in.weight") for k in model.state_dict())
    wav = torch.randn(2, 1, 800) * 0.1
    out, q = model.train()(wav)
    assert out.shape == (2, 1, 800) and q.codes.shape == (2, 1, 100)
