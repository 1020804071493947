"""SentencePiece tokenizer: training on Kaldi text, round trips, NeMo-style folders."""

from __future__ import annotations

import random
import shutil

import pytest

from audiokit.text import SentencePieceTokenizer, TokenizerError, load_tokenizer

WORDS = [
    "the",
    "a",
    "cat",
    "dog",
    "sat",
    "ran",
    "over",
    "under",
    "house",
    "garden",
    "small",
    "large",
    "green",
    "quickly",
    "slowly",
    "morning",
    "evening",
    "river",
    "bridge",
    "stone",
    "light",
]


@pytest.fixture(scope="module")
def text_file(tmp_path_factory):
    rng = random.Random(0)
    lines = [f"utt{i:03d} " + " ".join(rng.choices(WORDS, k=rng.randint(3, 9))) for i in range(80)]
    path = tmp_path_factory.mktemp("data") / "text"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def unigram(text_file):
    return SentencePieceTokenizer.train(text_file, vocab_size=60, model_type="unigram")


@pytest.mark.parametrize("model_type", ["unigram", "bpe"])
def test_train_and_round_trip(text_file, model_type):
    tok = SentencePieceTokenizer.train(text_file, vocab_size=50, model_type=model_type)
    assert 20 < tok.vocab_size <= 50
    assert tok.unk_id == 0 and tok.id_to_token(0) == "<unk>"
    assert tok.blank_id == tok.vocab_size
    for line in text_file.read_text(encoding="utf-8").splitlines()[:20]:
        text = line.split(" ", 1)[1]
        ids = tok.encode(text)
        assert ids and all(0 < i < tok.vocab_size for i in ids)
        assert tok.decode(ids) == text
    # unseen word made of seen characters still round-trips
    assert tok.decode(tok.encode("green stones  bridge")) == "green stones bridge"
    # subwords: fewer tokens than characters
    assert len(tok.encode("the garden bridge")) < len("the garden bridge")


def test_unknown_characters(unigram):
    ids = unigram.encode("the cat jx")
    assert unigram.unk_id in ids
    strict = SentencePieceTokenizer(unigram.model_proto, on_unknown="error")
    with pytest.raises(TokenizerError, match=r"'j' \(U\+006A.*'x' \(U\+0078"):
        strict.encode("the cat jx")
    assert strict.encode("the cat") == unigram.encode("the cat")


def test_lowercase_training_folds_case(text_file):
    tok = SentencePieceTokenizer.train(text_file, vocab_size=40, lowercase=True)
    assert tok.encode("THE Cat") == tok.encode("the cat")


def test_save_writes_nemo_layout_and_loads(tmp_path, unigram):
    out = tmp_path / "tok"
    unigram.save(out)
    names = sorted(p.name for p in out.iterdir())
    assert names == ["tokenizer.json", "tokenizer.model", "tokenizer.vocab", "vocab.txt"]
    vocab = (out / "vocab.txt").read_text(encoding="utf-8").splitlines()
    pieces = unigram.tokens
    assert len(vocab) == len(pieces) - 1  # <unk> left out, as NeMo does
    assert "<unk>" not in vocab
    for piece, entry in zip(pieces[1:], vocab):
        assert (
            entry == (piece[1:] or piece) if piece.startswith("\u2581") else entry == "##" + piece
        )
    back = load_tokenizer(out)
    assert isinstance(back, SentencePieceTokenizer)
    assert back.tokens == pieces
    assert back.encode("the small river") == unigram.encode("the small river")
    with pytest.raises(Exception, match="exists"):
        unigram.save(out)


def test_nemo_folder_with_hash_prefixed_files(tmp_path, unigram):
    src = tmp_path / "src"
    unigram.save(src)
    nemo = tmp_path / "nemo"
    nemo.mkdir()
    shutil.copy(src / "tokenizer.model", nemo / "1a2b3c_tokenizer.model")
    shutil.copy(src / "vocab.txt", nemo / "1a2b3c_vocab.txt")
    tok = load_tokenizer(nemo)
    assert isinstance(tok, SentencePieceTokenizer)
    assert tok.encode("the dog ran") == unigram.encode("the dog ran")
    shutil.copy(src / "tokenizer.model", nemo / "ffff_tokenizer.model")
    with pytest.raises(TokenizerError, match="several tokenizer.model"):
        load_tokenizer(nemo)


def test_broken_files_give_clear_errors(tmp_path, unigram):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "tokenizer.model").write_bytes(b"not a model at all")
    with pytest.raises(TokenizerError, match=r"tokenizer.model: not a SentencePiece model"):
        load_tokenizer(bad)
    mism = tmp_path / "mism"
    unigram.save(mism)
    (mism / "vocab.txt").write_text("x\n" * (unigram.vocab_size + 5), encoding="utf-8")
    with pytest.raises(TokenizerError, match=r"vocab.txt: .* entries but"):
        load_tokenizer(mism)
    (mism / "tokenizer.json").write_text(
        '{"type": "sentencepiece", "model": "../tokenizer.model"}', encoding="utf-8"
    )
    with pytest.raises(TokenizerError, match="'model' must be a file name"):
        load_tokenizer(mism)


def test_training_errors(tmp_path, text_file):
    empty = tmp_path / "text"
    empty.write_text("u1\n", encoding="utf-8")
    with pytest.raises(TokenizerError, match="no transcripts"):
        SentencePieceTokenizer.train(empty, vocab_size=10)
    with pytest.raises(TokenizerError, match="model_type"):
        SentencePieceTokenizer.train(text_file, vocab_size=10, model_type="word-ish")
    with pytest.raises(TokenizerError, match="training failed"):
        SentencePieceTokenizer.train(text_file, vocab_size=5)  # fewer than the characters
