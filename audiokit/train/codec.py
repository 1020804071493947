"""GAN training of neural audio codecs (WavTokenizer recipe; codecs.md §6.2).

One iteration (manual optimisation, two AdamW optimisers):

1. generator forward ``y_hat, q = model(y)`` (the codebook's k-means / EMA update happens here);
2. **discriminator step** (from iteration ``disc_start`` on): every discriminator scores ``y``
   and ``y_hat.detach()``; loss = sum over discriminators of their adversarial D loss;
3. **generator step**: ``mel_weight * L1(log mel) + commit_weight * commitment`` plus, once
   the discriminators train, ``adv_weight * L_adv + fm_weight * L_fm`` per discriminator;
4. both cosine schedules advance one step (also during the discriminator warm-up).

Defaults are the WavTokenizer reference: mel 45, commitment 1000 (on a commitment loss of
weight 1), hinge losses normalised by the number of sub-discriminators for MPD/MRD, LSGAN
with summed L1 feature matching for the DAC discriminator, AdamW lr 2e-4 betas (0.9, 0.999),
cosine decay to 0 over the run's iterations (``trainer.max_steps // 2``), no warm-up, GAN from step 0.

Differences from the reference, on purpose: the reference recomputes the generator forward
under ``no_grad`` for its discriminator step (two codebook EMA updates per iteration); here
one forward serves both steps (HiFi-GAN order). ``trainer.max_steps`` counts optimiser
steps as in Lightning (and the reference): two per iteration once the discriminators train.

Discriminator settings (``adversarial``): per discriminator name, any of ``kind``
("hinge"/"lsgan"), ``average`` (divide adversarial losses by the number of
sub-discriminators), ``fm_average`` (same for feature matching; default = ``average``),
``adv_weight``, ``fm_weight``, ``conditional`` (pass ``bandwidth_id`` as ``cond_id``) and
``normalize_volume`` (remove DC and peak-normalise to 0.8 first: the DAC discriminator's
preprocessing, for discriminators that do not do it themselves) and ``trainable`` (False: the
discriminator is scored for the generator but never trained, as Language-Codec's DAC one).

Other codecs (configs ``train_hificodec_*`` / ``train_languagecodec_*``): ``bandwidth_id: null``
calls ``model(wav)`` (HiFi-Codec, whose second argument is ``n_q``); ``mel`` may set
``convention: hifigan`` (:meth:`MelConfig.hifigan` maths) and ``extra_mels`` adds weighted
resolutions (HiFi-Codec: 512/120 and 256/60, weight 1); ``commit_weight`` weights the model's
quantizer loss (HiFi-Codec 10, Language-Codec 1000); ``weight_decay: 0`` makes AdamW Adam and
``schedule: exponential`` multiplies the LR by ``lr_gamma`` every ``lr_decay_every`` iterations
(HiFi-Codec: Adam (0.5, 0.9), ExponentialLR 0.98 per epoch).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from torch import nn

from audiokit.discriminators.losses import discriminator_loss, feature_matching_loss, generator_loss
from audiokit.discriminators.mel import MelConfig, MultiResolutionMelLoss
from audiokit.errors import ConfigError
from audiokit.train.common import (
    adamw_step_schedule,
    build_model,
    checkpoint_state,
    cosine_factor,
    load_task_weights,
)

ADV_DEFAULTS: dict[str, Any] = {
    "kind": "hinge", "average": True, "fm_average": None, "adv_weight": 1.0, "fm_weight": 1.0,
    "conditional": False, "normalize_volume": False, "trainable": True,
}
SCHEDULES = ("cosine", "exponential")


def normalize_volume(x: torch.Tensor) -> torch.Tensor:
    """DAC preprocessing of ``(B, 1, T)`` or ``(B, T)`` audio: remove DC, peak 0.8."""
    x = x - x.mean(dim=-1, keepdim=True)
    return 0.8 * x / (x.abs().amax(dim=-1, keepdim=True) + 1e-9)


def _adv_settings(names: Sequence[str], given: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    given = dict(given or {})
    unknown = [k for k in given if k not in names]
    if unknown:
        raise ConfigError(f"task.adversarial: '{unknown[0]}' is not a discriminator name ({', '.join(names)})")
    out = {}
    for name in names:
        cfg = {**ADV_DEFAULTS, **(given.get(name) or {})}
        bad = [k for k in cfg if k not in ADV_DEFAULTS]
        if bad:
            raise ConfigError(f"task.adversarial.{name}: unknown setting '{bad[0]}' "
                              f"(known: {', '.join(ADV_DEFAULTS)})")
        if cfg["kind"] not in ("hinge", "lsgan"):
            raise ConfigError(f"task.adversarial.{name}.kind: 'hinge' or 'lsgan', got {cfg['kind']!r}")
        if cfg["fm_average"] is None:
            cfg["fm_average"] = cfg["average"]
        out[name] = cfg
    return out


def _mel_config(node: Mapping[str, Any], sample_rate: int, where: str) -> MelConfig:
    """A :class:`MelConfig` from a config mapping (``convention: hifigan`` selects HiFi-GAN maths)."""
    args = {"sample_rate": sample_rate, **dict(node or {})}
    convention = args.pop("convention", "vocos")
    try:
        if convention == "hifigan":
            return MelConfig.hifigan(**args)
        if convention != "vocos":
            raise ConfigError(f"{where}.convention: 'vocos' or 'hifigan', got {convention!r}")
        return MelConfig(**args)
    except TypeError as err:
        raise ConfigError(f"{where}: {err}") from None


def _extra_mels(nodes: Sequence[Mapping[str, Any]] | None, sample_rate: int) -> MultiResolutionMelLoss | None:
    """Weighted extra mel resolutions (each node: MelConfig fields + ``weight``), or None."""
    if not nodes:
        return None
    configs, weights = [], []
    for i, node in enumerate(nodes):
        node = dict(node or {})
        weights.append(float(node.pop("weight", 1.0)))
        configs.append(_mel_config(node, sample_rate, f"task.extra_mels[{i}]"))
    return MultiResolutionMelLoss(configs, weights)


class CodecGANTask(pl.LightningModule):
    """Train a codec ``model`` whose ``forward(wav (B, 1, T)[, bandwidth_id])`` returns
    ``(wav_hat (B, 1, T'), QuantizerOutput)`` against a set of discriminators.

    Args:
        model: the codec (e.g. :class:`audiokit.models.codec.wavtokenizer.WavTokenizer`).
        discriminators: name -> discriminator (``forward(y, y_hat, cond_id)``); empty:
            reconstruction-only training.
        adversarial: name -> loss settings (module doc).
        mel: :class:`MelConfig` fields of the reconstruction loss (default: the model's
            sample rate, n_fft 1024, hop 256, 100 mels, as vocos / WavTokenizer);
            ``convention: hifigan`` for HiFi-GAN mel maths. Logged as ``mel`` / ``val_mel``.
        extra_mels: further resolutions (MelConfig fields + ``weight``), added to the
            generator loss only (HiFi-Codec's 512/120 and 256/60 mels).
        mel_weight, commit_weight: generator loss weights.
        lr, betas, weight_decay: AdamW settings of both optimisers (``lr_d`` overrides the
            discriminators' learning rate).
        warmup_steps: linear LR warm-up iterations (reference 0).
        decay_steps: iterations of the cosine decay (default: the iterations ``trainer.max_steps``
            optimiser steps make, i.e. ``max_steps // 2`` without warm-up, as the reference).
            Set it to keep the schedule when a run is resumed with a larger ``max_steps``.
        disc_start: iterations trained without discriminators (reference 0).
        schedule: "cosine" (above) or "exponential": LR x ``lr_gamma ** (iteration //
            lr_decay_every)`` (HiFi-Codec's ExponentialLR per epoch).
        bandwidth_id: AdaLN row given to the model and to conditional discriminators
            (None: the model is called as ``model(wav)``).
    """

    def __init__(
        self,
        model: nn.Module,
        discriminators: Mapping[str, nn.Module] | None = None,
        adversarial: Mapping[str, Mapping[str, Any]] | None = None,
        mel: Mapping[str, Any] | None = None,
        mel_weight: float = 45.0,
        commit_weight: float = 1000.0,
        lr: float = 2e-4,
        lr_d: float | None = None,
        betas: Sequence[float] = (0.9, 0.999),
        weight_decay: float = 0.01,
        warmup_steps: int = 0,
        decay_steps: int | None = None,
        disc_start: int = 0,
        bandwidth_id: int | None = 0,
        extra_mels: Sequence[Mapping[str, Any]] | None = None,
        schedule: str = "cosine",
        lr_gamma: float = 0.98,
        lr_decay_every: int = 1000,
    ) -> None:
        super().__init__()
        self.automatic_optimization = False
        if not isinstance(model, nn.Module):
            raise ConfigError("task.model: must be a {class_path, init_args} node of a codec")
        discriminators = dict(discriminators or {})
        for name, disc in discriminators.items():
            if not isinstance(disc, nn.Module):
                raise ConfigError(f"task.discriminators.{name}: must be a discriminator class node")
        self.model = model
        self.discriminators = nn.ModuleDict(discriminators)
        self.adversarial = _adv_settings(list(discriminators), adversarial)
        sr = int(getattr(model, "sample_rate", 24000))
        self.mel_loss = MultiResolutionMelLoss([_mel_config(mel or {}, sr, "task.mel")])
        self.extra_mel_loss = _extra_mels(extra_mels, sr)
        if schedule not in SCHEDULES:
            raise ConfigError(f"task.schedule: one of {', '.join(SCHEDULES)}, got {schedule!r}")
        if int(lr_decay_every) < 1 or not 0 < float(lr_gamma) <= 1:
            raise ConfigError("task.lr_decay_every must be >= 1 and task.lr_gamma in (0, 1]")
        self.schedule, self.lr_gamma, self.lr_decay_every = schedule, float(lr_gamma), int(lr_decay_every)
        self.mel_weight, self.commit_weight = float(mel_weight), float(commit_weight)
        self.lr, self.lr_d = float(lr), float(lr if lr_d is None else lr_d)
        self.betas, self.weight_decay = (float(betas[0]), float(betas[1])), float(weight_decay)
        self.warmup_steps, self.decay_steps = int(warmup_steps), decay_steps
        self.disc_start, self.bandwidth_id = int(disc_start), bandwidth_id
        self.iteration = 0  # training iterations done (checkpointed)

    # ------------------------------------------------------------------ pieces
    def _cond(self, device: torch.device) -> torch.Tensor | None:
        return None if self.bandwidth_id is None else torch.tensor([self.bandwidth_id], device=device)

    def reconstruct(self, y: torch.Tensor) -> tuple[torch.Tensor, Any]:
        """``y (B, 1, T)`` -> ``(y_hat (B, 1, T), QuantizerOutput)`` (output cut to ``T``).

        ``T`` need not be a multiple of the model's hop: the input is zero-padded up to one first
        (HiFi-Codec's generator returns whole hops only).
        """
        hop = int(getattr(self.model, "hop_length", 1) or 1)
        x = F.pad(y, (0, -y.shape[-1] % hop)) if y.shape[-1] % hop else y
        out = self.model(x) if self.bandwidth_id is None else self.model(x, self.bandwidth_id)
        y_hat, q = out
        if y_hat.dim() == 2:
            y_hat = y_hat.unsqueeze(1)
        if y_hat.shape[-1] < y.shape[-1]:
            raise ValueError(f"model output has {y_hat.shape[-1]} samples for {y.shape[-1]} input samples")
        return y_hat[..., : y.shape[-1]], q

    @property
    def discriminators_active(self) -> bool:
        """Whether this iteration trains (and uses) the discriminators."""
        return len(self.discriminators) > 0 and self.iteration >= self.disc_start

    def _prep(self, name: str, x: torch.Tensor) -> torch.Tensor:
        return normalize_volume(x) if self.adversarial[name]["normalize_volume"] else x

    def discriminator_loss(self, y: torch.Tensor, y_hat: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """Sum of the adversarial D losses; ``y_hat`` should be detached. Returns (loss, logs)."""
        total, logs = y.new_zeros(()), {}
        for name, disc in self.discriminators.items():
            cfg = self.adversarial[name]
            if not cfg["trainable"]:
                continue
            cond = self._cond(y.device) if cfg["conditional"] else None
            out = disc(self._prep(name, y), self._prep(name, y_hat), cond)
            loss, _, _ = discriminator_loss(out.real_logits, out.fake_logits, cfg["kind"], cfg["average"])
            logs[f"d_{name}"] = loss.detach()
            total = total + loss
        logs["d_loss"] = total.detach()
        return total, logs

    def generator_loss(self, y: torch.Tensor, y_hat: torch.Tensor, q: Any, adversarial: bool
                       ) -> tuple[torch.Tensor, dict]:
        """Reconstruction + commitment (+ adversarial and feature matching). Returns (loss, logs)."""
        mel = self.mel_loss(y_hat, y)
        commit = q.loss if torch.is_tensor(q.loss) else y.new_tensor(float(q.loss))
        total = self.mel_weight * mel + self.commit_weight * commit
        logs = {"mel": mel.detach(), "commit": commit.detach()}
        if self.extra_mel_loss is not None:
            extra = self.extra_mel_loss(y_hat, y)
            total = total + extra
            logs["mel_extra"] = extra.detach()
        if adversarial:
            for name, disc in self.discriminators.items():
                cfg = self.adversarial[name]
                cond = self._cond(y.device) if cfg["conditional"] else None
                with torch.no_grad():
                    _, real_fmaps = disc.score(self._prep(name, y), cond)
                fake_logits, fake_fmaps = disc.score(self._prep(name, y_hat), cond)
                adv, _ = generator_loss(fake_logits, cfg["kind"], cfg["average"])
                fm = feature_matching_loss(real_fmaps, fake_fmaps, average=cfg["fm_average"])
                total = total + cfg["adv_weight"] * adv + cfg["fm_weight"] * fm
                logs[f"adv_{name}"], logs[f"fm_{name}"] = adv.detach(), fm.detach()
        logs["g_loss"] = total.detach()
        return total, logs

    # ------------------------------------------------------------------ Lightning
    def training_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        """One GAN iteration on ``batch["wav"]`` ``(B, 1, T)``."""
        opt_g, opt_d = self.optimizers()
        sched_g, sched_d = self.lr_schedulers()
        y = batch["wav"]
        y_hat, q = self.reconstruct(y)
        active = self.discriminators_active
        logs: dict[str, torch.Tensor] = {}
        if active:
            self.toggle_optimizer(opt_d)
            d_loss, d_logs = self.discriminator_loss(y, y_hat.detach())
            opt_d.zero_grad(set_to_none=True)
            self.manual_backward(d_loss)
            opt_d.step()
            opt_d.zero_grad(set_to_none=True)  # free them; the generator step needs none
            self.untoggle_optimizer(opt_d)
            logs.update(d_logs)
        self.toggle_optimizer(opt_g)
        g_loss, g_logs = self.generator_loss(y, y_hat, q, active)
        opt_g.zero_grad(set_to_none=True)
        self.manual_backward(g_loss)
        opt_g.step()
        opt_g.zero_grad(set_to_none=True)
        self.untoggle_optimizer(opt_g)
        sched_g.step()
        sched_d.step()
        self.iteration += 1
        logs.update(g_logs)
        for key in ("perplexity", "dead_codes"):
            if key in q.stats:
                logs[key] = torch.as_tensor(q.stats[key], dtype=torch.float32)
        batch_size = y.shape[0]
        self.log_dict({f"train/{k}": v for k, v in logs.items()}, batch_size=batch_size)
        self.log("g_loss", logs["g_loss"], prog_bar=True, logger=False, batch_size=batch_size)
        self.log("mel", logs["mel"], prog_bar=True, logger=False, batch_size=batch_size)

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        """Mel distance (and code perplexity) on fixed validation crops."""
        y = batch["wav"]
        if not getattr(self.model, "codebook_initialized", True):
            # an untrained EMA codebook would run k-means on validation data; with quantizer
            # dropout (Language-Codec) the last codebooks may still be untrained after many
            # steps. Log +inf so a monitoring checkpoint callback still finds val_mel.
            self.log("val_mel", float("inf"), prog_bar=True, sync_dist=True, batch_size=y.shape[0])
            return

        y_hat, q = self.reconstruct(y)
        n = y.shape[0]
        self.log("val_mel", self.mel_loss(y_hat, y), prog_bar=True, sync_dist=True, batch_size=n)
        if "perplexity" in q.stats:
            self.log("val_perplexity", torch.as_tensor(q.stats["perplexity"], dtype=torch.float32),
                     sync_dist=True, batch_size=n)

    def _decay_steps(self) -> int | None:
        if self.decay_steps is not None:
            return int(self.decay_steps)
        max_steps = getattr(self.trainer, "max_steps", -1) if self._trainer is not None else -1
        if not max_steps or max_steps <= 0:
            return None
        if not len(self.discriminators):
            return int(max_steps)
        # one optimiser step per warm-up iteration, two afterwards
        warm = min(max_steps, self.disc_start)
        return warm + (max_steps - warm) // 2

    def configure_optimizers(self) -> Any:
        """AdamW for the generator and the (trainable) discriminators, each with a per-iteration
        cosine or exponential schedule."""
        disc_params = [p for name, d in self.discriminators.items() if self.adversarial[name]["trainable"]
                       for p in d.parameters()] or [nn.Parameter(torch.zeros(()))]
        for name, disc in self.discriminators.items():
            if not self.adversarial[name]["trainable"]:
                disc.requires_grad_(False)  # fixed at its random init (Language-Codec's DAC)
        total, warmup = self._decay_steps(), self.warmup_steps
        gamma, every = self.lr_gamma, self.lr_decay_every

        def factor(step: int) -> float:
            if self.schedule == "exponential":
                return (step + 1) / warmup if 0 < warmup and step < warmup else gamma ** (step // every)
            return cosine_factor(step, warmup, total)

        adamw = {"betas": self.betas, "weight_decay": self.weight_decay}
        gen = adamw_step_schedule(self.model.parameters(), factor, lr=self.lr, name="lr_g", **adamw)
        disc = adamw_step_schedule(disc_params, factor, lr=self.lr_d, name="lr_d", **adamw)
        return [gen["optimizer"], disc["optimizer"]], [gen["lr_scheduler"], disc["lr_scheduler"]]

    def setup(self, stage: str) -> None:
        # checkpoints are taken after whole iterations, which is what resuming needs
        warnings.filterwarnings("ignore", message="Using ModelCheckpoint with manual optimization")

    def on_train_start(self) -> None:
        """Set the learning rates from the schedules (a resumed run may have a new horizon)."""
        for config in self.trainer.lr_scheduler_configs:
            sched = config.scheduler
            if isinstance(sched, torch.optim.lr_scheduler.LambdaLR):
                for group, base, fn in zip(sched.optimizer.param_groups, sched.base_lrs, sched.lr_lambdas):
                    group["lr"] = base * fn(sched.last_epoch)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["codec_gan"] = {"iteration": int(self.iteration)}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.iteration = int(checkpoint.get("codec_gan", {}).get("iteration", 0))


# --------------------------------------------------------------------------- export
def build_codec(train_config: str | Path, seed: int | None = None) -> tuple[nn.Module, dict]:
    """The (untrained) codec of a training config and its ``{class_path, init_args}`` node.

    With ``seed``, the global RNG is seeded first, as ``audiokit train`` does, so the weights
    equal the training run's initial weights.
    """
    return build_model(train_config, "a codec", seed)


def codec_from_checkpoint(checkpoint: str | Path, train_config: str | Path) -> tuple[nn.Module, dict]:
    """The trained codec of a Lightning checkpoint of :class:`CodecGANTask` (eval mode).

    ``train_config`` is the run's resolved config (``exp_dir/config.yaml``). Returns
    ``(model, model_node)``; the node is what :func:`audiokit.checkpoint.save_pretrained` needs.
    """
    model, node = build_codec(train_config)
    state = checkpoint_state(checkpoint)
    load_task_weights(model, state, "model.", checkpoint=checkpoint, train_config=train_config,
                      what="a codec GAN")
    return model, node
