"""Sentences for the synthetic corpus: WordNet usage examples, filtered and split.

Source: the quoted usage examples in the glosses (text after ``|``) of
``/usr/share/wordnet/data.{noun,verb,adj,adv}`` (Debian ``wordnet-base``).

Word filter (stands in for the CMUdict check of the reference prototype, which used
pocketsphinx; it is not installed here). A word is kept when

* it is lower-case ASCII letters, optionally with one apostrophe clitic
  (``'s 't 're 've 'll 'd 'm``), e.g. ``don't``, ``child's``;
* its base (the part before the apostrophe) is an entry of festival's CMU lexicon
  (``/usr/share/festival/dicts/cmu/cmudict-0.4.out``, Debian ``festlex-cmu``, which
  festival itself depends on);
* it has two letters or more, except ``a`` and ``i``.

A sentence is kept when it has ``min_words``..``max_words`` words after stripping
``, . ? ! ; :`` and every word passes. The vocabulary is then limited to the ``N``
most frequent words (ties broken alphabetically) and only sentences made entirely of
those words are kept. Transcripts contain only ``[a-z' ]``, so every engine's text
normaliser speaks exactly the written words.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from pathlib import Path
from typing import Iterable

from audiokit.errors import AudiokitError

WORDNET_DIR = Path("/usr/share/wordnet")
FESTIVAL_LEXICON = Path("/usr/share/festival/dicts/cmu/cmudict-0.4.out")
WORDNET_POS = ("noun", "verb", "adj", "adv")
CLITICS = frozenset({"s", "t", "re", "ve", "ll", "d", "m"})
SPLITS = ("train", "dev", "test")

_QUOTE = re.compile(r'"([^"]*)"')
_PUNCT = re.compile(r"[,.?!;:]")
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
SENTENCE_CHARS = re.compile(r"[a-z' ]+")


def load_lexicon(path: Path = FESTIVAL_LEXICON) -> frozenset[str]:
    """Head words of festival's compiled CMU lexicon (lines ``("word" pos (...))``)."""
    try:
        lines = path.read_text(encoding="latin-1").splitlines()
    except FileNotFoundError:
        raise AudiokitError(
            f"{path}: festival's CMU lexicon is missing; install the Debian package 'festlex-cmu'"
        ) from None
    words = set()
    for line in lines:
        if line.startswith('("'):
            end = line.find('"', 2)
            if end > 2:
                words.add(line[2:end])
    return frozenset(words)


def word_ok(word: str, lexicon: frozenset[str]) -> bool:
    """True when ``word`` passes the module's word filter (see module docstring)."""
    if not _WORD.fullmatch(word):
        return False
    base, _, clitic = word.partition("'")
    if clitic and clitic not in CLITICS:
        return False
    if len(base) < 2 and base not in ("a", "i"):
        return False
    return base in lexicon


def normalise_example(quote: str, lexicon: frozenset[str], min_words: int = 4,
                      max_words: int = 14) -> str | None:
    """Lower-case, strip punctuation and filter one quoted example; None if rejected."""
    words = _PUNCT.sub(" ", quote).lower().split()
    if not min_words <= len(words) <= max_words:
        return None
    if not all(word_ok(w, lexicon) for w in words):
        return None
    return " ".join(words)


def wordnet_quotes(wordnet_dir: Path = WORDNET_DIR) -> Iterable[str]:
    """Yield every quoted usage example of the WordNet data files, in file order."""
    for pos in WORDNET_POS:
        path = wordnet_dir / f"data.{pos}"
        try:
            fh = path.open(encoding="latin-1")
        except FileNotFoundError:
            raise AudiokitError(
                f"{path}: WordNet data is missing; install the Debian package 'wordnet-base'"
            ) from None
        with fh:
            for line in fh:
                if line.startswith(" ") or "|" not in line:
                    continue  # licence header
                yield from _QUOTE.findall(line.split("|", 1)[1])


def wordnet_sentences(lexicon: frozenset[str], min_words: int = 4, max_words: int = 14,
                      wordnet_dir: Path = WORDNET_DIR) -> list[str]:
    """All accepted example sentences, unique and sorted (byte order)."""
    out = set()
    for quote in wordnet_quotes(wordnet_dir):
        sent = normalise_example(quote, lexicon, min_words, max_words)
        if sent is not None:
            out.add(sent)
    return sorted(out)


def limit_vocabulary(sentences: list[str], vocab_size: int) -> tuple[list[str], list[str]]:
    """Keep sentences whose words are all among the ``vocab_size`` most frequent.

    Returns ``(kept_sentences, vocabulary)``; frequency ties are broken alphabetically so
    the result does not depend on input order.
    """
    counts = Counter(w for s in sentences for w in s.split())
    ranked = sorted(counts, key=lambda w: (-counts[w], w))
    vocab = set(ranked[:vocab_size])
    kept = [s for s in sentences if all(w in vocab for w in s.split())]
    return kept, sorted(vocab)


def split_pools(sentences: list[str], seed: int,
                fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)) -> dict[str, list[str]]:
    """Shuffle (seeded) and cut the sentences into disjoint train/dev/test pools."""
    if len(sentences) < 3:
        raise AudiokitError(f"only {len(sentences)} sentences after filtering; need at least 3")
    order = sorted(sentences)
    random.Random(f"pools:{seed}").shuffle(order)
    n = len(order)
    n_dev = max(1, round(n * fractions[1]))
    n_test = max(1, round(n * fractions[2]))
    n_train = n - n_dev - n_test
    return {
        "train": order[:n_train],
        "dev": order[n_train:n_train + n_dev],
        "test": order[n_train + n_dev:],
    }


def pick_sentences(pool: list[str], n: int, rng: random.Random) -> list[str]:
    """``n`` sentences from ``pool``: without repetition while the pool lasts, then again."""
    out: list[str] = []
    while len(out) < n:
        batch = list(pool)
        rng.shuffle(batch)
        out.extend(batch[: n - len(out)])
    return out
