"""Readers of official released checkpoint formats, and conversion to audiokit's format.

A format module (listed in :data:`FORMATS`) describes itself with ``FORMAT``, a
:class:`~audiokit.convert.format.CheckpointFormat` (its ``from_state``, how to unwrap the
file object, the model class), and exposes ``matches(state) -> bool``: does this flat
state dict have my key layout? ``FORMAT.read`` / ``load`` / ``convert`` /
``audiokit_config`` (aliased as the module's ``read_checkpoint``, ``load_checkpoint``,
``convert_checkpoint``, ``audiokit_config``) are the same code for every format; a
format's options (``config``, ``expected``, ``keep_discriminators``, ``sample_rate``) are
the keyword arguments of its ``from_state``.

:func:`read_official` and :func:`convert_official` read a file once (``torch.load`` with
``weights_only=True``), detect its format and dispatch. Importing this package does not
import torch.
"""

from __future__ import annotations

import importlib
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
    modules = format_modules()
    for name, module in modules.items():
        try:
            state, meta = module.FORMAT.unwrap(obj, where)
        except CheckpointError:
            continue
        if module.matches(state):
            return name, module, state, meta
    raise CheckpointError(f"{where}: not a checkpoint format audiokit reads (known: {', '.join(modules)})")


def read_official(path: str | os.PathLike, **options: Any) -> tuple[str, Any]:
    """``(format name, checkpoint object)`` of an official file; ``options`` go to ``from_state``.

    An option the detected format does not take (e.g. ``keep_discriminators`` for
    HiFi-Codec, ``sample_rate`` for WavTokenizer) is a :class:`CheckpointError`.
    """
    from audiokit.convert.common import read_torch_file

    where = str(path)
    name, module, state, meta = identify(read_torch_file(path), where)
    module.FORMAT.check_options(options, where)
    return name, module.from_state(state, meta, where=where, **options)


def convert_official(
    path: str | os.PathLike, out_dir: str | os.PathLike, *, force: bool = False, **options: Any
) -> tuple[str, Path]:
    """Convert an official file of any known format; returns ``(format name, out_dir)``.

    ``options`` (``config``, ``sample_rate``, ``keep_discriminators``, ...) go to the
    format's reader; ``None`` and ``False`` mean "not given". Written atomically; an
    existing ``out_dir`` is replaced only with ``force``.
    """
    from audiokit.io.atomic import check_writable

    check_writable(out_dir, force)  # fail before reading a large file
    given = {k: v for k, v in options.items() if v is not None and v is not False}
    name, ckpt = read_official(path, **given)
    return name, format_modules()[name].FORMAT.write(ckpt, path, out_dir, force=force)


__all__ = ["FORMATS", "convert_official", "format_modules", "identify", "read_official"]
