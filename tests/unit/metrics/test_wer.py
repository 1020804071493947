"""WER / CER helpers on hand-made examples, the per-speaker table and the pocketsphinx wrapper."""

from __future__ import annotations

import math
import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf

from audiokit.metrics.wer import (
    ErrorCounts,
    PocketSphinx,
    cer,
    error_counts,
    normalize_for_wer,
    pocketsphinx_transcribe,
    score_by_speaker,
    speaker_table,
    wer,
)


def test_normalization():
    assert normalize_for_wer("Hello, World!  it's 'quoted'") == "hello world it's quoted"
    assert normalize_for_wer("  A-B_c\tD. ") == "a b c d"
    assert normalize_for_wer("Don\u2019t") == "don't"
    assert normalize_for_wer("") == ""


def test_word_counts_by_hand():
    # ref: the cat sat on the mat (6 words); hyp: the bat sat the mat down
    # alignment: the=the, cat->bat (S), sat=sat, on (D), the=the, mat=mat, +down (I)
    c = error_counts(["the cat sat on the mat"], ["the bat sat the mat down"])
    assert (c.sub, c.dele, c.ins, c.ref, c.utts) == (1, 1, 1, 6, 1)
    assert c.rate == pytest.approx(3 / 6)
    assert wer(["the cat sat on the mat"], ["The cat, sat on the mat!"]) == 0.0


def test_counts_sum_over_utterances_not_average():
    refs, hyps = ["a b c d", "e"], ["a b c d", "x"]
    assert wer(refs, hyps) == pytest.approx(1 / 5)  # pooled, not mean of per-utterance rates (0.5)


def test_empty_hypothesis_and_empty_reference():
    c = error_counts(["one two three"], [""])
    assert (c.dele, c.ref) == (3, 3) and c.rate == 1.0
    c = error_counts([""], ["noise words"])
    assert (c.ins, c.ref) == (2, 0) and math.isnan(c.rate)
    c = error_counts(["", "a"], ["x", "a"])
    assert c.errors == 1 and c.ref == 1 and c.rate == 1.0


def test_cer_by_hand():
    # "abcd" -> "abxd": one substitution over 4 characters; spaces count as characters
    assert cer(["abcd"], ["abxd"]) == pytest.approx(0.25)
    c = error_counts(["ab cd"], ["abcd"], unit="char")
    assert (c.dele, c.ref) == (1, 5)


def test_bad_arguments():
    with pytest.raises(ValueError):
        error_counts(["a"], ["a", "b"])
    with pytest.raises(ValueError):
        error_counts(["a"], ["a"], unit="phone")


def test_error_counts_add():
    total = ErrorCounts(1, 2, 3, 10, 1) + ErrorCounts(0, 1, 0, 5, 2)
    assert total.as_dict() == {"sub": 1, "del": 3, "ins": 3, "ref": 15, "utts": 3, "rate": 7 / 15}


def test_per_speaker_scores_and_table():
    refs = {"a-1": "hello world", "a-2": "good morning", "b-1": "yes no maybe"}
    utt2spk = {"a-1": "a", "a-2": "a", "b-1": "b"}
    hyps = {"a-1": "hello word", "b-1": "yes no maybe"}  # a-2 missing -> 2 deletions
    s = score_by_speaker(refs, hyps, utt2spk)
    assert s.missing == ["a-2"]
    assert (s.words.errors, s.words.ref, s.words.utts) == (3, 7, 3)
    a_words, a_chars = s.speakers["a"]
    assert (a_words.sub, a_words.dele, a_words.ref) == (1, 2, 4)
    assert a_chars.ref == len("hello world") + len("good morning")
    assert s.speakers["b"][0].errors == 0
    perfect = score_by_speaker(refs, dict(refs), utt2spk)
    text = speaker_table({"model": s, "oracle": perfect})
    lines = text.strip().splitlines()
    assert lines[0] == "| speaker | utts | words | model WER % | oracle WER % |"
    assert lines[2] == "| a | 2 | 4 | 75.00 (3/4) | 0.00 (0/4) |"
    assert lines[3] == "| b | 1 | 3 | 0.00 (0/3) | 0.00 (0/3) |"
    assert lines[4] == "| **all** | 3 | 7 | 42.86 (3/7) | 0.00 (0/7) |"
    with pytest.raises(ValueError, match="without a reference"):
        score_by_speaker(refs, {"zz-9": "x"}, utt2spk)


SENTENCE = "she called right after dinner"


@pytest.fixture(scope="module")
def spoken(tmp_path_factory):
    """A flite (slt voice) utterance at 16 kHz, written as 22.05 kHz so the wrapper resamples."""
    if shutil.which("flite") is None:
        pytest.fail("flite is required (Debian package flite)")
    raw = tmp_path_factory.mktemp("ps") / "raw.wav"
    subprocess.run(["flite", "-voice", "slt", "-t", SENTENCE, "-o", str(raw)], check=True, capture_output=True)
    wav, sr = sf.read(raw, dtype="float32")
    import soxr

    path = raw.with_name("utt.wav")
    sf.write(path, soxr.resample(wav, sr, 22050), 22050, subtype="PCM_16")
    return path


def test_pocketsphinx_recognises_speech(spoken):
    ps = PocketSphinx()
    text = ps.transcribe_file(spoken)
    assert text == normalize_for_wer(text) and text
    assert wer([SENTENCE], [text]) <= 0.2, text
    assert ps.transcribe_file(spoken) == text  # the decoder is reset between utterances
    assert PocketSphinx.version().count(".") >= 1


def test_pocketsphinx_parallel_equals_serial(spoken):
    wav, sr = sf.read(spoken, dtype="float32")
    import soxr

    wav16 = soxr.resample(wav, sr, 16000).astype(np.float32)
    items = [str(spoken), wav16, wav16[: len(wav16) // 2]]
    serial = pocketsphinx_transcribe(items, jobs=1)
    assert pocketsphinx_transcribe(items, jobs=2) == serial
    assert serial[0] == serial[1]
