"""Tokenizers: characters and SentencePiece, one interface (:class:`Tokenizer`).

Ids run ``0 .. vocab_size - 1``; the CTC / RNN-T blank is ``vocab_size`` (last, as in
NeMo). ``load_tokenizer(folder)`` reads any saved tokenizer, NeMo-style folders
(``tokenizer.model`` + ``vocab.txt``) included. Importing this package is light: no
torch, and ``sentencepiece`` only when a SentencePiece tokenizer is built.
"""

from __future__ import annotations

from audiokit.text.chars import CharTokenizer
from audiokit.text.sentencepiece import SentencePieceTokenizer
from audiokit.text.tokenizer import (
    Tokenizer,
    TokenizerError,
    encode_text_file,
    load_tokenizer,
    normalize_text,
)

__all__ = [
    "CharTokenizer",
    "SentencePieceTokenizer",
    "Tokenizer",
    "TokenizerError",
    "encode_text_file",
    "load_tokenizer",
    "normalize_text",
]
