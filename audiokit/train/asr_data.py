"""Training data for ASR: Kaldi data dirs -> (audio, token ids) batches bucketed by duration.

* Audio comes through :class:`audiokit.data.dataset.KaldiAudioDataset` (mono, resampled to
  ``sample_rate``, segments honoured); transcripts come from each dir's ``text`` and are
  encoded once at setup with the tokenizer (a folder readable by
  :func:`audiokit.text.load_tokenizer`), so an unknown character or a missing transcript
  fails before training with the file and line.
* Training audio may be augmented per item: ``speed_perturb`` (Kaldi's speed perturbation: a
  factor drawn from the list resamples the audio so it plays that many times faster; tempo,
  pitch and formants all scale, a cheap stand-in for new speakers) and ``gain_db`` (a uniform
  random gain in ``[-gain_db, gain_db]``). Draws use torch's global RNG, which checkpoints restore.
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

    Items: ``{"id", "wav": (T,), "tokens": list[int], "text": str}``; with ``speed_perturb`` or
    ``gain_db`` (module doc) the audio is augmented on every access.
    """

    def __init__(self, data_dirs: Sequence[str], tokenizer: Any, *, sample_rate: int,
                 min_duration: float | None = None, max_duration: float | None = None,
                 max_items: int | None = None, speed_perturb: Sequence[float] | None = None,
                 gain_db: float = 0.0) -> None:
        from audiokit.text import encode_text_file, normalize_text

        if not data_dirs:
            raise ConfigError("asr data: give at least one data dir")
        self.sample_rate = int(sample_rate)
        self.speeds = check_speeds(speed_perturb, self.sample_rate)
        if not gain_db >= 0:
            raise ConfigError(f"asr data: gain_db must be >= 0, got {gain_db}")
        self.gain_db = float(gain_db)
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
        wav = item["wav"]
        if self.speeds:
            factor = self.speeds[int(torch.randint(len(self.speeds), ()))]
            wav = speed_perturb(wav, factor, self.sample_rate)
        if self.gain_db > 0:
            wav = wav * 10.0 ** (float(torch.empty(()).uniform_(-self.gain_db, self.gain_db)) / 20.0)
        return {"id": item["id"], "wav": wav, "tokens": self.tokens[i], "text": self.texts[i]}


def check_speeds(speeds: Sequence[float] | None, sample_rate: int) -> list[float]:
    """Validated speed-perturbation factors (each in (0.5, 2] and a whole rate at ``sample_rate``)."""
    out = [float(f) for f in (speeds or [])]
    for f in out:
        if not 0.5 < f <= 2.0 or abs(f * sample_rate - round(f * sample_rate)) > 1e-6:
            raise ConfigError(f"asr data: speed_perturb factor {f} must be in (0.5, 2] and "
                              f"make a whole sample rate at {sample_rate} Hz")
    return out


def speed_perturb(wav: torch.Tensor, factor: float, sample_rate: int) -> torch.Tensor:
    """Play ``wav`` ``factor`` times faster by resampling, as ``sox speed``: (T,) -> (round(T / factor),)."""
    from audiokit.io.audio import resample

    if factor == 1.0:
        return wav
    return torch.from_numpy(resample(wav.numpy(), round(factor * sample_rate), sample_rate))


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
        speed_perturb, gain_db: training-audio augmentation (module doc); None / 0: off.
    """

    def __init__(self, train_dirs: Sequence[str], val_dirs: Sequence[str] = (), tokenizer: str = "data/lang",
                 sample_rate: int = 16000, batch_size: int | None = 16, max_total: float | None = None,
                 num_buckets: int = 10, min_duration: float | None = 0.1, max_duration: float | None = 20.0,
                 val_batch_size: int = 16, val_max_items: int | None = None, seed: int = 0,
                 num_workers: int = 0, speed_perturb: Sequence[float] | None = None,
                 gain_db: float = 0.0) -> None:
        super().__init__(collate_asr, seed=seed, num_workers=num_workers)
        if batch_size is None and max_total is None:
            raise ConfigError("asr data: give batch_size, max_total or both")
        self.train_dirs, self.val_dirs, self.tokenizer_dir = list(train_dirs), list(val_dirs), str(tokenizer)
        self.sample_rate = int(sample_rate)
        self.batching = {"batch_size": batch_size, "max_total": max_total, "num_buckets": num_buckets}
        self.min_duration, self.max_duration = min_duration, max_duration
        self.val_batch_size, self.val_max_items = int(val_batch_size), val_max_items
        self.augment = {"speed_perturb": check_speeds(speed_perturb, self.sample_rate), "gain_db": float(gain_db)}
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
                                    min_duration=self.min_duration, max_duration=self.max_duration,
                                    **self.augment)
        self.skipped = self.train_set.skipped
        self.val_set = (ASRDataset(self.val_dirs, tok, sample_rate=self.sample_rate, max_items=self.val_max_items)
                        if self.val_dirs else None)
        self.train_batch_sampler = self.bucket_sampler(self.train_set.lengths, shuffle=True, **self.batching)

    def val_batch_sampler(self, dataset: ASRDataset) -> BucketBatchSampler:
        return self.bucket_sampler(dataset.lengths, shuffle=False, batch_size=self.val_batch_size, num_buckets=1)
