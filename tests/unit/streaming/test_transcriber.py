"""Model loading for the CLI, look-ahead selection, batched/streamed transcripts, timestamps."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from audiokit.errors import AudiokitError, CheckpointError
from audiokit.streaming.transcriber import (
    Hypothesis,
    load_asr,
    lookahead_choices,
    timestamps,
    transcribe_batch,
    transcribe_source,
)
from tests.unit.streaming._helpers import SR, tiny_asr_folder


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tiny_asr_folder(tmp_path_factory.mktemp("asr"))


@pytest.fixture(scope="module")
def waves():
    rng = np.random.default_rng(5)
    t = np.arange(SR * 2) / SR
    voiced = (0.3 * np.sin(2 * np.pi * 180 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    return [voiced, (rng.standard_normal(12345) * 0.2).astype(np.float32)]


def test_lookahead_choices_and_selection(folder):
    model = load_asr(str(folder))
    assert lookahead_choices(model) == {240: [8, 3], 80: [8, 1], 0: [8, 0]}
    assert model.encoder.att_context_size == [8, 3]
    model = load_asr(str(folder), lookahead_ms=80)
    assert model.encoder.att_context_size == [8, 1]
    with pytest.raises(AudiokitError, match=r"--lookahead 100: .*choose 0, 80, 240 ms"):
        load_asr(str(folder), lookahead_ms=100)


def test_load_errors(folder, tmp_path):
    bare = tmp_path / "bare"
    shutil.copytree(folder, bare)
    (bare / "tokenizer.json").unlink()
    with pytest.raises(CheckpointError, match="tokenizer"):
        load_asr(str(bare))
    with pytest.raises(CheckpointError, match="no such"):
        load_asr(str(tmp_path / "missing"))


def test_batched_offline_equals_model_transcribe_and_streaming(folder, waves):
    model = load_asr(str(folder))
    hyps = transcribe_batch(model, waves)
    assert [h.text for h in hyps] == model.transcribe(waves)
    assert [h.text for h in hyps] == [transcribe_batch(model, [w])[0].text for w in waves]
    for w, h in zip(waves, hyps):
        assert h.text and len(h.frames) == len(h.tokens)
        assert h.frames == sorted(h.frames) and h.frames[-1] < len(w) / 1280 + 1
        streamed = transcribe_source(model, (w[i:i + 1000] for i in range(0, len(w), 1000)))
        assert (streamed.text, streamed.tokens, streamed.frames) == (h.text, h.tokens, h.frames)


def test_timestamps_group_words_at_spaces(folder):
    model = load_asr(str(folder))
    tok = model.tokenizer
    ids = tok.encode("ab cd")
    stamps = timestamps(model, Hypothesis("ab cd", ids, [0, 2, 3, 5, 9]))
    assert [t["token"] for t in stamps["tokens"]] == ["a", "b", " ", "c", "d"]
    assert stamps["tokens"][1]["start"] == pytest.approx(0.16)
    assert stamps["words"] == [{"word": "ab", "start": 0.0, "end": 0.24},
                               {"word": "cd", "start": 0.4, "end": 0.8}]
    assert timestamps(model, Hypothesis("ab", ids[:2], None)) is None
