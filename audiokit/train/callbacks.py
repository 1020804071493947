"""Lightning callbacks for exact resume (RNG states, sampler position) and DDP checks.

Lightning checkpoints the model, optimizers, schedulers and loop counters; these
callbacks add what it leaves out, so that "train N steps" equals "train k steps,
stop, resume, train N - k":

* :class:`RNGStateCallback` saves the torch / numpy / python RNG states of every
  rank and restores them when training starts again;
* :class:`SamplerStateCallback` counts the batches the training loop *consumed*
  (the loader prefetches, so the sampler's own count runs ahead) and restores the
  position of the data module's ``train_batch_sampler``, which must exist after
  ``setup("fit")`` and offer ``state_dict``/``load_state_dict``/``__len__``
  (:class:`audiokit.data.sampler.BucketBatchSampler` does).

:class:`RankDumpCallback` writes each rank's final parameters and the sample ids it
trained on, for the DDP test.
"""

from __future__ import annotations

import random
import warnings
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch

from audiokit.io.atomic import atomic_open


# --------------------------------------------------------------------------- RNG
def capture_rng_state() -> dict[str, Any]:
    """This process's RNG states as tensors and plain containers (loadable with weights_only)."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": [name, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)],
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng_state`."""
    torch.set_rng_state(state["torch"])
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _gather(obj: Any) -> list[Any]:
    """``obj`` from every rank (a one-item list outside distributed runs)."""
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        out: list[Any] = [None] * dist.get_world_size()
        dist.all_gather_object(out, obj)
        return out
    return [obj]


class RNGStateCallback(pl.Callback):
    """Checkpoint the RNG states of all ranks; restore them in ``on_train_start``.

    Restoring at ``on_train_start`` comes after everything a resumed run does before
    its first step (building the model, the sanity check, creating the loader
    iterator), so the next training step draws the same random numbers as it would
    have in an uninterrupted run. Data loaders should use their own
    ``torch.Generator`` so that iterating them does not draw from the global stream.
    """

    def __init__(self) -> None:
        self._pending: list[dict] | None = None

    def state_dict(self) -> dict[str, Any]:
        return {"per_rank": _gather(capture_rng_state())}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._pending = list(state_dict.get("per_rank") or [])

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self._pending:
            return
        states, self._pending = self._pending, None
        if len(states) != trainer.world_size:
            warnings.warn(
                f"checkpoint has RNG states of {len(states)} rank(s) but this run has "
                f"{trainer.world_size}; using rank 0's (resume is not bit-exact)",
                stacklevel=1,
            )
            restore_rng_state(states[0])
        else:
            restore_rng_state(states[trainer.global_rank])


# --------------------------------------------------------------------------- sampler
class SamplerStateCallback(pl.Callback):
    """Checkpoint the position of the training batch sampler, counted in consumed batches."""

    def __init__(self) -> None:
        self.epoch = 0
        self.consumed = 0
        self._trainer: pl.Trainer | None = None
        self._pending: dict | None = None

    @staticmethod
    def find_sampler(trainer: pl.Trainer) -> Any:
        """The ``train_batch_sampler`` of the data module (or task), or None."""
        for owner in (getattr(trainer, "datamodule", None), trainer.lightning_module):
            sampler = getattr(owner, "train_batch_sampler", None)
            if sampler is not None and hasattr(sampler, "load_state_dict"):
                return sampler
        return None

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self._trainer = trainer

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Lightning only calls set_epoch on dataloader.sampler and batch_sampler.sampler,
        # not on a batch sampler itself
        sampler = self.find_sampler(trainer)
        if sampler is not None and hasattr(sampler, "set_epoch"):
            sampler.set_epoch(trainer.current_epoch)

    def on_train_batch_end(self, trainer: pl.Trainer, *args: Any, **kwargs: Any) -> None:
        if trainer.current_epoch != self.epoch:
            self.epoch, self.consumed = trainer.current_epoch, 0
        self.consumed += 1

    def state_dict(self) -> dict[str, Any]:
        sampler = self.find_sampler(self._trainer) if self._trainer is not None else None
        state = dict(sampler.state_dict()) if sampler is not None else {}
        state.update(epoch=self.epoch, consumed=self.consumed)
        return {"sampler": state}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._pending = dict(state_dict["sampler"])
        self._apply()  # the sampler exists already when setup("fit") made it

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._apply()

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._pending is not None:
            self._pending = None
            warnings.warn(
                "resuming without a train_batch_sampler on the data module: the interrupted "
                "epoch restarts from its first batch",
                stacklevel=1,
            )

    def _apply(self) -> None:
        if self._pending is None or self._trainer is None:
            return
        sampler = self.find_sampler(self._trainer)
        if sampler is None:
            return
        state, self._pending = self._pending, None
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(int(state["epoch"]))
        if len(sampler) and state["consumed"] >= len(sampler):  # saved after the last batch
            state.update(epoch=int(state["epoch"]) + 1, consumed=0)
        sampler.load_state_dict(state)
        # Lightning cannot see that the position was restored and would warn otherwise
        warnings.filterwarnings("ignore", message="You're resuming from a checkpoint that ended before")
        self.epoch, self.consumed = int(state["epoch"]), int(state["consumed"])


# --------------------------------------------------------------------------- DDP check
class RankDumpCallback(pl.Callback):
    """Write ``<exp_dir>/<subdir>/rank<R>.npz`` at the end of training.

    Holds ``params`` (all parameters flattened, float64) and ``ids`` (the ``"ids"``
    of every training batch this rank consumed), so tests can check that DDP ranks
    end with equal weights after seeing disjoint data.
    """

    def __init__(self, subdir: str = "rank_dump") -> None:
        self.subdir = subdir
        self._ids: list[int] = []

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                           outputs: Any, batch: Any, batch_idx: int) -> None:
        if isinstance(batch, dict) and "ids" in batch:
            self._ids.extend(int(i) for i in batch["ids"].reshape(-1).tolist())

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        params = [p.detach().cpu().double().reshape(-1) for p in pl_module.parameters()]
        flat = torch.cat(params).numpy() if params else np.zeros(0)
        out = Path(trainer.default_root_dir) / self.subdir / f"rank{trainer.global_rank}.npz"
        out.parent.mkdir(parents=True, exist_ok=True)
        with atomic_open(out, "wb") as fh:
            np.savez(fh, params=flat, ids=np.asarray(self._ids, dtype=np.int64))
