"""LanguageCodec: structure of both releases, MCRVQ masking, codes, bitrates, length rule.

Facts checked against codecs.md §5.1-§5.6 (parameter counts measured on the reference
modules, key shapes of the released checkpoints, MCRVQ split points 42/85 for D = 128).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from audiokit.config import instantiate, read_yaml
from audiokit.models.codec.languagecodec import (
    TRAIN_N_Q_V1,
    TRAIN_N_Q_V2,
    LanguageCodec,
)
from audiokit.quantizers.masked import channel_bounds

CONFIGS = Path(__file__).resolve().parents[4] / "configs" / "codec"


def _from_config(name: str) -> LanguageCodec:
    data, _ = read_yaml(CONFIGS / name)
    return instantiate(data["model"], where=name)


def _trained_codebooks(model: LanguageCodec, seed: int = 0) -> LanguageCodec:
    """Random codebook entries with ``inited = 1`` (as in a released checkpoint)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in model.quantizer.layers:
            cb = layer.codebook
            cb.embed.copy_(torch.randn(cb.embed.shape, generator=gen) * 0.5)
            cb.embed_avg.copy_(cb.embed * 2)
            cb.cluster_size.fill_(2.0)
            cb.inited.fill_(1.0)
    return model.eval()


@pytest.fixture(scope="module")
def tiny() -> LanguageCodec:
    torch.manual_seed(0)
    return _trained_codebooks(_from_config("languagecodec_debug.yaml"))


def _wav(batch: int = 2, length: int = 1000, seed: int = 1) -> torch.Tensor:
    return 0.3 * torch.randn(batch, 1, length, generator=torch.Generator().manual_seed(seed))


# --------------------------------------------------------------------------- releases
def _params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_release_configs_have_the_published_structure():
    v2 = _from_config("languagecodec_v2.yaml")
    assert (v2.sample_rate, v2.hop_length, v2.frame_rate) == (24000, 320, 75.0)
    assert (v2.n_codebooks, v2.codebook_size) == (8, 1024)
    # measured on the reference modules: encoder 7.43 M, backbone 11.06 M, head 0.49 M
    assert round(_params(v2.encoder) / 1e6, 2) == 7.43
    assert round(_params(v2.backbone) / 1e6, 2) == 11.06
    assert round(_params(v2.head) / 1e6, 2) == 0.49
    shapes = {k: tuple(v.shape) for k, v in v2.state_dict().items()}
    assert shapes["encoder.model.3.conv.conv.weight_v"] == (64, 32, 4)
    assert shapes["encoder.model.12.conv.conv.weight_v"] == (512, 256, 16)
    assert shapes["encoder.model.15.conv.conv.weight_v"] == (128, 512, 7)
    assert shapes["encoder.model.13.lstm.weight_ih_l1"] == (2048, 512)
    assert shapes["quantizer.vq.layers.7._codebook.embed"] == (1024, 128)
    assert shapes["backbone.norm.scale.weight"] == (4, 384)
    assert shapes["backbone.convnext.11.pwconv1.weight"] == (1152, 384)
    assert "backbone.convnext.12.gamma" not in shapes
    assert shapes["head.out.weight"] == (1282, 384)
    assert shapes["head.istft.window"] == (1280,)
    assert v2.train_n_q == list(TRAIN_N_Q_V2)
    assert v2.bandwidth_kbps(8) == pytest.approx(6.0) and v2.bandwidth_kbps(4) == pytest.approx(3.0)
    assert v2.n_q_for_bandwidth(3.0) == 4 and v2.n_q_for_bandwidth(6.0) == 8
    assert v2.n_q_for_bandwidth(100) == 8 and v2.n_q_for_bandwidth(0.1) == 1

    v1 = _from_config("languagecodec_v1.yaml")
    assert (v1.n_codebooks, v1.codebook_size, len(v1.backbone.convnext)) == (8, 2048, 8)
    assert v1.train_n_q == list(TRAIN_N_Q_V1)
    assert v1.bandwidth_kbps() == pytest.approx(6.6) and v1.n_q_for_bandwidth(6.6) == 8
    assert channel_bounds(128) == [(0, 42), (42, 85), (85, 128)]


# --------------------------------------------------------------------------- codes
@pytest.mark.parametrize("length", [1, 31, 32, 33, 1000])
def test_length_rule_and_shapes(tiny, length):
    wav = _wav(length=length)
    codes = tiny.encode(wav)
    frames = math.ceil(length / tiny.hop_length)
    assert codes.shape == (2, 8, frames) and codes.dtype == torch.long
    assert tiny.num_frames(length) == frames
    assert int(codes.min()) >= 0 and int(codes.max()) < tiny.codebook_size
    out = tiny.decode(codes)
    assert out.shape == (2, 1, frames * tiny.hop_length)
    assert torch.isfinite(out).all()


def test_codes_are_deterministic_and_equal_the_trained_forward_pass(tiny):
    wav = _wav(seed=3)
    codes = tiny.encode(wav)
    assert torch.equal(codes, tiny.encode(wav))
    clone = LanguageCodec(**tiny.init_args).eval()
    clone.load_state_dict(tiny.state_dict())
    assert torch.equal(clone.encode(wav), codes)
    with torch.no_grad():
        wav_hat, q = tiny(wav)  # eval forward = the reference's MCRVQ forward/infer path
    assert torch.equal(q.codes, codes)
    assert torch.allclose(wav_hat, tiny.decode(codes), atol=1e-5)
    # batch items are independent for equal lengths
    assert torch.equal(tiny.encode(wav[1:]), codes[1:])


def test_each_masked_stage_sees_only_its_third(tiny):
    """Changing channels outside a stage's third leaves that stage's codes unchanged."""
    x = tiny.encoder(_wav(seed=4)).detach()
    codes = tiny.quantizer.encode(x)
    gen = torch.Generator().manual_seed(5)
    for stage, (start, stop) in enumerate(channel_bounds(x.shape[1])):
        outside = x.clone()
        noise = torch.randn(outside.shape, generator=gen) * 3
        keep = torch.zeros(x.shape[1], dtype=torch.bool)
        keep[start:stop] = True
        outside[:, ~keep] = noise[:, ~keep]
        changed = tiny.quantizer.encode(outside)
        assert torch.equal(changed[:, stage], codes[:, stage]), f"stage {stage} saw other channels"
        assert not torch.equal(changed, codes)  # the perturbation is real: other stages move
        inside = x.clone()
        inside[:, keep] = noise[:, keep]
        assert not torch.equal(tiny.quantizer.encode(inside)[:, stage], codes[:, stage])
    # stage 3 sees the residual x - q0 - q1 - q2 (all channels)
    lookups = [tiny.quantizer.layers[i].decode(codes[:, i]) for i in range(3)]
    residual = x - lookups[0] - lookups[1] - lookups[2]
    assert torch.equal(tiny.quantizer.layers[3].encode(residual), codes[:, 3])


def test_fewer_codebooks_and_bandwidth(tiny):
    wav = _wav(seed=6)
    full = tiny.encode(wav)
    for n_q in (1, 3, 4, 7):
        assert torch.equal(tiny.encode(wav, n_q=n_q), full[:, :n_q])
    part = tiny.decode(full[:, :4])
    assert part.shape == tiny.decode(full).shape
    assert not torch.allclose(part, tiny.decode(full))
    features = sum(tiny.quantizer.layers[i].decode(full[:, i]) for i in range(4))
    assert torch.allclose(tiny.codes_to_features(full[:, :4]), features, atol=1e-6)
    assert torch.allclose(part, tiny.decode_features(features), atol=1e-5)
    n_q = tiny.n_q_for_bandwidth(tiny.bandwidth_kbps(4))
    assert n_q == 4
    assert torch.equal(tiny.encode(wav, bandwidth_kbps=tiny.bandwidth_kbps(4)), full[:, :4])
    with pytest.raises(ValueError):
        tiny.encode(wav, n_q=2, bandwidth_kbps=3.0)
    with pytest.raises(ValueError):
        tiny.encode(wav, n_q=9)
    with pytest.raises(ValueError):
        tiny.decode(torch.full((1, 2, 3), tiny.codebook_size))


def test_training_forward_draws_codebook_counts_and_runs_kmeans():
    torch.manual_seed(0)
    model = _from_config("languagecodec_debug.yaml").train()
    assert not model.codebook_initialized
    seen = set()
    for step in range(12):
        wav_hat, q = model(_wav(length=640, seed=step))
        assert wav_hat.shape == (2, 1, 640)
        seen.add(q.codes.shape[1])
    assert seen <= set(TRAIN_N_Q_V2) and len(seen) > 1
    assert model.codebook_initialized  # every codebook was reached and k-means-initialised
    wav_hat, q = model(_wav(length=640), n_q=8)
    (wav_hat.pow(2).mean() + q.loss).backward()
    assert model.encoder.model[0].conv.conv.weight_v.grad is not None
    model.eval()
    with torch.no_grad():
        assert model(_wav(length=640))[1].codes.shape[1] == 8  # eval: all codebooks


def test_small_batch_codebook_rules_reach_every_codebook_and_only_then_the_config(tiny):
    for key in ("effective_dead_code", "consistent_init"):
        assert key not in tiny.init_args  # releases keep their config hash
    args = {**tiny.init_args, "effective_dead_code": True, "consistent_init": True}
    model = LanguageCodec(**args)
    books = [layer.codebook for layer in model.quantizer.layers]
    assert len(books) == model.n_codebooks
    assert all(b.effective_dead_code and b.consistent_init for b in books)
    assert model.init_args["effective_dead_code"] is True and model.init_args["consistent_init"] is True
