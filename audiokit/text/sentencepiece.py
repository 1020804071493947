"""SentencePiece tokenizer: train from a Kaldi ``text`` file, load NeMo-style folders.

Folder layout (the same one NeMo's ``process_asr_text_tokenizer.py`` writes and a
``.nemo`` archive embeds, there with hash-prefixed names)::

    tokenizer.model   the SentencePiece model (authoritative: the vocabulary size is
                      its piece count, <unk> = 0, no <s>/</s> when trained here)
    tokenizer.vocab   "piece<TAB>score" lines, for people
    vocab.txt         NeMo's WordPiece-style listing (pieces without the leading
                      "▁", others prefixed "##", special pieces left out); read only
                      as a consistency check
    tokenizer.json    {"type": "sentencepiece", "version": 1, "model": ..., "on_unknown": ...}

Token ids are SentencePiece ids; the blank is ``vocab_size`` (NeMo: last).
``sentencepiece`` belongs to the ``asr`` extra and is imported only when used.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable
from pathlib import Path

from audiokit.text.tokenizer import (
    META_FILE,
    Tokenizer,
    TokenizerError,
    check_on_unknown,
    normalize_text,
    read_transcripts,
    unknown_chars_error,
)

MODEL_FILE = "tokenizer.model"
MODEL_TYPES = ("unigram", "bpe")
_SPECIAL_PIECES = {"<s>", "</s>", "<pad>", "<unk>"}


def _spm():
    try:
        import sentencepiece
    except ImportError:  # pragma: no cover - depends on the install
        raise TokenizerError(
            "the sentencepiece package is not installed (pip install 'audiokit[asr]')"
        ) from None
    return sentencepiece


def _find_one(directory: Path, name: str, required: bool) -> Path | None:
    """``directory/name``, else the single ``directory/*_name`` (NeMo hash prefix)."""
    exact = directory / name
    if exact.is_file():
        return exact
    found = sorted(directory.glob(f"*_{name}"))
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise TokenizerError(f"{directory}: several {name} files ({names}); keep one")
    if found:
        return found[0]
    if required:
        raise TokenizerError(f"{directory}: no {name} in this folder")
    return None


def find_sentencepiece_model(directory: str | os.PathLike, required: bool = True) -> Path | None:
    """The ``tokenizer.model`` (or single ``<hash>_tokenizer.model``) in ``directory``."""
    return _find_one(Path(directory), MODEL_FILE, required)


class SentencePieceTokenizer(Tokenizer):
    """A SentencePiece model.

    Args:
        model_proto: the serialized model (the bytes of ``tokenizer.model``).
        on_unknown: ``"unk"`` (default; SentencePiece maps unseen characters to
            ``<unk>``) or ``"error"`` (raise naming the characters).
        source: where the model came from, for error messages.
    """

    kind = "sentencepiece"
    label = "sentencepiece"

    def __init__(self, model_proto: bytes, on_unknown: str = "unk", source: str = "<memory>"):
        spm = _spm()
        self.on_unknown = check_on_unknown(on_unknown)
        self.source = source
        self.model_proto = bytes(model_proto)
        try:
            self.sp = spm.SentencePieceProcessor(model_proto=self.model_proto)
        except (RuntimeError, OSError, TypeError) as err:
            raise TokenizerError(f"{source}: not a SentencePiece model ({err})") from None

    # -- construction -------------------------------------------------------
    @classmethod
    def from_file(cls, path: str | os.PathLike, on_unknown: str = "unk") -> SentencePieceTokenizer:
        """Load a ``tokenizer.model`` file."""
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as err:
            raise TokenizerError(f"{path}: cannot read ({err.strerror})") from None
        return cls(data, on_unknown=on_unknown, source=str(path))

    @classmethod
    def train(
        cls,
        text_file: str | os.PathLike,
        vocab_size: int,
        model_type: str = "unigram",
        character_coverage: float = 1.0,
        lowercase: bool = False,
        on_unknown: str = "unk",
    ) -> SentencePieceTokenizer:
        """Train on the transcripts of a Kaldi ``text`` file, as NeMo does.

        Settings follow NeMo's ``create_spt_model``: no ``<s>``/``</s>``, ``<unk>`` = 0,
        a soft vocabulary limit (``hard_vocab_limit=false``: a small corpus may yield
        fewer pieces than asked; read :attr:`vocab_size`), full character coverage and
        the ``nmt_nfkc_cf`` (case-folding) rule when ``lowercase``. Call :meth:`save`
        to write the folder.
        """
        if model_type not in MODEL_TYPES:
            raise TokenizerError(f"model_type must be one of {MODEL_TYPES}, got {model_type!r}")
        if vocab_size < 2:
            raise TokenizerError(f"vocab_size must be at least 2, got {vocab_size}")
        sentences = [text for _, _, text in read_transcripts(text_file) if text]
        if not sentences:
            raise TokenizerError(f"{text_file}: no transcripts to train a tokenizer on")
        writer = io.BytesIO()
        options = {
            "sentence_iterator": iter(sentences),
            "model_writer": writer,
            "vocab_size": vocab_size,
            "model_type": model_type,
            "character_coverage": character_coverage,
            "bos_id": -1,
            "eos_id": -1,
            "unk_id": 0,
            "hard_vocab_limit": False,
            "minloglevel": 2,
        }
        if lowercase:
            options["normalization_rule_name"] = "nmt_nfkc_cf"
        try:
            _spm().SentencePieceTrainer.train(**options)
        except RuntimeError as err:
            msg = " ".join(str(err).split())
            raise TokenizerError(f"{text_file}: SentencePiece training failed: {msg}") from None
        return cls(writer.getvalue(), on_unknown=on_unknown, source=f"trained on {text_file}")

    # -- Tokenizer API ------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return int(self.sp.get_piece_size())

    @property
    def unk_id(self) -> int | None:
        unk = int(self.sp.unk_id())
        return unk if unk >= 0 else None

    def id_to_token(self, idx: int) -> str:
        (idx,) = self.check_ids([idx])
        return self.sp.id_to_piece(idx)

    def encode(self, text: str) -> list[int]:
        text = normalize_text(text)
        ids = list(self.sp.encode(text))
        if self.on_unknown == "error" and self.unk_id is not None and self.unk_id in ids:
            missing = [
                ch for ch in set(text) if not ch.isspace() and self.unk_id in self.sp.encode(ch)
            ]
            raise unknown_chars_error(missing or ["?"])
        return ids

    def decode(self, ids: Iterable[int]) -> str:
        return self.sp.decode(self.check_ids(ids))

    # -- files --------------------------------------------------------------
    def nemo_vocab(self) -> list[str]:
        """The lines of NeMo's ``vocab.txt`` for this model."""
        out = []
        for i in range(self.vocab_size):
            piece = self.sp.id_to_piece(i)
            if piece in _SPECIAL_PIECES or self.sp.is_control(i) or self.sp.is_unknown(i):
                continue
            token = piece[1:] if piece.startswith("\u2581") else f"##{piece}"
            out.append(token if token else piece[0])
        return out

    def save(self, directory: str | os.PathLike, force: bool = False) -> None:
        from audiokit.io.atomic import atomic_path, check_writable, write_text_atomic

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        targets = [directory / n for n in (MODEL_FILE, "tokenizer.vocab", "vocab.txt", META_FILE)]
        for path in targets:
            check_writable(path, force)
        with atomic_path(targets[0]) as tmp:
            tmp.write_bytes(self.model_proto)
        vocab = "".join(
            f"{self.sp.id_to_piece(i)}\t{self.sp.get_score(i)}\n" for i in range(self.vocab_size)
        )
        write_text_atomic(targets[1], vocab)
        write_text_atomic(targets[2], "".join(t + "\n" for t in self.nemo_vocab()))
        self.write_own_meta(directory, True, model=MODEL_FILE, on_unknown=self.on_unknown)

    @classmethod
    def load(
        cls, directory: str | os.PathLike, on_unknown: str | None = None
    ) -> SentencePieceTokenizer:
        """Load an audiokit folder or a NeMo-style one (``tokenizer.model`` + ``vocab.txt``)."""
        directory = Path(directory)
        meta = cls.read_own_meta(directory, required=False) or {}
        name = str(meta.get("model", ""))
        if name and Path(name).name != name:
            raise TokenizerError(f"{directory / META_FILE}: 'model' must be a file name: {name!r}")
        model = directory / name if name else find_sentencepiece_model(directory)
        policy = on_unknown or str(meta.get("on_unknown", "unk"))
        tok = cls.from_file(model, on_unknown=policy)
        vocab_txt = _find_one(directory, "vocab.txt", required=False)
        if vocab_txt is not None:
            tok._check_vocab_txt(vocab_txt)
        return tok

    def _check_vocab_txt(self, path: Path) -> None:
        """Refuse a ``vocab.txt`` that cannot belong to this model (more lines than pieces)."""
        try:
            lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln]
        except UnicodeDecodeError:
            raise TokenizerError(f"{path}: not UTF-8 text") from None
        if len(lines) > self.vocab_size:
            raise TokenizerError(
                f"{path}: {len(lines)} entries but {self.source} has only "
                f"{self.vocab_size} pieces (files from different tokenizers?)"
            )
