"""The cache-aware streaming FastConformer ASR model (CTC, RNN-T or hybrid), :class:`StreamingASR`.

Parts (NeMo ``EncDecHybridRNNTCTCBPEModel`` names, so released weights load by name):
``encoder`` (:class:`~audiokit.models.asr.fastconformer.FastConformerEncoder`, front-end
included), ``decoder`` + ``joint`` (RNN-T, :mod:`audiokit.models.asr.heads`) and
``ctc_decoder`` (CTC). ``decoder_type`` picks which exist: ``"rnnt"``, ``"ctc"`` or
``"hybrid"`` (both; NeMo's released streaming models). Classes: ``vocab_size`` tokens plus
the blank, which is last (``blank_id == vocab_size``).

Use::

    model.set_tokenizer(load_tokenizer(folder))          # ids <-> text (models hold no files)
    texts = model.transcribe([wav1, wav2])                # (T,) float arrays at model.sample_rate
    state = model.init_state(batch=2)                     # streaming, default latency
    partial, state = model.step(chunk, state)             # chunk (B, t) raw audio, any t
    final, state = model.step(last_chunk, state, final=True)

Streaming is exact: the encoder frames it produces equal :meth:`StreamingASR.encode` under
the same ``att_context_size``, and greedy search carries its state across chunks, so the
streamed hypotheses equal the offline ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from audiokit.decoding import CTCGreedyStream, RNNTGreedyState, ctc_greedy, rnnt_greedy
from audiokit.errors import AudioError, ConfigError
from audiokit.models.asr.fastconformer import EncoderStream, FastConformerEncoder
from audiokit.models.asr.heads import CTCHead, RNNTDecoder, RNNTJoint

DECODER_TYPES = ("rnnt", "ctc", "hybrid")


@dataclass
class ASRStreamState:
    """Streaming state: the encoder's (front-end, caches) and the carried greedy-search state."""

    encoder: EncoderStream
    decoder: str
    search: CTCGreedyStream | RNNTGreedyState | None

    @property
    def tokens(self) -> list[list[int]]:
        """Token ids decoded so far, per stream."""
        if self.search is None:
            return [[] for _ in self.encoder.pending]
        return [list(t) for t in self.search.tokens]

    @property
    def finished(self) -> bool:
        return self.encoder.finished


class StreamingASR(nn.Module):
    """FastConformer encoder with CTC and/or RNN-T heads (see the module docstring).

    Args:
        vocab_size: real tokens (blank excluded).
        encoder: :class:`FastConformerEncoder` arguments (``d_model``, ``n_layers``, ...).
        decoder_type: ``"hybrid"``, ``"rnnt"`` or ``"ctc"``.
        pred_hidden, pred_rnn_layers, pred_dropout: RNN-T prediction net.
        joint_hidden, joint_dropout, joint_activation: RNN-T joint.
        max_symbols: most RNN-T tokens per encoder frame in greedy search.
    """

    state_batch_dim = RNNTDecoder.state_batch_dim

    def __init__(self, vocab_size: int, encoder: Mapping[str, Any], decoder_type: str = "hybrid",
                 pred_hidden: int = 640, pred_rnn_layers: int = 1, pred_dropout: float = 0.2,
                 joint_hidden: int = 640, joint_dropout: float = 0.2, joint_activation: str = "relu",
                 max_symbols: int = 10) -> None:
        super().__init__()
        if decoder_type not in DECODER_TYPES:
            raise ConfigError(f"decoder_type {decoder_type!r}: expected one of {DECODER_TYPES}")
        if int(vocab_size) < 1:
            raise ConfigError(f"vocab_size must be positive, got {vocab_size}")
        self.init_args = {
            "vocab_size": int(vocab_size), "encoder": dict(encoder), "decoder_type": decoder_type,
            "pred_hidden": pred_hidden, "pred_rnn_layers": pred_rnn_layers, "pred_dropout": pred_dropout,
            "joint_hidden": joint_hidden, "joint_dropout": joint_dropout, "joint_activation": joint_activation,
            "max_symbols": max_symbols,
        }
        self.vocab_size, self.decoder_type, self.max_symbols = int(vocab_size), decoder_type, int(max_symbols)
        self.encoder = _build_encoder(encoder)
        d_model, classes = self.encoder.d_model, self.num_classes
        self.decoder: RNNTDecoder | None = None
        self.joint: RNNTJoint | None = None
        self.ctc_decoder: CTCHead | None = None
        if decoder_type in ("rnnt", "hybrid"):
            self.decoder = RNNTDecoder(classes, pred_hidden, pred_rnn_layers, pred_dropout)
            self.joint = RNNTJoint(d_model, pred_hidden, joint_hidden, classes, joint_dropout, joint_activation)
        if decoder_type in ("ctc", "hybrid"):
            self.ctc_decoder = CTCHead(d_model, classes)
        self.tokenizer: Any = None

    # ------------------------------------------------------------------ properties
    @property
    def num_classes(self) -> int:
        return self.vocab_size + 1

    @property
    def blank_id(self) -> int:
        return self.vocab_size

    @property
    def sample_rate(self) -> int:
        return self.encoder.sample_rate

    @property
    def decoders(self) -> list[str]:
        """The searches this model supports, default first (RNN-T when present)."""
        return [d for d in ("rnnt", "ctc") if (self.joint if d == "rnnt" else self.ctc_decoder) is not None]

    def set_tokenizer(self, tokenizer: Any) -> None:
        """Attach the tokenizer used to turn ids into text (its vocabulary must match)."""
        if tokenizer is not None and tokenizer.vocab_size != self.vocab_size:
            raise ConfigError(f"tokenizer has {tokenizer.vocab_size} tokens but the model {self.vocab_size}")
        self.tokenizer = tokenizer

    def _decoder(self, decoder: str | None) -> str:
        name = decoder or self.decoders[0]
        if name not in self.decoders:
            raise ConfigError(f"decoder {name!r}: this {self.decoder_type} model has {self.decoders}")
        return name

    # ------------------------------------------------------------------ transducer protocol
    def predict(self, tokens: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        """RNN-T prediction net (:class:`audiokit.decoding.Transducer`; ``self.joint(f, g)``,
        the joint module, is the protocol's other half)."""
        return self.decoder.predict(tokens, state)

    # ------------------------------------------------------------------ offline
    def encode(self, wav: torch.Tensor, wav_lens: torch.Tensor,
               att_context_size: Sequence[int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``wav (B, T)``, ``wav_lens (B,)`` -> ``(B, T', D)``, ``(B,)``."""
        return self.encoder.encode(wav, wav_lens, att_context_size)

    def forward(self, wav: torch.Tensor, wav_lens: torch.Tensor,
                att_context_size: Sequence[int] | None = None) -> dict[str, torch.Tensor]:
        """Encoder output and CTC log-probs: ``{"enc", "enc_lens"[, "ctc_log_probs"]}``."""
        enc, enc_lens = self.encode(wav, wav_lens, att_context_size)
        out = {"enc": enc, "enc_lens": enc_lens}
        if self.ctc_decoder is not None:
            out["ctc_log_probs"] = self.ctc_decoder(enc)
        return out

    def greedy(self, enc: torch.Tensor, enc_lens: torch.Tensor, decoder: str | None = None) -> list[list[int]]:
        """Greedy token ids of encoder outputs ``(B, T', D)`` with the chosen head."""
        if self._decoder(decoder) == "ctc":
            return ctc_greedy(self.ctc_decoder(enc), enc_lens, blank=self.blank_id)
        return rnnt_greedy(self, enc, enc_lens, blank=self.blank_id, max_symbols=self.max_symbols).tokens

    @torch.no_grad()
    def transcribe_ids(self, wavs: Sequence[Any], decoder: str | None = None,
                       att_context_size: Sequence[int] | None = None, batch_size: int = 16) -> list[list[int]]:
        """Greedy token ids of each waveform (``(T,)`` at :attr:`sample_rate`), in batches."""
        audio = [_as_wave(w, i) for i, w in enumerate(wavs)]
        out: list[list[int]] = []
        device = next(self.parameters()).device
        for start in range(0, len(audio), max(1, int(batch_size))):
            part = audio[start:start + batch_size]
            lens = torch.tensor([len(w) for w in part], device=device)
            batch = torch.zeros(len(part), int(lens.max()), device=device)
            for b, w in enumerate(part):
                batch[b, : len(w)] = w.to(device)
            enc, enc_lens = self.encode(batch, lens, att_context_size)
            out += self.greedy(enc, enc_lens, decoder)
        return out

    def transcribe(self, wavs: Sequence[Any], decoder: str | None = None,
                   att_context_size: Sequence[int] | None = None, batch_size: int = 16) -> list[str]:
        """Text of each waveform (needs :meth:`set_tokenizer`)."""
        return self._texts(self.transcribe_ids(wavs, decoder, att_context_size, batch_size))

    def _texts(self, ids: list[list[int]]) -> list[str]:
        if self.tokenizer is None:
            raise ConfigError("the model has no tokenizer: call set_tokenizer() (load_tokenizer(folder))")
        return self.tokenizer.decode_batch(ids)

    # ------------------------------------------------------------------ streaming
    def init_state(self, batch: int = 1, decoder: str | None = None,
                   att_context_size: Sequence[int] | None = None) -> ASRStreamState:
        """Streaming state for ``batch`` streams (default look-ahead and search)."""
        return ASRStreamState(self.encoder.init_stream(batch, att_context_size), self._decoder(decoder), None)

    @torch.no_grad()
    def step_ids(self, chunk: torch.Tensor, state: ASRStreamState, lengths: Sequence[int] | None = None,
                 final: bool | Sequence[bool] = False) -> tuple[list[list[int]], ASRStreamState]:
        """Feed raw audio ``chunk (B, t)`` (``lengths[b]`` valid samples); returns the
        partial token ids of every stream and the state. ``final`` ends streams (flushes them)."""
        frames, state.encoder = self.encoder.stream(chunk, state.encoder, lengths, final)
        n = [f.shape[0] for f in frames]
        if max(n) > 0:
            enc = frames[0].new_zeros(len(frames), max(n), self.encoder.d_model)
            for b, f in enumerate(frames):
                enc[b, : n[b]] = f
            if state.decoder == "ctc":
                if state.search is None:
                    state.search = CTCGreedyStream(len(frames), blank=self.blank_id)
                state.search.step(self.ctc_decoder(enc), n)
            else:
                state.search = rnnt_greedy(self, enc, n, blank=self.blank_id, max_symbols=self.max_symbols,
                                           state=state.search)
        return state.tokens, state

    def step(self, chunk: torch.Tensor, state: ASRStreamState, lengths: Sequence[int] | None = None,
             final: bool | Sequence[bool] = False) -> tuple[list[str], ASRStreamState]:
        """:meth:`step_ids` with text (needs :meth:`set_tokenizer`)."""
        ids, state = self.step_ids(chunk, state, lengths, final)
        return self._texts(ids), state


def _build_encoder(args: Mapping[str, Any]) -> FastConformerEncoder:
    if not isinstance(args, Mapping):
        raise ConfigError(f"encoder: expected a mapping of FastConformerEncoder arguments, got {args!r}")
    try:
        return FastConformerEncoder(**args)
    except TypeError as err:
        raise ConfigError(f"encoder: {err}") from None
    except ValueError as err:
        raise ConfigError(f"encoder: {err}") from None


def _as_wave(w: Any, i: int) -> torch.Tensor:
    """A ``(T,)`` float tensor from a tensor or array; multi-channel or empty audio is refused."""
    t = torch.from_numpy(np.asarray(w)) if not torch.is_tensor(w) else w
    if t.dim() == 2 and t.shape[0] == 1:
        t = t[0]
    if t.dim() != 1:
        raise AudioError(f"input {i}: expected mono audio (T,), got shape {tuple(t.shape)}")
    if t.numel() == 0:
        raise AudioError(f"input {i}: empty audio")
    return t.float()
