"""F5-TTS (arXiv 2410.06885): conditional flow matching over log-mel with a DiT backbone.

Composition (downstream.md §5)::

    prompt mel + masked span --\
    noisy mel x_t ------------- InputEmbedding -> DiT x depth (AdaLN on t, RoPE) -> flow (B, T, 100)
    text ids (filler-padded) --/   (TextEmbedding: ConvNeXt-V2 refiner)

* :meth:`F5TTS.loss`: CFM loss with a random infill span (70-100 % of each utterance),
  audio / audio+text condition dropout for classifier-free guidance;
* :meth:`F5TTS.sample`: Euler ODE (:mod:`audiokit.decoding.flow`) with sway sampling, EPSS
  grids, CFG (cond and uncond packed in one 2B batch), per-item seeded noise;
* :meth:`F5TTS.synthesize`: text + reference audio and its transcript -> waveform.

Sub-module ``transformer`` holds the released weights (``ema_model.transformer.*``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from audiokit.decoding.flow import (
    bound_durations,
    cfg_combine,
    estimate_duration,
    euler_solve,
    initial_noise,
    time_grid,
)
from audiokit.models.tts.f5tts_backbone import F5DiT


def lens_to_mask(lens: torch.Tensor, length: int | None = None) -> torch.Tensor:
    """``(B,)`` lengths -> ``(B, length)`` boolean mask, True on valid frames."""
    length = int(lens.max()) if length is None else length
    return torch.arange(length, device=lens.device)[None, :] < lens[:, None]


def pad_text(ids: Sequence[Sequence[int]], device: torch.device | str = "cpu") -> torch.Tensor:
    """Lists of ids -> ``(B, N_t)`` LongTensor padded with ``-1``."""
    width = max(len(x) for x in ids)
    out = torch.full((len(ids), width), -1, dtype=torch.long)
    for i, x in enumerate(ids):
        out[i, : len(x)] = torch.as_tensor(list(x), dtype=torch.long)
    return out.to(device)


class F5TTS(nn.Module):
    """F5-TTS model. Backbone arguments are those of :class:`F5DiT`; besides:

    Args:
        sample_rate, hop_length: audio rate and mel hop (24000, 256).
        mel_floor: log floor of the mel front-end (F5: 1e-5; the vocos_mel_24k preset otherwise).
        audio_drop_prob: training probability of dropping the audio condition.
        cond_drop_prob: training probability of dropping audio and text.
        frac_lengths: range of the infill span as a fraction of each utterance.
    """

    def __init__(
        self, dim: int = 1024, depth: int = 22, heads: int = 16, ff_mult: float = 2, mel_dim: int = 100,
        vocab_size: int = 2545, text_dim: int | None = 512, conv_layers: int = 4, text_mask_padding: bool = True,
        pe_attn_head: int | None = None, attn_mask: bool = False, dropout: float = 0.1,
        sample_rate: int = 24000, hop_length: int = 256, mel_floor: float = 1e-5,
        audio_drop_prob: float = 0.3, cond_drop_prob: float = 0.2, frac_lengths: Sequence[float] = (0.7, 1.0),
    ) -> None:
        super().__init__()
        self.transformer = F5DiT(dim, depth, heads, ff_mult, mel_dim, vocab_size, text_dim, conv_layers,
                                 text_mask_padding, pe_attn_head, attn_mask, dropout)
        self.mel_dim, self.vocab_size = mel_dim, vocab_size
        self.sample_rate, self.hop_length, self.mel_floor = sample_rate, hop_length, mel_floor
        self.audio_drop_prob, self.cond_drop_prob = audio_drop_prob, cond_drop_prob
        self.frac_lengths = (float(frac_lengths[0]), float(frac_lengths[1]))
        self.__dict__["_frontend"] = None  # built on first use; not a sub-module (no state)

    # ------------------------------------------------------------------ features
    def mel(self, wav: torch.Tensor) -> torch.Tensor:
        """Waveform ``(B, L)`` at :attr:`sample_rate` -> log-mel ``(B, T, mel_dim)`` (F5 ``vocos`` mel)."""
        if self._frontend is None:
            from audiokit.features import MelFrontend

            self.__dict__["_frontend"] = MelFrontend("vocos_mel_24k", sample_rate=self.sample_rate, hop_length=self.hop_length,
                                         n_mels=self.mel_dim, log_floor=self.mel_floor)
        return self._frontend.to(wav.device)(wav).transpose(1, 2)

    # ------------------------------------------------------------------ training
    def loss(self, mel: torch.Tensor, text: torch.Tensor, lens: torch.Tensor | None = None,
             generator: torch.Generator | None = None, *, drop_audio: bool | None = None,
             drop_text: bool | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """CFM loss on ``mel (B, T, C)`` with ids ``text (B, N_t)``; returns ``(loss, pred, span_mask)``.

        The MSE between predicted and target flow ``x1 - x0`` is averaged over the infill span only.
        ``drop_audio`` / ``drop_text`` ``None``: drawn as in training (``audio_drop_prob``; ``cond_drop_prob``
        drops text *and* audio); a bool forces that choice alone (noise, time and span are drawn the same).
        """
        batch, length, _ = mel.shape
        dev = mel.device
        lens = torch.full((batch,), length, device=dev) if lens is None else lens.to(dev)
        mask = lens_to_mask(lens, length)
        rand = lambda *shape: torch.rand(*shape, generator=generator).to(dev)
        lo, hi = self.frac_lengths
        span_len = ((lo + (hi - lo) * rand(batch)) * lens).long()
        start = ((lens - span_len) * rand(batch)).long().clamp(min=0)
        pos = torch.arange(length, device=dev)[None, :]
        span = (pos >= start[:, None]) & (pos < (start + span_len)[:, None]) & mask
        x0 = torch.randn(mel.shape, generator=generator).to(dev, mel.dtype)
        t = rand(batch).to(mel.dtype)
        x_t = (1 - t[:, None, None]) * x0 + t[:, None, None] * mel
        cond = mel.masked_fill(span[..., None], 0.0)
        drawn_audio = bool(rand(1) < self.audio_drop_prob)
        drawn_text = bool(rand(1) < self.cond_drop_prob)
        if drop_audio is None:
            drop_audio = drawn_audio or (drawn_text and drop_text is None)
        if drop_text is None:
            drop_text = drawn_text
        text_emb = self.transformer.embed_text(text, lens, drop_text=drop_text, total=length)
        pred = self.transformer(x_t, cond, text_emb, t, mask, drop_audio_cond=drop_audio)
        loss = F.mse_loss(pred, mel - x0, reduction="none")[span].mean()
        return loss, pred, span

    # ------------------------------------------------------------------ sampling
    def velocity_fn(self, cond: torch.Tensor, text: torch.Tensor, mask: torch.Tensor | None,
                    cfg_strength: float) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
        """``v(x, t)`` for the ODE; text embeddings are computed once here.

        With ``cfg_strength > 0`` cond and uncond (no audio, no text) run as one 2B batch.
        """
        length = cond.shape[1]
        seq_len = mask.sum(dim=1) if mask is not None else length
        text_c = self.transformer.embed_text(text, seq_len, total=length)
        if cfg_strength < 1e-5:
            return lambda x, t: self.transformer(x, cond, text_c, t, mask)
        text_u = self.transformer.embed_text(text, seq_len, drop_text=True, total=length)
        text_2 = torch.cat((text_c, text_u))
        cond_2 = torch.cat((cond, torch.zeros_like(cond)))
        mask_2 = torch.cat((mask, mask)) if mask is not None else None

        def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            t = t.repeat(x.shape[0]) if t.dim() == 0 else t
            v = self.transformer(torch.cat((x, x)), cond_2, text_2, torch.cat((t, t)), mask_2)
            v_c, v_u = v.chunk(2)
            return cfg_combine(v_c, v_u, cfg_strength)

        return velocity

    @torch.inference_mode()
    def sample(
        self, cond: torch.Tensor, text: torch.Tensor, duration: int | torch.Tensor, *,
        lens: torch.Tensor | None = None, nfe: int = 32, cfg_strength: float = 2.0,
        sway_coef: float | None = -1.0, epss: bool = True, seed: int | Sequence[int] | None = None,
        method: str = "euler", max_duration: int = 65536,
    ) -> torch.Tensor:
        """Generate mels ``(B, T_max, C)``; the prompt frames are copied from ``cond``.

        ``cond (B, T_c, C)``: prompt mel; ``text (B, N_t)``: ids of prompt + target text
        (``-1`` padded); ``duration``: total frames (int or ``(B,)``), raised to at least
        ``max(text_len, prompt_len) + 1``; ``lens (B,)``: valid prompt frames.
        """
        batch, t_c, channels = cond.shape
        dev = cond.device
        lens = torch.full((batch,), t_c, device=dev, dtype=torch.long) if lens is None else lens.to(dev)
        dur = torch.full((batch,), int(duration), device=dev, dtype=torch.long) if isinstance(duration, int) \
            else torch.as_tensor(duration, device=dev, dtype=torch.long)
        dur = bound_durations(dur, (text != -1).sum(dim=-1).to(dev), lens, max_duration)
        total = int(dur.max())
        cond = F.pad(cond, (0, 0, 0, max(0, total - t_c)))[:, :total]
        cond_mask = lens_to_mask(lens, total)[..., None]
        step_cond = cond.masked_fill(~cond_mask, 0.0)
        mask = lens_to_mask(dur) if batch > 1 else None
        velocity = self.velocity_fn(step_cond, text.to(dev), mask, cfg_strength)
        y0 = initial_noise(dur.tolist(), channels, seed=seed, dtype=cond.dtype, device=dev)
        grid = time_grid(nfe, sway_coef, epss, dtype=cond.dtype, device=dev)
        out = euler_solve(velocity, y0, grid, method=method)
        return torch.where(cond_mask, cond, out)

    @torch.inference_mode()
    def synthesize(
        self, text: str, ref_audio: torch.Tensor, ref_text: str, *, vocab, vocoder: Callable | None = None,
        nfe: int = 32, cfg_strength: float = 2.0, sway_coef: float | None = -1.0, speed: float = 1.0,
        total_seconds: float | None = None, seed: int | None = None, target_rms: float = 0.1,
    ) -> torch.Tensor:
        """Speak ``text`` in the voice of ``ref_audio`` (``(L,)`` or ``(1, L)`` at :attr:`sample_rate`).

        ``ref_text`` is the reference transcript; ``vocab`` an :class:`~audiokit.models.tts.f5tts_text.F5Vocab`.
        The length comes from the reference speech rate (:func:`~audiokit.decoding.flow.estimate_duration`)
        or ``total_seconds`` (prompt + new speech). Returns the waveform ``(L',)`` from ``vocoder``
        (mel ``(1, C, T) -> (1, L')``), or the generated mel ``(T, C)`` without one.
        """
        wav = ref_audio.reshape(1, -1).float()
        rms = wav.square().mean().sqrt()
        if rms < target_rms:
            wav = wav * target_rms / rms.clamp(min=1e-8)
        if ref_text and len(ref_text[-1].encode("utf-8")) == 1:
            ref_text = ref_text + " "
        ref_frames = wav.shape[-1] // self.hop_length
        if total_seconds is not None:
            duration = int(total_seconds * self.sample_rate / self.hop_length)
        else:
            duration = estimate_duration(ref_frames, ref_text, text, speed)
        ids = pad_text([vocab.encode(ref_text + text)], device=wav.device)
        mel = self.sample(self.mel(wav), ids, duration, nfe=nfe, cfg_strength=cfg_strength,
                          sway_coef=sway_coef, seed=seed)[:, ref_frames:]
        if vocoder is None:
            return mel[0]
        out = vocoder(mel.transpose(1, 2)).reshape(-1)
        return out * rms / target_rms if rms < target_rms else out
