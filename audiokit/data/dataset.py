"""A map-style dataset over a Kaldi data dir, and the matching collate function.

Items are dicts ``{"id": str, "wav": FloatTensor (T,), "text": str | None,
"spk": str | None}``; audio is mono, resampled to ``sample_rate``, cut to the
utterance's segment when the dir has ``segments``. :attr:`KaldiAudioDataset.lengths`
(seconds) feeds :class:`audiokit.data.sampler.BucketBatchSampler`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import torch

from audiokit.data.kaldi import DataDir, read_table_lines
from audiokit.data.validate import finite_number
from audiokit.data.wavscp import WavEntry, load_wav_entry, resolve_wav_entry, wav_entry_duration
from audiokit.errors import DataDirError


class KaldiAudioDataset(torch.utils.data.Dataset):
    """Utterances of a data dir in C order of their ids.

    Construction reads the tables only (no audio) and checks that every
    utterance has a ``wav.scp`` entry (through ``segments`` if present) and that
    pipe entries are allowed; errors name the file and line.
    """

    def __init__(self, data_dir: str | os.PathLike, *, sample_rate: int,
                 allow_pipes: bool = False) -> None:
        self.data_dir = Path(data_dir)
        self.sample_rate = int(sample_rate)
        self.allow_pipes = allow_pipes
        self.dd = DataDir.load(self.data_dir)
        if not self.dd.wav_scp:
            raise DataDirError(f"{self.data_dir / 'wav.scp'}: missing or empty")
        self.ids = self.dd.utt_ids
        if not self.ids:
            raise DataDirError(f"{self.data_dir}: data dir has no utterances")
        wav_file = self.data_dir / "wav.scp"
        self._where = {k: f"{wav_file}:{n}" for n, k, _ in read_table_lines(wav_file)}
        self._entries: dict[str, WavEntry] = {
            k: resolve_wav_entry(v, allow_pipes=allow_pipes, where=self._where[k])
            for k, v in self.dd.wav_scp.items()
        }
        self._spans = {utt: self._span(utt) for utt in self.ids}
        self._lengths: list[float] | None = None

    def _span(self, utt: str) -> tuple[str, float | None, float | None]:
        """``(recording, start, end)`` of an utterance (start/end None: whole file)."""
        if not self.dd.segments:
            if utt not in self._entries:
                raise DataDirError(f"{self.data_dir / 'wav.scp'}: no entry for utterance {utt!r}")
            return utt, None, None
        seg_file = self.data_dir / "segments"
        fields = self.dd.segments.get(utt, "").split()
        if len(fields) != 3:
            raise DataDirError(f"{seg_file}: no well-formed segment for utterance {utt!r}")
        start, end = finite_number(fields[1]), finite_number(fields[2])
        if start is None or end is None:
            raise DataDirError(f"{seg_file}: bad times for utterance {utt!r}")
        if fields[0] not in self._entries:
            raise DataDirError(f"{seg_file}: recording {fields[0]!r} of {utt!r} is not in wav.scp")
        return fields[0], start, end

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> dict[str, Any]:
        utt = self.ids[index]
        reco, start, end = self._spans[utt]
        wav, _ = load_wav_entry(self._entries[reco], allow_pipes=self.allow_pipes, sr=self.sample_rate,
                                start=start, end=end, where=self._where[reco])
        return {
            "id": utt,
            "wav": torch.from_numpy(wav.copy()).float(),
            "text": self.dd.text.get(utt) if self.dd.text else None,
            "spk": self.dd.utt2spk.get(utt),
        }

    @property
    def lengths(self) -> list[float]:
        """Duration of each item in seconds: from utt2dur, else segments, else the audio headers."""
        if self._lengths is None:
            self._lengths = [self._duration(utt) for utt in self.ids]
        return self._lengths

    def _duration(self, utt: str) -> float:
        if utt in self.dd.utt2dur:
            d = finite_number(self.dd.utt2dur[utt].split()[0])
            if d is not None and d > 0:
                return d
        reco, start, end = self._spans[utt]
        if start is not None and end is not None and end != -1:
            return end - start
        total = wav_entry_duration(self._entries[reco], allow_pipes=self.allow_pipes,
                                   where=self._where[reco])
        return total - (start or 0.0)


def collate_audio(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Batch dataset items: ``wav`` ``(B, T_max)`` zero-padded, ``wav_lens`` ``(B,)`` long.

    Returns ``{"ids": list[str], "wav", "wav_lens", "texts": list[str | None],
    "spks": list[str | None]}``.
    """
    if not items:
        raise ValueError("collate_audio: empty batch")
    lens = torch.tensor([int(it["wav"].shape[-1]) for it in items], dtype=torch.long)
    wav = torch.zeros(len(items), int(lens.max()), dtype=items[0]["wav"].dtype)
    for b, it in enumerate(items):
        wav[b, : lens[b]] = it["wav"]
    return {
        "ids": [it["id"] for it in items],
        "wav": wav,
        "wav_lens": lens,
        "texts": [it.get("text") for it in items],
        "spks": [it.get("spk") for it in items],
    }
