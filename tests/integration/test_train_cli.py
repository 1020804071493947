"""``audiokit train`` through the command line: errors, --print-config, train + auto-resume."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
TOY = REPO / "configs" / "toy" / "toy.yaml"
QUIET = ["trainer.enable_progress_bar=false", "trainer.enable_model_summary=false"]


def _audiokit(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "audiokit", "train", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def _assert_user_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize("class_path", ["subprocess.Popen", "os.system", "builtins.eval"])
def test_foreign_class_refused(tmp_path, class_path):
    cfg = yaml.safe_load(TOY.read_text())
    cfg["exp_dir"] = str(tmp_path / "exp")
    cfg["task"] = {"class_path": class_path, "init_args": {"args": ["touch", str(tmp_path / "pwned")]}}
    path = tmp_path / "evil.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    proc = _audiokit("--config", str(path), cwd=tmp_path)
    _assert_user_error(proc, f"class '{class_path}' is not an audiokit class", "configs may only name audiokit classes",
                       f"{path}:")
    assert not (tmp_path / "exp").exists() and not (tmp_path / "pwned").exists()


def test_foreign_callback_via_override_refused(tmp_path):
    proc = _audiokit("--config", str(TOY), f"exp_dir={tmp_path / 'exp'}",
                     "callbacks=[{class_path: os.system, init_args: {command: 'touch pwned'}}]", cwd=tmp_path)
    _assert_user_error(proc, "class 'os.system' is not an audiokit class")
    assert not (tmp_path / "exp").exists() and not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("override, needle", [  # more cases in tests/unit/train/test_runner.py
    ("triner.max_steps=3", "unknown key 'triner' (did you mean 'trainer'?)"),
    ("trainer.max_step=3", "unknown Trainer argument 'max_step' (did you mean 'max_steps'?)"),
])
def test_bad_overrides(tmp_path, override, needle):
    proc = _audiokit("--config", str(TOY), f"exp_dir={tmp_path / 'exp'}", override, cwd=tmp_path)
    _assert_user_error(proc, needle)
    assert not (tmp_path / "exp").exists()


def test_missing_files(tmp_path):
    _assert_user_error(_audiokit("--config", str(tmp_path / "nope.yaml"), cwd=tmp_path), "nope.yaml: no such file")
    _assert_user_error(_audiokit(cwd=tmp_path), "--config is required")
    proc = _audiokit("--config", str(TOY), f"exp_dir={tmp_path / 'exp'}", "--resume", str(tmp_path / "x.ckpt"),
                     cwd=tmp_path)
    _assert_user_error(proc, "x.ckpt: no such checkpoint file")


def test_print_config(tmp_path):
    proc = _audiokit("--config", str(TOY), "trainer.max_steps=3", "--print-config", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    cfg = yaml.safe_load(proc.stdout)
    assert cfg["trainer"]["max_steps"] == 3
    assert cfg["task"]["init_args"]["lr_gamma"] == 0.99  # defaults are filled in
    assert list(cfg)[:4] == ["seed", "exp_dir", "task", "data"]
    template = _audiokit("--print-config", cwd=tmp_path)
    assert template.returncode == 0 and yaml.safe_load(template.stdout)["task"]["class_path"].startswith("audiokit.")
    assert not (tmp_path / "exp").exists()


def test_train_then_auto_resume(tmp_path):
    from audiokit.checkpoint import torch_load_safe

    exp = tmp_path / "exp"
    args = ["--config", str(TOY), f"exp_dir={exp}", "loggers=[csv]", "checkpoint.every_n_train_steps=2", *QUIET]
    first = _audiokit(*args, "trainer.max_steps=3", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert torch_load_safe(exp / "checkpoints" / "last.ckpt")["global_step"] == 3
    assert yaml.safe_load((exp / "config.yaml").read_text())["trainer"]["max_steps"] == 3
    second = _audiokit(*args, "trainer.max_steps=5", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "resuming from" in second.stderr and "config changed since: trainer.max_steps" in second.stderr
    assert torch_load_safe(exp / "checkpoints" / "last.ckpt")["global_step"] == 5
    assert (exp / "cmd.txt").read_text().count("audiokit train --config") == 2
    assert (exp / "csv").is_dir() and (exp / "env.txt").is_file()
