"""Readers of official released checkpoint formats, and conversion to audiokit's format.

A format module (listed in :data:`FORMATS`) exposes

* ``matches(state) -> bool``: does this flat state dict have my key layout?
* ``from_state(state, meta, *, where, config=None, expected=None, ...)``: a checkpoint
  object with ``init_args``, ``build(where) -> model`` (and ``discriminators`` where the
  format has them);
* ``audiokit_config(ckpt, source) -> dict``: the converted folder's ``config.yaml``;
* optionally ``unwrap_official(obj, where) -> (state, meta)`` when the file is not a
  Lightning dict or a flat state dict (default :func:`~audiokit.convert.common.unwrap_state_dict`).

:func:`read_official` and :func:`convert_official` read a file once (``torch.load`` with
``weights_only=True``), detect its format and dispatch. Importing this package does not
import torch.
"""

from __future__ import annotations

import importlib
import inspect
import os
from pathlib import Path
from types import ModuleType
from typing import Any

from audiokit.errors import CheckpointError

#: format name -> module implementing it (order = detection order)
FORMATS: dict[str, str] = {
    "wavtokenizer": "audiokit.convert.wavtokenizer",
    "languagecodec": "audiokit.convert.languagecodec",
    "hificodec": "audiokit.convert.hificodec",
}


def format_modules() -> dict[str, ModuleType]:
    """The importable format modules (a format not shipped in this build is skipped)."""
    found = {}
    for name, module in FORMATS.items():
        try:
            found[name] = importlib.import_module(module)
        except ModuleNotFoundError as err:
            if err.name != module:
                raise
    return found


def identify(obj: Any, where: str) -> tuple[str, ModuleType, dict, dict]:
    """``(format name, module, state, meta)`` of a loaded checkpoint object."""
    from audiokit.convert.common import unwrap_state_dict

    modules = format_modules()
    for name, module in modules.items():
        unwrap = getattr(module, "unwrap_official", unwrap_state_dict)
        try:
            state, meta = unwrap(obj, where)
        except CheckpointError:
            continue
        if module.matches(state):
            return name, module, state, meta
    raise CheckpointError(f"{where}: not a checkpoint format audiokit reads (known: {', '.join(modules)})")


def read_official(path: str | os.PathLike, **kwargs: Any) -> tuple[str, Any]:
    """``(format name, checkpoint object)`` of an official file; ``kwargs`` go to ``from_state``.

    An option the detected format does not have (e.g. ``keep_discriminators`` for
    HiFi-Codec) is a :class:`CheckpointError`.
    """
    from audiokit.convert.common import read_torch_file

    where = str(path)
    name, module, state, meta = identify(read_torch_file(path), where)
    accepted = inspect.signature(module.from_state).parameters
    for key in kwargs:
        if key not in accepted:
            raise CheckpointError(f"{where}: option '{key}' does not apply to {name} checkpoints")
    return name, module.from_state(state, meta, where=where, **kwargs)


def convert_official(
    path: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    config: str | os.PathLike | None = None,
    keep_discriminators: bool = False,
    force: bool = False,
) -> tuple[str, Path]:
    """Convert an official file of any known format; returns ``(format name, out_dir)``.

    Written atomically; an existing ``out_dir`` is replaced only with ``force``.
    """
    from audiokit.convert.common import save_converted
    from audiokit.io.atomic import check_writable

    check_writable(out_dir, force)  # fail before reading a large file
    kwargs: dict[str, Any] = {}
    if config is not None:
        kwargs["config"] = config
    if keep_discriminators:
        kwargs["keep_discriminators"] = True
    name, ckpt = read_official(path, **kwargs)
    module = importlib.import_module(FORMATS[name])
    cfg = module.audiokit_config(ckpt, path)
    cfg.pop("discriminators", None)  # save_converted names the file when it writes one
    out = save_converted(ckpt.build(str(path)), cfg, out_dir,
                         discriminators=getattr(ckpt, "discriminators", None), force=force)
    return name, out


__all__ = ["FORMATS", "convert_official", "format_modules", "identify", "read_official"]
