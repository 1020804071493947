"""Training of the cache-aware FastConformer (CTC, RNN-T, hybrid) with Lightning (downstream.md §6.1).

One step: waveform -> log-mel (dither in training) -> optional SpecAugment -> encoder under
an ``att_context_size`` drawn for this batch (multi-latency training; the encoder's
``att_context_probs``) -> losses:

* CTC: ``F.ctc_loss`` (blank last, ``zero_infinity``), summed over time, mean over the batch
  (NeMo ``mean_batch``);
* RNN-T: ``torchaudio.functional.rnnt_loss`` on the joint's logits (fused log-softmax), mean
  over the batch (NeMo's FastEmit regulariser is not applied);
* hybrid: ``(1 - ctc_weight) * rnnt + ctc_weight * ctc`` (NeMo default weight 0.3).

Validation uses the default (first) context, logs ``val_loss`` and the word error rate of
greedy search (``val_wer``; hybrid models also ``val_wer_ctc``), computed with jiwer over the
whole validation set (error and word counts summed across ranks). Optimiser: AdamW with a
Noam (NeMo) or warm-up + cosine schedule, stepped per optimiser step.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
import torch.nn.functional as F

from audiokit.errors import ConfigError
from audiokit.models.asr.model import StreamingASR
from audiokit.train.common import (
    adamw_step_schedule,
    build_model,
    checkpoint_state,
    cosine_factor,
    load_task_weights,
)

SPEC_AUGMENT = {"freq_masks": 2, "freq_width": 27, "time_masks": 10, "time_width": 0.05}
SCHEDULES = ("noam", "cosine", "constant")


def spec_augment(feats: torch.Tensor, lens: torch.Tensor, freq_masks: int = 2, freq_width: int = 27,
                 time_masks: int = 10, time_width: float = 0.05) -> torch.Tensor:
    """SpecAugment (NeMo ``SpectrogramAugmentation``) on ``feats (B, T, F)``; masks are set to 0.

    ``time_width`` < 1 is a fraction of each item's valid length. Uses the global torch RNG.
    """
    out = feats.clone()
    n_freq = feats.shape[2]
    for b in range(feats.shape[0]):
        length = int(lens[b])
        for _ in range(freq_masks):
            w = int(torch.randint(0, freq_width + 1, ()).item())
            start = int(torch.randint(0, max(1, n_freq - w), ()).item())
            out[b, :, start:start + w] = 0.0
        t_width = int(time_width * length) if time_width < 1 else int(time_width)
        for _ in range(time_masks if length else 0):
            w = int(torch.randint(0, t_width + 1, ()).item())
            start = int(torch.randint(0, max(1, length - w), ()).item())
            out[b, start:start + w, :] = 0.0
    return out


def word_errors(refs: Sequence[str], hyps: Sequence[str]) -> tuple[int, int]:
    """``(substitutions + deletions + insertions, reference words)`` of a batch (jiwer)."""
    import jiwer

    errors, words = 0, 0
    for ref, hyp in zip(refs, hyps):
        n = len(ref.split())
        if n == 0:
            errors += len(hyp.split())
            continue
        out = jiwer.process_words(ref, hyp if hyp.strip() else "")
        errors += out.substitutions + out.deletions + out.insertions
        words += n
    return errors, words


class ASRTask(pl.LightningModule):
    """Train a :class:`StreamingASR`.

    Args:
        model: the model (built from its config node).
        ctc_weight: CTC share of a hybrid model's loss.
        spec_augment: SpecAugment settings (None or ``{}``: off); keys as :data:`SPEC_AUGMENT`.
        lr, betas, weight_decay: AdamW. With ``schedule="noam"`` the peak learning rate is
            ``lr / sqrt(d_model * warmup_steps)`` (NeMo ``NoamAnnealing``).
        schedule: ``"noam"``, ``"cosine"`` (warm-up then cosine to ``min_lr`` at
            ``trainer.max_steps``) or ``"constant"`` (after warm-up).
        warmup_steps, min_lr: schedule settings.
        tokenizer: tokenizer folder for WER (default: the data module's tokenizer).
    """

    def __init__(self, model: StreamingASR, ctc_weight: float = 0.3,
                 spec_augment: Mapping[str, Any] | None = None, lr: float = 1e-3,
                 betas: Sequence[float] = (0.9, 0.98), weight_decay: float = 1e-3, schedule: str = "cosine",
                 warmup_steps: int = 1000, min_lr: float = 1e-6, tokenizer: str | None = None) -> None:
        super().__init__()
        if not isinstance(model, StreamingASR):
            raise ConfigError(f"task.model: expected an audiokit StreamingASR, got {type(model).__name__}")
        if schedule not in SCHEDULES:
            raise ConfigError(f"task.schedule: {schedule!r}; expected one of {SCHEDULES}")
        if not 0.0 <= ctc_weight <= 1.0:
            raise ConfigError(f"task.ctc_weight: must be in [0, 1], got {ctc_weight}")
        unknown = set(spec_augment or {}) - set(SPEC_AUGMENT)
        if unknown:
            raise ConfigError(f"task.spec_augment: unknown setting '{min(unknown)}' (known: {', '.join(SPEC_AUGMENT)})")
        self.model = model
        self.ctc_weight = float(ctc_weight)
        self.spec_augment = {**SPEC_AUGMENT, **spec_augment} if spec_augment else None
        self.lr, self.betas, self.weight_decay = float(lr), tuple(betas), float(weight_decay)
        self.schedule, self.warmup_steps, self.min_lr = schedule, int(warmup_steps), float(min_lr)
        self.tokenizer_dir = tokenizer
        self._tokenizer: Any = None
        self._val_counts: dict[str, list[int]] = {}

    # ------------------------------------------------------------------ losses
    def losses(self, batch: Mapping[str, Any], att_context_size: Sequence[int] | None = None,
               augment: bool = False) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
        """``({"loss", "ctc_loss"?, "rnnt_loss"?}, enc (B, T', D), enc_lens (B,))`` of a batch."""
        m = self.model
        feats, lens = m.encoder.features(batch["wav"], batch["wav_lens"])
        if augment and self.spec_augment:
            feats = spec_augment(feats, lens, **self.spec_augment)
        enc, enc_lens = m.encoder(feats, lens, att_context_size=att_context_size or m.encoder.att_context_size)
        tokens, token_lens = batch["tokens"], batch["token_lens"]
        out: dict[str, torch.Tensor] = {}
        if m.ctc_decoder is not None:
            log_probs = m.ctc_decoder(enc)
            per_item = F.ctc_loss(log_probs.transpose(0, 1), tokens, enc_lens, token_lens, blank=m.blank_id,
                                  reduction="none", zero_infinity=True)
            out["ctc_loss"] = per_item.mean()
        if m.joint is not None:
            import torchaudio.functional as AF

            logits = m.joint(enc, m.decoder(tokens))  # (B, T', U + 1, C)
            out["rnnt_loss"] = AF.rnnt_loss(logits.float(), tokens.int(), enc_lens.int(), token_lens.int(),
                                            blank=m.blank_id, reduction="mean")
        if "ctc_loss" in out and "rnnt_loss" in out:
            out["loss"] = (1.0 - self.ctc_weight) * out["rnnt_loss"] + self.ctc_weight * out["ctc_loss"]
        else:
            out["loss"] = out.get("rnnt_loss", out.get("ctc_loss"))
        return out, enc, enc_lens

    def training_step(self, batch: Mapping[str, Any], batch_idx: int) -> torch.Tensor:
        ctx = self.model.encoder.sample_att_context_size()
        out, _, _ = self.losses(batch, ctx, augment=True)
        size = len(batch["ids"])
        for name, value in out.items():
            self.log(f"train_{name}" if name != "loss" else "train_loss", value, prog_bar=name == "loss",
                     batch_size=size)
        self.log("train_lookahead", float(ctx[1]), batch_size=size)
        return out["loss"]

    # ------------------------------------------------------------------ validation
    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            if self.tokenizer_dir is not None:
                from audiokit.text import load_tokenizer

                self._tokenizer = load_tokenizer(self.tokenizer_dir)
            else:
                dm = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
                self._tokenizer = dm.load_tokenizer() if dm is not None and hasattr(dm, "load_tokenizer") else None
            if self._tokenizer is None:
                raise ConfigError("task.tokenizer: no tokenizer for WER (set task.tokenizer or use ASRDataModule)")
            if self._tokenizer.vocab_size != self.model.vocab_size:
                raise ConfigError(f"tokenizer has {self._tokenizer.vocab_size} tokens but task.model.vocab_size is "
                                  f"{self.model.vocab_size}; set task.model.init_args.vocab_size="
                                  f"{self._tokenizer.vocab_size}")
        return self._tokenizer

    def setup(self, stage: str) -> None:
        if self._trainer is not None and getattr(self.trainer, "datamodule", None) is not None:
            self.tokenizer()  # fail early on a vocabulary mismatch

    def on_validation_epoch_start(self) -> None:
        self._val_counts = {d: [0, 0] for d in self.model.decoders}

    def validation_step(self, batch: Mapping[str, Any], batch_idx: int) -> None:
        out, enc, enc_lens = self.losses(batch)
        size = len(batch["ids"])
        for name, value in out.items():
            self.log(f"val_{name}", value, sync_dist=True, batch_size=size)
        tok = self.tokenizer()
        for decoder in self.model.decoders:
            hyps = tok.decode_batch(self.model.greedy(enc, enc_lens, decoder))
            errors, words = word_errors(batch["texts"], hyps)
            self._val_counts[decoder][0] += errors
            self._val_counts[decoder][1] += words

    def on_validation_epoch_end(self) -> None:
        for i, decoder in enumerate(self.model.decoders):
            counts = torch.tensor(self._val_counts.get(decoder, [0, 0]), dtype=torch.float64, device=self.device)
            if self.trainer.world_size > 1:
                counts = self.all_gather(counts).reshape(-1, 2).sum(0)
            wer = float(counts[0] / counts[1]) if counts[1] > 0 else float("nan")
            self.log("val_wer" if i == 0 else f"val_wer_{decoder}", wer, rank_zero_only=True)

    # ------------------------------------------------------------------ optimisation
    def lr_factor(self, step: int) -> float:
        """Multiplier of ``lr`` at optimiser step ``step``."""
        warm = max(1, self.warmup_steps)
        if self.schedule == "noam":
            s = max(1, step + 1)
            factor = min(s ** -0.5, s * warm ** -1.5) / math.sqrt(self.model.encoder.d_model)
            return max(factor, self.min_lr / self.lr)
        if self.schedule == "constant":
            return min(1.0, (step + 1) / warm) if self.warmup_steps else 1.0
        total = self.trainer.max_steps if self._trainer is not None and self.trainer.max_steps > 0 else None
        return max(cosine_factor(step, self.warmup_steps, total), self.min_lr / self.lr)

    def configure_optimizers(self) -> dict[str, Any]:
        return adamw_step_schedule(self.parameters(), self.lr_factor, lr=self.lr, betas=self.betas,
                                   weight_decay=self.weight_decay)


# --------------------------------------------------------------------------- export
def asr_from_checkpoint(checkpoint: str | Path, train_config: str | Path) -> tuple[StreamingASR, dict]:
    """The trained model of an :class:`ASRTask` Lightning checkpoint (eval mode) and its
    ``{class_path, init_args}`` node (``train_config``: the run's ``exp_dir/config.yaml``)."""
    model, node = build_model(train_config, "an ASR")
    state = checkpoint_state(checkpoint)
    load_task_weights(model, state, "model.", checkpoint=checkpoint, train_config=train_config,
                      what="an ASR task")
    return model, node


def export_asr(checkpoint: str | Path, train_config: str | Path, tokenizer_dir: str | Path,
               out_dir: str | Path, *, force: bool = False) -> Path:
    """Write an audiokit model folder (weights, config, tokenizer files) from a training run."""
    import tempfile

    from audiokit.checkpoint import save_pretrained
    from audiokit.io.atomic import check_writable
    from audiokit.text import load_tokenizer

    check_writable(out_dir, force)
    model, node = asr_from_checkpoint(checkpoint, train_config)
    tok = load_tokenizer(tokenizer_dir)
    model.set_tokenizer(tok)
    cfg = {"model": node, "sample_rate": model.sample_rate, "tokenizer": ".",
           "att_context_size": model.encoder.att_context_size}
    with tempfile.TemporaryDirectory(prefix="audiokit-asr-export-") as tmp:
        tok.save(tmp)
        return save_pretrained(model, cfg, out_dir, extra_files=sorted(Path(tmp).iterdir()), force=force)
