"""Cache-aware FastConformer encoder: waveform -> log-mel -> dw-striding subsampling -> Conformer.

:class:`FastConformerEncoder` is a :class:`~audiokit.nn.conformer.ConformerEncoder` (so its
tensors keep NeMo's names ``pre_encode.*`` and ``layers.*``) that also owns its front-end
(``preprocessor``, a :class:`~audiokit.features.MelFrontend` with non-persistent buffers) and
the multi-latency setting:

* ``att_context_size`` is one ``[left, right]`` or a list of them (NeMo multi-lookahead);
  :attr:`FastConformerEncoder.att_context_size` is the one used by default at inference
  (the first, changeable with :meth:`~FastConformerEncoder.set_default_att_context_size`);
  training draws one per batch (:meth:`~FastConformerEncoder.sample_att_context_size`,
  ``att_context_probs``, uniform by default).
* Feature lengths follow NeMo: ``floor(samples / hop)`` valid frames (the centred STFT's
  last frame is masked), padded frames are 0, and the signal is zeroed past each item's
  end after pre-emphasis, so a padded batch gives each item's own features.

Streaming (:meth:`~FastConformerEncoder.init_stream`, :meth:`~FastConformerEncoder.stream`):
raw audio chunks of any size go through one exact
:class:`~audiokit.features.StreamingFrontend` per stream; whenever every live stream has a
whole attention chunk of frames (``1 + 8R`` first, then ``8(R + 1)``) or has ended, the
encoder advances one cached step. Concatenated outputs equal :meth:`encode` under the same
``att_context_size``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from audiokit.errors import ConfigError
from audiokit.features import MelFrontend, StreamingFrontend
from audiokit.nn.conformer import ConformerCache, ConformerEncoder


def nemo_frame_lengths(frontend: MelFrontend, wav_lens: torch.Tensor) -> torch.Tensor:
    """NeMo's valid feature frames for ``(B,)`` sample counts: one fewer than the front-end makes."""
    return (frontend.frame_lengths(wav_lens) - 1).clamp(min=0)


class FastConformerEncoder(ConformerEncoder):
    """Front-end + cache-aware Conformer (see the module docstring).

    Args:
        frontend: a feature preset name (default ``"nemo_mel_80"``).
        frontend_options: overrides of the preset (``n_mels``, ``dither``, ``normalize``, ...).
        att_context_probs: training probabilities of the ``att_context_size`` entries.
        feat_in: must equal the front-end's ``n_mels`` (default: taken from it).
        other arguments: :class:`~audiokit.nn.conformer.ConformerEncoder`.
    """

    def __init__(self, d_model: int, n_layers: int, n_heads: int, *, frontend: str = "nemo_mel_80",
                 frontend_options: Mapping[str, Any] | None = None, feat_in: int | None = None,
                 att_context_size: list[int] | list[list[int]] | None = None,
                 att_context_probs: Sequence[float] | None = None, **conformer: Any) -> None:
        preprocessor = MelFrontend(frontend, **dict(frontend_options or {}))
        if feat_in is not None and int(feat_in) != preprocessor.n_mels:
            raise ConfigError(f"encoder feat_in {feat_in} != front-end n_mels {preprocessor.n_mels}")
        super().__init__(preprocessor.n_mels, d_model, n_layers, n_heads,
                         att_context_size=att_context_size, **conformer)
        self.preprocessor = preprocessor
        self.att_context_size = list(self.att_context_sizes[0])
        n = len(self.att_context_sizes)
        probs = [1.0 / n] * n if att_context_probs is None else [float(p) for p in att_context_probs]
        if len(probs) != n or min(probs) < 0 or abs(sum(probs) - 1.0) > 1e-6:
            raise ConfigError(f"att_context_probs {probs}: need {n} non-negative values summing to 1")
        self.att_context_probs = probs

    # ------------------------------------------------------------------ settings
    @property
    def sample_rate(self) -> int:
        return self.preprocessor.sample_rate

    @property
    def frame_shift(self) -> int:
        """Samples per encoder output frame (hop x subsampling factor)."""
        return self.preprocessor.hop_length * self.pre_encode.factor

    def set_default_att_context_size(self, att_context_size: Sequence[int]) -> None:
        """Select the inference context among the trained ones (``[left, right]``)."""
        ctx = [int(v) for v in att_context_size]
        if ctx not in self.att_context_sizes:
            raise ConfigError(f"att_context_size {ctx} is not one this model was built with: "
                              f"{self.att_context_sizes}")
        self.att_context_size = ctx

    def sample_att_context_size(self) -> list[int]:
        """One of the contexts drawn with ``att_context_probs`` (global torch RNG)."""
        idx = int(torch.multinomial(torch.tensor(self.att_context_probs), 1).item())
        return list(self.att_context_sizes[idx])

    def _ctx(self, att_context_size: Sequence[int] | None) -> list[int]:
        return list(att_context_size) if att_context_size is not None else self.att_context_size

    # ------------------------------------------------------------------ offline
    def features(self, wav: torch.Tensor, wav_lens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``wav (B, T)``, ``wav_lens (B,)`` -> log-mel ``(B, T_f, F)`` and ``(B,)`` valid frames.

        Dither applies in training mode only; per-feature normalisation when configured.
        """
        fe = self.preprocessor
        wav_lens = wav_lens.to(wav.device)
        x = fe.prepare(wav.float())
        x = x * (torch.arange(x.shape[1], device=x.device)[None, :] < wav_lens[:, None])
        feats = fe.analyze(fe.frames(fe.pad_edges(x)))  # (B, F, N)
        lens = nemo_frame_lengths(fe, wav_lens)
        if fe.config.normalize == "per_feature":
            feats = fe.normalize(feats, lens)
        n = int(lens.max()) if lens.numel() else 0
        feats = feats[:, :, :n].transpose(1, 2)
        valid = torch.arange(n, device=feats.device)[None, :] < lens[:, None]
        feats = feats.masked_fill(~valid[:, :, None], 0.0).to(self.pre_encode.out.weight.dtype)
        return feats, lens

    def encode(self, wav: torch.Tensor, wav_lens: torch.Tensor,
               att_context_size: Sequence[int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Waveform ``(B, T)`` -> encoder output ``(B, T', D)`` and ``(B,)`` lengths."""
        feats, lens = self.features(wav, wav_lens)
        return self(feats, lens, att_context_size=self._ctx(att_context_size))

    # ------------------------------------------------------------------ streaming
    def init_stream(self, batch: int, att_context_size: Sequence[int] | None = None) -> EncoderStream:
        """A fresh streaming state for ``batch`` streams at the given (or default) context."""
        ctx = self._ctx(att_context_size)
        p = next(self.parameters())
        cache = self.init_cache(batch, ctx, device=p.device, dtype=p.dtype)
        return EncoderStream(
            context=ctx, cache=cache, frontends=[StreamingFrontend(self.preprocessor) for _ in range(batch)],
            pending=[p.new_zeros(0, self.feat_in) for _ in range(batch)],
            samples=[0] * batch, emitted=[0] * batch, ended=[False] * batch,
        )

    @torch.no_grad()
    def stream(self, chunk: torch.Tensor, state: EncoderStream, lengths: Sequence[int] | None = None,
               final: bool | Sequence[bool] = False) -> tuple[list[torch.Tensor], EncoderStream]:
        """Push raw audio ``chunk (B, t)`` (``lengths[b]`` valid samples of stream ``b``).

        ``final`` (one flag, or one per stream) ends those streams after this chunk.
        Returns the encoder frames that became final for each stream (``(n_b, D)`` each)
        and the updated state (changed in place too).
        """
        batch = len(state.frontends)
        if chunk.dim() != 2 or chunk.shape[0] != batch:
            raise ValueError(f"expected a ({batch}, t) chunk, got shape {tuple(chunk.shape)}")
        lens = [chunk.shape[1]] * batch if lengths is None else [int(n) for n in lengths]
        finals = [bool(final)] * batch if isinstance(final, bool) else [bool(f) for f in final]
        if len(lens) != batch or len(finals) != batch or any(not 0 <= n <= chunk.shape[1] for n in lens):
            raise ValueError(f"lengths {lens} / final {finals} do not fit a ({batch}, {chunk.shape[1]}) chunk")
        chunk = chunk.to(self.preprocessor.mel_fb.device).float()
        for b in range(batch):
            self._push(state, b, chunk[b:b + 1, :lens[b]], finals[b])
        outs: list[list[torch.Tensor]] = [[] for _ in range(batch)]
        while (step := state.next_step(self.streaming_chunk_frames(state.context))) is not None:
            for b, y in enumerate(self._advance(state, step)):
                outs[b].append(y)
        empty = chunk.new_zeros(0, self.d_model)
        return [torch.cat(o, 0) if o else empty for o in outs], state

    def _push(self, state: EncoderStream, b: int, x: torch.Tensor, final: bool) -> None:
        if state.ended[b]:
            if x.shape[1]:
                raise ValueError(f"stream {b} has ended; start a new state for new audio")
            return
        new = [state.frontends[b].push(x)[0].transpose(0, 1)] if x.shape[1] else []
        state.samples[b] += x.shape[1]
        if final:
            new.append(state.frontends[b].flush()[0].transpose(0, 1) if state.samples[b] else
                       state.pending[b][:0])
            state.ended[b] = True
        if new:
            feats = torch.cat([state.pending[b], *[f.to(state.pending[b].dtype) for f in new]], 0)
            if final:  # NeMo drops the centred STFT's extra last frame
                valid = int(nemo_frame_lengths(self.preprocessor, torch.tensor([state.samples[b]]))[0])
                feats = feats[: max(0, valid - state.emitted[b])]
            state.pending[b] = feats

    def _advance(self, state: EncoderStream, step: int) -> list[torch.Tensor]:
        """Run one cached encoder step on up to ``step`` pending frames of every stream."""
        take = [min(step, p.shape[0]) for p in state.pending]
        x = state.pending[0].new_zeros(len(take), step, self.feat_in)
        for b, n in enumerate(take):
            x[b, :n] = state.pending[b][:n]
            state.pending[b] = state.pending[b][n:]
            state.emitted[b] += n
        y, y_len, state.cache = self.forward_chunk(x, torch.tensor(take, device=x.device), state.cache,
                                                   att_context_size=state.context)
        state.steps += 1
        return [y[b, : int(n)] for b, n in enumerate(y_len.tolist())]


@dataclass
class EncoderStream:
    """Streaming state of a :class:`FastConformerEncoder` for a batch of streams.

    Attributes:
        context: the ``[left, right]`` attention context of this stream.
        cache: the Conformer caches (:class:`~audiokit.nn.conformer.ConformerCache`).
        frontends: one exact streaming front-end per stream.
        pending: features ``(n_b, F)`` not yet given to the encoder.
        samples: samples received per stream; emitted: frames given to the encoder.
        ended: streams whose audio is complete; steps: encoder steps taken.
    """

    context: list[int]
    cache: ConformerCache
    frontends: list[StreamingFrontend]
    pending: list[torch.Tensor]
    samples: list[int]
    emitted: list[int]
    ended: list[bool]
    steps: int = 0

    def next_step(self, chunk_frames: tuple[int, int]) -> int | None:
        """Frames of the next encoder step, or None while a live stream lacks a whole chunk.

        All streams advance together; an ended stream takes what it has left (the last,
        shorter chunk) and 0 frames afterwards.
        """
        need = chunk_frames[0] if self.steps == 0 else chunk_frames[1]
        live = [b for b in range(len(self.pending)) if not self.ended[b] or self.pending[b].shape[0]]
        if not live:
            return None
        if any(not self.ended[b] and self.pending[b].shape[0] < need for b in live):
            return None
        return need

    @property
    def finished(self) -> bool:
        """Every stream has ended and all its frames went through the encoder."""
        return all(self.ended) and not any(p.shape[0] for p in self.pending)
