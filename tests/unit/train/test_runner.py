"""audiokit.train.runner: config checks (nothing built, nothing written) and resume lookup."""

from __future__ import annotations

from pathlib import Path

import pytest

from audiokit.config import load_config
from audiokit.errors import CheckpointError, ConfigError
from audiokit.train.runner import build_trainer, find_resume, resolve_config, train

TOY = Path(__file__).resolve().parents[3] / "configs" / "toy" / "toy.yaml"


def _resolve(*overrides: str) -> dict:
    return resolve_config(load_config(TOY, list(overrides)))


def test_resolved_config_fills_defaults():
    cfg = _resolve("trainer.max_steps=3")
    assert list(cfg) == ["seed", "exp_dir", "task", "data", "trainer", "checkpoint", "loggers", "callbacks", "threads"]
    assert cfg["checkpoint"]["every_n_epochs"] is None and cfg["callbacks"] == []
    assert cfg["data"]["init_args"]["num_workers"] == 0


@pytest.mark.parametrize("override, message", [
    ("trainer.max_step=3", r"unknown Trainer argument 'max_step' \(did you mean 'max_steps'\?\)"),
    ("trainer.callbacks=[]", "trainer.callbacks: set by audiokit; use the top-level 'callbacks' list"),
    ("trainer.use_distributed_sampler=true", "audiokit samplers are rank-aware"),
    ("trainer.strategy={name: ddp}", "must be a plain value"),
    ("loggers=[wandb]", "unknown logger 'wandb'"),
    ("loggers=[tensorbord]", r"did you mean 'tensorboard'\?"),
    ("checkpoint.monitr=x", r"unknown key 'monitr' \(did you mean 'monitor'\?\)"),
    ("checkpoint.mode=up", "must be 'min' or 'max'"),
    ("checkpoint.save_top_k=two", "must be an integer"),
    ("seed=abc", "seed: must be an integer"),
    ("task=", "task: missing"),
    ("data=3", "data: must be"),
    ("callbacks=[3]", "callbacks: must be a list"),
])
def test_config_errors(override, message):
    with pytest.raises(ConfigError, match=message):
        _resolve(override)


def test_bad_trainer_value_is_config_error(tmp_path):
    cfg = _resolve(f"exp_dir={tmp_path / 'exp'}", "trainer.strategy=nonsense")
    with pytest.raises(ConfigError, match="^trainer: "):
        build_trainer(cfg)
    assert not (tmp_path / "exp").exists()


def test_not_a_lightning_module_nothing_written(tmp_path):
    cfg = load_config(TOY, [f"exp_dir={tmp_path / 'exp'}", "task.class_path=audiokit.train.toy.ToyRegressor",
                            "task.init_args={}"])
    with pytest.raises(ConfigError, match="is not a LightningModule"):
        train(cfg)
    assert not (tmp_path / "exp").exists()


def test_find_resume(tmp_path):
    assert find_resume(tmp_path, "auto") is None
    last = tmp_path / "checkpoints" / "last.ckpt"
    last.parent.mkdir()
    last.write_bytes(b"x")
    assert find_resume(tmp_path, "auto") == last
    assert find_resume(tmp_path, None) is None
    assert find_resume(tmp_path, str(last)) == last
    with pytest.raises(CheckpointError, match="no such checkpoint file"):
        find_resume(tmp_path, tmp_path / "other.ckpt")


def test_corrupt_last_ckpt_is_checkpoint_error(tmp_path):
    exp = tmp_path / "exp"
    (exp / "checkpoints").mkdir(parents=True)
    (exp / "checkpoints" / "last.ckpt").write_bytes(b"garbage")
    cfg = load_config(TOY, [f"exp_dir={exp}", "loggers=[]", "trainer.enable_progress_bar=false"])
    with pytest.raises(CheckpointError, match="last.ckpt: corrupt or not a torch checkpoint"):
        train(cfg)


def test_threads_key_sets_torch_threads(monkeypatch):
    import torch

    from audiokit.errors import ConfigError
    from audiokit.train.runner import set_threads

    before = torch.get_num_threads()
    monkeypatch.setenv("OMP_NUM_THREADS", str(before))
    try:
        set_threads(1)
        assert torch.get_num_threads() == 1
        set_threads(None)  # null keeps the current setting
        assert torch.get_num_threads() == 1
        for bad in (0, -2, 1.5, "two", True):
            try:
                set_threads(bad)
            except ConfigError as err:
                assert "threads" in str(err)
            else:
                raise AssertionError(f"threads={bad!r} accepted")
    finally:
        torch.set_num_threads(before)
