"""audiokit.checkpoint: the model folder format and torch_load_safe."""

from __future__ import annotations

import argparse
import collections

import pytest
import torch
import yaml

from audiokit.checkpoint import load_pretrained, read_checkpoint_config, save_pretrained, torch_load_safe
from audiokit.errors import AudiokitError, CheckpointError, ConfigError
from audiokit.train.toy import ToyRegressor

NODE = {"class_path": "audiokit.train.toy.ToyRegressor", "init_args": {"in_dim": 3, "hidden": 6, "dropout": 0.0}}


def _model() -> ToyRegressor:
    torch.manual_seed(0)
    return ToyRegressor(in_dim=3, hidden=6, dropout=0.0).eval()


def _inputs():
    g = torch.Generator().manual_seed(1)
    return torch.randn(2, 5, 3, generator=g), torch.tensor([5, 3])


@pytest.fixture
def saved(tmp_path):
    tok = tmp_path / "tokens.txt"
    tok.write_text("a\nb\n")
    out = save_pretrained(_model(), {"model": NODE, "sample_rate": 16000}, tmp_path / "m", extra_files=[tok])
    return out


def test_round_trip_same_outputs(saved):
    assert sorted(p.name for p in saved.iterdir()) == ["config.yaml", "model.safetensors", "tokens.txt"]
    cfg = read_checkpoint_config(saved)
    assert cfg["sample_rate"] == 16000 and cfg["files"] == ["tokens.txt"] and cfg["format_version"] == 1
    loaded = load_pretrained(saved)
    assert isinstance(loaded, ToyRegressor) and not loaded.training
    x, lengths = _inputs()
    with torch.no_grad():
        assert torch.equal(loaded(x, lengths), _model()(x, lengths))


def test_refuses_to_overwrite_without_force(saved):
    with pytest.raises(AudiokitError, match="exists"):
        save_pretrained(_model(), {"model": NODE}, saved)
    save_pretrained(_model(), {"model": NODE}, saved, force=True)
    assert not (saved / "tokens.txt").exists()  # replaced as a whole
    assert [p.name for p in saved.parent.iterdir() if p.name.startswith(".")] == []  # no temp dirs left


def test_tied_weights_stored_once(tmp_path):
    import json

    from safetensors.torch import save_file

    from audiokit.checkpoint import _ALIASES_KEY, _read_weights, _state_tensors

    shared = torch.nn.Linear(4, 4)
    holder = torch.nn.ModuleDict({"a": shared, "b": shared, "c": torch.nn.Linear(4, 2)})
    tensors, aliases = _state_tensors(holder)
    assert set(tensors) == {"a.weight", "a.bias", "c.weight", "c.bias"}
    assert aliases == {"b.weight": "a.weight", "b.bias": "a.bias"}
    path = tmp_path / "w.safetensors"
    save_file(tensors, str(path), metadata={_ALIASES_KEY: json.dumps(aliases)})
    state = _read_weights(path)
    assert set(state) == set(holder.state_dict()) and torch.equal(state["b.weight"], shared.weight)


def test_foreign_class_refused_before_building(tmp_path, saved):
    cfg = yaml.safe_load((saved / "config.yaml").read_text())
    cfg["model"] = {"class_path": "subprocess.Popen", "init_args": {"args": ["touch", str(tmp_path / "pwned")]}}
    (saved / "config.yaml").write_text(yaml.safe_dump(cfg))
    (saved / "model.safetensors").unlink()  # the config is rejected before the weights are even read
    with pytest.raises(ConfigError, match="class 'subprocess.Popen' is not an audiokit class"):
        load_pretrained(saved)
    assert not (tmp_path / "pwned").exists()
    with pytest.raises(ConfigError, match="not an audiokit class"):
        save_pretrained(_model(), cfg, tmp_path / "other")


def test_missing_things(tmp_path, saved):
    with pytest.raises(CheckpointError, match="no such model folder"):
        load_pretrained(tmp_path / "nope")
    with pytest.raises(CheckpointError, match="not a folder"):
        load_pretrained(saved / "model.safetensors")
    (saved / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match=r"model.safetensors: missing"):
        load_pretrained(saved)
    (saved / "config.yaml").unlink()
    with pytest.raises(CheckpointError, match=r"config.yaml: missing"):
        load_pretrained(saved)


def test_corrupt_files(saved):
    weights = saved / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"model.safetensors: corrupt or not a safetensors file"):
        load_pretrained(saved)
    weights.write_bytes(b"\x00" * 3)
    with pytest.raises(CheckpointError, match="corrupt"):
        load_pretrained(saved)
    (saved / "config.yaml").write_text("model: [unclosed\n")
    with pytest.raises(CheckpointError, match=r"config.yaml:\d+: invalid YAML"):
        load_pretrained(saved)


def test_shape_mismatch_names_key(saved):
    cfg = yaml.safe_load((saved / "config.yaml").read_text())
    cfg["model"]["init_args"]["hidden"] = 7
    (saved / "config.yaml").write_text(yaml.safe_dump(cfg))
    with pytest.raises(CheckpointError, match=r"tensor 'net.0.weight' has shape \(6, 3\) but the model expects \(7, 3\)"):
        load_pretrained(saved)


def test_strict_key_checks(tmp_path):
    from safetensors.torch import save_file

    out = save_pretrained(_model(), {"model": NODE}, tmp_path / "m")
    state = {k: v.contiguous() for k, v in _model().state_dict().items() if k != "net.3.bias"}
    save_file(state, str(out / "model.safetensors"))
    with pytest.raises(CheckpointError, match="missing 1 tensor.*'net.3.bias'"):
        load_pretrained(out)
    assert isinstance(load_pretrained(out, strict=False), ToyRegressor)
    state["net.3.bias"], state["extra"] = torch.zeros(1), torch.zeros(2)
    save_file(state, str(out / "model.safetensors"))
    with pytest.raises(CheckpointError, match="does not have, e.g. 'extra'"):
        load_pretrained(out)


def test_torch_load_safe(tmp_path):
    good = tmp_path / "good.pt"
    torch.save({"w": torch.ones(2), "step": 3, "names": ["a"], "od": collections.OrderedDict(a=1)}, good)
    assert torch_load_safe(good)["step"] == 3
    evil = tmp_path / "evil.pt"
    torch.save({"w": torch.ones(1), "obj": argparse.Namespace(a=1)}, evil)
    with pytest.raises(CheckpointError, match="refused: the file needs 'argparse.Namespace' to be unpickled"):
        torch_load_safe(evil)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="corrupt or not a torch checkpoint"):
        torch_load_safe(bad)
    with pytest.raises(CheckpointError, match="no such file"):
        torch_load_safe(tmp_path / "missing.pt")
