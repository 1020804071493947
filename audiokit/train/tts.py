"""Training of F5-TTS with Lightning (downstream.md §5.6).

One step: a batch of log-mels ``(B, T, 100)`` with filler-padded character ids ->
:meth:`audiokit.models.tts.f5tts.F5TTS.loss` (conditional flow matching: random infill span of
70-100 % of each utterance, MSE on the span only, audio / audio+text dropout for CFG) ->
AdamW. As the F5-TTS trainer:

* learning rate: linear warm-up from ~0 over ``warmup_steps`` optimiser steps, then linear decay
  to ~0 at ``decay_steps`` (default ``trainer.max_steps``); stepped per optimiser step;
* gradient clipping: set ``trainer.gradient_clip_val: 1.0`` (F5 ``max_grad_norm``);
* EMA of the weights (the releases ship ``ema_model``): ``ema_model`` is a frozen copy that equals
  the model for the first ``ema_start`` steps, then every ``ema_every`` steps moves towards it,
  ``ema = decay * ema + (1 - decay) * model`` (``ema_pytorch`` defaults: 0.9999, 100, 10). The
  copy is part of the module state, so checkpoints hold it and a resumed run continues exactly.
  ``ema_decay: null`` turns it off.

Validation (fixed-seed noise, spans and dropout, so values are comparable between checkpoints
and the global RNG is untouched): ``val_loss`` of the model and ``val_loss_ema`` of the EMA copy.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Mapping, Sequence

import lightning.pytorch as pl
import torch
from torch import nn

from audiokit.errors import CheckpointError, ConfigError
from audiokit.models.tts.f5tts import F5TTS
from audiokit.train.common import (
    adamw_step_schedule,
    build_model,
    checkpoint_state,
    linear_warmup_decay,
    load_task_weights,
)


class F5TTSTask(pl.LightningModule):
    """Train an :class:`F5TTS` with the CFM loss.

    Args:
        model: the model (built from its config node).
        lr, betas, weight_decay: AdamW (F5 v1: 7.5e-5, (0.9, 0.999), 0.01).
        warmup_steps: linear warm-up steps (F5 v1: 20 000).
        decay_steps: step at which the linear decay reaches ~0 (default: ``trainer.max_steps``).
        ema_decay, ema_start, ema_every: EMA of the weights (module doc); ``ema_decay=None``: no EMA.
        val_seed: seed of the validation noise.
    """

    def __init__(self, model: F5TTS, lr: float = 7.5e-5, betas: Sequence[float] = (0.9, 0.999),
                 weight_decay: float = 0.01, warmup_steps: int = 20000, decay_steps: int | None = None,
                 ema_decay: float | None = 0.9999, ema_start: int = 100, ema_every: int = 10,
                 val_seed: int = 0) -> None:
        super().__init__()
        if not isinstance(model, F5TTS):
            raise ConfigError(f"task.model: expected an audiokit F5TTS, got {type(model).__name__}")
        if ema_decay is not None and not 0.0 < ema_decay < 1.0:
            raise ConfigError(f"task.ema_decay: must be in (0, 1) or null, got {ema_decay}")
        if ema_every < 1 or ema_start < 0 or warmup_steps < 0:
            raise ConfigError("task: ema_every must be >= 1, ema_start and warmup_steps >= 0")
        self.model = model
        self.ema_model: nn.Module | None = None
        if ema_decay is not None:
            self.ema_model = copy.deepcopy(model).eval()
            self.ema_model.requires_grad_(False)
        self.lr, self.betas, self.weight_decay = float(lr), (float(betas[0]), float(betas[1])), float(weight_decay)
        self.warmup_steps, self.decay_steps = int(warmup_steps), decay_steps
        self.ema_decay, self.ema_start, self.ema_every = ema_decay, int(ema_start), int(ema_every)
        self.val_seed = int(val_seed)

    # ------------------------------------------------------------------ training
    def training_step(self, batch: Mapping[str, Any], batch_idx: int) -> torch.Tensor:
        loss, _, _ = self.model.loss(batch["mel"], batch["text"], batch["mel_lens"])
        self.log("train_loss", loss, prog_bar=True, batch_size=len(batch["ids"]))
        self.log("train_frames", batch["mel_lens"].sum().float(), batch_size=len(batch["ids"]))
        return loss

    def train(self, mode: bool = True) -> "F5TTSTask":
        super().train(mode)
        if self.ema_model is not None:
            self.ema_model.eval()  # never in training mode (dropout)
        return self

    @torch.no_grad()
    def update_ema(self, step: int) -> None:
        """The EMA rule after optimiser step ``step`` (1-based count of steps done)."""
        if self.ema_model is None:
            return
        pairs = list(zip(self.ema_model.parameters(), self.model.parameters()))
        if step <= self.ema_start:
            for e, p in pairs:
                e.copy_(p)
        elif step % self.ema_every == 0:
            for e, p in pairs:
                e.lerp_(p, 1.0 - self.ema_decay)
        for e, b in zip(self.ema_model.buffers(), self.model.buffers()):
            e.copy_(b)

    def optimizer_step(self, *args: Any, **kwargs: Any) -> None:
        """The optimiser step, then the EMA update (before any callback saves a checkpoint)."""
        super().optimizer_step(*args, **kwargs)
        self.update_ema(int(self.global_step))

    # ------------------------------------------------------------------ validation
    def validation_step(self, batch: Mapping[str, Any], batch_idx: int) -> None:
        size = len(batch["ids"])
        models = [("val_loss", self.model)] + ([("val_loss_ema", self.ema_model)] if self.ema_model else [])
        seed = self.val_seed * 100003 + batch_idx
        for name, model in models:
            loss, _, _ = model.loss(batch["mel"], batch["text"], batch["mel_lens"],
                                    generator=torch.Generator().manual_seed(seed))
            self.log(name, loss, prog_bar=name == "val_loss", sync_dist=True, batch_size=size)
            self.log(name.replace("val_loss", "val_text_gain"), self.text_gain(model, batch, seed),
                     sync_dist=True, batch_size=size)

    @staticmethod
    def text_losses(model: F5TTS, batch: Mapping[str, Any], seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(loss with the text, loss with the text dropped)``: same noise, time and span, the prompt
        audio kept in both."""
        with_text, without = (model.loss(batch["mel"], batch["text"], batch["mel_lens"],
                                         generator=torch.Generator().manual_seed(seed), drop_audio=False,
                                         drop_text=drop)[0] for drop in (False, True))
        return with_text, without

    @staticmethod
    def text_gain(model: F5TTS, batch: Mapping[str, Any], seed: int) -> torch.Tensor:
        """How much the text helps: loss without minus loss with the text (:meth:`text_losses`). ~0 while
        the model ignores the text, i.e. has not found the text-speech alignment yet (F5 finds it late);
        it grows as the model starts reading."""
        with_text, without = F5TTSTask.text_losses(model, batch, seed)
        return without - with_text

    def setup(self, stage: str) -> None:
        dm = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        if dm is not None and hasattr(dm, "load_vocab"):
            n = len(dm.load_vocab())
            if n > self.model.vocab_size:
                raise ConfigError(f"{dm.vocab_file} has {n} tokens but task.model.vocab_size is "
                                  f"{self.model.vocab_size}; set task.model.init_args.vocab_size >= {n}")
        pairs = (("sample_rate", "sample_rate"), ("hop_length", "hop_length"), ("n_mels", "mel_dim"),
                 ("mel_floor", "mel_floor"))
        for data_key, model_key in pairs:  # the model's attributes carry its init_args names
            ours, theirs = getattr(dm, data_key, None), getattr(self.model, model_key)
            if ours is not None and float(ours) != float(theirs):
                raise ConfigError(f"data.init_args.{data_key} is {ours} but task.model.init_args.{model_key} is "
                                  f"{theirs}: the training mel must be the model's mel")

    # ------------------------------------------------------------------ optimisation
    def lr_factor(self, step: int) -> float:
        """Multiplier of ``lr`` at optimiser step ``step``."""
        total = self.decay_steps
        if total is None and self._trainer is not None and self.trainer.max_steps > 0:
            total = self.trainer.max_steps
        return linear_warmup_decay(step, self.warmup_steps, total)

    def configure_optimizers(self) -> dict[str, Any]:
        return adamw_step_schedule(self.model.parameters(), self.lr_factor, lr=self.lr, betas=self.betas,
                                   weight_decay=self.weight_decay)


# --------------------------------------------------------------------------- export
def build_tts(train_config: str | Path, seed: int | None = None) -> tuple[F5TTS, dict]:
    """The untrained model of a training config and its node; with ``seed`` the weights equal
    the run's initial weights (the global RNG is seeded as ``audiokit train`` does)."""
    model, node = build_model(train_config, "a TTS", seed)
    if not isinstance(model, F5TTS):
        raise CheckpointError(f"{train_config}: task.init_args.model is not an F5TTS")
    return model.eval(), node


def tts_from_checkpoint(checkpoint: str | Path, train_config: str | Path, *, ema: bool = True
                        ) -> tuple[F5TTS, dict]:
    """The trained model of an :class:`F5TTSTask` checkpoint (eval mode) and its node.

    ``ema=True`` takes the EMA weights when the checkpoint has them (as the releases do).
    """
    model, node = build_tts(train_config)
    state = checkpoint_state(checkpoint)
    prefix = "ema_model." if ema and any(k.startswith("ema_model.") for k in state) else "model."
    load_task_weights(model, state, prefix, checkpoint=checkpoint, train_config=train_config,
                      what="an F5-TTS task")
    return model, node


def trim_vocab(model: F5TTS, node: Mapping[str, Any], size: int) -> tuple[F5TTS, dict]:
    """The same model with a text embedding for ``size`` tokens (rows ``0..size``: filler + tokens).

    Ids ``>= size`` never occur with a ``size``-token vocabulary, so outputs are unchanged; a
    packed model's ``vocab_size`` then equals its ``vocab.txt`` (what the bundle loader checks).
    """
    from audiokit.config import instantiate

    node = copy.deepcopy(dict(node))
    node["init_args"] = {**node["init_args"], "vocab_size": int(size)}
    small = instantiate(node, where="trimmed model")
    key = "transformer.text_embed.text_embed.weight"
    state = dict(model.state_dict())
    state[key] = state[key][: size + 1].clone()
    small.load_state_dict(state, strict=True)
    return small.eval(), node


def export_tts(checkpoint: str | Path, train_config: str | Path, vocab_file: str | Path, out_dir: str | Path,
               *, ema: bool = True, force: bool = False, extra: Mapping[str, Any] | None = None) -> Path:
    """Write an audiokit model folder: ``config.yaml`` (model node, ``sample_rate``, ``hop_length``,
    ``tokenizer: vocab.txt``), ``model.safetensors`` and ``vocab.txt``; the text embedding is trimmed
    to the vocabulary (:func:`trim_vocab`), so ``vocab_size == len(vocab.txt)``."""
    import shutil
    import tempfile

    from audiokit.checkpoint import save_pretrained
    from audiokit.io.atomic import check_writable
    from audiokit.train.tts_data import read_vocab

    check_writable(out_dir, force)
    model, node = tts_from_checkpoint(checkpoint, train_config, ema=ema)
    vocab = read_vocab(vocab_file)
    if len(vocab) > model.vocab_size:
        raise CheckpointError(f"{vocab_file}: {len(vocab)} tokens but the model has {model.vocab_size}")
    if len(vocab) < model.vocab_size:
        model, node = trim_vocab(model, node, len(vocab))
    cfg = {"model": node, "sample_rate": model.sample_rate, "hop_length": model.hop_length,
           "mel_floor": model.mel_floor, "tokenizer": "vocab.txt", **dict(extra or {})}
    with tempfile.TemporaryDirectory(prefix="audiokit-tts-export-") as tmp:
        shutil.copyfile(vocab_file, Path(tmp) / "vocab.txt")
        return save_pretrained(model, cfg, out_dir, extra_files=[Path(tmp) / "vocab.txt"], force=force)
