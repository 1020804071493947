"""F5-TTS text front end: the ``vocab.txt`` vocabulary and text -> token list.

``vocab.txt`` has one token per line (line ``i`` = id ``i``); id 0 must be the space, which
is also what unknown tokens map to (as in F5-TTS ``list_str_to_idx``). Text becomes a token
list like F5-TTS ``convert_char_to_pinyin``: a few typographic quotes are normalised, runs of
letters/digits are kept character by character with a space put before a multi-character run
that follows punctuation, and Chinese characters become a space plus their TONE3 pinyin
syllable when the optional ``pypinyin`` package is installed (else they are kept as characters).
This module does not import torch.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_TRANSLATE = str.maketrans({";": ",", "\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'"})
_SEGMENT = re.compile(r"[A-Za-z0-9]+|.", re.DOTALL)


def is_chinese(ch: str) -> bool:
    """The CJK range F5-TTS converts to pinyin (U+3100..U+9FFF)."""
    return "\u3100" <= ch <= "\u9fff"


def _pinyin(ch: str) -> str | None:
    try:
        from pypinyin import Style, lazy_pinyin
    except ImportError:
        return None
    return lazy_pinyin(ch, style=Style.TONE3, tone_sandhi=True)[0]


def text_to_tokens(text: str) -> list[str]:
    """Token strings of ``text`` (see the module docstring)."""
    out: list[str] = []
    for seg in _SEGMENT.findall(text.translate(_TRANSLATE)):
        if len(seg) > 1:  # a letter/digit run
            if out and out[-1] not in " :'\"":
                out.append(" ")
            out.extend(seg)
        elif is_chinese(seg):
            syllable = _pinyin(seg)
            out.extend([" ", syllable] if syllable is not None else [seg])
        else:
            out.append(seg)
    return out


class F5Vocab:
    """Token <-> id map of an F5-TTS ``vocab.txt``.

    ``encode(text)`` -> ids (unknown tokens -> 0, the space); ``len(vocab)`` is the number of
    tokens (the model's text embedding has ``len + 1`` rows).
    """

    def __init__(self, tokens: Sequence[str]) -> None:
        self.tokens = list(tokens)
        if not self.tokens or self.tokens[0] != " ":
            raise ValueError("the first vocabulary entry (id 0) must be the space ' '")
        self._index: dict[str, int] = {}
        for i, tok in enumerate(self.tokens):
            self._index.setdefault(tok, i)

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, text: str) -> list[int]:
        """Ids of :func:`text_to_tokens` ``(text)``; unknown tokens map to 0."""
        return [self._index.get(tok, 0) for tok in text_to_tokens(text)]

    def unknown(self, text: str) -> list[str]:
        """The tokens of ``text`` missing from the vocabulary (mapped to 0 by :meth:`encode`)."""
        return sorted({tok for tok in text_to_tokens(text) if tok not in self._index})

    def to_text(self) -> str:
        """The ``vocab.txt`` content (one token per line)."""
        return "".join(tok + "\n" for tok in self.tokens)
