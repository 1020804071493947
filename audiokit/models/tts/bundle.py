"""An F5-TTS voice-cloning bundle: model + vocabulary + vocoder, and what a user's input needs.

Where the pieces come from (:func:`load_f5_bundle`):

* an **audiokit model folder**: ``config.yaml`` + ``model.safetensors`` (class
  :class:`~audiokit.models.tts.f5tts.F5TTS`) + the vocabulary named by the config's
  ``tokenizer`` entry (default ``vocab.txt``), and the vocoder in its ``vocoder/`` sub-folder;
* an **official checkpoint file** (``model_1250000.safetensors`` or a ``.pt`` training file),
  with ``vocab.txt`` next to it (or given), read by :func:`audiokit.convert.f5tts.load_f5tts`;
  what the shapes cannot tell (v0 vs v1) comes from a model config (default v1 Base);
* a **release name** from :data:`F5_RELEASES` (``f5tts-v1-base``, ``f5tts-base``): the official
  file and ``vocab.txt`` in the cache folder ``$AUDIOKIT_HOME/<name>/`` (default
  ``~/.cache/audiokit/<name>/``, as the codec bundles of :mod:`audiokit.pretrained`), the vocoder
  in its ``vocoder/`` sub-folder; audiokit never downloads, a missing file says where to get it;
* a **vocoder folder** either in the released Vocos layout (``config.yaml`` +
  ``pytorch_model.bin``, e.g. ``charactr/vocos-mel-24khz``) or as an audiokit model folder
  holding a :class:`~audiokit.models.tts.vocoder.VocosVocoder`.

Input checks (each a one-line :class:`~audiokit.errors.AudiokitError` naming its source):
empty text, tokens outside the vocabulary (or, with ``on_unknown="space"``, F5-TTS's own
fallback: read as the space, id 0), an empty reference transcript, a reference clip that is silent (peak below
:data:`SILENCE_DBFS`), shorter than :data:`MIN_REF_SECONDS` or longer than
:data:`MAX_REF_SECONDS`; other rates are resampled and channels averaged.

Long text is cut into chunks at punctuation so that each chunk plus the reference fits the
F5-TTS budget of :data:`CHUNK_BUDGET_SECONDS` (as ``f5_tts.infer``), chunks are synthesized in
turn and joined with a linear cross-fade of :data:`CROSSFADE_SECONDS`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audiokit.errors import AudioError, AudiokitError, CheckpointError

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from audiokit.models.tts.f5tts import F5TTS
    from audiokit.models.tts.f5tts_text import F5Vocab
    from audiokit.models.tts.vocoder import VocosVocoder

F5TTS_CLASS = "audiokit.models.tts.f5tts.F5TTS"
VOCODER_CLASS = "audiokit.models.tts.vocoder.VocosVocoder"
VOCODER_DIR = "vocoder"
VOCAB_NAME = "vocab.txt"
MAX_REF_SECONDS = 30.0
MIN_REF_SECONDS = 0.5
SILENCE_DBFS = -60.0
CHUNK_BUDGET_SECONDS = 22.0
MIN_CHUNK_SECONDS = 5.0
CROSSFADE_SECONDS = 0.15
UNKNOWN_POLICIES = ("error", "space")
VOCOS_SOURCE = "https://huggingface.co/charactr/vocos-mel-24khz (config.yaml + pytorch_model.bin)"
F5_SOURCE = "https://huggingface.co/SWivid/F5-TTS"

#: released F5-TTS checkpoints: name -> (official file, model config in configs/tts, folder on the hub)
F5_RELEASES: dict[str, tuple[str, str, str]] = {
    "f5tts-v1-base": ("model_1250000.safetensors", "f5tts_v1_base.yaml", "F5TTS_v1_Base"),
    "f5tts-base": ("model_1200000.safetensors", "f5tts_base.yaml", "F5TTS_Base"),
}
_SENTENCE_END = re.compile(r"(?<=[.!?;:,\u3002\uff01\uff1f\uff1b\uff1a\uff0c])\s*")


@dataclass
class F5Bundle:
    """A ready-to-use F5-TTS: ``model`` (eval), ``vocab``, ``vocoder`` (eval), ``source`` path."""

    model: F5TTS
    vocab: F5Vocab
    vocoder: VocosVocoder
    source: Path

    @property
    def sample_rate(self) -> int:
        return int(self.model.sample_rate)

    def to(self, device: Any) -> F5Bundle:
        self.model.to(device)
        self.vocoder.to(device)
        return self


# --------------------------------------------------------------------------- loading
def _load_folder_model(folder: Path, vocab: str | os.PathLike | None) -> tuple[F5TTS, F5Vocab]:
    from audiokit.checkpoint import load_pretrained, read_checkpoint_config
    from audiokit.convert.f5tts import read_vocab

    cfg = read_checkpoint_config(folder)
    if cfg["model"].get("class_path") != F5TTS_CLASS:
        raise CheckpointError(f"{folder}: holds a {cfg['model'].get('class_path')}, not an F5-TTS model")
    tokenizer = cfg.get("tokenizer") or VOCAB_NAME
    vocab_path = Path(vocab) if vocab is not None else folder / str(tokenizer)
    words = read_vocab(vocab_path)
    model = load_pretrained(folder)
    if len(words) != model.vocab_size:
        raise CheckpointError(f"{vocab_path}: {len(words)} tokens, but the model in {folder} has a text "
                              f"embedding for {model.vocab_size}")
    return model, words


def _load_official_model(path: Path, vocab: str | os.PathLike | None,
                         config: str | os.PathLike | None) -> tuple[F5TTS, F5Vocab]:
    from audiokit.convert.f5tts import load_f5tts

    vocab_path = Path(vocab) if vocab is not None else path.parent / VOCAB_NAME
    model, words = load_f5tts(path, config=config, vocab=vocab_path)
    assert words is not None
    return model, words


def load_vocoder(folder: str | os.PathLike) -> VocosVocoder:
    """A Vocos vocoder from a released folder or an audiokit model folder (eval mode)."""
    from audiokit.checkpoint import (
        CONFIG_NAME,
        WEIGHTS_NAME,
        load_pretrained,
        read_checkpoint_config,
    )
    from audiokit.models.tts.vocoder import WEIGHTS_NAME as OFFICIAL_WEIGHTS
    from audiokit.models.tts.vocoder import VocosVocoder

    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(f"{folder}: no such vocoder folder (expected {CONFIG_NAME} + {OFFICIAL_WEIGHTS}, "
                              "e.g. the files of charactr/vocos-mel-24khz)")
    if (folder / OFFICIAL_WEIGHTS).is_file():
        return VocosVocoder.from_official(folder)
    if (folder / WEIGHTS_NAME).is_file():
        cfg = read_checkpoint_config(folder)
        if cfg["model"].get("class_path") != VOCODER_CLASS:
            raise CheckpointError(f"{folder}: holds a {cfg['model'].get('class_path')}, not a Vocos vocoder")
        return load_pretrained(folder)
    raise CheckpointError(f"{folder}: no {OFFICIAL_WEIGHTS} (released Vocos layout) or {WEIGHTS_NAME} "
                          "(audiokit layout) in this vocoder folder")


def check_compatible(model: F5TTS, vocoder: VocosVocoder, where: str) -> None:
    """Refuse a vocoder whose mel channels, hop or rate differ from the model's."""
    pairs = (("mel channels", model.mel_dim, vocoder.n_mels), ("hop length", model.hop_length, vocoder.hop_length),
             ("sample rate", model.sample_rate, vocoder.sample_rate))
    for what, ours, theirs in pairs:
        if int(ours) != int(theirs):
            raise CheckpointError(f"{where}: vocoder {what} {theirs} does not match the model's {ours}")


def resolve_release(name: str) -> tuple[Path, Path, Path]:
    """``(official file, model config, vocoder folder)`` of release ``name`` in the cache folder.

    A missing file is a :class:`CheckpointError` naming what to download and where to put it.
    """
    from audiokit.convert.f5tts import CONFIG_DIR
    from audiokit.pretrained import HOME_ENV, cache_dir

    filename, config, hub_folder = F5_RELEASES[name]
    folder = cache_dir(name)
    wanted = [(folder / filename, f"{filename} and {VOCAB_NAME} from {F5_SOURCE} (folder {hub_folder})"),
              (folder / VOCAB_NAME, f"{VOCAB_NAME} from {F5_SOURCE} (folder {hub_folder})"),
              (folder / VOCODER_DIR / "config.yaml", f"the vocoder files of {VOCOS_SOURCE} into {VOCODER_DIR}/")]
    for path, what in wanted:
        if not path.is_file():
            raise CheckpointError(f"model '{name}' is incomplete in {folder} ({path.name} missing) and audiokit "
                                  f"does not download: get {what} and put them in {path.parent} (or set ${HOME_ENV})")
    return folder / filename, CONFIG_DIR / config, folder / VOCODER_DIR


def load_f5_bundle(
    path: str | os.PathLike, *, vocab: str | os.PathLike | None = None,
    vocoder: str | os.PathLike | None = None, config: str | os.PathLike | None = None,
    device: Any = "cpu",
) -> F5Bundle:
    """Load model, vocabulary and vocoder (see the module docstring for the layouts).

    ``vocab`` / ``vocoder`` override the default places; ``config`` is the model config used
    for an official checkpoint file (default: v1 Base; ignored for an audiokit folder). ``path``
    may also be a release name of :data:`F5_RELEASES` (when no such file or folder exists).
    """
    if str(path) in F5_RELEASES and not Path(path).exists():
        path, release_config, release_vocoder = resolve_release(str(path))
        config = release_config if config is None else config
        vocoder = release_vocoder if vocoder is None else vocoder
    path = Path(path)
    if path.is_dir():
        model, words = _load_folder_model(path, vocab)
    elif path.is_file():
        model, words = _load_official_model(path, vocab, config)
    else:
        raise CheckpointError(f"{path}: no such model folder or checkpoint file (or release name: "
                              f"{', '.join(F5_RELEASES)})")
    if vocoder is None:
        vocoder = path / VOCODER_DIR if path.is_dir() else None
        if vocoder is None or not Path(vocoder).is_dir():
            raise CheckpointError(f"{path}: no vocoder: pass --vocoder FOLDER (the charactr/vocos-mel-24khz files "
                                  f"config.yaml + pytorch_model.bin) or put them in the model's {VOCODER_DIR}/ folder")
    voc = load_vocoder(vocoder)
    check_compatible(model, voc, str(vocoder))
    return F5Bundle(model.eval(), words, voc.eval(), path).to(device)


# --------------------------------------------------------------------------- input checks
def _describe(tokens: list[str]) -> str:
    shown = []
    for tok in tokens[:8]:
        codes = " ".join(f"U+{ord(c):04X}" for c in tok)
        shown.append(f"{tok!r} ({codes})")
    more = f" and {len(tokens) - 8} more" if len(tokens) > 8 else ""
    return ", ".join(shown) + more


def check_text(vocab: F5Vocab, text: str, where: str, on_unknown: str = "error") -> str:
    """``text`` stripped; raises :class:`AudiokitError` if empty or, with ``on_unknown="error"``,
    if it has tokens outside ``vocab`` (named with their code points)."""
    if on_unknown not in UNKNOWN_POLICIES:
        raise ValueError(f"on_unknown must be one of {UNKNOWN_POLICIES}, got {on_unknown!r}")
    text = " ".join(text.split())
    if not text:
        raise AudiokitError(f"{where}: empty text")
    unknown = vocab.unknown(text)
    if unknown and on_unknown == "error":
        raise AudiokitError(f"{where}: {len(unknown)} character(s) not in the model vocabulary: {_describe(unknown)} "
                            "(rewrite them, or pass --on-unknown space to read them as a space like F5-TTS does)")
    return text


def load_reference(path: str | os.PathLike, sample_rate: int, *, max_seconds: float = MAX_REF_SECONDS,
                   min_seconds: float = MIN_REF_SECONDS) -> torch.Tensor:
    """The reference clip as mono float ``(L,)`` at ``sample_rate`` (resampled if needed).

    Raises :class:`AudioError` for an unreadable, too short, too long or silent clip.
    """
    import numpy as np
    import torch

    from audiokit.io.audio import audio_info, load_audio

    info = audio_info(path)
    if info.duration > max_seconds:
        raise AudioError(f"{path}: the reference clip is {info.duration:.1f} s long; at most {max_seconds:g} s "
                         "is accepted (F5-TTS works best with 3-12 s of clean speech: cut it)")
    wav, _ = load_audio(path, sr=sample_rate, mono=True)
    if len(wav) < min_seconds * sample_rate:
        raise AudioError(f"{path}: the reference clip is {len(wav) / sample_rate:.2f} s long; "
                         f"at least {min_seconds:g} s of speech is needed")
    peak = float(np.abs(wav).max())
    if peak < 10 ** (SILENCE_DBFS / 20):
        level = "-inf" if peak == 0 else f"{20 * np.log10(peak):.0f}"
        raise AudioError(f"{path}: the reference clip is silent (peak {level} dBFS, below {SILENCE_DBFS:g} dBFS)")
    return torch.from_numpy(np.ascontiguousarray(wav))


# --------------------------------------------------------------------------- long text
def chunk_text(text: str, max_bytes: int) -> list[str]:
    """Greedy split of ``text`` at punctuation into chunks of at most ``max_bytes`` UTF-8 bytes.

    A single sentence longer than ``max_bytes`` becomes a chunk of its own (not cut mid-phrase).
    """
    chunks: list[str] = []
    current = ""
    for piece in (p.strip() for p in _SENTENCE_END.split(text)):
        if not piece:
            continue
        joined = f"{current} {piece}" if current else piece
        if current and len(joined.encode("utf-8")) > max_bytes:
            chunks.append(current)
            current = piece
        else:
            current = joined
    if current:
        chunks.append(current)
    return chunks


def chunk_budget(ref_seconds: float, ref_text: str, speed: float) -> int:
    """Bytes of text per chunk: the reference's bytes-per-second times the time left in the budget."""
    seconds = max(CHUNK_BUDGET_SECONDS - ref_seconds, MIN_CHUNK_SECONDS)
    return max(1, int(len(ref_text.encode("utf-8")) / ref_seconds * seconds * speed))


def crossfade_concat(parts: list[torch.Tensor], overlap: int) -> torch.Tensor:
    """Join waveforms ``(L_i,)`` with a linear cross-fade of up to ``overlap`` samples."""
    import torch

    out = parts[0]
    for nxt in parts[1:]:
        n = min(overlap, len(out), len(nxt))
        if n == 0:
            out = torch.cat((out, nxt))
            continue
        ramp = torch.linspace(0, 1, n, dtype=out.dtype, device=out.device)
        mixed = out[-n:] * (1 - ramp) + nxt[:n] * ramp
        out = torch.cat((out[:-n], mixed, nxt[n:]))
    return out


# --------------------------------------------------------------------------- synthesis
def reference_text(ref_text: str) -> str:
    """The reference transcript as F5-TTS feeds it: whitespace folded, ending in ``". "``."""
    ref_text = " ".join(ref_text.split())
    if not ref_text:
        raise AudiokitError("--ref-text: empty; give the transcript of the reference clip")
    if ref_text.endswith(("\u3002",)):
        return ref_text
    return ref_text + (" " if ref_text.endswith(".") else ". ")


def synthesize(
    bundle: F5Bundle, text: str, ref_wav: torch.Tensor, ref_text: str, *, nfe: int = 32,
    cfg_strength: float = 2.0, sway_coef: float | None = -1.0, speed: float = 1.0, seed: int | None = None,
    progress: Callable[[], None] | None = None,
) -> torch.Tensor:
    """Speak ``text`` (checked) in the voice of ``ref_wav (L,)`` (see :func:`load_reference`).

    ``ref_text`` should come from :func:`reference_text`. Long text is chunked and cross-faded;
    ``progress`` is called once per model evaluation (``nfe`` per chunk). Returns ``(L',)``.
    """
    sr = bundle.sample_rate
    ref_seconds = len(ref_wav) / sr
    chunks = chunk_text(text, chunk_budget(ref_seconds, ref_text, speed))
    hook = None
    if progress is not None:
        hook = bundle.model.transformer.register_forward_hook(lambda *_: progress())
    try:
        dev = next(bundle.model.parameters()).device
        parts = [bundle.model.synthesize(chunk, ref_wav.to(dev), ref_text, vocab=bundle.vocab,
                                         vocoder=bundle.vocoder.decode, nfe=nfe, cfg_strength=cfg_strength,
                                         sway_coef=sway_coef, speed=speed, seed=seed).float().cpu()
                 for chunk in chunks]
    finally:
        if hook is not None:
            hook.remove()
    return crossfade_concat(parts, int(CROSSFADE_SECONDS * sr))


def steps_per_text(bundle: F5Bundle, text: str, ref_seconds: float, ref_text: str, speed: float, nfe: int) -> int:
    """Model evaluations :func:`synthesize` will make (for a progress bar)."""
    return nfe * len(chunk_text(text, chunk_budget(ref_seconds, ref_text, speed)))
