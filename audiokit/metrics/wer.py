"""Word and character error rates (jiwer), per-speaker tables, and a pocketsphinx peer decoder.

* :func:`normalize_for_wer`: the text normalisation applied to references and hypotheses
  before counting (lower case, punctuation other than in-word apostrophes removed, spaces
  collapsed), so systems with different output conventions are compared alike.
* :func:`error_counts`: substitutions, deletions, insertions and reference length of
  utterance pairs, by words or characters; :class:`ErrorCounts` adds and gives the rate.
* :func:`score_by_speaker`: overall and per-speaker counts of ``{utt: text}`` tables;
  :func:`speaker_table`: the markdown table.
* :class:`PocketSphinx`: CMU PocketSphinx (PyPI ``pocketsphinx``, which ships a US English
  acoustic model, dictionary and language model) as a reference recogniser on the same audio.

Importing this module is light (no torch, jiwer and pocketsphinx are imported when used).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from audiokit.errors import AudiokitError

_DROP = re.compile(r"[^\w\s']|_")
_QUOTE = re.compile(r"(?<!\w)'|'(?!\w)")


def normalize_for_wer(text: str) -> str:
    """Lower case, punctuation removed (apostrophes inside words kept), single spaces.

    ``"Hello, World!  it's 'quoted'"`` -> ``"hello world it's quoted"``.
    """
    text = _DROP.sub(" ", text.lower().replace("\u2019", "'"))
    text = _QUOTE.sub(" ", text)
    return " ".join(text.split())


@dataclass
class ErrorCounts:
    """Edit-distance counts against references of ``ref`` tokens (words or characters)."""

    sub: int = 0
    dele: int = 0
    ins: int = 0
    ref: int = 0
    utts: int = 0

    @property
    def errors(self) -> int:
        return self.sub + self.dele + self.ins

    @property
    def rate(self) -> float:
        """errors / reference tokens (``nan`` with no reference tokens)."""
        return self.errors / self.ref if self.ref else float("nan")

    def __add__(self, other: ErrorCounts) -> ErrorCounts:
        return ErrorCounts(self.sub + other.sub, self.dele + other.dele, self.ins + other.ins,
                           self.ref + other.ref, self.utts + other.utts)

    def as_dict(self) -> dict[str, Any]:
        return {"sub": self.sub, "del": self.dele, "ins": self.ins, "ref": self.ref,
                "utts": self.utts, "rate": self.rate}


def _pair_counts(ref: str, hyp: str, unit: str) -> ErrorCounts:
    import jiwer

    ref_units = ref.split() if unit == "word" else list(ref)
    if not ref_units:  # jiwer refuses empty references: everything is an insertion
        hyp_units = hyp.split() if unit == "word" else list(hyp)
        return ErrorCounts(ins=len(hyp_units), utts=1)
    hyp = hyp if hyp.strip() else ""
    out = jiwer.process_words(ref, hyp) if unit == "word" else jiwer.process_characters(ref, hyp)
    return ErrorCounts(out.substitutions, out.deletions, out.insertions, len(ref_units), 1)


def error_counts(refs: Sequence[str], hyps: Sequence[str], unit: str = "word",
                 normalize: bool = True) -> ErrorCounts:
    """Summed counts over utterance pairs; ``unit`` is ``"word"`` (WER) or ``"char"`` (CER).

    Character counts run on the normalised text with single spaces (spaces count as
    characters, as in ESPnet's CER).
    """
    if unit not in ("word", "char"):
        raise ValueError(f"unit must be 'word' or 'char', got {unit!r}")
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")
    total = ErrorCounts()
    for ref, hyp in zip(refs, hyps):
        if normalize:
            ref, hyp = normalize_for_wer(ref), normalize_for_wer(hyp)
        total = total + _pair_counts(ref, hyp, unit)
    return total


def wer(refs: Sequence[str], hyps: Sequence[str]) -> float:
    """Word error rate of utterance pairs (normalised text)."""
    return error_counts(refs, hyps, "word").rate


def cer(refs: Sequence[str], hyps: Sequence[str]) -> float:
    """Character error rate of utterance pairs (normalised text)."""
    return error_counts(refs, hyps, "char").rate


@dataclass
class SpeakerScores:
    """Word and character counts, overall and per speaker, plus utterances with no hypothesis."""

    words: ErrorCounts
    chars: ErrorCounts
    speakers: dict[str, tuple[ErrorCounts, ErrorCounts]]
    missing: list[str]


def score_by_speaker(refs: Mapping[str, str], hyps: Mapping[str, str],
                     utt2spk: Mapping[str, str] | None = None) -> SpeakerScores:
    """Score ``hyps`` against ``refs`` (both ``{utt: text}``) over the utterances of ``refs``.

    An utterance without a hypothesis counts as an empty hypothesis (all deletions) and
    is listed in ``missing``; hypotheses of unknown utterances raise ValueError. Speakers
    come from ``utt2spk`` (an utterance not in it is its own speaker ``"?"``).
    """
    extra = sorted(set(hyps) - set(refs))
    if extra:
        raise ValueError(f"{len(extra)} hypotheses for utterances without a reference, e.g. {extra[0]!r}")
    utt2spk = utt2spk or {}
    words, chars = ErrorCounts(), ErrorCounts()
    speakers: dict[str, tuple[ErrorCounts, ErrorCounts]] = {}
    missing = []
    for utt in sorted(refs):
        if utt not in hyps:
            missing.append(utt)
        ref, hyp = normalize_for_wer(refs[utt]), normalize_for_wer(hyps.get(utt, ""))
        w, c = _pair_counts(ref, hyp, "word"), _pair_counts(ref, hyp, "char")
        words, chars = words + w, chars + c
        spk = utt2spk.get(utt, "?")
        sw, sc = speakers.get(spk, (ErrorCounts(), ErrorCounts()))
        speakers[spk] = (sw + w, sc + c)
    return SpeakerScores(words, chars, dict(sorted(speakers.items())), missing)


def _pct(value: float) -> str:
    return "–" if math.isnan(value) else f"{100 * value:.2f}"


def speaker_table(systems: Mapping[str, SpeakerScores]) -> str:
    """Markdown: one row per speaker (and ``all``), one WER column per system (%).

    Cells read ``WER (errors/words)``; the last row is the total over all speakers.
    """
    names = list(systems)
    speakers = sorted({spk for s in systems.values() for spk in s.speakers})
    head = "| speaker | utts | words | " + " | ".join(f"{n} WER %" for n in names) + " |"
    lines = [head, "|---|---:|---:|" + "---:|" * len(names)]

    def cell(c: ErrorCounts) -> str:
        return f"{_pct(c.rate)} ({c.errors}/{c.ref})"

    for spk in speakers:
        first = next(s.speakers[spk][0] for s in systems.values() if spk in s.speakers)
        cells = [cell(s.speakers[spk][0]) if spk in s.speakers else "–" for s in systems.values()]
        lines.append(f"| {spk} | {first.utts} | {first.ref} | " + " | ".join(cells) + " |")
    first = next(iter(systems.values())).words if systems else ErrorCounts()
    cells = [cell(s.words) for s in systems.values()]
    lines.append(f"| **all** | {first.utts} | {first.ref} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- pocketsphinx
class PocketSphinx:
    """CMU PocketSphinx with its bundled US English model: 16 kHz mono audio -> lower-case text.

    Args:
        model_dir: an acoustic model folder + ``dict``/``lm`` (default: the ``en-us`` model
            shipped in the ``pocketsphinx`` wheel).
        options: extra decoder options (``beam``, ``lw``, ...; see pocketsphinx's docs).
    """

    sample_rate = 16000

    def __init__(self, model_dir: str | Path | None = None, **options: Any) -> None:
        ps = _import_pocketsphinx()
        config: dict[str, Any] = {"samprate": self.sample_rate, "loglevel": "FATAL"}
        if model_dir is not None:
            model_dir = Path(model_dir)
            config.update(hmm=str(model_dir), dict=str(model_dir / "cmudict-en-us.dict"),
                          lm=str(model_dir / "en-us.lm.bin"))
        config.update(options)
        try:
            self.decoder = ps.Decoder(**config)
        except (RuntimeError, ValueError) as err:
            raise AudiokitError(f"pocketsphinx: cannot start the decoder ({err})") from None

    @staticmethod
    def version() -> str:
        """The installed pocketsphinx package version."""
        from importlib.metadata import version

        _import_pocketsphinx()
        return version("pocketsphinx")

    def transcribe(self, wav: np.ndarray) -> str:
        """Text of one utterance ``(T,)`` float in [-1, 1] at 16 kHz (lower case)."""
        pcm = np.clip(np.asarray(wav, dtype=np.float32), -1.0, 1.0)
        pcm = np.round(pcm * 32767.0).astype("<i2")
        self.decoder.start_utt()
        self.decoder.process_raw(pcm.tobytes(), full_utt=True)
        self.decoder.end_utt()
        hyp = self.decoder.hyp()
        return normalize_for_wer(hyp.hypstr) if hyp is not None else ""

    def transcribe_file(self, path: str | Path) -> str:
        """Text of an audio file (read with audiokit, mixed to mono, resampled to 16 kHz)."""
        from audiokit.io.audio import load_audio

        wav, _ = load_audio(path, sr=self.sample_rate)
        return self.transcribe(wav)


def _import_pocketsphinx() -> Any:
    try:
        import pocketsphinx
    except ImportError:
        raise AudiokitError("the pocketsphinx package is not installed (pip install pocketsphinx), "
                            "or set the recipe's peer: none") from None
    return pocketsphinx


_WORKER: PocketSphinx | None = None


def _worker_init() -> None:
    global _WORKER
    _WORKER = PocketSphinx()


def _worker_item(item: Any) -> str:
    assert _WORKER is not None
    return _WORKER.transcribe_file(item) if isinstance(item, (str, Path)) else _WORKER.transcribe(item)


def pocketsphinx_transcribe(items: Sequence[Any], jobs: int = 1) -> list[str]:
    """Transcribe audio files (paths) or 16-kHz waveforms ``(T,)`` with :class:`PocketSphinx`,
    in ``jobs`` worker processes; results in input order."""
    if jobs <= 1 or len(items) <= 1:
        ps = PocketSphinx()
        return [ps.transcribe_file(x) if isinstance(x, (str, Path)) else ps.transcribe(x) for x in items]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    _import_pocketsphinx()
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_worker_init) as pool:
        return list(pool.map(_worker_item, list(items), chunksize=4))
