"""Lightning checkpoint I/O: atomic saves and ``weights_only`` loads.

Lightning writes ``.ckpt`` files in place, so a crash while saving ``last.ckpt``
destroys the only resumable state. :class:`AtomicCheckpointIO` writes to a temporary
file in the same folder, fsyncs it and renames it over the target; loading goes
through :func:`audiokit.checkpoint.torch_load_safe` (no code is unpickled).
"""

from __future__ import annotations

import os
from typing import Any, Optional

import torch
from lightning.fabric.utilities.types import _PATH
from lightning.pytorch.plugins.io import TorchCheckpointIO

from audiokit.checkpoint import torch_load_safe
from audiokit.io.atomic import atomic_path


class AtomicCheckpointIO(TorchCheckpointIO):
    """Torch checkpoint I/O that never leaves a half-written file."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: _PATH,
                        storage_options: Optional[Any] = None) -> None:
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                torch.save(checkpoint, fh)
                fh.flush()
                os.fsync(fh.fileno())

    def load_checkpoint(self, path: _PATH, map_location: Optional[Any] = None,
                        weights_only: Optional[bool] = None) -> dict[str, Any]:
        return torch_load_safe(path, map_location="cpu")
