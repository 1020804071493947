"""``audiokit train``: build a Lightning run from a config and fit it, resuming when possible.

Config layout (all keys but ``task`` optional; see docs/design.md)::

    seed: 0                     # lightning.seed_everything(seed, workers=True)
    threads: null               # torch intra-op threads per process (null: torch default)
    exp_dir: exp/toy            # config.yaml, cmd.txt, env.txt, checkpoints/, tensorboard/, csv/
    task: {class_path: audiokit..., init_args: {...}}   # a LightningModule
    data: {class_path: audiokit..., init_args: {...}}   # a LightningDataModule (or null)
    trainer: {max_steps: 20, accelerator: cpu, devices: 1, strategy: auto, ...}  # Trainer kwargs
    checkpoint: {every_n_train_steps: 5, every_n_epochs: null, monitor: val_loss, mode: min, save_top_k: 1}
    loggers: [tensorboard, csv]
    callbacks: [{class_path: audiokit..., init_args: {...}}]          # extra Lightning callbacks

Checkpoints: ``exp_dir/checkpoints/last.ckpt`` (every ``every_n_train_steps`` steps,
every ``every_n_epochs`` epochs and at the final step) and ``best-*.ckpt`` (top
``save_top_k`` by ``monitor``). Resume: ``resume="auto"`` continues from ``last.ckpt``
when it exists, ``None`` starts over (old checkpoints are moved aside), a path resumes
from that file.
"""

from __future__ import annotations

import copy
import inspect
import os
import platform
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Mapping

import lightning.pytorch as pl
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.utilities import rank_zero_only
from lightning.pytorch.utilities.exceptions import SIGTERMException

from audiokit.config import (
    TRAIN_KEYS, check_class_paths, complete_defaults, dump_config, hint, instantiate, is_class_node,
)
from audiokit.errors import CheckpointError, ConfigError
from audiokit.io.atomic import write_text_atomic
from audiokit.train.callbacks import RNGStateCallback, SamplerStateCallback
from audiokit.train.checkpoint_io import AtomicCheckpointIO

#: exit status of a training stopped by SIGTERM (128 + 15, as a shell reports a TERM'd process)
KILLED_EXIT_CODE = 143

CHECKPOINT_DEFAULTS: dict[str, Any] = {
    "every_n_train_steps": 1000, "every_n_epochs": None, "monitor": None, "mode": "min", "save_top_k": 1,
}
LOGGERS = ("tensorboard", "csv")
DEFAULTS: dict[str, Any] = {
    "seed": 0, "exp_dir": "exp/train", "data": None, "trainer": {}, "threads": None,
    "checkpoint": CHECKPOINT_DEFAULTS, "loggers": list(LOGGERS), "callbacks": [],
}
#: Trainer arguments audiokit sets itself, and where to set them instead
RESERVED_TRAINER_KEYS = {
    "callbacks": "use the top-level 'callbacks' list",
    "logger": "use the top-level 'loggers' list",
    "plugins": "audiokit sets its checkpoint I/O plugin",
    "default_root_dir": "use the top-level 'exp_dir'",
    "enable_checkpointing": "use the 'checkpoint' section",
    "use_distributed_sampler": "audiokit samplers are rank-aware; it is always false",
}

TEMPLATE: dict[str, Any] = {
    "seed": 0,
    "exp_dir": "exp/toy",
    "task": {"class_path": "audiokit.train.toy.ToyRegressionTask", "init_args": {}},
    "data": {"class_path": "audiokit.train.toy.ToyDataModule", "init_args": {}},
    "trainer": {"max_steps": 20, "accelerator": "cpu", "devices": 1, "strategy": "auto", "log_every_n_steps": 1},
    "checkpoint": {"every_n_train_steps": 5, "monitor": "val_loss", "mode": "min", "save_top_k": 1},
    "loggers": ["tensorboard", "csv"],
}


# --------------------------------------------------------------------------- config
def _check_trainer(trainer: Any) -> None:
    if not isinstance(trainer, Mapping):
        raise ConfigError(f"trainer: must be a mapping of lightning.Trainer arguments, got {trainer!r}")
    allowed = [n for n in inspect.signature(pl.Trainer.__init__).parameters if n != "self"]
    for key in trainer:
        if key in RESERVED_TRAINER_KEYS:
            raise ConfigError(f"trainer.{key}: set by audiokit; {RESERVED_TRAINER_KEYS[key]}")
        if key not in allowed:
            raise ConfigError(f"trainer: unknown Trainer argument '{key}'{hint(key, allowed)}")
        if isinstance(trainer[key], Mapping):
            raise ConfigError(f"trainer.{key}: must be a plain value, got a mapping")


def _check_checkpoint(ckpt: Any) -> None:
    if not isinstance(ckpt, Mapping):
        raise ConfigError(f"checkpoint: must be a mapping, got {ckpt!r}")
    for key in ckpt:
        if key not in CHECKPOINT_DEFAULTS:
            raise ConfigError(f"checkpoint: unknown key '{key}'{hint(key, CHECKPOINT_DEFAULTS)}")
    if ckpt.get("mode") not in ("min", "max"):
        raise ConfigError(f"checkpoint.mode: must be 'min' or 'max', got {ckpt.get('mode')!r}")
    for key in ("every_n_train_steps", "every_n_epochs", "save_top_k"):
        value = ckpt.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < -1):
            raise ConfigError(f"checkpoint.{key}: must be an integer, got {value!r}")


def resolve_config(cfg: Mapping) -> dict:
    """The full config of a run: defaults filled in (also every init arg) and all checked.

    Raises :class:`ConfigError`; nothing is built and nothing is written.
    """
    for key in cfg:
        if key not in TRAIN_KEYS:
            raise ConfigError(f"unknown key '{key}'{hint(key, TRAIN_KEYS)}")
    if not is_class_node(cfg.get("task")):
        raise ConfigError("task: missing; a training config needs task: {class_path, init_args}")
    out = copy.deepcopy(DEFAULTS)
    for key, value in cfg.items():
        out[key] = {**CHECKPOINT_DEFAULTS, **value} if key == "checkpoint" and isinstance(value, Mapping) else value
    if not isinstance(out["seed"], int) or isinstance(out["seed"], bool):
        raise ConfigError(f"seed: must be an integer, got {out['seed']!r}")
    if not isinstance(out["exp_dir"], str) or not out["exp_dir"]:
        raise ConfigError(f"exp_dir: must be a path, got {out['exp_dir']!r}")
    if out["data"] is not None and not is_class_node(out["data"]):
        raise ConfigError("data: must be {class_path, init_args} or null")
    loggers = out["loggers"] or []
    if not isinstance(loggers, list) or any(name not in LOGGERS for name in loggers):
        bad = loggers if not isinstance(loggers, list) else next(n for n in loggers if n not in LOGGERS)
        raise ConfigError(f"loggers: unknown logger {bad!r}{hint(bad, LOGGERS)}; choose from {list(LOGGERS)}")
    if not isinstance(out["callbacks"] or [], list) or not all(map(is_class_node, out["callbacks"] or [])):
        raise ConfigError("callbacks: must be a list of {class_path, init_args}")
    _check_trainer(out["trainer"])
    _check_checkpoint(out["checkpoint"])
    check_class_paths({k: out[k] for k in ("task", "data", "callbacks")}, "config", None)
    return complete_defaults({k: out[k] for k in TRAIN_KEYS if k in out})


# --------------------------------------------------------------------------- building
class _LastCheckpoint(ModelCheckpoint):
    """``last.ckpt`` every n steps/epochs and after the final step (``max_steps``).

    Saving after the final *batch* (not at train end) keeps the loop state
    mid-epoch, so a later run with a larger ``max_steps`` continues exactly.
    """

    def __init__(self, dirpath: Path, every_n_train_steps: int | None, every_n_epochs: int | None) -> None:
        super().__init__(dirpath=dirpath, save_last=True, save_top_k=0,
                         every_n_train_steps=every_n_train_steps, every_n_epochs=every_n_epochs)
        self._every = every_n_train_steps or 0

    def on_train_batch_end(self, trainer: pl.Trainer, *args: Any, **kwargs: Any) -> None:
        super().on_train_batch_end(trainer, *args, **kwargs)
        step = trainer.global_step
        final = 0 < trainer.max_steps <= step
        if final and not (self._every > 0 and step % self._every == 0):
            trainer.save_checkpoint(os.path.join(self.dirpath, "last.ckpt"), weights_only=False)


def _callbacks(cfg: Mapping, exp_dir: Path) -> list[pl.Callback]:
    ck = cfg["checkpoint"]
    ckpt_dir = exp_dir / "checkpoints"
    callbacks: list[pl.Callback] = [
        RNGStateCallback(), SamplerStateCallback(),
        _LastCheckpoint(ckpt_dir, ck["every_n_train_steps"] or None, ck["every_n_epochs"] or None),
    ]
    if ck["monitor"] and ck["save_top_k"]:
        callbacks.append(ModelCheckpoint(
            dirpath=ckpt_dir, filename="best-{step}", monitor=ck["monitor"], mode=ck["mode"],
            save_top_k=ck["save_top_k"], save_on_train_epoch_end=False,
        ))
    if cfg["loggers"]:
        callbacks.append(LearningRateMonitor(logging_interval="step"))
    for i, node in enumerate(cfg["callbacks"] or []):
        cb = instantiate(node, where=f"callbacks.{i}")
        if not isinstance(cb, pl.Callback):
            raise ConfigError(f"callbacks.{i}: '{node['class_path']}' is not a Lightning callback")
        callbacks.append(cb)
    return callbacks


def _loggers(names: list[str], exp_dir: Path) -> list:
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

    made = {"tensorboard": lambda: TensorBoardLogger(save_dir=str(exp_dir), name="tensorboard", version=""),
            "csv": lambda: CSVLogger(save_dir=str(exp_dir), name="csv")}
    return [made[n]() for n in names]


def build_trainer(cfg: Mapping) -> pl.Trainer:
    """A ``lightning.Trainer`` for a resolved config (loggers, checkpoints, resume callbacks)."""
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    exp_dir = Path(cfg["exp_dir"])
    try:
        return pl.Trainer(
            **cfg["trainer"], default_root_dir=str(exp_dir), logger=_loggers(cfg["loggers"] or [], exp_dir) or False,
            callbacks=_callbacks(cfg, exp_dir), plugins=[AtomicCheckpointIO()], use_distributed_sampler=False,
        )
    except (MisconfigurationException, ValueError, TypeError) as err:
        raise ConfigError(f"trainer: {' '.join(str(err).split())}") from err


# --------------------------------------------------------------------------- run
def find_resume(exp_dir: Path, resume: str | os.PathLike | None) -> Path | None:
    """The checkpoint to resume from: ``"auto"`` -> ``last.ckpt`` if present; a path must exist."""
    if resume is None:
        return None
    if resume == "auto":
        last = exp_dir / "checkpoints" / "last.ckpt"
        return last if last.is_file() else None
    path = Path(resume)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file (--resume)")
    return path


def _changed_keys(old: Any, new: Any, prefix: str = "") -> list[str]:
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        out: list[str] = []
        for k in dict.fromkeys([*old, *new]):
            out += _changed_keys(old.get(k), new.get(k), f"{prefix}{k}.")
        return out
    return [] if old == new else [prefix.rstrip(".")]


@rank_zero_only
def _write_exp_files(cfg: Mapping, exp_dir: Path, cmd: str | None, fresh: bool, resume_from: Path | None) -> None:
    import yaml

    exp_dir.mkdir(parents=True, exist_ok=True)
    ckpt_dir = exp_dir / "checkpoints"
    if fresh and ckpt_dir.is_dir() and any(ckpt_dir.iterdir()):
        n = 1
        while (exp_dir / f"checkpoints.old{n}").exists():
            n += 1
        os.replace(ckpt_dir, exp_dir / f"checkpoints.old{n}")
        print(f"audiokit train: starting over; old checkpoints moved to {exp_dir / f'checkpoints.old{n}'}",
              file=sys.stderr)
    old_cfg = exp_dir / "config.yaml"
    if resume_from is not None and old_cfg.is_file():
        try:
            changed = _changed_keys(yaml.safe_load(old_cfg.read_text(encoding="utf-8")), cfg)
        except yaml.YAMLError:
            changed = ["(previous config.yaml unreadable)"]
        note = f"; config changed since: {', '.join(changed)}" if changed else ""
        print(f"audiokit train: resuming from {resume_from}{note}", file=sys.stderr)
    write_text_atomic(old_cfg, dump_config(cfg))
    if cmd:
        with open(exp_dir / "cmd.txt", "a", encoding="utf-8") as fh:
            fh.write(f"# {time.strftime('%Y-%m-%d %H:%M:%S')}\n{cmd}\n")
    write_text_atomic(exp_dir / "env.txt", _env_text())


def _env_text() -> str:
    import lightning
    import torch

    from audiokit import __version__

    return (f"audiokit {__version__}\npython {platform.python_version()}\ntorch {torch.__version__}\n"
            f"lightning {lightning.__version__}\nplatform {platform.platform()}\n")


def set_threads(threads: Any) -> None:
    """Apply the config's ``threads`` (intra-op torch threads per process; None = torch default).

    Small models on a shared 2-core machine train several times faster with one thread.
    """
    if threads is None:
        return
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ConfigError(f"threads: expected a positive whole number or null, got {threads!r}")
    import torch

    torch.set_num_threads(threads)
    os.environ["OMP_NUM_THREADS"] = str(threads)  # so Lightning's DDP set-up keeps it


def train(cfg: Mapping, *, resume: str | os.PathLike | None = "auto", cmd: str | None = None) -> pl.Trainer:
    """Fit the run a training config describes; returns the finished Trainer.

    ``resume``: ``"auto"`` (continue from ``exp_dir/checkpoints/last.ckpt`` if it exists),
    ``None`` (start over), or a checkpoint path. ``cmd`` is appended to ``exp_dir/cmd.txt``.
    """
    cfg = resolve_config(cfg)
    set_threads(cfg["threads"])
    exp_dir = Path(cfg["exp_dir"])
    ckpt_path = find_resume(exp_dir, resume)
    trainer = build_trainer(cfg)
    pl.seed_everything(cfg["seed"], workers=True, verbose=False)
    task = instantiate(cfg["task"], where="task")
    if not isinstance(task, pl.LightningModule):
        raise ConfigError(f"task: '{cfg['task']['class_path']}' is not a LightningModule")
    data = instantiate(cfg["data"], where="data") if cfg["data"] is not None else None
    if data is not None and not isinstance(data, pl.LightningDataModule):
        raise ConfigError(f"data: '{cfg['data']['class_path']}' is not a LightningDataModule")
    _write_exp_files(cfg, exp_dir, cmd, resume is None, ckpt_path)
    if ckpt_path is not None:
        warnings.filterwarnings("ignore", message=r"Checkpoint directory .* exists and is not empty")
    try:
        trainer.fit(task, datamodule=data, ckpt_path=str(ckpt_path) if ckpt_path else None)
    except SIGTERMException:
        # Lightning stops a SIGTERM'd fit with a SystemExit whose code is 0: a killed training must
        # not look finished (recipes would mark the stage done and go on with a half-trained model)
        raise SystemExit(KILLED_EXIT_CODE) from None
    return trainer
