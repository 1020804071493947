"""HiFi-Codec model: reference parity, the released layout, the Codec contract.

``data/hificodec_reference.safetensors`` holds what the AcademiCodec reference code computes
(latent, codes [B, T, n_q], reconstruction from those codes, quantizer loss) for the weights of
``_hificodec_fixture.py``; regenerate with ``python tests/unit/models/codec/data/make_hificodec_reference.py
--ref <AcademiCodec checkout>``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

from audiokit.checkpoint import load_pretrained, save_pretrained
from audiokit.config import instantiate, read_yaml
from audiokit.models.codec.hificodec import HiFiCodec

HERE = Path(__file__).resolve().parent
CONFIGS = HERE.parents[3] / "configs" / "codec"


def _load_helpers():
    spec = importlib.util.spec_from_file_location("_hificodec_fixture", HERE / "_hificodec_fixture.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("_hificodec_fixture", module)
    spec.loader.exec_module(module)
    return module


fx = _load_helpers()


def model_args(cfg: dict) -> dict:
    """HiFiCodec init args of an AcademiCodec JSON-style config."""
    return dict(sample_rate=cfg["sampling_rate"], upsample_rates=cfg["upsample_rates"],
                upsample_kernel_sizes=cfg["upsample_kernel_sizes"],
                upsample_initial_channel=cfg["upsample_initial_channel"],
                resblock_kernel_sizes=cfg["resblock_kernel_sizes"],
                resblock_dilation_sizes=cfg["resblock_dilation_sizes"],
                n_code_groups=cfg["n_code_groups"], n_codes=cfg["n_codes"])


def debug_model(seed: int = 0) -> HiFiCodec:
    data, _ = read_yaml(CONFIGS / "hificodec_debug.yaml")
    torch.manual_seed(seed)
    model = instantiate(data["model"])
    with torch.no_grad():  # spread the codebooks to the latent's scale so codes vary
        for p in model.quantizer.parameters():
            p.normal_(0, 0.5)
    return model.eval()


@pytest.fixture(scope="module")
def model() -> HiFiCodec:
    """The debug model (tests must not change it)."""
    return debug_model()


# --------------------------------------------------------------------------- released layout
@pytest.mark.parametrize("name", ["16k_320d", "24k_240d"])
def test_full_size_layout_and_parameter_counts(name):
    """codecs.md §3.1 counts (hop 320): encoder 47.23 M, generator 15.35 M, quantizer 1.05 M."""
    cfg = fx.RELEASES[name]
    with torch.device("meta"):
        model = HiFiCodec(**model_args(cfg))
    counts = {g: sum(p.numel() for p in getattr(model, g).parameters()) for g in fx.GROUPS_ORDER}
    assert round(counts["encoder"] / 1e6, 2) == (47.23 if name.endswith("320d") else 47.22)  # one kernel 7 < 8
    assert round(counts["generator"] / 1e6, 2) == 15.35
    assert round(counts["quantizer"] / 1e6, 2) == 1.05
    official = fx.official_key_shapes(cfg)
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert ours == {f"{g}.{k}": s for g, keys in official.items() for k, s in keys.items()}
    assert model.hop_length == {"16k_320d": 320, "24k_240d": 240}[name]
    assert model.frame_rate == {"16k_320d": 50.0, "24k_240d": 100.0}[name]


def test_release_configs_build_the_releases():
    from audiokit.convert.hificodec import RELEASES

    for name, args in RELEASES.items():
        data, _ = read_yaml(CONFIGS / (name.replace("-", "_") + ".yaml"))
        assert data["model"]["init_args"] == args, name
        with torch.device("meta"):
            model = instantiate(data["model"])
        assert (model.sample_rate, model.n_codebooks, model.codebook_size) == (args["sample_rate"], 4, 1024)


# --------------------------------------------------------------------------- reference parity
@pytest.fixture(scope="module")
def reference():
    tensors, meta = fx.load_fixture()
    assert meta["reference"].startswith("yangdongchao/AcademiCodec")
    return tensors


def _parity_model(name: str) -> tuple[HiFiCodec, torch.Tensor]:
    cfg, batch, length = fx.PARITY[name]
    model = HiFiCodec(**model_args(cfg)).eval()
    ckpt = fx.official_checkpoint(fx.official_key_shapes(cfg))
    model.load_state_dict({f"{g}.{k}": v for g, sd in ckpt.items() for k, v in sd.items()}, strict=True)
    return model, fx.fixture_input(batch, length)


@pytest.mark.parametrize("name", list(fx.PARITY))
def test_matches_reference(reference, name):
    model, wav = _parity_model(name)
    with torch.no_grad():
        latent = model.encode_latent(wav)
        ref_latent = reference[f"{name}.latent"]
        assert (latent - ref_latent).abs().max().item() <= 1e-4
        codes = model.quantizer.encode(latent)
        ref_codes = reference[f"{name}.codes"].transpose(1, 2)  # [B, T, n_q] -> (B, n_q, T)
        assert torch.equal(codes, ref_codes)
        out = model.decode(ref_codes)
        ref_out = reference[f"{name}.output"]
        assert out.shape == ref_out.shape == (wav.shape[0], 1, (wav.shape[-1] // model.hop_length) * model.hop_length)
        assert ref_out.std().item() > 1e-3
        assert (out - ref_out).abs().max().item() <= 1e-5
        loss = model.quantizer(latent).loss
        assert abs(loss.item() - reference[f"{name}.loss"].item()) <= 1e-5 * max(1.0, abs(loss.item()))
        if name == "16k_320d":  # GRVQ really groups: group 0 codes see only channels 0:256
            moved = latent.clone()
            moved[:, 256:] = moved[:, 256:] + torch.randn_like(moved[:, 256:])
            other = model.quantizer.encode(moved)
            assert torch.equal(other[:, [0, 2]], codes[:, [0, 2]])
            assert not torch.equal(other[:, [1, 3]], codes[:, [1, 3]])


# --------------------------------------------------------------------------- Codec contract
@pytest.mark.parametrize("length", [320, 321, 639, 3337])
def test_encode_decode_shapes_and_floor_rule(model, length):
    assert (model.n_codebooks, model.codebook_size, model.hop_length, model.frame_rate) == (4, 1024, 320, 50.0)
    wav = fx.fixture_input(2, length)
    codes = model.encode(wav)
    frames = length // 320
    assert model.num_frames(length) == frames
    assert codes.shape == (2, 4, frames) and codes.dtype == torch.long
    assert 0 <= int(codes.min()) and int(codes.max()) < 1024
    out = model.decode(codes)
    assert out.shape == (2, 1, frames * 320)
    assert out.abs().max() <= 1.0


def test_codes_deterministic_and_batch_items_independent(model):
    wav = fx.fixture_input(2, 1600)
    codes = model.encode(wav)
    assert torch.equal(codes, model.encode(wav))
    clone = HiFiCodec(**model.init_args).eval()
    clone.load_state_dict(model.state_dict())
    assert torch.equal(codes, clone.encode(wav))
    assert torch.equal(codes[1:], model.encode(wav[1:]))  # GroupNorm is per item
    assert len(torch.unique(codes[:, 0])) > 1


def test_fewer_codebooks_is_stage_one(model):
    wav = fx.fixture_input(1, 1920)
    full = model.encode(wav)
    two = model.encode(wav, n_q=2)
    assert torch.equal(two, full[:, :2])
    out2 = model.decode(two)
    assert out2.shape == (1, 1, 1920)
    with torch.no_grad():
        stage1 = torch.cat([model.quantizer.quantizer_modules[g].embedding.weight[two[:, g]] for g in (0, 1)], -1)
        assert torch.allclose(out2, model.generator(stage1.transpose(1, 2)), atol=1e-6)
    assert not torch.allclose(out2, model.decode(full))
    for n_q in (1, 3):
        with pytest.raises(ValueError, match="multiple of 2"):
            model.encode(wav, n_q=n_q)
        with pytest.raises(ValueError, match="multiple of 2"):
            model.decode(full[:, :n_q])
    with pytest.raises(ValueError, match="out of range"):
        model.decode(full + 1024)


def test_too_short_audio_is_refused(model):
    with pytest.raises(ValueError, match="shorter than one HiFi-Codec frame"):
        model.encode(torch.zeros(1, 1, 319))


def test_training_forward_and_gradients():
    model = debug_model().train()
    wav = fx.fixture_input(2, 960)
    wav_hat, q = model(wav)
    assert wav_hat.shape == (2, 1, 960) and q.codes.shape == (2, 4, 3) and q.loss.dim() == 0
    (wav_hat.pow(2).mean() + q.loss).backward()
    assert model.encoder.conv_pre.weight_v.grad.abs().sum() > 0  # straight-through reaches the encoder
    assert model.quantizer.quantizer_modules2[1].embedding.weight.grad.abs().sum() > 0


def test_save_and_load_pretrained_roundtrip(model, tmp_path):
    cfg = {"model": {"class_path": "audiokit.models.codec.hificodec.HiFiCodec", "init_args": model.init_args}}
    folder = save_pretrained(model, cfg, tmp_path / "m")
    again = load_pretrained(folder)
    wav = fx.fixture_input(1, 1280)
    assert torch.equal(again.encode(wav), model.encode(wav))
    assert again.config_hash() == model.config_hash()
