"""Training data for codecs: fixed-length random crops of Kaldi data dirs.

* Audio is read through :class:`audiokit.data.dataset.KaldiAudioDataset` (segments,
  ``wav.scp`` checks), down-mixed and resampled to the codec rate.
* Each utterance is **peak-normalised** before cropping, as the vocos / Language-Codec /
  WavTokenizer datasets do (sox ``norm``): training to a random peak level in
  ``train_gain_db`` (default -6 to -1 dB), validation to ``val_gain_db`` (-3 dB).
* A crop of ``num_samples`` starts at a random offset; an utterance shorter than that is
  tiled (repeated) up to the length, as the references do.
* The random gain and offset of an item depend only on ``(seed, epoch, index)`` — never
  on the global RNG — so data order and content survive an exact resume (the batch
  sampler's position is checkpointed by :class:`audiokit.train.callbacks.SamplerStateCallback`).
* Validation uses one fixed crop per utterance (offset from ``(seed, index)``), the first
  ``val_max_items`` utterances in C order of the ids of every validation dir.

Batches are ``{"wav": (B, 1, num_samples), "ids": list[str]}``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch

from audiokit.data.dataset import KaldiAudioDataset
from audiokit.data.sampler import BucketBatchSampler
from audiokit.errors import ConfigError
from audiokit.train.data_common import BatchedDataModule


def peak_normalize(wav: np.ndarray, gain_db: float) -> np.ndarray:
    """Scale ``wav`` (T,) so that its peak is ``gain_db`` dBFS (silence is left as it is)."""
    peak = float(np.abs(wav).max()) if wav.size else 0.0
    if peak <= 0.0:
        return wav
    return (wav * (10.0 ** (gain_db / 20.0) / peak)).astype(np.float32)


def crop_or_tile(wav: np.ndarray, num_samples: int, offset: int) -> np.ndarray:
    """``num_samples`` samples of ``wav`` from ``offset``; shorter audio is repeated first."""
    if len(wav) < num_samples:
        wav = np.tile(wav, -(-num_samples // len(wav)))
    offset = min(max(0, offset), len(wav) - num_samples)
    return np.ascontiguousarray(wav[offset: offset + num_samples])


class CropDataset(torch.utils.data.Dataset):
    """Crops of every utterance of one or more data dirs.

    Indexed by ``i`` (validation: a fixed crop) or ``(i, epoch)`` (training: random gain
    and offset drawn from ``(seed, epoch, i)``). Items: ``{"wav": (num_samples,), "id": str}``.
    """

    def __init__(self, data_dirs: Sequence[str], *, sample_rate: int, num_samples: int, train: bool,
                 seed: int = 0, train_gain_db: Sequence[float] = (-6.0, -1.0), val_gain_db: float = -3.0,
                 max_items: int | None = None, dither: float = 0.0) -> None:
        if not data_dirs:
            raise ConfigError("codec data: give at least one data dir")
        self.sources = [KaldiAudioDataset(d, sample_rate=sample_rate) for d in data_dirs]
        self.index = [(s, i) for s, ds in enumerate(self.sources) for i in range(len(ds))]
        if max_items is not None:
            self.index = self.index[:max_items]
        self.sample_rate, self.num_samples, self.train = int(sample_rate), int(num_samples), train
        self.seed = int(seed)
        self.train_gain_db = (float(train_gain_db[0]), float(train_gain_db[1]))
        self.val_gain_db = float(val_gain_db)
        if dither < 0:
            raise ConfigError(f"codec data: dither must be >= 0, got {dither}")
        self.dither = float(dither)

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any]:
        i, epoch = key if isinstance(key, tuple) else (key, 0)
        src, j = self.index[i]
        item = self.sources[src][j]
        wav = item["wav"].numpy()
        rng = np.random.default_rng([self.seed, int(epoch), i] if self.train else [self.seed, i])
        lo, hi = self.train_gain_db
        gain = float(rng.uniform(lo, hi)) if self.train else self.val_gain_db
        wav = peak_normalize(wav, gain)
        offset = int(rng.integers(0, max(1, len(wav) - self.num_samples + 1)))
        crop = crop_or_tile(wav, self.num_samples, offset)
        if self.train and self.dither > 0:
            crop = (crop + self.dither * rng.standard_normal(crop.shape)).astype(crop.dtype)
        return {"wav": torch.from_numpy(crop), "id": item["id"]}


class EpochBatchSampler(BucketBatchSampler):
    """A :class:`BucketBatchSampler` whose batches are ``[(index, epoch), ...]``, so that the
    dataset can draw per-epoch crops without a shared RNG (works with worker processes)."""

    def __iter__(self) -> Iterator[list[Any]]:  # type: ignore[override]
        epoch = self.epoch
        for batch in super().__iter__():
            yield [(i, epoch) for i in batch]


def collate_crops(items: list[dict[str, Any]]) -> dict[str, Any]:
    """``{"wav": (B, 1, num_samples), "ids": list[str]}``."""
    return {"wav": torch.stack([it["wav"] for it in items]).unsqueeze(1), "ids": [it["id"] for it in items]}


class CodecDataModule(BatchedDataModule):
    """Random crops for codec training, fixed crops for validation.

    Args:
        train_dirs: Kaldi data dirs to train on (e.g. speech train + music).
        val_dirs: data dirs for validation (one fixed crop per utterance).
        sample_rate: the codec's rate; audio is resampled to it.
        num_samples: crop length in samples (reference: 72000 = 3 s at 24 kHz).
        batch_size: crops per training batch (per device).
        val_batch_size: crops per validation batch.
        val_max_items: validation utterances used (the first ones, C order per dir).
        train_gain_db: (low, high) dBFS range of the random peak level.
        val_gain_db: peak level of validation crops.
        seed: seeds the batch order and the crops.
        dither: standard deviation of white noise added to training crops (0: none). Synthetic
            speech has stretches of exact digital silence whose log-mel sits at the loss's clamp
            (log 1e-7 = -16); without a noise floor the mel loss is dominated by pushing the
            output down there, which needs the model to know where the silence is before it
            has learnt anything else. Validation crops stay exact.
        num_workers: data loader worker processes.
    """

    def __init__(self, train_dirs: Sequence[str], val_dirs: Sequence[str] = (), sample_rate: int = 24000,
                 num_samples: int = 72000, batch_size: int = 8, val_batch_size: int = 8,
                 val_max_items: int | None = 32, train_gain_db: Sequence[float] = (-6.0, -1.0),
                 val_gain_db: float = -3.0, seed: int = 0, num_workers: int = 0, dither: float = 0.0) -> None:
        super().__init__(collate_crops, seed=seed, num_workers=num_workers)
        self.dither = float(dither)
        if num_samples < 1 or batch_size < 1 or val_batch_size < 1:
            raise ValueError("num_samples, batch_size and val_batch_size must be positive")
        self.train_dirs, self.val_dirs = list(train_dirs), list(val_dirs)
        self.sample_rate, self.num_samples = int(sample_rate), int(num_samples)
        self.batch_size, self.val_batch_size, self.val_max_items = batch_size, val_batch_size, val_max_items
        self.train_gain_db, self.val_gain_db = tuple(train_gain_db), float(val_gain_db)

    def _crops(self, dirs: Sequence[str], train: bool, max_items: int | None = None) -> CropDataset:
        return CropDataset(dirs, sample_rate=self.sample_rate, num_samples=self.num_samples, train=train,
                           seed=self.seed, train_gain_db=self.train_gain_db, val_gain_db=self.val_gain_db,
                           max_items=max_items, dither=self.dither if train else 0.0)

    def setup(self, stage: str) -> None:
        self.train_set = self._crops(self.train_dirs, True)
        self.val_set = self._crops(self.val_dirs, False, self.val_max_items) if self.val_dirs else None
        drop_last = len(self.train_set) >= self.batch_size * self.replicas()["num_replicas"]
        self.train_batch_sampler = self.bucket_sampler(
            [1.0] * len(self.train_set), shuffle=True, cls=EpochBatchSampler, batch_size=self.batch_size,
            num_buckets=1, drop_last=drop_last)

    def val_batch_sampler(self, dataset: CropDataset) -> BucketBatchSampler:
        return self.bucket_sampler([1.0] * len(dataset), shuffle=False, batch_size=self.val_batch_size,
                                   num_buckets=1)
