"""Pure parts of the synthetic corpus: text filtering, pools, speaker table, Scheme escaping."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from audiokit.data.synth import SIZES, build_mini_synth
from audiokit.data.synth import text as T
from audiokit.data.synth import voices as V
from audiokit.data.synth.engines import check_text, festival_script, scheme_string, single_command
from audiokit.errors import AudiokitError

LEX = frozenset({"a", "i", "dog", "cat", "don", "child", "ran", "home", "the", "x"})


@pytest.mark.parametrize("word, ok", [
    ("dog", True), ("a", True), ("i", True), ("x", False),  # single letters: only a, i
    ("don't", True), ("child's", True), ("dog'xy", False),  # clitic whitelist
    ("cow", False), ("dog2", False), ("Dog", False), ("d-o", False), ("'s", False),
])
def test_word_filter(word, ok):
    assert T.word_ok(word, LEX) is ok


def test_normalise_example_strips_punctuation_and_checks_length():
    assert T.normalise_example("The dog ran home!", LEX) == "the dog ran home"
    assert T.normalise_example("the dog, the cat.", LEX) == "the dog the cat"
    assert T.normalise_example("the dog ran", LEX) is None  # 3 words < 4
    assert T.normalise_example("the cow ran home", LEX) is None  # cow not in lexicon
    assert T.normalise_example(" ".join(["dog"] * 15), LEX) is None


def test_wordnet_sentences_are_clean_and_plentiful():
    sents = T.wordnet_sentences(T.load_lexicon())
    assert len(sents) > 20000
    assert sents == sorted(set(sents))
    assert all(T.SENTENCE_CHARS.fullmatch(s) and 4 <= len(s.split()) <= 14 for s in sents)
    kept, vocab = T.limit_vocabulary(sents, 1000)
    assert len(vocab) == 1000 and 1500 < len(kept) < 2000
    assert all(w in set(vocab) for s in kept for w in s.split())


def test_limit_vocabulary_breaks_ties_alphabetically():
    sents = ["b b a a", "c c d d", "a b c d"]
    kept, vocab = T.limit_vocabulary(sents, 2)
    # every word occurs 3 times: alphabetical tie-break keeps a, b
    assert vocab == ["a", "b"] and kept == ["b b a a"]
    assert T.limit_vocabulary(list(reversed(sents)), 2) == (kept, vocab)


def test_split_pools_disjoint_complete_and_seeded():
    sents = [f"s{i}" for i in range(100)]
    pools = T.split_pools(sents, seed=3)
    assert [len(pools[s]) for s in T.SPLITS] == [80, 10, 10]
    assert sorted(sum(pools.values(), [])) == sorted(sents)
    assert pools == T.split_pools(list(reversed(sents)), seed=3)
    assert pools != T.split_pools(sents, seed=4)


def test_pick_sentences_no_repeat_until_pool_exhausted():
    pool = [f"s{i}" for i in range(5)]
    picked = T.pick_sentences(pool, 12, random.Random(0))
    assert len(picked) == 12
    assert sorted(picked[:5]) == pool and sorted(picked[5:10]) == pool


def test_speaker_table_holds_out_test_voices_and_twins():
    train = [v for v in V.VOICES if v.split == "train"]
    test = [v for v in V.VOICES if v.split == "test"]
    assert not {(v.engine, v.name) for v in train} & {(v.engine, v.name) for v in test}
    train_families = {v.family for v in train if v.family}
    assert not train_families & {v.family for v in test if v.family}
    # the known twins are declared as one family
    fam = {v.spk: v.family for v in V.VOICES}
    assert fam["fe_kal"] == fam["fl_kal16"] != ""
    # HTS synthesis is never seen in training
    assert not any("hts" in v.name for v in train)
    assert len({v.spk for v in V.VOICES}) == len(V.VOICES)
    assert all(v.gender in ("m", "f") for v in V.VOICES)
    # speaker ids are never a prefix of another (utterance ids stay unambiguous)
    ids = [v.spk for v in V.VOICES]
    assert not any(a != b and b.startswith(a) for a in ids for b in ids)


def test_missing_required_engine_names_the_apt_package(monkeypatch):
    real = V.shutil.which
    monkeypatch.setattr(V.shutil, "which", lambda p: None if p == "festival" else real(p))
    with pytest.raises(AudiokitError, match="install the Debian package 'festival'"):
        V.available_voices()


def test_missing_optional_voice_is_skipped(monkeypatch):
    monkeypatch.setattr(V, "missing_reason", lambda v: "absent" if v.optional else None)
    got = V.available_voices()
    assert got == [v for v in V.VOICES if not v.optional]


def test_missing_festival_voice_is_reported(monkeypatch, tmp_path):
    monkeypatch.setattr(V, "FESTIVAL_VOICE_ROOT", tmp_path)
    voice = next(v for v in V.VOICES if v.spk == "fe_ked")
    assert V.festival_voice_dir("ked_diphone", tmp_path) is None
    assert "festvox-kdlpc16k" in V.missing_reason(voice)


def test_unknown_size_is_a_user_error(tmp_path):
    with pytest.raises(AudiokitError, match="unknown corpus size 'huge'"):
        build_mini_synth(tmp_path / "x", size="huge")
    assert not (tmp_path / "x").exists()
    assert set(SIZES) == {"tiny", "default", "large"}


def test_scheme_escaping_and_script():
    assert scheme_string('a "b" \\c') == '"a \\"b\\" \\\\c"'
    voice = next(v for v in V.VOICES if v.spk == "fe_kal")
    script = festival_script(voice, [("don't stop", Path('/t/x "1".wav'))])
    assert script.splitlines() == [
        "(voice_kal_diphone)",
        '(utt.save.wave (SynthText "don\'t stop") "/t/x \\"1\\".wav" \'riff)',
    ]


def test_transcripts_with_unsafe_characters_are_refused():
    for bad in ['say "hi"', "a;b", "x\\y", " lead", "UPPER", "-v"]:
        with pytest.raises(ValueError):
            check_text(bad)
    voice = next(v for v in V.VOICES if v.spk == "es_us_m1")
    cmd = single_command(voice, "the dog ran", Path("o.wav"))
    assert cmd == ["espeak-ng", "-v", "en-us+m1", "-s", "160", "-p", "45", "-w", "o.wav",
                   "the dog ran"]
