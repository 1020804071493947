"""Training data for ASR: Kaldi data dirs -> (audio, token ids) batches bucketed by duration.

* Audio comes through :class:`audiokit.data.dataset.KaldiAudioDataset` (mono, resampled to
  ``sample_rate``, segments honoured); transcripts come from each dir's ``text`` and are
  encoded once at setup with the tokenizer (a folder readable by
  :func:`audiokit.text.load_tokenizer`), so an unknown character or a missing transcript
  fails before training with the file and line.
* Utterances longer than ``max_duration`` (or shorter than ``min_duration``) seconds are
  left out of training (counted in :attr:`ASRDataModule.skipped`), as NeMo's manifests do.
* Training batches come from a :class:`~audiokit.data.sampler.BucketBatchSampler` over the
  durations (``batch_size`` items and/or ``max_total`` seconds per batch); it is built in
  ``setup("fit")`` and its position is checkpointed by the trainer.

Batches: ``{"ids": list[str], "wav": (B, T), "wav_lens": (B,), "tokens": (B, U) (padded
with 0), "token_lens": (B,), "texts": list[str]}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from audiokit.data.dataset import KaldiAudioDataset
from audiokit.data.sampler import BucketBatchSampler
from audiokit.errors import ConfigError, DataDirError
from audiokit.train.data_common import BatchedDataModule


class ASRDataset(torch.utils.data.Dataset):
    """Utterances of one or more data dirs with their token ids.

    Items: ``{"id", "wav": (T,), "tokens": list[int], "text": str}``.
    """

    def __init__(self, data_dirs: Sequence[str], tokenizer: Any, *, sample_rate: int,
                 min_duration: float | None = None, max_duration: float | None = None,
                 max_items: int | None = None) -> None:
        from audiokit.text import encode_text_file, normalize_text

        if not data_dirs:
            raise ConfigError("asr data: give at least one data dir")
        self.sources = [KaldiAudioDataset(d, sample_rate=sample_rate) for d in data_dirs]
        self.index: list[tuple[int, int]] = []
        self.tokens: list[list[int]] = []
        self.texts: list[str] = []
        self.lengths: list[float] = []
        self.skipped = 0
        for s, ds in enumerate(self.sources):
            text_file = ds.data_dir / "text"
            if not text_file.is_file():
                raise DataDirError(f"{text_file}: missing (ASR training needs transcripts)")
            ids = encode_text_file(tokenizer, text_file)
            texts = {k: normalize_text(v) for k, v in ds.dd.text.items()}
            for i, utt in enumerate(ds.ids):
                if utt not in ids:
                    raise DataDirError(f"{text_file}: no transcript for utterance {utt!r}")
                dur = ds.lengths[i]
                if (min_duration is not None and dur < min_duration) or (max_duration is not None and dur > max_duration):
                    self.skipped += 1
                    continue
                self.index.append((s, i))
                self.tokens.append(ids[utt])
                self.texts.append(texts[utt])
                self.lengths.append(dur)
                if max_items is not None and len(self.index) >= max_items:
                    break
        if not self.index:
            raise DataDirError(f"{', '.join(map(str, data_dirs))}: no utterance within the duration limits")

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict[str, Any]:
        s, j = self.index[i]
        item = self.sources[s][j]
        return {"id": item["id"], "wav": item["wav"], "tokens": self.tokens[i], "text": self.texts[i]}


def collate_asr(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Pad audio with zeros and tokens with 0 (see the module docstring for the keys)."""
    wav_lens = torch.tensor([len(it["wav"]) for it in items], dtype=torch.long)
    token_lens = torch.tensor([len(it["tokens"]) for it in items], dtype=torch.long)
    wav = torch.zeros(len(items), int(wav_lens.max()))
    tokens = torch.zeros(len(items), max(1, int(token_lens.max())), dtype=torch.long)
    for b, it in enumerate(items):
        wav[b, : wav_lens[b]] = it["wav"]
        tokens[b, : token_lens[b]] = torch.tensor(it["tokens"], dtype=torch.long)
    return {"ids": [it["id"] for it in items], "wav": wav, "wav_lens": wav_lens, "tokens": tokens,
            "token_lens": token_lens, "texts": [it["text"] for it in items]}


class ASRDataModule(BatchedDataModule):
    """Bucketed ASR batches from Kaldi data dirs.

    Args:
        train_dirs, val_dirs: Kaldi data dirs (``wav.scp``, ``text``, ...).
        tokenizer: tokenizer folder (:func:`audiokit.text.load_tokenizer`).
        sample_rate: the model's rate (audio is resampled).
        batch_size, max_total: items and/or summed seconds per training batch.
        num_buckets: duration buckets of the sampler.
        min_duration, max_duration: training utterances outside are skipped (seconds).
        val_batch_size: validation items per batch; val_max_items: first N validation items.
        seed: batch order; num_workers: loader processes.
    """

    def __init__(self, train_dirs: Sequence[str], val_dirs: Sequence[str] = (), tokenizer: str = "data/lang",
                 sample_rate: int = 16000, batch_size: int | None = 16, max_total: float | None = None,
                 num_buckets: int = 10, min_duration: float | None = 0.1, max_duration: float | None = 20.0,
                 val_batch_size: int = 16, val_max_items: int | None = None, seed: int = 0,
                 num_workers: int = 0) -> None:
        super().__init__(collate_asr, seed=seed, num_workers=num_workers)
        if batch_size is None and max_total is None:
            raise ConfigError("asr data: give batch_size, max_total or both")
        self.train_dirs, self.val_dirs, self.tokenizer_dir = list(train_dirs), list(val_dirs), str(tokenizer)
        self.sample_rate = int(sample_rate)
        self.batching = {"batch_size": batch_size, "max_total": max_total, "num_buckets": num_buckets}
        self.min_duration, self.max_duration = min_duration, max_duration
        self.val_batch_size, self.val_max_items = int(val_batch_size), val_max_items
        self.tokenizer: Any = None
        self.skipped = 0

    def load_tokenizer(self) -> Any:
        """The tokenizer (loaded once)."""
        from audiokit.text import load_tokenizer

        if self.tokenizer is None:
            self.tokenizer = load_tokenizer(self.tokenizer_dir)
        return self.tokenizer

    def setup(self, stage: str) -> None:
        tok = self.load_tokenizer()
        self.train_set = ASRDataset(self.train_dirs, tok, sample_rate=self.sample_rate,
                                    min_duration=self.min_duration, max_duration=self.max_duration)
        self.skipped = self.train_set.skipped
        self.val_set = (ASRDataset(self.val_dirs, tok, sample_rate=self.sample_rate, max_items=self.val_max_items)
                        if self.val_dirs else None)
        self.train_batch_sampler = self.bucket_sampler(self.train_set.lengths, shuffle=True, **self.batching)

    def val_batch_sampler(self, dataset: ASRDataset) -> BucketBatchSampler:
        return self.bucket_sampler(dataset.lengths, shuffle=False, batch_size=self.val_batch_size, num_buckets=1)
