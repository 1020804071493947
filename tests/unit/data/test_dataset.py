"""Tests of KaldiAudioDataset and collate_audio."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from tests.unit.data._datadir_helpers import SR, make_data_dir, read_lines, write_lines

from audiokit.data.dataset import KaldiAudioDataset, collate_audio
from audiokit.data.sampler import BucketBatchSampler
from audiokit.errors import AudioError, DataDirError


def test_items_and_lengths(tmp_path: Path) -> None:
    d = make_data_dir(tmp_path)
    ds = KaldiAudioDataset(d, sample_rate=SR)
    assert len(ds) == 6 and ds.ids[0] == "spkA-00"
    item = ds[1]
    assert item["id"] == "spkA-01" and item["spk"] == "spkA"
    assert item["text"] == "hello world number 1"
    assert item["wav"].dtype == torch.float32 and item["wav"].shape == (int(0.3 * SR),)
    assert ds.lengths == pytest.approx([0.2, 0.3, 0.4] * 2)


def test_resample_segments_and_lengths_without_utt2dur(tmp_path: Path) -> None:
    d = make_data_dir(tmp_path, segments=True, durations=False)
    (d / "text").unlink()
    ds = KaldiAudioDataset(d, sample_rate=8000)
    assert ds[2]["wav"].shape == (int(0.4 * 8000),) and ds[2]["text"] is None
    assert ds.lengths == pytest.approx([0.2, 0.3, 0.4] * 2, abs=1e-3)
    plain = make_data_dir(tmp_path / "p", durations=False)
    assert KaldiAudioDataset(plain, sample_rate=SR).lengths == pytest.approx([0.2, 0.3, 0.4] * 2)


def test_segment_audio_equals_file_slice(tmp_path: Path) -> None:
    d = make_data_dir(tmp_path, segments=True)
    ds = KaldiAudioDataset(d, sample_rate=SR)
    import soundfile as sf

    rec, _ = sf.read(tmp_path / "wavs" / "spkA-rec.wav", dtype="float32")
    start = int(round(0.5 * SR))  # spkA-02 starts after 0.2 + 0.3 s
    assert np.allclose(ds[2]["wav"].numpy(), rec[start:start + int(0.4 * SR)], atol=1e-4)


def test_collate_pads_and_works_with_sampler(tmp_path: Path) -> None:
    ds = KaldiAudioDataset(make_data_dir(tmp_path), sample_rate=SR)
    sampler = BucketBatchSampler(ds.lengths, batch_size=4, num_buckets=2, seed=0)
    dl = torch.utils.data.DataLoader(ds, batch_sampler=sampler, collate_fn=collate_audio)
    seen = []
    for batch in dl:
        B = len(batch["ids"])
        assert batch["wav"].shape == (B, int(batch["wav_lens"].max()))
        assert batch["wav_lens"].dtype == torch.long and len(batch["texts"]) == B
        for b in range(B):
            n = int(batch["wav_lens"][b])
            assert torch.all(batch["wav"][b, n:] == 0) and batch["wav"][b, :n].abs().max() > 0
        seen += batch["ids"]
    assert sorted(seen) == ds.ids


def test_errors_name_file_and_line(tmp_path: Path) -> None:
    d = make_data_dir(tmp_path)
    lines = read_lines(d / "wav.scp")
    Path(lines[2].split()[1]).unlink()
    ds = KaldiAudioDataset(d, sample_rate=SR)
    with pytest.raises(AudioError, match=r"wav.scp:3: .*no such file"):
        ds[2]
    utt, path = lines[0].split()
    write_lines(d / "wav.scp", [f"{utt} cat {path} |"] + lines[1:])
    with pytest.raises(DataDirError, match=r"wav.scp:1: wav.scp entry is a shell pipe"):
        KaldiAudioDataset(d, sample_rate=SR)
    assert KaldiAudioDataset(d, sample_rate=SR, allow_pipes=True)[0]["wav"].shape == (int(0.2 * SR),)
    write_lines(d / "wav.scp", lines[1:])
    with pytest.raises(DataDirError, match="no entry for utterance 'spkA-00'"):
        KaldiAudioDataset(d, sample_rate=SR)
