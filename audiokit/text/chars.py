"""Character tokenizer: one token per character (space included), optional ``<unk>``.

Layout of the ids: the characters in the order given (``train`` sorts them by code
point, so the space comes first), then ``<unk>`` as the last real token when enabled;
the blank is ``vocab_size`` (see :mod:`audiokit.text.tokenizer`). Saved as
``tokenizer.json``::

    {"type": "chars", "version": 1, "tokens": [" ", "a", ...], "unk": true,
     "lowercase": false}
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from audiokit.text.tokenizer import (
    UNK,
    Tokenizer,
    TokenizerError,
    check_on_unknown,
    describe_chars,
    normalize_text,
    read_transcripts,
    unknown_chars_error,
)


class CharTokenizer(Tokenizer):
    """Characters to ids.

    Args:
        chars: the vocabulary, single characters, no duplicates; whitespace other
            than the space is not allowed (text is whitespace-normalised).
        unk: add ``<unk>`` as the last token.
        on_unknown: ``"error"`` (default) raises naming the unknown characters;
            ``"unk"`` maps them to ``<unk>`` (requires ``unk=True``).
        lowercase: lower-case text before encoding.
    """

    kind = "chars"
    label = "character"

    def __init__(
        self,
        chars: Sequence[str],
        unk: bool = False,
        on_unknown: str = "error",
        lowercase: bool = False,
    ) -> None:
        chars = list(chars)
        for ch in chars:
            if not isinstance(ch, str) or len(ch) != 1:
                raise TokenizerError(f"character tokens must be single characters, got {ch!r}")
            if ch.isspace() and ch != " ":
                raise TokenizerError(f"whitespace token {ch!r} is not allowed (only ' ')")
        dups = sorted({c for c in chars if chars.count(c) > 1})
        if dups:
            raise TokenizerError(f"duplicate characters in vocabulary: {describe_chars(dups)}")
        if not chars:
            raise TokenizerError("empty character vocabulary")
        self.on_unknown = check_on_unknown(on_unknown)
        if on_unknown == "unk" and not unk:
            raise TokenizerError("on_unknown='unk' needs a vocabulary with <unk> (unk=True)")
        self.chars = chars
        self.has_unk = unk
        self.lowercase = lowercase
        self._index = {c: i for i, c in enumerate(chars)}

    # -- construction -------------------------------------------------------
    @classmethod
    def train(
        cls,
        text_file: str | os.PathLike,
        unk: bool = False,
        on_unknown: str = "error",
        lowercase: bool = False,
    ) -> CharTokenizer:
        """Collect the characters of a Kaldi ``text`` file (sorted by code point)."""
        seen: set[str] = set()
        for _, _, text in read_transcripts(text_file):
            seen.update(text.lower() if lowercase else text)
        if not seen:
            raise TokenizerError(f"{text_file}: no transcripts to build a vocabulary from")
        return cls(sorted(seen), unk=unk, on_unknown=on_unknown, lowercase=lowercase)

    # -- Tokenizer API ------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return len(self.chars) + (1 if self.has_unk else 0)

    @property
    def unk_id(self) -> int | None:
        return len(self.chars) if self.has_unk else None

    def id_to_token(self, idx: int) -> str:
        (idx,) = self.check_ids([idx])
        return UNK if idx == len(self.chars) else self.chars[idx]

    def encode(self, text: str) -> list[int]:
        text = normalize_text(text.lower() if self.lowercase else text)
        ids = [self._index.get(ch, -1) for ch in text]
        if -1 in ids:
            missing = [ch for ch, i in zip(text, ids) if i < 0]
            if self.on_unknown == "error":
                raise unknown_chars_error(missing)
            ids = [i if i >= 0 else len(self.chars) for i in ids]
        return ids

    def decode(self, ids: Iterable[int]) -> str:
        n = len(self.chars)
        return "".join(UNK if i == n else self.chars[i] for i in self.check_ids(ids))

    # -- files --------------------------------------------------------------
    def save(self, directory: str | os.PathLike, force: bool = False) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.write_own_meta(directory, force, tokens=self.chars, unk=self.has_unk, on_unknown=self.on_unknown,
                            lowercase=self.lowercase)

    @classmethod
    def load(cls, directory: str | os.PathLike) -> CharTokenizer:
        directory = Path(directory)
        meta = cls.read_own_meta(directory)
        where = directory / "tokenizer.json"
        tokens = meta.get("tokens")
        if not isinstance(tokens, list):
            raise TokenizerError(f"{where}: 'tokens' must be a list of characters")
        try:
            return cls(
                tokens,
                unk=bool(meta.get("unk", False)),
                on_unknown=str(meta.get("on_unknown", "error")),
                lowercase=bool(meta.get("lowercase", False)),
            )
        except TokenizerError as err:
            raise TokenizerError(f"{where}: {err}") from None
