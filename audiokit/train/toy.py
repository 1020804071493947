"""A toy task: regression on synthetic variable-length sequences.

It is small enough to train in seconds on a CPU and uses every piece a real task
uses (bucketed, rank-aware, resumable batch sampler; dropout; AdamW + a per-step
LR schedule; train/val logging), so it serves as the tests' workload and as the
template for real tasks:

* a task is a ``LightningModule`` whose ``__init__`` takes plain config values;
* a data module builds its ``train_batch_sampler`` in ``setup("fit")`` (so
  :class:`audiokit.train.callbacks.SamplerStateCallback` can restore its position
  before the first batch is drawn) and gives its loaders a private
  ``torch.Generator`` (so iterating them leaves the global RNG alone).
"""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from torch import nn

from audiokit.data.sampler import BucketBatchSampler
from audiokit.train.data_common import BatchedDataModule


class ToyDataset(torch.utils.data.Dataset):
    """``num_items`` sequences ``x: (L_i, in_dim)`` with target ``y = w . mean_t(x) + noise``.

    Fully determined by ``seed``; items are ``{"x": (L, D), "y": (), "ids": ()}``.
    """

    def __init__(self, num_items: int, in_dim: int, min_len: int, max_len: int, seed: int) -> None:
        rng = np.random.default_rng(seed)
        w = np.random.default_rng(1234).standard_normal(in_dim)  # same task for every split
        self.lengths = rng.integers(min_len, max_len + 1, size=num_items).tolist()
        self.x = [rng.standard_normal((n, in_dim)).astype(np.float32) for n in self.lengths]
        self.y = [np.float32(x.mean(0) @ w + 0.01 * rng.standard_normal()) for x in self.x]

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"x": torch.from_numpy(self.x[i]), "y": torch.tensor(self.y[i]), "ids": torch.tensor(i)}


def collate(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Pad to the longest item: ``x (B, T, D)``, ``lengths (B,)``, ``y (B,)``, ``ids (B,)``."""
    lengths = torch.tensor([it["x"].shape[0] for it in items])
    x = torch.zeros(len(items), int(lengths.max()), items[0]["x"].shape[1])
    for b, it in enumerate(items):
        x[b, : it["x"].shape[0]] = it["x"]
    return {
        "x": x, "lengths": lengths,
        "y": torch.stack([it["y"] for it in items]),
        "ids": torch.stack([it["ids"] for it in items]),
    }


class ToyDataModule(BatchedDataModule):
    """Synthetic train/val sets batched by :class:`BucketBatchSampler` (rank-aware)."""

    def __init__(self, num_train: int = 48, num_val: int = 16, in_dim: int = 4, min_len: int = 2,
                 max_len: int = 16, batch_size: int | None = 4, max_total: float | None = None,
                 num_buckets: int = 4, shuffle: bool = True, seed: int = 0, num_workers: int = 0) -> None:
        super().__init__(collate, seed=seed, num_workers=num_workers)
        if min_len < 1 or max_len < min_len:
            raise ValueError(f"need 1 <= min_len <= max_len, got {min_len}, {max_len}")
        self.num_train, self.num_val, self.in_dim = num_train, num_val, in_dim
        self.min_len, self.max_len = min_len, max_len
        self.batching = {"batch_size": batch_size, "max_total": max_total, "num_buckets": num_buckets}
        self.shuffle = shuffle

    def setup(self, stage: str) -> None:
        self.train_set = ToyDataset(self.num_train, self.in_dim, self.min_len, self.max_len, self.seed)
        self.val_set = ToyDataset(self.num_val, self.in_dim, self.min_len, self.max_len, self.seed + 1)
        self.train_batch_sampler = self.bucket_sampler(self.train_set.lengths, shuffle=self.shuffle,
                                                       **self.batching)

    def val_batch_sampler(self, dataset: ToyDataset) -> BucketBatchSampler:
        return self.bucket_sampler(dataset.lengths, shuffle=False, **self.batching)


class ToyRegressor(nn.Module):
    """Frame-wise MLP, masked mean over time: ``x (B, T, D), lengths (B,) -> (B,)``."""

    def __init__(self, in_dim: int = 4, hidden: int = 16, dropout: float = 0.1) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(in_dim, hidden), nn.Tanh(), nn.Dropout(dropout), nn.Linear(hidden, 1)
        )

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        frames = self.net(x).squeeze(-1)  # (B, T)
        mask = torch.arange(x.shape[1], device=x.device)[None, :] < lengths[:, None]
        return (frames * mask).sum(1) / lengths.clamp(min=1)


class ToyRegressionTask(pl.LightningModule):
    """Train :class:`ToyRegressor` with MSE, AdamW and a per-step exponential LR decay."""

    def __init__(self, in_dim: int = 4, hidden: int = 16, dropout: float = 0.1, lr: float = 1e-2,
                 weight_decay: float = 0.0, lr_gamma: float = 0.99) -> None:
        super().__init__()
        self.model = ToyRegressor(in_dim, hidden, dropout)
        self.lr, self.weight_decay, self.lr_gamma = lr, weight_decay, lr_gamma

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.model(x, lengths)

    def _loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return nn.functional.mse_loss(self(batch["x"], batch["lengths"]), batch["y"])

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss = self._loss(batch)
        self.log("train_loss", loss, prog_bar=True, batch_size=len(batch["y"]))
        return loss

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self.log("val_loss", self._loss(batch), prog_bar=True, sync_dist=True, batch_size=len(batch["y"]))

    def configure_optimizers(self) -> dict[str, Any]:
        opt = torch.optim.AdamW(self.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=self.lr_gamma)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
