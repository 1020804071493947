"""What every official-format reader shares: the checkpoint object and the read/load/convert verbs.

A format module describes itself with one :class:`CheckpointFormat` (its ``from_state``,
unwrapping function, model class, hop key) and exposes the format's verbs as aliases of
the methods, e.g. ``read_checkpoint = FORMAT.read``. Everything in this file is the same
for WavTokenizer, Language-Codec and HiFi-Codec; the format modules keep only what is
really theirs (key layout, shape inference, official configs).
"""

from __future__ import annotations

import importlib
import inspect
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audiokit.convert.common import (
    load_checked,
    read_torch_file,
    save_converted,
    unwrap_state_dict,
)
from audiokit.errors import CheckpointError

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn


def same_value(a: Any, b: Any) -> bool:
    """Equal, or equal when written out (``"1" == 1`` for HiFi-GAN's ``resblock``)."""
    return a == b or str(a) == str(b)


def merge_stated(
    inferred: Mapping[str, Any],
    stated: Mapping[str, Any],
    where: str,
    source: str,
    checked: Callable[[str], bool],
) -> dict[str, Any]:
    """``inferred`` updated by ``stated``.

    A stated value for a key the shapes determined (``checked(key)``) must agree with it,
    else :class:`CheckpointError` naming ``where``, ``source`` and the key.
    """
    merged = dict(inferred)
    for key, value in stated.items():
        if key in inferred and checked(key) and not same_value(inferred[key], value):
            raise CheckpointError(f"{where}: does not match {source}: {key} is {value!r} there but "
                                  f"{inferred[key]!r} in the checkpoint")
        merged[key] = value
    return merged


def model_class(class_path: str) -> type:
    """The audiokit class named by ``class_path`` (``audiokit.models.codec.x.Model``)."""
    module, _, name = class_path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def in_signature_order(cls: type, args: Mapping[str, Any]) -> dict[str, Any]:
    """``args`` sorted like the parameters of ``cls`` (unknown keys last), for readable configs."""
    order = list(inspect.signature(cls).parameters)
    rank = {name: i for i, name in enumerate(order)}
    return dict(sorted(args.items(), key=lambda kv: rank.get(kv[0], len(order))))


@dataclass
class OfficialCheckpoint:
    """What an official file holds, in audiokit terms; nothing is built until :meth:`build`.

    Attributes:
        class_path: the audiokit model class.
        init_args: its constructor arguments (in signature order).
        state_dict: the model's tensors under audiokit names.
        discriminators: training-only discriminator tensors (official names) when kept, else ``None``.
        meta: plain metadata of the file (Lightning ``epoch``, ``global_step``, ...).
        release: the released architecture the shapes identify, when the format has several.
    """

    class_path: str
    init_args: dict[str, Any]
    state_dict: dict[str, torch.Tensor]
    discriminators: dict[str, torch.Tensor] | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    release: str | None = None

    def __post_init__(self) -> None:
        self.init_args = in_signature_order(model_class(self.class_path), self.init_args)

    def build(self, where: str = "checkpoint") -> nn.Module:
        """The model with these weights loaded, in eval mode."""
        cls = model_class(self.class_path)
        try:
            model = cls(**self.init_args)
        except (TypeError, ValueError) as err:
            raise CheckpointError(f"{where}: cannot build {cls.__name__} from this configuration ({err})") from None
        load_checked(model, self.state_dict, where)
        return model.eval()


@dataclass(frozen=True)
class CheckpointFormat:
    """One official checkpoint format.

    Attributes:
        name: the format's name in converted configs (``source.format``).
        class_path: the audiokit model class it converts to.
        hop_key: init arg whose product is the hop (``ratios``, ``upsample_rates``).
        from_state: ``(state, meta, *, where, **options) -> OfficialCheckpoint``.
        unwrap: ``(loaded object, where) -> (flat state, meta)``.
    """

    name: str
    class_path: str
    hop_key: str
    from_state: Callable[..., OfficialCheckpoint]
    unwrap: Callable[[Any, str], tuple[dict, dict]] = unwrap_state_dict

    def options(self) -> list[str]:
        """The keyword options ``from_state`` takes (``config``, ``sample_rate``, ...)."""
        params = inspect.signature(self.from_state).parameters.values()
        return [p.name for p in params if p.kind is p.KEYWORD_ONLY and p.name != "where"]

    def check_options(self, options: Mapping[str, Any], where: str) -> None:
        """An option this format does not take is a one-line :class:`CheckpointError`."""
        for key in options:
            if key not in self.options():
                raise CheckpointError(f"{where}: option '{key}' does not apply to {self.name} checkpoints "
                                      f"(it takes: {', '.join(self.options())})")

    def interpret(self, obj: Any, where: str, **options: Any) -> OfficialCheckpoint:
        """A loaded file object -> :class:`OfficialCheckpoint` (``options`` go to ``from_state``)."""
        self.check_options(options, where)
        state, meta = self.unwrap(obj, where)
        return self.from_state(state, meta, where=where, **options)

    def read(self, path: str | os.PathLike, **options: Any) -> OfficialCheckpoint:
        """Read an official file (``torch.load(weights_only=True)``) and interpret it."""
        self.check_options(options, str(path))
        return self.interpret(read_torch_file(path), str(path), **options)

    def load(self, path: str | os.PathLike, *, device: Any = "cpu", **options: Any) -> nn.Module:
        """The model of an official file, in eval mode on ``device``."""
        return self.read(path, **options).build(str(path)).to(device)

    def hop_length(self, init_args: Mapping[str, Any]) -> int:
        """Samples per code frame of a model with ``init_args``."""
        return math.prod(int(r) for r in init_args[self.hop_key])

    def audiokit_config(self, ckpt: OfficialCheckpoint, source: str | os.PathLike) -> dict[str, Any]:
        """The ``config.yaml`` content of a converted model (model node + metadata)."""
        rate, hop = ckpt.init_args["sample_rate"], self.hop_length(ckpt.init_args)
        origin = {"format": self.name, "file": Path(source).name}
        if ckpt.release is not None:
            origin["release"] = ckpt.release
        return {"model": {"class_path": ckpt.class_path, "init_args": dict(ckpt.init_args)},
                "sample_rate": rate, "hop_length": hop, "frame_rate": rate / hop,
                "source": {**origin, **ckpt.meta}}

    def write(self, ckpt: OfficialCheckpoint, source: str | os.PathLike, out_dir: str | os.PathLike,
              *, force: bool = False) -> Path:
        """Write an interpreted checkpoint as an audiokit folder (+ kept discriminators)."""
        return save_converted(ckpt.build(str(source)), self.audiokit_config(ckpt, source), out_dir,
                              discriminators=ckpt.discriminators, force=force)

    def convert(self, path: str | os.PathLike, out_dir: str | os.PathLike, *, force: bool = False,
                **options: Any) -> Path:
        """Convert an official file to an audiokit model folder; returns its path.

        Written atomically; an existing ``out_dir`` is replaced only with ``force``.
        """
        from audiokit.io.atomic import check_writable

        check_writable(out_dir, force)  # fail before reading a large file
        return self.write(self.read(path, **options), path, out_dir, force=force)
