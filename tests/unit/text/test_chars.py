"""Character tokenizer: training from Kaldi text, round trips, unknown characters, files."""

from __future__ import annotations

import json

import pytest

from audiokit.text import (
    CharTokenizer,
    TokenizerError,
    encode_text_file,
    load_tokenizer,
)


@pytest.fixture()
def text_file(tmp_path):
    path = tmp_path / "text"
    path.write_text("u1 the cat sat\nu2 a  dog\tran\nu3 zebra's tail\n", encoding="utf-8")
    return path


def test_train_collects_sorted_characters(text_file):
    tok = CharTokenizer.train(text_file)
    assert tok.tokens == sorted(set("the cat sat a dog ran zebra's tail"))
    assert tok.tokens[0] == " "
    assert tok.vocab_size == len(tok.tokens)
    assert tok.blank_id == tok.vocab_size and tok.num_classes == tok.vocab_size + 1
    assert tok.unk_id is None


def test_round_trip_and_whitespace_normalisation(text_file):
    tok = CharTokenizer.train(text_file)
    ids = tok.encode("  the\tzebra  ran ")
    assert ids == [tok.tokens.index(c) for c in "the zebra ran"]
    assert tok.decode(ids) == "the zebra ran"
    assert tok.decode_batch(tok.encode_batch(["cat", "dog's tail"])) == ["cat", "dog's tail"]


def test_unknown_characters_error_names_them(text_file):
    tok = CharTokenizer.train(text_file)
    with pytest.raises(TokenizerError, match=r"'Q' \(U\+0051.*'ü' \(U\+00FC"):
        tok.encode("Qat über")


def test_unknown_characters_map_to_unk(text_file):
    tok = CharTokenizer.train(text_file, unk=True, on_unknown="unk")
    assert tok.unk_id == tok.vocab_size - 1
    ids = tok.encode("cat!")
    assert ids[-1] == tok.unk_id
    assert tok.decode(ids) == "cat<unk>"
    with pytest.raises(TokenizerError, match="needs a vocabulary with <unk>"):
        CharTokenizer(["a"], on_unknown="unk")


def test_lowercase(text_file):
    tok = CharTokenizer.train(text_file, lowercase=True)
    assert tok.encode("THE CAT") == tok.encode("the cat")


def test_bad_vocabularies_are_refused():
    for chars in (["a", "a"], ["ab"], ["\t"], []):
        with pytest.raises(TokenizerError):
            CharTokenizer(chars)


def test_decode_rejects_blank_and_out_of_range(text_file):
    tok = CharTokenizer.train(text_file)
    with pytest.raises(TokenizerError, match="blank"):
        tok.decode([0, tok.blank_id])
    with pytest.raises(TokenizerError, match="outside"):
        tok.decode([-1])


def test_save_load_round_trip(tmp_path, text_file):
    tok = CharTokenizer.train(text_file, unk=True, on_unknown="unk", lowercase=True)
    out = tmp_path / "tok"
    tok.save(out)
    meta = json.loads((out / "tokenizer.json").read_text(encoding="utf-8"))
    assert meta["type"] == "chars" and meta["tokens"] == tok.chars
    back = load_tokenizer(out)
    assert isinstance(back, CharTokenizer)
    assert back.tokens == tok.tokens and back.lowercase and back.on_unknown == "unk"
    assert back.encode("The Cat?") == tok.encode("The Cat?")
    with pytest.raises(Exception, match="exists"):
        tok.save(out)
    tok.save(out, force=True)


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(TokenizerError, match="not found"):
        load_tokenizer(tmp_path / "missing")
    with pytest.raises(TokenizerError, match="no tokenizer.json or tokenizer.model"):
        load_tokenizer(tmp_path)
    (tmp_path / "tokenizer.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(TokenizerError, match="tokenizer.json: not a valid"):
        load_tokenizer(tmp_path)
    (tmp_path / "tokenizer.json").write_text('{"type": "bytes"}', encoding="utf-8")
    with pytest.raises(TokenizerError, match="unknown tokenizer type 'bytes'"):
        load_tokenizer(tmp_path)
    (tmp_path / "tokenizer.json").write_text(
        '{"type": "chars", "tokens": ["a", "a"]}', encoding="utf-8"
    )
    with pytest.raises(TokenizerError, match=r"tokenizer.json: duplicate characters"):
        load_tokenizer(tmp_path)


def test_encode_text_file_reports_file_and_line(tmp_path, text_file):
    tok = CharTokenizer.train(text_file)
    assert encode_text_file(tok, text_file)["u1"] == tok.encode("the cat sat")
    other = tmp_path / "text2"
    other.write_text("u1 the cat\nu2 the ßat\n", encoding="utf-8")
    with pytest.raises(TokenizerError, match=r"text2:2: characters not in the vocabulary: 'ß'"):
        encode_text_file(tok, other)
    empty = tmp_path / "empty"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(TokenizerError, match="no transcripts"):
        CharTokenizer.train(empty)
