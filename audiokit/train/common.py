"""Pieces shared by the training tasks (ASR, TTS, codec GAN).

* LR schedules as multipliers of the base rate: :func:`cosine_factor` (codec, ASR) and
  :func:`linear_warmup_decay` (F5-TTS);
* :func:`adamw_step_schedule`: AdamW with a per-step ``LambdaLR``, in Lightning's
  ``configure_optimizers`` form;
* export helpers: :func:`model_node` (the ``task.init_args.model`` node of a run's resolved
  config), :func:`build_model` (that model, untrained, optionally with the run's initial
  weights) and :func:`load_task_weights` (a task checkpoint's ``<prefix>*`` weights into it).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from torch import nn

from audiokit.errors import CheckpointError


# --------------------------------------------------------------------------- schedules
def cosine_factor(step: int, warmup: int, total: int | None) -> float:
    """LR multiplier: linear warm-up over ``warmup`` steps, then cosine from 1 to 0 at ``total``."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    if not total or total <= warmup:
        return 1.0
    progress = min(1.0, (step - warmup) / (total - warmup))
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def linear_warmup_decay(step: int, warmup: int, total: int | None, floor: float = 1e-8) -> float:
    """LR multiplier: ``floor -> 1`` over ``warmup`` steps, then ``1 -> floor`` at ``total`` (F5 trainer)."""
    if warmup > 0 and step < warmup:
        return floor + (1.0 - floor) * step / warmup
    if not total or total <= warmup:
        return 1.0
    progress = min(1.0, (step - warmup) / (total - warmup))
    return 1.0 + (floor - 1.0) * progress


def adamw_step_schedule(params: Iterable[Any], lr_lambda: Callable[[int], float], *, lr: float,
                        betas: Any = (0.9, 0.999), weight_decay: float = 0.0,
                        name: str | None = None) -> dict[str, Any]:
    """``{"optimizer": AdamW, "lr_scheduler": {"scheduler": LambdaLR, "interval": "step"[, "name"]}}``:
    the LR of optimiser step ``s`` is ``lr * lr_lambda(s)``."""
    opt = torch.optim.AdamW(params, lr=lr, betas=betas, weight_decay=weight_decay)
    sched: dict[str, Any] = {"scheduler": torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda), "interval": "step"}
    if name is not None:
        sched["name"] = name
    return {"optimizer": opt, "lr_scheduler": sched}


# --------------------------------------------------------------------------- export
def model_node(train_config: str | Path, what: str) -> dict:
    """The ``task.init_args.model`` ``{class_path, init_args}`` node of a run's resolved config;
    ``what`` names the config kind in the error (``"a codec"``: "not a codec training config")."""
    from audiokit.config import is_class_node, read_yaml

    cfg, _ = read_yaml(train_config, CheckpointError)
    node = (((cfg or {}).get("task") or {}).get("init_args") or {}).get("model")
    if not is_class_node(node):
        raise CheckpointError(f"{train_config}: no task.init_args.model node (not {what} training config)")
    return node


def build_model(train_config: str | Path, what: str, seed: int | None = None) -> tuple[nn.Module, dict]:
    """The untrained model of a training config and its node (see :func:`model_node`).

    With ``seed``, the global RNG is seeded first, as ``audiokit train`` does, so the weights
    equal the training run's initial weights.
    """
    from audiokit.config import instantiate

    node = model_node(train_config, what)
    if seed is not None:
        pl.seed_everything(seed, workers=True, verbose=False)
    return instantiate(node, where=f"{train_config}: task.init_args.model"), node


def checkpoint_state(checkpoint: str | Path) -> Mapping[str, Any]:
    """The ``state_dict`` of a Lightning checkpoint (loaded with ``weights_only``)."""
    from audiokit.checkpoint import torch_load_safe

    state = torch_load_safe(checkpoint).get("state_dict")
    if not isinstance(state, dict):
        raise CheckpointError(f"{checkpoint}: no state_dict (not a Lightning checkpoint)")
    return state


def load_task_weights(model: nn.Module, state: Mapping[str, Any], prefix: str, *, checkpoint: str | Path,
                      train_config: str | Path, what: str) -> nn.Module:
    """Load the ``<prefix>*`` entries of a task's ``state`` into ``model`` (strict), eval mode.

    ``what`` names the task in the error (``"an ASR task"``: "not an ASR task checkpoint").
    """
    weights = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    if not weights:
        raise CheckpointError(f"{checkpoint}: no '{prefix}*' weights (not {what} checkpoint)")
    try:
        model.load_state_dict(weights, strict=True)
    except RuntimeError as err:
        first = str(err).strip().splitlines()[0]
        raise CheckpointError(f"{checkpoint}: weights do not fit {train_config} ({first})") from None
    return model.eval()
