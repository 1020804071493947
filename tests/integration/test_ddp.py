"""Two-process DDP on CPU (gloo) through ``audiokit train``.

Uses Lightning's ``ddp`` strategy: the launcher re-runs ``python -m audiokit train ...``
for rank 1. Each rank dumps its final parameters and the sample ids it trained on
(RankDumpCallback); the ranks must agree on the weights and see disjoint data.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
TOY = REPO / "configs" / "toy" / "toy.yaml"


def test_ddp_two_cpu_processes(tmp_path):
    exp = tmp_path / "exp"
    proc = subprocess.run(
        [sys.executable, "-m", "audiokit", "train", "--config", str(TOY), f"exp_dir={exp}",
         "trainer.devices=2", "trainer.strategy=ddp", "trainer.max_steps=6",
         "trainer.enable_progress_bar=false", "trainer.enable_model_summary=false", "loggers=[]",
         "checkpoint.every_n_train_steps=3",
         "callbacks=[{class_path: audiokit.train.callbacks.RankDumpCallback}]"],
        cwd=tmp_path, capture_output=True, text=True, timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0, r1 = (np.load(exp / "rank_dump" / f"rank{r}.npz") for r in (0, 1))
    assert np.array_equal(r0["params"], r1["params"])
    ids0, ids1 = set(r0["ids"].tolist()), set(r1["ids"].tolist())
    # 48 items in 12 batches of 4: 6 steps per rank cover the epoch exactly once
    assert len(r0["ids"]) == len(ids0) == 24 and len(r1["ids"]) == len(ids1) == 24
    assert not ids0 & ids1 and ids0 | ids1 == set(range(48))
    from audiokit.checkpoint import torch_load_safe

    ckpt = torch_load_safe(exp / "checkpoints" / "last.ckpt")
    assert ckpt["global_step"] == 6
    assert len(ckpt["callbacks"]["RNGStateCallback"]["per_rank"]) == 2
