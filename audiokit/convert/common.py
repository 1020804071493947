"""Helpers shared by the readers of official checkpoint formats.

* :func:`unwrap_state_dict`: the tensors of a Lightning ``.ckpt`` (``['state_dict']``) or a
  flat state dict, plus the plain Lightning metadata (epoch, step, version);
* :func:`split_prefixes`: rename kept prefixes, set aside dropped ones, refuse unknown keys;
* shape readers (:func:`shape_of`, :func:`conv_weight_shape`, :func:`indices_under`,
  :func:`seanet_encoder_args`) for inferring a configuration from tensor shapes;
* :func:`yaml_number`, :func:`yaml_section`: numbers from official YAMLs (never classes);
* :func:`load_checked`: load a state dict into a model in any weight-norm key style, turning
  every mismatch into a one-line :class:`~audiokit.errors.CheckpointError` naming the file;
* :func:`save_converted`: write the audiokit folder (+ kept discriminators).

Nothing here unpickles code: files are read by :func:`read_torch_file`, i.e.
:func:`audiokit.checkpoint.torch_load_safe` (``weights_only=True``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from audiokit.errors import CheckpointError, ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from pathlib import Path

    import torch
    from torch import nn

#: Lightning top-level entries copied into converted configs (plain values only)
LIGHTNING_META = ("epoch", "global_step", "pytorch-lightning_version")
#: file holding kept discriminator weights (official names) in a converted folder
DISCRIMINATORS_FILE = "discriminators.safetensors"
#: key suffixes of a weight-normed layer's direction tensor ``v`` (legacy, parametrized, folded)
_V_SUFFIXES = ("weight_v", "parametrizations.weight.original1", "weight")


def read_torch_file(path: str | os.PathLike) -> Any:
    """Read an official checkpoint file with :func:`~audiokit.checkpoint.torch_load_safe`
    (``weights_only=True``; every failure is a one-line :class:`CheckpointError`)."""
    from audiokit.checkpoint import torch_load_safe

    return torch_load_safe(path)


def unwrap_state_dict(obj: Any, where: str) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """``(state_dict, meta)`` of a loaded checkpoint object.

    Accepts a Lightning checkpoint (a dict with ``state_dict``) or a flat state dict of
    tensors. ``meta`` holds the plain Lightning entries of :data:`LIGHTNING_META`.
    """
    import torch

    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{where}: not a checkpoint (the file holds a {type(obj).__name__}, "
                              "expected a dict with 'state_dict')")
    if "state_dict" in obj:
        state, meta = obj["state_dict"], {k: obj[k] for k in LIGHTNING_META if k in obj}
    else:
        state, meta = obj, {}
    if not isinstance(state, Mapping) or not state:
        raise CheckpointError(f"{where}: 'state_dict' is empty or not a mapping")
    bad = next((k for k, v in state.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)), None)
    if bad is not None:
        raise CheckpointError(f"{where}: not a state dict (entry {bad!r} is not a named tensor)")
    meta = {k: v for k, v in meta.items() if isinstance(v, (int, float, str))}
    return dict(state), meta


def split_prefixes(
    state: Mapping[str, torch.Tensor],
    rename: Mapping[str, str],
    drop: Sequence[str],
    where: str,
) -> tuple[dict[str, torch.Tensor], dict[str, dict[str, torch.Tensor]]]:
    """Rename and sort the keys of ``state``.

    Args:
        state: the checkpoint's tensors.
        rename: source prefix -> target prefix for the tensors the model keeps.
        drop: prefixes of tensors the model does not use.
        where: file name for messages.
    Returns:
        ``(kept, dropped)``: ``kept`` with renamed keys; ``dropped`` maps each ``drop``
        prefix to its tensors (keys unchanged).
    Raises:
        CheckpointError: for a key under none of the prefixes.
    """
    kept: dict[str, Any] = {}
    dropped: dict[str, dict[str, Any]] = {p: {} for p in drop}
    for key, value in state.items():
        src = next((p for p in rename if key.startswith(p)), None)
        if src is not None:
            kept[rename[src] + key[len(src):]] = value
            continue
        group = next((p for p in drop if key.startswith(p)), None)
        if group is None:
            raise CheckpointError(f"{where}: unexpected tensor '{key}' (not part of this checkpoint format)")
        dropped[group][key] = value
    return kept, dropped


def shape_of(state: Mapping[str, torch.Tensor], key: str, where: str) -> tuple[int, ...]:
    """Shape of ``state[key]``; a missing key is a :class:`CheckpointError`."""
    if key not in state:
        raise CheckpointError(f"{where}: missing tensor '{key}'")
    return tuple(state[key].shape)


def conv_weight_shape(state: Mapping[str, torch.Tensor], prefix: str, where: str) -> tuple[int, ...]:
    """Weight shape of the (possibly weight-normed) layer at ``prefix`` (ending in ``.``)."""
    for suffix in _V_SUFFIXES:
        if prefix + suffix in state:
            return tuple(state[prefix + suffix].shape)
    raise CheckpointError(f"{where}: missing tensor '{prefix}weight_v' (or another weight-norm style)")


def indices_under(state: Mapping[str, Any], prefix: str, child: str = "") -> list[int]:
    """Sorted integers ``i`` such that some key starts with ``f"{prefix}{i}.{child}"``."""
    found = set()
    for key in state:
        if not key.startswith(prefix):
            continue
        head, _, rest = key[len(prefix):].partition(".")
        if head.isdigit() and rest.startswith(child):
            found.add(int(head))
    return sorted(found)


def seanet_encoder_args(state: Mapping[str, Any], where: str, prefix: str = "encoder.model.") -> dict[str, Any]:
    """SEANet encoder settings from shapes: ``ratios`` (decoder order; kernel = 2 x stride),
    ``n_filters``, ``dimension``, ``lstm`` layers. Keys are under ``prefix`` (audiokit names)."""
    convs = indices_under(state, prefix, "conv.")
    blocks = indices_under(state, prefix, "block.")
    if len(convs) < 2:
        raise CheckpointError(f"{where}: no SEANet encoder convolutions under "
                              "'feature_extractor.encodec.encoder.model.'")
    first = conv_weight_shape(state, f"{prefix}{convs[0]}.conv.conv.", where)
    last = conv_weight_shape(state, f"{prefix}{convs[-1]}.conv.conv.", where)
    strides = []
    for i in convs[1:-1]:
        c_out, c_in, kernel = conv_weight_shape(state, f"{prefix}{i}.conv.conv.", where)
        if kernel % 2 or c_out != 2 * c_in:
            raise CheckpointError(f"{where}: encoder layer {i} (shape {(c_out, c_in, kernel)}) is not a "
                                  "SEANet downsampling conv (kernel 2 x stride, channels doubling)")
        strides.append(kernel // 2)
    if len(blocks) != len(strides):
        raise CheckpointError(f"{where}: {len(blocks)} residual blocks for {len(strides)} downsampling "
                              "layers; a SEANet encoder has one per layer")
    lstm_key = re.compile(re.escape(prefix) + r"\d+\.lstm\.weight_ih_l(\d+)$")
    lstm_layers = {int(m.group(1)) for k in state if (m := lstm_key.match(k))}
    return {"ratios": strides[::-1], "n_filters": first[0], "dimension": last[0], "lstm": len(lstm_layers)}


def load_checked(model: nn.Module, state: Mapping[str, torch.Tensor], where: str) -> None:
    """Strictly load ``state`` into ``model`` (any weight-norm key style).

    Raises :class:`CheckpointError` naming the first missing, unexpected or mis-shaped tensor.
    """
    from audiokit.checkpoint import check_state
    from audiokit.nn.weight_norm import adapt_weight_norm_keys

    adapted = adapt_weight_norm_keys(state, model)
    check_state(model, adapted, where, strict=True)
    model.load_state_dict(adapted, strict=True)


# --------------------------------------------------------------------------- official YAML numbers
def yaml_number(node: Mapping, key: str, where: str, kind: type = int) -> Any:
    """``node[key]`` as a number of type ``kind``; anything else is a :class:`ConfigError`."""
    value = node.get(key)
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        ok = ok and float(value).is_integer()
    if not ok:
        raise ConfigError(f"{where}.{key}: expected a number, got {value!r}")
    return kind(value)


def yaml_section(node: Any, key: str, where: str,
                 expected: str = "an official WavTokenizer YAML with model.init_args.{feature_extractor,"
                 "backbone,head}") -> Mapping:
    """``node[key]`` (its ``init_args`` for a class node) as a mapping, else :class:`ConfigError`
    (``expected`` says what the file should have been)."""
    sub = node.get(key) if isinstance(node, Mapping) else None
    if isinstance(sub, Mapping) and "init_args" in sub:
        sub = sub["init_args"]
    if not isinstance(sub, Mapping):
        raise ConfigError(f"{where}: missing section '{key}' (expected {expected})")
    return sub


def save_converted(
    model: nn.Module,
    config: Mapping[str, Any],
    out_dir: str | os.PathLike,
    *,
    discriminators: Mapping[str, torch.Tensor] | None = None,
    force: bool = False,
) -> Path:
    """Write ``model`` as an audiokit folder (atomic), with the discriminators when given.

    ``config`` is the ``config.yaml`` content (``model`` node + metadata); the kept
    discriminators go to :data:`DISCRIMINATORS_FILE` and ``config["discriminators"]`` names it.
    """
    import tempfile
    from pathlib import Path

    from safetensors.torch import save_file

    from audiokit.checkpoint import save_pretrained

    cfg = dict(config)
    with tempfile.TemporaryDirectory(prefix="audiokit-convert-") as tmp:
        extra = []
        if discriminators is not None:
            extra.append(Path(tmp) / DISCRIMINATORS_FILE)
            tensors = {k: v.detach().cpu().contiguous().clone() for k, v in discriminators.items()}
            save_file(tensors, str(extra[0]), metadata={"format": "pt"})
            cfg["discriminators"] = DISCRIMINATORS_FILE
        return save_pretrained(model, cfg, out_dir, extra_files=extra, force=force)
