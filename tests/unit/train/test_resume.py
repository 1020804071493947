"""Exact resume: "train 8 steps" equals "train k steps, stop, resume, train to 8"."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from audiokit.train import callbacks as cb_mod
from audiokit.train.runner import train

STEPS = 8


def _config(exp_dir: Path, max_steps: int, dump: str) -> dict:
    return {
        "seed": 3,
        "exp_dir": str(exp_dir),
        "task": {"class_path": "audiokit.train.toy.ToyRegressionTask",
                 "init_args": {"dropout": 0.5, "lr": 0.05, "lr_gamma": 0.9}},
        "data": {"class_path": "audiokit.train.toy.ToyDataModule",
                 "init_args": {"num_train": 20, "num_val": 8, "batch_size": 4, "num_buckets": 3,
                               "shuffle": True, "seed": 5}},
        "trainer": {"max_steps": max_steps, "accelerator": "cpu", "devices": 1,
                    "enable_progress_bar": False, "enable_model_summary": False, "log_every_n_steps": 1},
        "checkpoint": {"every_n_train_steps": 3, "monitor": "val_loss", "save_top_k": 1},
        "loggers": [],
        "callbacks": [{"class_path": "audiokit.train.callbacks.RankDumpCallback", "init_args": {"subdir": dump}}],
    }


def _run(exp_dir: Path, max_steps: int, dump: str, resume="auto"):
    trainer = train(_config(exp_dir, max_steps, dump), resume=resume)
    state = {k: v.clone() for k, v in trainer.lightning_module.state_dict().items()}
    ids = np.load(exp_dir / dump / "rank0.npz")["ids"]
    return trainer, state, ids


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    exp = tmp_path_factory.mktemp("straight")
    trainer, state, ids = _run(exp, STEPS, "dump")
    assert trainer.global_step == STEPS
    return trainer, state, ids


def _equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("k", [4, 6])  # 4: mid-epoch; 6: after the last batch of epoch 0
def test_resume_is_exact(tmp_path, straight, k):
    _, ref_state, ref_ids = straight
    exp = tmp_path / "exp"
    t1, _, ids1 = _run(exp, k, "part1")
    assert t1.global_step == k
    assert (exp / "checkpoints" / "last.ckpt").is_file()
    t2, state, ids2 = _run(exp, STEPS, "part2")  # auto-resume from last.ckpt
    assert t2.global_step == STEPS
    # the same batches in the same order, and bit-identical weights
    assert np.concatenate([ids1, ids2]).tolist() == ref_ids.tolist()
    assert _equal(state, ref_state)


def test_epoch_length(straight):
    """The test above only covers an epoch boundary if epoch 0 has 6 batches."""
    trainer, _, ids = straight
    assert trainer.datamodule.train_batch_sampler is not None
    trainer.datamodule.train_batch_sampler.set_epoch(0)
    assert len(trainer.datamodule.train_batch_sampler) == 6


def test_resume_without_rng_restore_differs(tmp_path, straight, monkeypatch):
    """Control: dropout makes the RNG matter, so skipping its restore changes the result."""
    _, ref_state, _ = straight
    exp = tmp_path / "exp"
    _run(exp, 4, "part1")
    monkeypatch.setattr(cb_mod, "restore_rng_state", lambda state: None)
    _, state, _ = _run(exp, STEPS, "part2")
    assert not _equal(state, ref_state)


def test_no_resume_starts_over(tmp_path, straight):
    _, ref_state, _ = straight
    exp = tmp_path / "exp"
    _run(exp, 4, "part1")
    t, state, _ = _run(exp, STEPS, "again", resume=None)
    assert t.global_step == STEPS
    assert _equal(state, ref_state)  # a fresh run with the same seed
    assert (exp / "checkpoints.old1" / "last.ckpt").is_file()


def test_sigterm_exits_nonzero_and_resumes(tmp_path, straight, monkeypatch):
    """A SIGTERM'd training (a user's `kill`) exits with 143, not Lightning's 0, keeps its last
    checkpoint, and a rerun resumes from it."""
    import os
    import signal

    from audiokit.train import toy
    from audiokit.train.runner import KILLED_EXIT_CODE

    original = toy.ToyRegressionTask.training_step

    def step_then_kill(self, batch, batch_idx):
        if self.global_step == 4:
            os.kill(os.getpid(), signal.SIGTERM)
        return original(self, batch, batch_idx)

    exp = tmp_path / "exp"
    previous = signal.getsignal(signal.SIGTERM)
    monkeypatch.setattr(toy.ToyRegressionTask, "training_step", step_then_kill)
    with pytest.raises(SystemExit) as exc:
        train(_config(exp, STEPS, "part1"))
    assert exc.value.code == KILLED_EXIT_CODE
    signal.signal(signal.SIGTERM, previous)
    assert (exp / "checkpoints" / "last.ckpt").is_file()
    monkeypatch.undo()
    trainer = train(_config(exp, STEPS, "part2"))
    assert trainer.global_step == STEPS
