"""Reading official WavTokenizer checkpoints, converting them, and ``audiokit.pretrained``.

The synthetic files are written by ``_wavtokenizer_fixture.py`` in the exact official
on-disk layout (a Lightning dict with ``state_dict`` and the usual top-level entries; full
key set with the unused SEANet decoder, the discriminators, their ``dacdiscriminator``
duplicate and the mel-loss buffers; legacy ``weight_g``/``weight_v`` names). Where these
facts come from: codecs.md §6.3 (file names, prefixes, key/shape table) and §9 (format
cheat sheet); see the fixture's docstring. Widths are tiny except in the real-size test,
which builds on the ``meta`` device (no memory, no weights) and checks the documented
shapes, parameter counts and that shape inference recovers hop 320 and 600.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pytest
import torch
import yaml

from audiokit import pretrained
from audiokit.checkpoint import load_pretrained, torch_load_safe
from audiokit.convert import identify
from audiokit.convert.common import split_prefixes
from audiokit.convert.wavtokenizer import (
    DROP,
    RENAME,
    convert_checkpoint,
    infer_init_args,
    load_checkpoint,
    read_checkpoint,
)
from audiokit.errors import AudiokitError, CheckpointError, ConfigError
from audiokit.models.codec.wavtokenizer import WavTokenizer

_spec = importlib.util.spec_from_file_location("_wavtokenizer_fixture", Path(__file__).with_name("_wavtokenizer_fixture.py"))
fx = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fx)

WAV = torch.sin(torch.arange(1000) * 0.05).reshape(1, 1, -1) * 0.5 + torch.randn(1, 1, 1000) * 0.05


class NotATensor:  # a custom class: unpickling it needs code, weights_only refuses it
    def __init__(self) -> None:
        self.value = 1


@pytest.fixture(scope="module")
def ckpt_path(tmp_path_factory) -> Path:
    return fx.write_checkpoint(tmp_path_factory.mktemp("wt") / "WavTokenizer_tiny.ckpt")


def one_line(err: pytest.ExceptionInfo) -> str:
    text = str(err.value)
    assert "\n" not in text
    return text


# ------------------------------------------------------------------ reading and loading
def test_layout_is_lightning_and_weights_only(ckpt_path):
    obj = torch_load_safe(ckpt_path)
    assert {"epoch", "global_step", "pytorch-lightning_version", "state_dict", "optimizer_states",
            "lr_schedulers", "callbacks", "hparams_name", "hyper_parameters"} <= set(obj)
    tops = {k.split(".")[0] for k in obj["state_dict"]}
    assert tops == {"feature_extractor", "backbone", "head", "multiperioddisc", "multiresddisc", "dac",
                    "dacdiscriminator", "melspec_loss"}
    assert "feature_extractor.encodec.encoder.model.0.conv.conv.weight_g" in obj["state_dict"]
    assert identify(obj, "x")[0] == "wavtokenizer"


def test_infers_config_from_shapes(ckpt_path):
    ckpt = read_checkpoint(ckpt_path)
    assert ckpt.init_args == {**fx.tiny_model().init_args}
    assert ckpt.discriminators is None
    assert ckpt.meta == {"epoch": 3, "global_step": 1200, "pytorch-lightning_version": "1.8.6"}
    assert not any(k.startswith(("feature_extractor.", "melspec_loss.", "dac")) for k in ckpt.state_dict)


def test_load_encode_decode_matches_direct_model(ckpt_path):
    model = load_checkpoint(ckpt_path)
    assert isinstance(model, WavTokenizer) and not model.training
    direct = fx.tiny_model()  # built directly with the same weights
    codes = model.encode(WAV)
    assert codes.shape == (1, 1, math.ceil(1000 / 16))
    assert torch.equal(codes, direct.encode(WAV))
    out = model.decode(codes)
    assert out.shape == (1, 1, codes.shape[-1] * 16)
    assert torch.equal(out, direct.decode(codes))


def test_inited_is_honoured(ckpt_path, tmp_path):
    model = load_checkpoint(ckpt_path)
    cb = model.quantizer.layers[0].codebook
    before = cb.embed.clone()
    assert model.codebook_initialized
    with torch.no_grad():
        model.encode(WAV)
        model(WAV)  # eval forward would run k-means if inited were 0
    assert torch.equal(cb.embed, before)

    fresh = fx.tiny_model()
    fresh.quantizer.layers[0].codebook.inited.zero_()
    path = fx.write_checkpoint(tmp_path / "uninit.ckpt", fresh)
    with pytest.raises(CheckpointError, match="never initialised") as err:
        read_checkpoint(path)
    one_line(err)


def test_parametrized_weight_norm_names_load(ckpt_path, tmp_path):
    path = fx.write_checkpoint(tmp_path / "param.ckpt", style="parametrize")
    state = torch_load_safe(path)["state_dict"]
    assert any("parametrizations.weight.original1" in k for k in state)
    assert not any(k.endswith("weight_v") for k in state)
    ckpt = read_checkpoint(path)
    assert ckpt.init_args == read_checkpoint(ckpt_path).init_args
    a, b = ckpt.build(), load_checkpoint(ckpt_path)
    assert torch.equal(a.encode(WAV), b.encode(WAV))
    assert torch.allclose(a.decode(a.encode(WAV)), b.decode(b.encode(WAV)), atol=1e-6)


def test_keep_discriminators(ckpt_path):
    ckpt = read_checkpoint(ckpt_path, keep_discriminators=True)
    prefixes = {k.split(".")[0] for k in ckpt.discriminators}
    assert prefixes == {"multiperioddisc", "multiresddisc", "dac"}
    official = torch_load_safe(ckpt_path)["state_dict"]
    for key, value in ckpt.discriminators.items():
        assert torch.equal(value, official[key])


def test_official_yaml_numbers_only(ckpt_path, tmp_path):
    good = tmp_path / "official.yaml"
    good.write_text(fx.official_yaml())
    assert read_checkpoint(ckpt_path, config=good).init_args == read_checkpoint(ckpt_path).init_args
    # the YAML names reference classes (decoder.experiment.WavTokenizer...): never imported
    assert "decoder" not in sys.modules and "decoder.experiment" not in sys.modules

    other = dict(fx.TINY, ratios=[2, 2, 2, 4], n_fft=128)  # a 40-style YAML for a 75-style file
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(fx.official_yaml(other))
    with pytest.raises(CheckpointError, match="ratios") as err:
        read_checkpoint(ckpt_path, config=wrong)
    assert "wrong.yaml" in one_line(err)

    bad = tmp_path / "bad.yaml"
    bad.write_text(fx.official_yaml().replace("vq_bins: 32", "vq_bins: '!!python/object:os.system'"))
    with pytest.raises(ConfigError, match="vq_bins"):
        read_checkpoint(ckpt_path, config=bad)
    unsafe = tmp_path / "unsafe.yaml"
    unsafe.write_text("model: !!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(ConfigError, match="unsafe.yaml"):
        read_checkpoint(ckpt_path, config=unsafe)


# ------------------------------------------------------------------ bad files
def test_corrupt_and_foreign_files(tmp_path):
    text = tmp_path / "notes.ckpt"
    text.write_text("this is not a checkpoint\n")
    with pytest.raises(CheckpointError, match="notes.ckpt") as err:
        read_checkpoint(text)
    one_line(err)

    truncated = tmp_path / "trunc.ckpt"
    fx.write_checkpoint(truncated)
    truncated.write_bytes(truncated.read_bytes()[:5000])
    with pytest.raises(CheckpointError, match="trunc.ckpt") as err:
        read_checkpoint(truncated)
    one_line(err)

    with pytest.raises(CheckpointError, match="no such file"):
        read_checkpoint(tmp_path / "missing.ckpt")

    tensor = tmp_path / "tensor.ckpt"
    torch.save(torch.zeros(3), tensor)
    with pytest.raises(CheckpointError, match="expected a dict"):
        read_checkpoint(tensor)

    other = tmp_path / "other.ckpt"
    torch.save({"state_dict": {"model.layer.weight": torch.zeros(2)}}, other)
    with pytest.raises(CheckpointError, match="not a WavTokenizer checkpoint"):
        read_checkpoint(other)


def test_pickled_code_is_refused(tmp_path):
    path = tmp_path / "evil.ckpt"
    obj = fx.lightning_checkpoint(fx.official_state_dict(fx.tiny_model()))
    obj["hyper_parameters"]["extra"] = NotATensor()
    torch.save(obj, path)
    with pytest.raises(CheckpointError, match="refused") as err:
        read_checkpoint(path)
    assert "NotATensor" in one_line(err)


def test_structural_mismatches(tmp_path):
    state = fx.official_state_dict(fx.tiny_model())
    extra = dict(state, **{"something_else.weight": torch.zeros(1)})
    with pytest.raises(CheckpointError, match="unexpected tensor 'something_else.weight'"):
        read_checkpoint(fx.write_checkpoint(tmp_path / "a.ckpt", state=extra))

    missing = {k: v for k, v in state.items() if not k.startswith("backbone.convnext.1.pwconv2.")}
    with pytest.raises(CheckpointError, match="missing"):
        read_checkpoint(fx.write_checkpoint(tmp_path / "b.ckpt", state=missing)).build()

    two_q = dict(state)
    for k in [k for k in state if ".vq.layers.0." in k]:
        two_q[k.replace(".layers.0.", ".layers.1.")] = state[k]
    with pytest.raises(CheckpointError, match="2 codebooks"):
        read_checkpoint(fx.write_checkpoint(tmp_path / "c.ckpt", state=two_q))

    flat = tmp_path / "flat.pt"  # a bare state dict (no Lightning wrapper) is accepted
    torch.save(state, flat)
    assert read_checkpoint(flat).init_args == read_checkpoint(fx.write_checkpoint(tmp_path / "d.ckpt")).init_args


# ------------------------------------------------------------------ converting
def test_convert_round_trip_and_overwrite(ckpt_path, tmp_path):
    out = tmp_path / "converted"
    convert_checkpoint(ckpt_path, out, keep_discriminators=True)
    assert sorted(p.name for p in out.iterdir()) == ["config.yaml", "discriminators.safetensors",
                                                     "model.safetensors"]
    cfg = yaml.safe_load((out / "config.yaml").read_text())
    assert cfg["model"]["class_path"] == "audiokit.models.codec.wavtokenizer.WavTokenizer"
    assert cfg["hop_length"] == 16 and cfg["sample_rate"] == 24000
    assert cfg["source"]["file"] == ckpt_path.name and cfg["source"]["global_step"] == 1200
    loaded, official = load_pretrained(out), load_checkpoint(ckpt_path)
    codes = loaded.encode(WAV)
    assert torch.equal(codes, official.encode(WAV))
    assert torch.equal(loaded.decode(codes), official.decode(codes))

    stamp = (out / "model.safetensors").stat().st_mtime_ns
    with pytest.raises(AudiokitError, match="exists"):
        convert_checkpoint(ckpt_path, out)
    assert (out / "model.safetensors").stat().st_mtime_ns == stamp
    convert_checkpoint(ckpt_path, out, force=True)
    assert not (out / "discriminators.safetensors").exists()


def test_failed_convert_leaves_nothing(tmp_path):
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"\x80\x02garbage")
    out = tmp_path / "out"
    with pytest.raises(CheckpointError):
        convert_checkpoint(bad, out)
    assert not out.exists() and list(tmp_path.iterdir()) == [bad]


# ------------------------------------------------------------------ pretrained.load
def test_pretrained_load_paths(ckpt_path, tmp_path):
    from_file = pretrained.load(ckpt_path)
    out = convert_checkpoint(ckpt_path, tmp_path / "m")
    from_dir = pretrained.load(out)
    assert torch.equal(from_file.encode(WAV), from_dir.encode(WAV))
    with pytest.raises(CheckpointError, match="not a known model name") as err:
        pretrained.load(tmp_path / "nothing-here")
    one_line(err)


def test_bundles(ckpt_path, tmp_path, monkeypatch):
    monkeypatch.setenv("AUDIOKIT_HOME", str(tmp_path / "home"))
    assert len([n for n in pretrained.names() if n.startswith("wavtokenizer-")]) == 6
    small40 = pretrained.get_bundle("wavtokenizer-small-600-24k-4096")
    assert (small40.hop_length, small40.frame_rate, small40.init_args["n_fft"]) == (600, 40, 2400)
    assert small40.cache_dir() == tmp_path / "home" / "wavtokenizer-small-600-24k-4096"
    with pytest.raises(CheckpointError, match="does not download") as err:
        pretrained.load("wavtokenizer-small-600-24k-4096")
    msg = one_line(err)
    assert "WavTokenizer_small_600_24k_4096.ckpt" in msg and str(small40.cache_dir()) in msg
    with pytest.raises(CheckpointError, match="did you mean"):
        pretrained.get_bundle("wavtokenizer-small-600-24k")

    # a file under the bundle's name that holds another configuration is refused
    small40.cache_dir().mkdir(parents=True)
    (small40.cache_dir() / small40.filenames[0]).write_bytes(ckpt_path.read_bytes())
    with pytest.raises(CheckpointError, match="requested model"):
        pretrained.load("wavtokenizer-small-600-24k-4096")

    # a bundle whose config matches loads from the official file or a converted folder
    tiny = pretrained.Bundle("tiny", pretrained.WAVTOKENIZER, fx.tiny_model().init_args, 24000, 16,
                             ("tiny.ckpt",), "nowhere")
    monkeypatch.setitem(pretrained.BUNDLES, "tiny", tiny)
    tiny.cache_dir().mkdir(parents=True)
    (tiny.cache_dir() / "tiny.ckpt").write_bytes(ckpt_path.read_bytes())
    a = pretrained.load("tiny")
    convert_checkpoint(ckpt_path, tiny.cache_dir(), force=True)
    b = pretrained.load("tiny")
    assert torch.equal(a.encode(WAV), b.encode(WAV))


# ------------------------------------------------------------------ real size
REAL_SHAPES_75 = {  # codecs.md §6.3 key/shape table (75 tok/s)
    "feature_extractor.encodec.encoder.model.0.conv.conv.weight_g": (32, 1, 1),
    "feature_extractor.encodec.encoder.model.0.conv.conv.weight_v": (32, 1, 7),
    "feature_extractor.encodec.encoder.model.1.block.1.conv.conv.weight_v": (16, 32, 3),
    "feature_extractor.encodec.encoder.model.1.block.3.conv.conv.weight_v": (32, 16, 1),
    "feature_extractor.encodec.encoder.model.1.shortcut.conv.conv.weight_v": (32, 32, 1),
    "feature_extractor.encodec.encoder.model.3.conv.conv.weight_v": (64, 32, 4),
    "feature_extractor.encodec.encoder.model.6.conv.conv.weight_v": (128, 64, 8),
    "feature_extractor.encodec.encoder.model.9.conv.conv.weight_v": (256, 128, 10),
    "feature_extractor.encodec.encoder.model.12.conv.conv.weight_v": (512, 256, 16),
    "feature_extractor.encodec.encoder.model.13.lstm.weight_ih_l1": (2048, 512),
    "feature_extractor.encodec.encoder.model.13.lstm.bias_hh_l0": (2048,),
    "feature_extractor.encodec.encoder.model.15.conv.conv.weight_v": (512, 512, 7),
    "feature_extractor.encodec.quantizer.vq.layers.0._codebook.inited": (1,),
    "feature_extractor.encodec.quantizer.vq.layers.0._codebook.cluster_size": (4096,),
    "feature_extractor.encodec.quantizer.vq.layers.0._codebook.embed": (4096, 512),
    "feature_extractor.encodec.quantizer.vq.layers.0._codebook.embed_avg": (4096, 512),
    "backbone.embed.weight": (768, 512, 7),
    "backbone.pos_net.0.norm1.weight": (768,),
    "backbone.pos_net.4.conv2.weight": (768, 768, 3),
    "backbone.pos_net.2.q.weight": (768, 768, 1),
    "backbone.pos_net.2.proj_out.weight": (768, 768, 1),
    "backbone.pos_net.5.bias": (768,),
    "backbone.norm.scale.weight": (4, 768),
    "backbone.norm.shift.weight": (4, 768),
    "backbone.convnext.11.gamma": (768,),
    "backbone.convnext.11.dwconv.weight": (768, 1, 7),
    "backbone.convnext.0.norm.scale.weight": (4, 768),
    "backbone.convnext.0.pwconv1.weight": (2304, 768),
    "backbone.convnext.0.pwconv2.weight": (768, 2304),
    "backbone.final_layer_norm.weight": (768,),
    "head.out.weight": (1282, 768),
    "head.istft.window": (1280,),
}


@pytest.mark.parametrize("name,hop,params_m,encoder_m,head_m", [
    ("wavtokenizer-small-320-24k-4096", 320, 71.75, 8.80, 0.99),
    ("wavtokenizer-small-600-24k-4096", 600, 72.11, 8.30, 1.85),
])
def test_real_size_shapes_and_inference(name, hop, params_m, encoder_m, head_m):
    with torch.device("meta"):
        model = WavTokenizer(**pretrained.get_bundle(name).init_args)
    count = lambda m: sum(p.numel() for p in m.parameters()) / 1e6
    assert count(model) == pytest.approx(params_m, abs=0.01)  # codecs.md §2: ≈71.8 M / 72.1 M
    assert count(model.encoder) == pytest.approx(encoder_m, abs=0.01)
    assert count(model.backbone) == pytest.approx(61.96, abs=0.01)
    assert count(model.backbone.pos_net) == pytest.approx(16.54, abs=0.01)
    assert count(model.head) == pytest.approx(head_m, abs=0.01)
    official = fx.to_official(model.state_dict())
    assert len(official) == 227
    if hop == 320:
        for key, shape in REAL_SHAPES_75.items():
            assert tuple(official[key].shape) == shape, key
    else:  # 40 tok/s downsampling kernels 8, 10, 10, 12 (codecs.md §6.3)
        kernels = [official[f"feature_extractor.encodec.encoder.model.{i}.conv.conv.weight_v"].shape[2]
                   for i in (3, 6, 9, 12)]
        assert kernels == [8, 10, 10, 12]
        assert tuple(official["head.out.weight"].shape) == (2402, 768)
    kept, _ = split_prefixes(official, RENAME, DROP, "real")
    args = infer_init_args(kept, "real")
    assert math.prod(args["ratios"]) == hop and args["n_fft"] == 4 * hop
    assert args == pretrained.get_bundle(name).init_args


def test_load_unpickles_no_code(ckpt_path, monkeypatch):
    calls = []
    real = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return real(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    pretrained.load(ckpt_path)
    assert calls == [True]
