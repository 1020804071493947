"""Plumbing shared by the training data modules (ASR, TTS, codec, toy).

:class:`BatchedDataModule` holds what every audiokit data module does the same way:

* the train batch sampler is built in ``setup("fit")`` and kept as ``train_batch_sampler``,
  so :class:`audiokit.train.callbacks.SamplerStateCallback` can restore its position before
  the first batch is drawn;
* samplers are rank-aware: ``num_replicas``/``rank`` come from the trainer (1/0 without one);
* every ``DataLoader`` gets a private ``torch.Generator`` seeded with ``seed``, so iterating
  it leaves the global RNG alone;
* validation batches come from an unshuffled sampler (:meth:`val_batch_sampler`); no
  validation set gives no validation loader.

A subclass sets ``train_set`` / ``val_set`` (``val_set`` may be None) and
``train_batch_sampler`` in ``setup`` and implements :meth:`val_batch_sampler`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import lightning.pytorch as pl
import torch

from audiokit.data.sampler import BucketBatchSampler


class BatchedDataModule(pl.LightningDataModule):
    """A data module whose loaders are driven by batch samplers (see the module doc).

    Args:
        collate_fn: turns a list of dataset items into a batch.
        seed: seeds the batch order and the loaders' generators.
        num_workers: data loader worker processes.
    """

    def __init__(self, collate_fn: Callable[[list[Any]], Any], seed: int = 0, num_workers: int = 0) -> None:
        super().__init__()
        self.collate_fn = collate_fn
        self.seed, self.num_workers = int(seed), int(num_workers)
        self.train_set: Any = None
        self.val_set: Any = None
        self.train_batch_sampler: BucketBatchSampler | None = None

    def replicas(self) -> dict[str, int]:
        """``{"num_replicas", "rank"}`` of the DDP layout (1 and 0 without a trainer)."""
        trainer = self.trainer
        if trainer is None:
            return {"num_replicas": 1, "rank": 0}
        return {"num_replicas": trainer.world_size, "rank": trainer.global_rank}

    def bucket_sampler(self, lengths: Sequence[float], *, shuffle: bool, cls: type = BucketBatchSampler,
                       **settings: Any) -> BucketBatchSampler:
        """A rank-aware ``cls`` (a :class:`BucketBatchSampler`) over ``lengths``, seeded with ``seed``."""
        return cls(lengths, shuffle=shuffle, seed=self.seed, **settings, **self.replicas())

    def val_batch_sampler(self, dataset: Any) -> BucketBatchSampler:
        """The (unshuffled) batch sampler of the validation loader."""
        raise NotImplementedError

    def loader(self, dataset: Any, batch_sampler: Any) -> torch.utils.data.DataLoader:
        """A ``DataLoader`` over ``dataset`` with its own seeded generator."""
        return torch.utils.data.DataLoader(dataset, batch_sampler=batch_sampler, collate_fn=self.collate_fn,
                                           num_workers=self.num_workers,
                                           generator=torch.Generator().manual_seed(self.seed))

    def train_dataloader(self) -> torch.utils.data.DataLoader:
        return self.loader(self.train_set, self.train_batch_sampler)

    def val_dataloader(self) -> Any:
        if self.val_set is None:
            return []
        return self.loader(self.val_set, self.val_batch_sampler(self.val_set))
