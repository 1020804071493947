"""Training data for F5-TTS: Kaldi data dirs -> (log-mel, character ids) batches bucketed by frames.

* Audio comes through :class:`audiokit.data.dataset.KaldiAudioDataset` (mono, resampled to
  ``sample_rate``, segments honoured) and becomes the F5-TTS log-mel (preset ``vocos_mel_24k``
  with ``log_floor`` 1e-5 = F5's ``MelSpec(mel_spec_type="vocos")``; downstream.md §5.2), computed
  per item (no dither, no randomness: data content never touches the RNG).
* Transcripts come from each dir's ``text`` and are encoded once at setup with an F5 ``vocab.txt``
  (:class:`audiokit.models.tts.f5tts_text.F5Vocab`). Characters missing from the vocabulary
  map to the space (id 0), as F5-TTS does; :attr:`TTSDataset.unknown` lists them.
* Utterances outside ``[min_duration, max_duration]`` seconds are left out (F5: 0.3-30 s), and
  counted in :attr:`TTSDataset.skipped`.
* Training batches come from a :class:`~audiokit.data.sampler.BucketBatchSampler` over the
  mel frame counts: ``max_total`` frames per batch (F5: 38 400 per GPU) and/or ``batch_size``
  items; built in ``setup("fit")``, its position is checkpointed by the trainer.

Batches: ``{"ids": list[str], "mel": (B, T, n_mels) (zero padded), "mel_lens": (B,),
"text": (B, N) (padded with -1), "texts": list[str]}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from audiokit.data.dataset import KaldiAudioDataset
from audiokit.data.sampler import BucketBatchSampler
from audiokit.errors import ConfigError, DataDirError
from audiokit.train.data_common import BatchedDataModule


def read_vocab(path: str | Path) -> Any:
    """An :class:`F5Vocab` from a ``vocab.txt`` (one token per line, line 0 the space)."""
    from audiokit.models.tts.f5tts_text import F5Vocab

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: vocabulary file not found (vocab.txt, one token per line)")
    tokens = path.read_text(encoding="utf-8").split("\n")
    if tokens and tokens[-1] == "":
        tokens.pop()
    try:
        return F5Vocab(tokens)
    except ValueError as err:
        raise ConfigError(f"{path}:1: {err}") from None


def build_vocab(texts: Sequence[str]) -> list[str]:
    """Character vocabulary of ``texts``: the space first, then the other tokens in code-point order."""
    from audiokit.models.tts.f5tts_text import text_to_tokens

    seen = {tok for text in texts for tok in text_to_tokens(text)} - {" "}
    return [" ", *sorted(seen)]


class MelFeatures:
    """Waveform ``(L,)`` -> F5 log-mel ``(T, n_mels)``; ``T = L // hop + 1`` (centred STFT)."""

    def __init__(self, sample_rate: int = 24000, hop_length: int = 256, n_mels: int = 100,
                 mel_floor: float = 1e-5) -> None:
        from audiokit.features import MelFrontend

        self.frontend = MelFrontend("vocos_mel_24k", sample_rate=sample_rate, hop_length=hop_length,
                                    n_mels=n_mels, log_floor=mel_floor).eval()
        self.hop_length = int(hop_length)

    def num_frames(self, n_samples: int) -> int:
        return self.frontend.num_frames(n_samples)

    def __call__(self, wav: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.frontend(wav.float()).transpose(0, 1).contiguous()


class TTSDataset(torch.utils.data.Dataset):
    """Utterances of one or more data dirs with their character ids.

    Items: ``{"id", "mel": (T, n_mels), "tokens": list[int], "text": str}``;
    :attr:`lengths` holds the mel frames of each item (for batching).
    """

    def __init__(self, data_dirs: Sequence[str], vocab: Any, features: MelFeatures, *, sample_rate: int,
                 min_duration: float | None = None, max_duration: float | None = None,
                 max_items: int | None = None) -> None:
        if not data_dirs:
            raise ConfigError("tts data: give at least one data dir")
        self.features = features
        self.sources = [KaldiAudioDataset(d, sample_rate=sample_rate) for d in data_dirs]
        self.index: list[tuple[int, int]] = []
        self.tokens: list[list[int]] = []
        self.texts: list[str] = []
        self.lengths: list[int] = []
        self.skipped = 0
        unknown: set[str] = set()
        for s, ds in enumerate(self.sources):
            text_file = ds.data_dir / "text"
            if not text_file.is_file():
                raise DataDirError(f"{text_file}: missing (TTS training needs transcripts)")
            for i, utt in enumerate(ds.ids):
                text = ds.dd.text.get(utt)
                if text is None or not text.strip():
                    raise DataDirError(f"{text_file}: no transcript for utterance {utt!r}")
                dur = ds.lengths[i]
                if (min_duration is not None and dur < min_duration) or (max_duration is not None and dur > max_duration):
                    self.skipped += 1
                    continue
                unknown.update(vocab.unknown(text))
                self.index.append((s, i))
                self.tokens.append(vocab.encode(text))
                self.texts.append(text)
                self.lengths.append(features.num_frames(int(round(dur * sample_rate))))
                if max_items is not None and len(self.index) >= max_items:
                    break
            if max_items is not None and len(self.index) >= max_items:
                break
        if not self.index:
            raise DataDirError(f"{', '.join(map(str, data_dirs))}: no utterance within the duration limits")
        self.unknown = sorted(unknown)

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict[str, Any]:
        s, j = self.index[i]
        item = self.sources[s][j]
        return {"id": item["id"], "mel": self.features(item["wav"]), "tokens": self.tokens[i],
                "text": self.texts[i]}


def collate_tts(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Pad mels with zeros and ids with -1 (see the module docstring for the keys)."""
    mel_lens = torch.tensor([it["mel"].shape[0] for it in items], dtype=torch.long)
    n_mels = items[0]["mel"].shape[1]
    mel = torch.zeros(len(items), int(mel_lens.max()), n_mels)
    width = max(1, max(len(it["tokens"]) for it in items))
    text = torch.full((len(items), width), -1, dtype=torch.long)
    for b, it in enumerate(items):
        mel[b, : mel_lens[b]] = it["mel"]
        text[b, : len(it["tokens"])] = torch.tensor(it["tokens"], dtype=torch.long)
    return {"ids": [it["id"] for it in items], "mel": mel, "mel_lens": mel_lens, "text": text,
            "texts": [it["text"] for it in items]}


class TTSDataModule(BatchedDataModule):
    """Frame-bucketed F5-TTS batches from Kaldi data dirs.

    Args:
        train_dirs, val_dirs: Kaldi data dirs (``wav.scp``, ``text``, ...).
        vocab: the ``vocab.txt`` file (see :func:`read_vocab`).
        sample_rate, hop_length, n_mels, mel_floor: the mel front-end (F5: 24000, 256, 100, 1e-5).
        max_total, batch_size: mel frames and/or items per training batch.
        num_buckets: length buckets of the sampler.
        min_duration, max_duration: training utterances outside are skipped (seconds).
        val_batch_size: validation items per batch; val_max_items: first N validation items.
        seed: batch order; num_workers: loader processes.
    """

    def __init__(self, train_dirs: Sequence[str], val_dirs: Sequence[str] = (), vocab: str = "data/lang/vocab.txt",
                 sample_rate: int = 24000, hop_length: int = 256, n_mels: int = 100, mel_floor: float = 1e-5,
                 max_total: int | None = 38400, batch_size: int | None = None, num_buckets: int = 10,
                 min_duration: float | None = 0.3, max_duration: float | None = 30.0, val_batch_size: int = 8,
                 val_max_items: int | None = 32, seed: int = 0, num_workers: int = 0) -> None:
        super().__init__(collate_tts, seed=seed, num_workers=num_workers)
        if batch_size is None and max_total is None:
            raise ConfigError("tts data: give max_total, batch_size or both")
        self.train_dirs, self.val_dirs, self.vocab_file = list(train_dirs), list(val_dirs), str(vocab)
        self.sample_rate, self.hop_length, self.n_mels = int(sample_rate), int(hop_length), int(n_mels)
        self.mel_floor = float(mel_floor)
        self.batching = {"batch_size": batch_size, "max_total": max_total, "num_buckets": num_buckets}
        self.min_duration, self.max_duration = min_duration, max_duration
        self.val_batch_size, self.val_max_items = int(val_batch_size), val_max_items
        self.vocab: Any = None

    def load_vocab(self) -> Any:
        """The vocabulary (read once)."""
        if self.vocab is None:
            self.vocab = read_vocab(self.vocab_file)
        return self.vocab

    def features(self) -> MelFeatures:
        return MelFeatures(self.sample_rate, self.hop_length, self.n_mels, self.mel_floor)

    def setup(self, stage: str) -> None:
        vocab, feats = self.load_vocab(), self.features()
        self.train_set = TTSDataset(self.train_dirs, vocab, feats, sample_rate=self.sample_rate,
                                    min_duration=self.min_duration, max_duration=self.max_duration)
        self.val_set = (TTSDataset(self.val_dirs, vocab, feats, sample_rate=self.sample_rate,
                                   max_duration=self.max_duration, max_items=self.val_max_items)
                        if self.val_dirs else None)
        self.train_batch_sampler = self.bucket_sampler(self.train_set.lengths, shuffle=True, **self.batching)

    def val_batch_sampler(self, dataset: TTSDataset) -> BucketBatchSampler:
        return self.bucket_sampler(dataset.lengths, shuffle=False, batch_size=self.val_batch_size, num_buckets=1)
