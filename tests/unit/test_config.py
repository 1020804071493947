"""audiokit.config: loading, overrides, hints, and the restricted instantiator."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from audiokit.config import (
    apply_override, complete_defaults, dump_config, instantiate, load_config, resolve_class,
)
from audiokit.errors import ConfigError

TOY = """\
seed: 0
exp_dir: exp/toy
task:
  class_path: audiokit.train.toy.ToyRegressionTask
  init_args:
    hidden: 8
trainer:
  max_steps: 20
loggers: [csv]
"""


def _write(tmp_path, text, name="c.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_load_and_overrides(tmp_path):
    path = _write(tmp_path, TOY)
    cfg = load_config(path, ["trainer.max_steps=5", "task.lr=0.5", "task.init_args.hidden=3",
                             "loggers=[tensorboard, csv]", "trainer.strategy=ddp", "seed=7", "data="])
    assert cfg["trainer"] == {"max_steps": 5, "strategy": "ddp"}
    assert cfg["task"]["init_args"] == {"hidden": 3, "lr": 0.5}  # 'task.lr' is init_args shorthand
    assert cfg["loggers"] == ["tensorboard", "csv"] and cfg["seed"] == 7 and cfg["data"] is None


def test_override_list_index_and_new_nested_keys(tmp_path):
    cfg = {"loggers": ["csv"], "trainer": {}}
    apply_override(cfg, "loggers.0=tensorboard")
    apply_override(cfg, "trainer.a.b=1")
    assert cfg == {"loggers": ["tensorboard"], "trainer": {"a": {"b": 1}}}
    with pytest.raises(ConfigError, match="not an index"):
        apply_override(cfg, "loggers.3=csv")
    with pytest.raises(ConfigError, match="not a section"):
        apply_override({"seed": 1}, "seed.x=1")


@pytest.mark.parametrize("bad, message", [
    ("trainer", "expected key=value"),
    ("=3", "expected key=value"),
    ("a..b=3", "expected key=value"),
    ("seed=[", "not valid YAML"),
])
def test_malformed_override(tmp_path, bad, message):
    with pytest.raises(ConfigError, match=message):
        load_config(_write(tmp_path, TOY), [bad])


def test_unknown_top_level_key_hint_with_line(tmp_path):
    path = _write(tmp_path, TOY + "triner:\n  devices: 2\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == f"{path}:10: unknown key 'triner' (did you mean 'trainer'?)"
    with pytest.raises(ConfigError, match=r"override 'triner.max_steps=3': unknown key 'triner' \(did you mean 'trainer'\?\)"):
        load_config(_write(tmp_path, TOY, "d.yaml"), ["triner.max_steps=3"])


def test_invalid_yaml_names_line(tmp_path):
    path = _write(tmp_path, "seed: 0\ntask: [unclosed\n")
    with pytest.raises(ConfigError, match=rf"^{path}:\d+: invalid YAML"):
        load_config(path)
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config(_write(tmp_path, "- a\n- b\n", "list.yaml"))


@pytest.mark.parametrize("class_path", ["subprocess.Popen", "os.system", "builtins.eval",
                                        "audiokit.config.Path", "audiokit.config.hint",
                                        "audiokit.__builtins__.eval", "audiokit"])
def test_foreign_class_refused(tmp_path, class_path):
    text = TOY.replace("audiokit.train.toy.ToyRegressionTask", class_path)
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == (
        f"{path}:4: task.class_path: class '{class_path}' is not an audiokit class; "
        "configs may only name audiokit classes"
    )
    with pytest.raises(ConfigError, match="is not an audiokit class"):
        instantiate({"class_path": class_path, "init_args": {"args": ["true"]}})


def test_refusal_imports_nothing():
    assert "this" not in sys.modules
    with pytest.raises(ConfigError, match="not an audiokit class"):
        resolve_class("this.s")
    assert "this" not in sys.modules  # importing `this` would print the Zen of Python


def test_override_to_foreign_class_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"^override 'task.class_path=os.system': task.class_path: class 'os.system'"):
        load_config(_write(tmp_path, TOY), ["task.class_path=os.system"])


def test_nested_foreign_class_refused_before_anything_is_built(monkeypatch):
    from audiokit.train import toy

    built = []
    monkeypatch.setattr(toy.ToyRegressor, "__init__", lambda self, *a, **k: built.append(1))
    node = {"class_path": "audiokit.train.toy.ToyRegressor", "init_args": {
        "hidden": {"class_path": "subprocess.Popen", "init_args": {"args": ["touch", "/tmp/x"]}}}}
    with pytest.raises(ConfigError, match=r"^model.init_args.hidden.class_path: class 'subprocess.Popen'"):
        instantiate(node, where="model")
    assert built == []


def test_instantiate_builds_nested_objects():
    obj = instantiate({"class_path": "audiokit.train.toy.ToyRegressor",
                       "init_args": {"in_dim": 3, "hidden": 5, "dropout": 0.0}})
    from audiokit.train.toy import ToyRegressor

    assert isinstance(obj, ToyRegressor) and obj.net[0].weight.shape == (5, 3)
    out = instantiate({"a": [1, {"class_path": "audiokit.train.toy.ToyRegressor"}], "b": "x"})
    assert isinstance(out["a"][1], ToyRegressor) and out["b"] == "x"


def test_unknown_init_arg_names_its_line(tmp_path):
    path = _write(tmp_path, TOY.replace("hidden: 8", "hidden: 8\n    hiden: 3"))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == (f"{path}:7: task.init_args.hiden: 'audiokit.train.toy.ToyRegressionTask' "
                              "has no argument 'hiden' (did you mean 'hidden'?)")


def test_instantiate_argument_errors():
    with pytest.raises(ConfigError, match=r"has no argument 'hiden' \(did you mean 'hidden'\?\)"):
        instantiate({"class_path": "audiokit.train.toy.ToyRegressor", "init_args": {"hiden": 3}})
    with pytest.raises(ConfigError, match="needs argument 'num_items'"):
        instantiate({"class_path": "audiokit.train.toy.ToyDataset", "init_args": {}})
    with pytest.raises(ConfigError, match="unexpected key 'init_arg' next to class_path"):
        instantiate({"class_path": "audiokit.train.toy.ToyRegressor", "init_arg": {}})
    with pytest.raises(ConfigError, match=r"has no class 'ToyRegresor' \(did you mean 'ToyRegressor'\?\)"):
        resolve_class("audiokit.train.toy.ToyRegresor")
    with pytest.raises(ConfigError, match="no module 'audiokit.nope'"):
        resolve_class("audiokit.nope.Thing")
    with pytest.raises(ConfigError, match="cannot build 'audiokit.train.toy.ToyDataModule'"):
        instantiate({"class_path": "audiokit.train.toy.ToyDataModule", "init_args": {"min_len": 0}})


def test_complete_defaults_and_dump_round_trip():
    import yaml

    node = {"task": {"class_path": "audiokit.train.toy.ToyRegressor", "init_args": {"hidden": 2}}}
    full = complete_defaults(node)
    assert full["task"]["init_args"] == {"in_dim": 4, "hidden": 2, "dropout": 0.1}
    assert yaml.safe_load(dump_config(full)) == full


def test_import_audiokit_stays_light():
    code = ("import sys, audiokit, audiokit.config, audiokit.checkpoint, audiokit.train, audiokit.cli.train; "
            "heavy = [m for m in ('torch', 'lightning') if m in sys.modules]; "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True)
