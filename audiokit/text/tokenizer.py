"""The tokenizer interface shared by every audiokit text front-end.

Conventions (all tokenizers):

* Token ids are ``0 .. vocab_size - 1``; ``vocab_size`` counts real tokens only
  (``<unk>`` included where the tokenizer has one), never the CTC/RNN-T blank.
* **Blank is last**, as in NeMo: ``blank_id == vocab_size`` and a CTC or RNN-T model
  built for a tokenizer has ``num_classes == vocab_size + 1`` outputs; the RNN-T
  prediction net's embedding has ``vocab_size + 1`` rows with the blank row used as
  start-of-sequence / padding. Models whose checkpoints put blank first (OWSM-CTC,
  ESPnet: blank 0) pass their own ``blank`` to the decoders in
  :mod:`audiokit.decoding`; the decoders never assume a position.
* Text is normalised before encoding: runs of whitespace become one space and the
  ends are stripped (a Kaldi ``text`` transcript is already in this form).
* Unknown characters: ``on_unknown="error"`` raises :class:`TokenizerError` naming
  every offending character; ``on_unknown="unk"`` maps them to the ``<unk>`` id
  (only for tokenizers that have one).
* ``save(dir)`` writes ``tokenizer.json`` (``{"type": ..., "version": 1, ...}``) plus
  the tokenizer's own files; :func:`load_tokenizer` reads any tokenizer folder back,
  including NeMo-style folders that only hold ``tokenizer.model`` + ``vocab.txt``.
"""

from __future__ import annotations

import json
import os
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Iterable
from pathlib import Path

from audiokit.errors import AudiokitError

#: the metadata file written by every :meth:`Tokenizer.save`
META_FILE = "tokenizer.json"
UNK = "<unk>"
ON_UNKNOWN = ("error", "unk")


class TokenizerError(AudiokitError):
    """Text or a tokenizer file that cannot be used (unknown characters, bad ids, ...)."""


def normalize_text(text: str) -> str:
    """Collapse whitespace runs to single spaces and strip the ends."""
    return " ".join(text.split())


def describe_chars(chars: Iterable[str]) -> str:
    """``'ü' (U+00FC), 'ß' (U+00DF)`` -- a readable list for error messages."""
    parts = []
    for ch in sorted(set(chars)):
        name = unicodedata.name(ch, "")
        parts.append(f"{ch!r} (U+{ord(ch):04X}{' ' + name if name else ''})")
    return ", ".join(parts)


def unknown_chars_error(chars: Iterable[str]) -> TokenizerError:
    """The error for characters outside a vocabulary (policy ``on_unknown="error"``)."""
    return TokenizerError(f"characters not in the vocabulary: {describe_chars(chars)}")


def check_on_unknown(value: str) -> str:
    """Validate an ``on_unknown`` policy name."""
    if value not in ON_UNKNOWN:
        raise TokenizerError(f"on_unknown must be one of {ON_UNKNOWN}, got {value!r}")
    return value


class Tokenizer(ABC):
    """Maps normalised text to token ids and back. See the module docstring for conventions."""

    #: the ``type`` written to ``tokenizer.json``
    kind: str = ""
    #: how errors name this kind of tokenizer ("not a character tokenizer")
    label: str = ""

    @property
    @abstractmethod
    def vocab_size(self) -> int:
        """Number of real tokens (blank excluded)."""

    @property
    def blank_id(self) -> int:
        """The CTC / RNN-T blank: one past the last token (NeMo convention)."""
        return self.vocab_size

    @property
    def num_classes(self) -> int:
        """Output width of a CTC / RNN-T model for this tokenizer (tokens + blank)."""
        return self.vocab_size + 1

    @property
    @abstractmethod
    def unk_id(self) -> int | None:
        """Id of ``<unk>``, or None when the tokenizer has none."""

    @abstractmethod
    def id_to_token(self, idx: int) -> str:
        """The token string of id ``idx`` (raises :class:`TokenizerError` if out of range)."""

    @abstractmethod
    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` (normalised first)."""

    @abstractmethod
    def decode(self, ids: Iterable[int]) -> str:
        """Text of ``ids`` (a list, or a 1-D tensor/array of ints; blank is not allowed)."""

    @abstractmethod
    def save(self, directory: str | os.PathLike, force: bool = False) -> None:
        """Write the tokenizer into ``directory`` (created; existing files need ``force``)."""

    @property
    def tokens(self) -> list[str]:
        """All token strings in id order."""
        return [self.id_to_token(i) for i in range(self.vocab_size)]

    def encode_batch(self, texts: Iterable[str]) -> list[list[int]]:
        """:meth:`encode` for each text."""
        return [self.encode(t) for t in texts]

    def decode_batch(self, batch: Iterable[Iterable[int]]) -> list[str]:
        """:meth:`decode` for each id sequence."""
        return [self.decode(ids) for ids in batch]

    def write_own_meta(self, directory: Path, force: bool, **fields: object) -> None:
        """Write ``tokenizer.json``: ``{"type": kind, "version": 1, **fields}`` (see :func:`write_meta`)."""
        write_meta(directory, {"type": self.kind, "version": 1, **fields}, force)

    @classmethod
    def read_own_meta(cls, directory: Path, required: bool = True) -> dict | None:
        """The ``tokenizer.json`` of ``directory``, refused unless its ``type`` is :attr:`kind`;
        a folder without one gives None, or an error when ``required``."""
        meta = read_meta(directory)
        if (meta is None and required) or (meta is not None and meta["type"] != cls.kind):
            raise TokenizerError(f"{directory / META_FILE}: not a {cls.label} tokenizer")
        return meta

    def check_ids(self, ids: Iterable[int]) -> list[int]:
        """``ids`` as Python ints, raising :class:`TokenizerError` on any outside the vocabulary."""
        out = [int(i) for i in ids]
        bad = sorted({i for i in out if not 0 <= i < self.vocab_size})
        if bad:
            hint = " (the blank id)" if bad == [self.blank_id] else ""
            raise TokenizerError(
                f"token ids {bad}{hint} are outside the vocabulary of {self.vocab_size} tokens"
            )
        return out


def write_meta(directory: Path, meta: dict, force: bool) -> None:
    """Write ``tokenizer.json`` atomically (refuses to overwrite without ``force``)."""
    from audiokit.io.atomic import check_writable, write_text_atomic

    path = check_writable(directory / META_FILE, force)
    write_text_atomic(path, json.dumps(meta, ensure_ascii=False, indent=1) + "\n")


def read_meta(directory: Path) -> dict | None:
    """The parsed ``tokenizer.json`` of ``directory``, or None when it has none."""
    path = directory / META_FILE
    if not path.is_file():
        return None
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise TokenizerError(f"{path}: not a valid tokenizer.json ({err})") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("type"), str):
        raise TokenizerError(f"{path}: missing 'type'")
    return meta


def load_tokenizer(directory: str | os.PathLike) -> Tokenizer:
    """Load any tokenizer folder written by :meth:`Tokenizer.save`, or a NeMo-style
    folder holding ``tokenizer.model`` (or one ``<hash>_tokenizer.model``) + ``vocab.txt``.
    """
    from audiokit.text.chars import CharTokenizer
    from audiokit.text.sentencepiece import (
        SentencePieceTokenizer,
        find_sentencepiece_model,
    )

    directory = Path(directory)
    if not directory.is_dir():
        raise TokenizerError(f"{directory}: tokenizer folder not found")
    meta = read_meta(directory)
    kinds = {CharTokenizer.kind: CharTokenizer, SentencePieceTokenizer.kind: SentencePieceTokenizer}
    if meta is not None:
        cls = kinds.get(meta["type"])
        if cls is None:
            raise TokenizerError(
                f"{directory / META_FILE}: unknown tokenizer type {meta['type']!r} "
                f"(known: {', '.join(sorted(kinds))})"
            )
        return cls.load(directory)
    if find_sentencepiece_model(directory, required=False) is not None:
        return SentencePieceTokenizer.load(directory)
    raise TokenizerError(f"{directory}: no {META_FILE} or tokenizer.model in this folder")


def read_transcripts(path: str | os.PathLike) -> list[tuple[int, str, str]]:
    """``(line, utt_id, normalised transcript)`` of a Kaldi ``text`` file (empty ones kept)."""
    from audiokit.data.kaldi import read_table_lines

    return [(line, key, normalize_text(value)) for line, key, value in read_table_lines(path)]


def encode_text_file(tokenizer: Tokenizer, path: str | os.PathLike) -> dict[str, list[int]]:
    """Encode every transcript of a Kaldi ``text`` file: ``{utt_id: ids}``.

    Errors name the file and line, e.g. ``data/train/text:7: ... 'ü' (U+00FC ...)``.
    """
    out: dict[str, list[int]] = {}
    for line, key, text in read_transcripts(path):
        if key in out:
            raise TokenizerError(f"{path}:{line}: duplicate key {key!r}")
        try:
            out[key] = tokenizer.encode(text)
        except TokenizerError as err:
            raise TokenizerError(f"{path}:{line}: {err}") from None
    return out
