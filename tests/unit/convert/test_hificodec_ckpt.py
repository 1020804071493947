"""Official HiFi-Codec checkpoint loader (audiokit.convert.hificodec).

Synthetic checkpoints are written in the released layout: ``torch.save`` of a dict of three
OrderedDicts (``generator``, ``encoder``, ``quantizer``) with legacy ``weight_g``/``weight_v``
names, the keys written from the architecture (``_hificodec_fixture.official_key_shapes``),
not from audiokit's modules; channels are narrow to keep the files small.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections import OrderedDict
from pathlib import Path

import pytest
import torch

from audiokit.checkpoint import load_pretrained
from audiokit.convert import hificodec as hc
from audiokit.errors import AudiokitError, CheckpointError, ConfigError
from audiokit.nn.weight_norm import remove_weight_norm

FIXTURE = Path(__file__).resolve().parents[1] / "models" / "codec" / "_hificodec_fixture.py"


def _load_helpers():
    spec = importlib.util.spec_from_file_location("_hificodec_fixture", FIXTURE)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("_hificodec_fixture", module)
    spec.loader.exec_module(module)
    return module


fx = _load_helpers()
TINY = dict(fx.RELEASES["16k_320d"], upsample_initial_channel=64)  # + latent 64, encoder base 8
TINY_240 = dict(fx.RELEASES["24k_240d"], upsample_initial_channel=64)


def tiny_checkpoint(cfg: dict = TINY) -> dict[str, OrderedDict]:
    return fx.official_checkpoint(fx.official_key_shapes(cfg, latent=64, enc_base=8))


def write(path: Path, obj) -> Path:
    torch.save(obj, path)
    return path


def one_line(err: pytest.ExceptionInfo) -> str:
    text = str(err.value)
    assert "\n" not in text and text
    return text


@pytest.fixture(scope="module")
def ckpt16(tmp_path_factory) -> Path:
    return write(tmp_path_factory.mktemp("hf") / "HiFi-Codec-16k-320d", tiny_checkpoint())


def test_released_layout_loads_encodes_and_decodes(ckpt16):
    obj = torch.load(ckpt16, weights_only=True)
    assert list(obj) == ["generator", "encoder", "quantizer"] and isinstance(obj["encoder"], OrderedDict)
    assert "ups.0.weight_g" in obj["generator"] and "conv_post.weight" in obj["encoder"]
    model = hc.load_checkpoint(ckpt16)
    args = model.init_args
    assert args["sample_rate"] == 16000  # from the official file name
    assert args["upsample_rates"] == [8, 5, 4, 2] and args["upsample_kernel_sizes"] == [16, 11, 8, 4]
    assert (args["upsample_initial_channel"], args["latent_dim"], args["encoder_channels"]) == (64, 64, 8)
    assert (args["n_code_groups"], args["n_residual_layers"], args["n_codes"]) == (2, 2, 1024)
    assert args["resblock_kernel_sizes"] == [3, 7, 11]
    assert torch.equal(model.state_dict()["generator.ups.2.weight_v"], obj["generator"]["ups.2.weight_v"])
    assert torch.equal(model.state_dict()["encoder.normalize.7.bias"], obj["encoder"]["normalize.7.bias"])
    assert not model.training
    wav = fx.fixture_input(1, 16000 + 123)
    codes = model.encode(wav)
    assert codes.shape == (1, 4, 50) and model.frame_rate == 50.0
    assert model.decode(codes).shape == (1, 1, 16000)
    assert torch.equal(codes, model.encode(wav))


def test_hop_240_is_24k_and_hop_320_needs_a_sample_rate(tmp_path):
    model = hc.load_checkpoint(write(tmp_path / "g_00100000", tiny_checkpoint(TINY_240)))
    assert (model.sample_rate, model.hop_length, model.frame_rate) == (24000, 240, 100.0)
    anonymous = write(tmp_path / "g_00200000", tiny_checkpoint())
    with pytest.raises(CheckpointError) as err:
        hc.load_checkpoint(anonymous)
    assert "--sample-rate" in one_line(err) and "g_00200000" in str(err.value)
    assert hc.load_checkpoint(anonymous, sample_rate=24000).frame_rate == 75.0
    for name, rate in [("HiFi-Codec-24k-320d", 24000), ("HiFi-Codec-16k-320d-large-universal", 16000)]:
        assert hc.load_checkpoint(write(tmp_path / name, tiny_checkpoint())).sample_rate == rate


def test_stated_configs_must_agree_with_shapes(tmp_path, ckpt16):
    official = {"resblock": "1", "upsample_rates": [8, 5, 4, 2], "upsample_kernel_sizes": [16, 11, 8, 4],
                "upsample_initial_channel": 64, "resblock_kernel_sizes": [3, 7, 11],
                "resblock_dilation_sizes": [[1, 3, 5]] * 3, "sampling_rate": 24000, "n_code_groups": 2,
                "n_codes": 1024, "num_mels": 80}
    good = tmp_path / "config_24k_320d.json"
    good.write_text(json.dumps(official))
    assert hc.load_checkpoint(ckpt16, config=good).sample_rate == 24000
    bad = tmp_path / "config_bad.json"
    bad.write_text(json.dumps(dict(official, upsample_kernel_sizes=[16, 11, 7, 4])))
    with pytest.raises(CheckpointError, match="upsample_kernel_sizes") as err:
        hc.load_checkpoint(ckpt16, config=bad)
    one_line(err)
    with pytest.raises(CheckpointError, match="upsample_initial_channel is 512 there but 64"):
        hc.load_checkpoint(ckpt16, config="hificodec_16k_320d")  # the full-size release
    broken = tmp_path / "broken.json"
    broken.write_text("{ nope")
    with pytest.raises(ConfigError, match="broken.json:1: invalid JSON"):
        hc.load_checkpoint(ckpt16, config=broken)
    with pytest.raises(ConfigError, match="not a HiFi-Codec release name"):
        hc.read_config("hificodec_48k")
    with pytest.raises(CheckpointError, match="does not match the requested model"):
        hc.read_checkpoint(ckpt16, expected={"n_codes": 2048})


def test_release_names_and_configs():
    assert hc.release_name("HiFi-Codec-16k-320d") == "hificodec-16k-320d"
    assert hc.release_name("hificodec_24k_240d.yaml") == "hificodec-24k-240d"
    assert hc.release_name("/x/HiFi-Codec-16k-320d-large-universal") == "hificodec-16k-320d-large-universal"
    assert hc.release_name("g_00100000") is None
    assert hc.read_config("hificodec_24k_240d") == hc.RELEASES["hificodec-24k-240d"]
    yaml_path = Path(__file__).resolve().parents[3] / "configs" / "codec" / "hificodec_24k_320d.yaml"
    assert hc.read_config(yaml_path) == hc.RELEASES["hificodec-24k-320d"]
    assert hc.FILENAMES["hificodec-24k-240d"] == "HiFi-Codec-24k-240d"


@pytest.mark.parametrize("kind", ["garbage", "truncated", "empty", "flat", "pickled_class", "directory", "missing"])
def test_bad_files_are_one_line_checkpoint_errors(tmp_path, ckpt16, kind):
    path = tmp_path / f"HiFi-Codec-16k-320d-{kind}"
    if kind == "garbage":
        path.write_bytes(b"\x00not a torch file" * 10)
    elif kind == "truncated":
        path.write_bytes(ckpt16.read_bytes()[:5000])
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "flat":
        write(path, {"conv_pre.weight": torch.zeros(2)})
    elif kind == "pickled_class":
        write(path, {"generator": OrderedDict(), "encoder": Path("x"), "quantizer": OrderedDict()})
    elif kind == "directory":
        path.mkdir()
    with pytest.raises(CheckpointError) as err:
        hc.load_checkpoint(path)
    text = one_line(err)
    assert str(path) in text and "Traceback" not in text
    assert not hc.is_hificodec_checkpoint(path)


def test_missing_and_misshaped_tensors_are_named(tmp_path):
    obj = tiny_checkpoint()
    del obj["encoder"]["normalize.3.weight"]
    with pytest.raises(CheckpointError, match="encoder.normalize.3.weight") as err:
        hc.load_checkpoint(write(tmp_path / "HiFi-Codec-16k-320d", obj))
    one_line(err)
    obj = tiny_checkpoint()
    obj["quantizer"]["quantizer_modules2.1.embedding.weight"] = torch.zeros(1024, 31)
    with pytest.raises(CheckpointError, match="quantizer_modules2.1.embedding.weight"):
        hc.load_checkpoint(write(tmp_path / "HiFi-Codec-16k-320d", obj))
    obj = tiny_checkpoint()
    obj["generator"]["extra.weight"] = torch.zeros(1)
    with pytest.raises(CheckpointError, match="generator.extra.weight"):
        hc.load_checkpoint(write(tmp_path / "HiFi-Codec-16k-320d", obj))


def test_module_prefix_and_detection(tmp_path, ckpt16):
    obj = tiny_checkpoint()
    ddp = {g: OrderedDict((f"module.{k}", v) for k, v in sd.items()) for g, sd in obj.items()}
    model = hc.load_checkpoint(write(tmp_path / "HiFi-Codec-16k-320d", ddp))
    assert torch.equal(model.state_dict()["encoder.conv_pre.weight_v"], obj["encoder"]["conv_pre.weight_v"])
    assert hc.is_official(obj) and not hc.is_official({"state_dict": {}})
    assert hc.is_hificodec_checkpoint(ckpt16) and not hc.is_hificodec_checkpoint(tmp_path / "nope")
    state, meta = hc.unwrap_official(obj, "x")
    assert hc.matches(state) and meta == {}
    assert not hc.matches({k[len("generator."):]: v for k, v in state.items() if k.startswith("generator.")})


def test_convert_to_audiokit_folder(tmp_path, ckpt16):
    out = hc.convert_checkpoint(ckpt16, tmp_path / "hificodec")
    assert {p.name for p in out.iterdir()} == {"config.yaml", "model.safetensors"}
    model, direct = load_pretrained(out), hc.load_checkpoint(ckpt16)
    wav = fx.fixture_input(1, 3200)
    assert torch.equal(model.encode(wav), direct.encode(wav))
    text = (out / "config.yaml").read_text()
    assert "frame_rate: 50.0" in text and "hificodec-academicodec" in text
    with pytest.raises(AudiokitError, match="output exists"):
        hc.convert_checkpoint(ckpt16, out)
    assert hc.convert_checkpoint(ckpt16, out, force=True) == out


def test_export_to_official_layout_roundtrip(tmp_path, ckpt16):
    obj = torch.load(ckpt16, weights_only=True)
    model = hc.load_checkpoint(ckpt16)
    exported = hc.to_official(model)
    assert list(exported) == ["generator", "encoder", "quantizer"]
    assert exported["generator"].keys() == obj["generator"].keys()
    assert all(torch.equal(exported["encoder"][k], v) for k, v in obj["encoder"].items())
    wav = fx.fixture_input(1, 1600)
    codes = model.encode(wav)
    remove_weight_norm(model)  # folded weights export back to weight_g / weight_v
    folded = hc.to_official(model)
    assert "ups.0.weight_g" in folded["generator"] and "ups.0.weight" not in folded["generator"]
    again = hc.load_checkpoint(write(tmp_path / "HiFi-Codec-16k-320d", folded))
    assert torch.equal(again.encode(wav), codes)


def test_official_codes_layout():
    codes = torch.arange(2 * 5 * 4).reshape(2, 5, 4)  # [B, T, 4]
    ours = hc.from_official_codes(codes)
    assert ours.shape == (2, 4, 5) and ours.dtype == torch.long
    assert torch.equal(ours[1, 2], codes[1, :, 2])
    assert torch.equal(hc.to_official_codes(ours), codes)
    with pytest.raises(ValueError):
        hc.from_official_codes(codes[0])


def test_pretrained_bundles_and_load_of_an_official_file(ckpt16, tmp_path, monkeypatch):
    import dataclasses

    from audiokit import pretrained

    monkeypatch.setenv("AUDIOKIT_HOME", str(tmp_path / "home"))
    rates = {n: (b.sample_rate, b.hop_length) for n, b in pretrained.BUNDLES.items() if n.startswith("hificodec-")}
    assert rates == {"hificodec-16k-320d": (16000, 320), "hificodec-16k-320d-large-universal": (16000, 320),
                     "hificodec-24k-240d": (24000, 240), "hificodec-24k-320d": (24000, 320)}
    bundle = pretrained.get_bundle("hificodec-24k-320d")
    assert bundle.filenames == ("HiFi-Codec-24k-320d",) and bundle.class_path == hc.CLASS_PATH
    with pytest.raises(CheckpointError, match="does not download") as err:
        pretrained.load("hificodec-24k-320d")
    assert "HiFi-Codec-24k-320d" in one_line(err) and hc.SOURCE in one_line(err)

    # pretrained.load(path) on the nested official dict; the name tells 16 kHz
    wav = torch.randn(1, 1, 1600) * 0.3
    direct = pretrained.load(ckpt16)
    assert direct.sample_rate == 16000
    assert torch.equal(direct.encode(wav), hc.load_checkpoint(ckpt16).encode(wav))
    anonymous = write(tmp_path / "g_00000001", torch.load(ckpt16, weights_only=True))
    with pytest.raises(CheckpointError, match="sample rate"):
        pretrained.load(anonymous)
    assert pretrained.load(anonymous, sample_rate=24000).sample_rate == 24000
    with pytest.raises(CheckpointError, match="does not apply"):
        pretrained.load(anonymous, keep_discriminators=True)

    # a real-release bundle refuses this narrow file; a bundle of its size loads it
    bundle.cache_dir().mkdir(parents=True)
    write(bundle.cache_dir() / "HiFi-Codec-24k-320d", torch.load(ckpt16, weights_only=True))
    with pytest.raises(CheckpointError, match="requested model"):
        pretrained.load("hificodec-24k-320d")
    tiny = dataclasses.replace(bundle, name="tiny-hifi",
                               init_args=dict(hc.read_checkpoint(ckpt16).init_args, sample_rate=24000))
    monkeypatch.setitem(pretrained.BUNDLES, "tiny-hifi", tiny)
    tiny.cache_dir().mkdir(parents=True)
    write(tiny.cache_dir() / "HiFi-Codec-24k-320d", torch.load(ckpt16, weights_only=True))
    model = pretrained.load("tiny-hifi")
    assert model.sample_rate == 24000
    assert torch.equal(model.encode(wav), direct.encode(wav))
