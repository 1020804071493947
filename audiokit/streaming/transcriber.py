"""Loading a streaming ASR model for the CLI, and whole-file transcription with timestamps.

* :func:`load_asr` — ``audiokit.pretrained.load`` + the tokenizer of the model folder +
  the look-ahead (``--lookahead MS``) selected among the model's attention contexts.
* :func:`transcribe_batch` — offline, batched: encoder over padded waveforms, then the
  model's greedy search, keeping each token's encoder frame.
* :func:`transcribe_source` — the streaming path over a :class:`FileSource` (bounded memory
  for hour-long files; by the model's exact-streaming guarantee, the same result as offline).
* :func:`timestamps` — per-token and per-word times from the frames.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from audiokit.errors import AudiokitError, CheckpointError


@dataclass
class Hypothesis:
    """Text, token ids and (when the search reports them) each token's encoder frame."""

    text: str
    tokens: list[int]
    frames: list[int] | None = None


# ----------------------------------------------------------------------------- loading
def _attach_tokenizer(model: Any, spec: str) -> None:
    if getattr(model, "tokenizer", "n/a") is not None:
        return
    folder = Path(spec)
    if not folder.is_dir():
        raise CheckpointError(f"{spec}: the model has no tokenizer (use an audiokit model folder "
                              "that holds its tokenizer files)")
    from audiokit.text.tokenizer import load_tokenizer

    try:
        tok = load_tokenizer(folder)
    except AudiokitError as err:
        raise CheckpointError(f"{folder}: cannot load the model's tokenizer ({err.one_line()})") from None
    model.set_tokenizer(tok)


def lookahead_choices(model: Any) -> dict[int, list[int]]:
    """``{lookahead_ms: [left, right]}`` of the attention contexts the model was built with."""
    enc = getattr(model, "encoder", None)
    sizes = getattr(enc, "att_context_sizes", None)
    if not sizes:
        return {}
    frame_ms = 1000.0 * enc.frame_shift / model.sample_rate
    return {round(int(ctx[1]) * frame_ms): list(ctx) for ctx in sizes}


def select_lookahead(model: Any, ms: float | None) -> None:
    """Make the context with ``ms`` of look-ahead the model's default (None: keep it)."""
    if ms is None:
        return
    choices = lookahead_choices(model)
    if not choices:
        raise AudiokitError("--lookahead: this model has a single, fixed look-ahead")
    key = min(choices, key=lambda k: abs(k - ms))
    if abs(key - ms) > 0.5:
        raise AudiokitError(f"--lookahead {ms:g}: not a look-ahead of this model "
                            f"(choose {', '.join(str(k) for k in sorted(choices))} ms)")
    model.encoder.set_default_att_context_size(choices[key])


def load_asr(spec: str, *, device: str = "cpu", lookahead_ms: float | None = None) -> Any:
    """The streaming ASR model named by ``--model`` (folder, official file or bundle name)."""
    from audiokit.pretrained import load

    model = load(spec, device=device)
    missing = [m for m in ("transcribe", "init_state", "step") if not callable(getattr(model, m, None))]
    if missing or not hasattr(model, "sample_rate"):
        raise CheckpointError(f"{spec}: not a streaming speech recognition model "
                              f"(it holds a {type(model).__name__})")
    _attach_tokenizer(model, spec)
    select_lookahead(model, lookahead_ms)
    return model.eval()


# ----------------------------------------------------------------------------- offline
def _has_frames(model: Any) -> bool:
    return all(hasattr(model, a) for a in ("encode", "decoders", "blank_id", "tokenizer"))


def _search_with_frames(model: Any, enc: Any, lens: Any) -> tuple[list[list[int]], list[list[int]]]:
    from audiokit.decoding import CTCGreedyStream, rnnt_greedy

    if model.decoders[0] == "ctc":
        search = CTCGreedyStream(enc.shape[0], blank=model.blank_id)
        search.step(model.ctc_decoder(enc), lens.tolist())
    else:
        search = rnnt_greedy(model, enc, lens, blank=model.blank_id, max_symbols=model.max_symbols)
    return search.tokens, search.frames


def transcribe_batch(model: Any, wavs: Sequence[np.ndarray]) -> list[Hypothesis]:
    """Offline hypotheses of ``wavs`` (``(T,)`` float32 at the model rate), one forward pass."""
    import torch

    if not _has_frames(model):
        return [Hypothesis(t, []) for t in model.transcribe(list(wavs))]
    device = next(model.parameters()).device
    lens = torch.tensor([len(w) for w in wavs], device=device)
    batch = torch.zeros(len(wavs), int(lens.max()), device=device)
    for b, w in enumerate(wavs):
        batch[b, : len(w)] = torch.from_numpy(np.asarray(w, dtype=np.float32))
    with torch.inference_mode():
        enc, enc_lens = model.encode(batch, lens)
        tokens, frames = _search_with_frames(model, enc, enc_lens)
    texts = model.tokenizer.decode_batch(tokens)
    return [Hypothesis(t, list(k), list(f)) for t, k, f in zip(texts, tokens, frames)]


def transcribe_source(model: Any, chunks: Iterable[np.ndarray]) -> Hypothesis:
    """Hypothesis of a chunk stream through the model's streaming path (bounded memory)."""
    import torch

    state = model.init_state(1)
    text = ""
    with torch.inference_mode():
        for chunk in chunks:
            x = torch.from_numpy(np.ascontiguousarray(chunk, dtype=np.float32))[None]
            _, state = model.step(x, state)
        texts, state = model.step(torch.zeros(1, 0), state, final=True)
        text = texts[0]
    search = getattr(state, "search", None)
    tokens = list(search.tokens[0]) if search is not None else []
    frames = list(search.frames[0]) if search is not None and hasattr(search, "frames") else None
    return Hypothesis(text, tokens, frames)


# ----------------------------------------------------------------------------- timestamps
def frame_seconds(model: Any) -> float | None:
    """Seconds per encoder output frame, when the model says."""
    shift = getattr(getattr(model, "encoder", None), "frame_shift", None)
    return None if shift is None else float(shift) / float(model.sample_rate)


def timestamps(model: Any, hyp: Hypothesis) -> dict[str, list[dict]] | None:
    """``{"tokens": [{token, start}], "words": [{word, start, end}]}`` in seconds, or None.

    A token starts at its frame; a word spans its first token's start to the end of its
    last token's frame. Word starts: SentencePiece ``▁`` pieces; separators: the space token.
    """
    step = frame_seconds(model)
    tok = getattr(model, "tokenizer", None)
    if step is None or hyp.frames is None or tok is None or len(hyp.frames) != len(hyp.tokens):
        return None
    tokens, words, current = [], [], []

    def close() -> None:
        if current:
            word = tok.decode([i for i, _ in current]).strip()
            if word:
                words.append({"word": word, "start": round(current[0][1] * step, 3),
                              "end": round((current[-1][1] + 1) * step, 3)})
            current.clear()

    for i, f in zip(hyp.tokens, hyp.frames):
        piece = tok.id_to_token(i)
        tokens.append({"token": piece, "start": round(f * step, 3)})
        if piece.isspace():
            close()
            continue
        if piece.startswith("\u2581"):
            close()
        current.append((i, f))
    close()
    return {"tokens": tokens, "words": words}
