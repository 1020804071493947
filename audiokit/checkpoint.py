"""audiokit's model format, and the one safe way to ``torch.load`` a file.

A saved model is a folder::

    model_dir/
      config.yaml         format, format_version, audiokit_version, model: {class_path,
                          init_args}, optional metadata (sample_rate, ...), files: [...]
      model.safetensors   the state dict (tied tensors stored once, aliases in metadata)
      <extra files>       e.g. a tokenizer model, copied in by ``save_pretrained``

``load_pretrained`` checks the config (only audiokit classes) before building
anything, then builds the model and loads the weights, naming the key of any
shape mismatch. Nothing here unpickles code.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from audiokit.config import check_class_paths, dump_config, instantiate, is_class_node, read_yaml
from audiokit.errors import CheckpointError, ConfigError
from audiokit.io.atomic import check_writable

if TYPE_CHECKING:  # pragma: no cover
    import torch

CONFIG_NAME = "config.yaml"
WEIGHTS_NAME = "model.safetensors"
FORMAT = "audiokit-model"
FORMAT_VERSION = 1
_ALIASES_KEY = "audiokit.aliases"


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


def torch_load_safe(path: str | os.PathLike, *, map_location: Any = "cpu") -> Any:
    """``torch.load(path, map_location, weights_only=True)`` with user-facing errors.

    Every ``torch.load`` in audiokit goes through here. A file that needs code to be
    unpickled (a pickled model object, a custom class) is refused with
    :class:`CheckpointError`, as are missing and corrupt files.
    """
    import torch

    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CheckpointError(f"{path}: is a directory, expected a torch checkpoint file") from None
    except pickle.UnpicklingError as err:
        match = re.search(r"Unsupported global: GLOBAL (\S+)", str(err))
        if match is None:
            raise CheckpointError(f"{path}: corrupt or not a torch checkpoint (unpickling failed)") from None
        raise CheckpointError(
            f"{path}: refused: the file needs '{match.group(1)}' to be unpickled, and audiokit only "
            "loads tensors and plain containers (torch.load weights_only=True)"
        ) from None
    except (RuntimeError, EOFError, ValueError, OSError) as err:
        raise CheckpointError(f"{path}: corrupt or not a torch checkpoint ({_first_line(err)})") from None
    except MemoryError:
        raise
    except Exception as err:  # noqa: BLE001 - the weights-only unpickler raises assorted errors
        # (IndexError, KeyError, ...) on garbage: any failure to parse a foreign file is the file's fault
        raise CheckpointError(f"{path}: corrupt or not a torch checkpoint ({type(err).__name__})") from None


# --------------------------------------------------------------------------- saving
def _storage_key(t: "torch.Tensor") -> tuple:
    return (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape), t.stride(), t.dtype)


def _state_tensors(model: "torch.nn.Module") -> tuple[dict[str, "torch.Tensor"], dict[str, str]]:
    """``(tensors, aliases)``: contiguous CPU tensors, tied ones stored once.

    ``aliases`` maps a state-dict key to the key whose tensor it shares.
    """
    tensors: dict[str, Any] = {}
    aliases: dict[str, str] = {}
    seen: dict[tuple, str] = {}
    for key, t in model.state_dict().items():
        t = t.detach()
        skey = _storage_key(t)
        if skey in seen:
            aliases[key] = seen[skey]
            continue
        seen[skey] = key
        tensors[key] = t.cpu().contiguous()
    owners: set[int] = set()
    for key, t in tensors.items():  # views into shared or larger storage get their own memory
        ptr = t.untyped_storage().data_ptr()
        if ptr in owners or t.untyped_storage().nbytes() != t.numel() * t.element_size():
            tensors[key] = t.clone()
        owners.add(ptr)
    return tensors, aliases


def _checkpoint_config(model: "torch.nn.Module", config: Mapping, files: list[str]) -> dict:
    from audiokit import __version__
    from audiokit.config import resolve_class

    if not is_class_node(config.get("model")):
        raise ConfigError("save_pretrained: config needs a 'model' node with class_path/init_args")
    check_class_paths(config["model"], "model")
    cls = resolve_class(config["model"]["class_path"], "model.class_path")
    if not isinstance(model, cls):
        raise ConfigError(
            f"save_pretrained: config names '{config['model']['class_path']}' "
            f"but the model is a {type(model).__module__}.{type(model).__qualname__}"
        )
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "audiokit_version": __version__}
    rest = {k: v for k, v in config.items() if k not in meta and k != "files"}
    return {**meta, **rest, "files": files}


def save_pretrained(
    model: "torch.nn.Module",
    config: Mapping,
    out_dir: str | os.PathLike,
    *,
    extra_files: Iterable[str | os.PathLike] = (),
    force: bool = False,
) -> Path:
    """Save ``model`` as an audiokit model folder; returns its path.

    ``config`` holds ``model: {class_path, init_args}`` (building it must give a model
    of the same class) plus free metadata (``sample_rate``...). ``extra_files`` are
    copied in by base name. The folder is written to a temporary sibling and renamed
    into place; an existing ``out_dir`` is replaced only with ``force``.
    """
    from safetensors.torch import save_file

    out_dir = check_writable(out_dir, force)
    extra = [Path(f) for f in extra_files]
    names = [f.name for f in extra]
    for f in extra:
        if not f.is_file():
            raise CheckpointError(f"{f}: extra file not found")
    clash = {CONFIG_NAME, WEIGHTS_NAME} & set(names) or {n for n in names if names.count(n) > 1}
    if clash:
        raise CheckpointError(f"save_pretrained: extra file name '{sorted(clash)[0]}' is used twice")
    cfg = _checkpoint_config(model, config, names)
    tensors, aliases = _state_tensors(model)

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    try:
        save_file(tensors, str(tmp / WEIGHTS_NAME), metadata={"format": "pt", _ALIASES_KEY: json.dumps(aliases)})
        (tmp / CONFIG_NAME).write_text(dump_config(cfg), encoding="utf-8")
        for f in extra:
            shutil.copy2(f, tmp / f.name)
        _replace_dir(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def _replace_dir(new: Path, target: Path) -> None:
    """Rename ``new`` onto ``target``, moving an existing ``target`` aside first."""
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
        os.rmdir(old)
        os.replace(target, old)
    try:
        os.replace(new, target)
    except BaseException:
        if old is not None:
            os.replace(old, target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# --------------------------------------------------------------------------- loading
def read_checkpoint_config(path: str | os.PathLike) -> dict:
    """The checked ``config.yaml`` of a model folder; nothing is built.

    Raises :class:`CheckpointError` for a missing folder or file and a malformed
    config, and :class:`ConfigError` for a config naming a non-audiokit class.
    """
    folder = Path(path)
    if not folder.exists():
        raise CheckpointError(f"{folder}: no such model folder")
    if not folder.is_dir():
        raise CheckpointError(f"{folder}: not a folder (an audiokit model is a folder with "
                              f"{CONFIG_NAME} and {WEIGHTS_NAME})")
    cfg_path = folder / CONFIG_NAME
    if not cfg_path.is_file():
        raise CheckpointError(f"{cfg_path}: missing (not an audiokit model folder)")
    cfg, _ = read_yaml(cfg_path, CheckpointError)
    if not isinstance(cfg, dict) or not is_class_node(cfg.get("model")):
        raise CheckpointError(f"{cfg_path}: needs a 'model' entry with class_path and init_args")
    version = cfg.get("format_version", FORMAT_VERSION)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"{cfg_path}: format_version {version!r} is newer than this audiokit reads "
            f"({FORMAT_VERSION}); upgrade audiokit"
        )
    check_class_paths(cfg["model"], f"{cfg_path}: model")
    return cfg


def _read_weights(path: Path) -> dict[str, "torch.Tensor"]:
    from safetensors import safe_open

    if not path.is_file():
        raise CheckpointError(f"{path}: missing (not an audiokit model folder)")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as fh:
            meta = fh.metadata() or {}
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}
        aliases = json.loads(meta.get(_ALIASES_KEY, "{}"))
    except Exception as err:  # safetensors raises its own error types for bad headers/data
        raise CheckpointError(f"{path}: corrupt or not a safetensors file ({_first_line(err)})") from None
    for alias, source in aliases.items():
        if source not in tensors:
            raise CheckpointError(f"{path}: alias '{alias}' points to missing tensor '{source}'")
        tensors[alias] = tensors[source]
    return tensors


def check_state(model: "torch.nn.Module", state: Mapping[str, Any], where: Path, strict: bool) -> None:
    expected = model.state_dict()
    for key, t in expected.items():  # in the model's order: the first mismatch is the telling one
        if key in state and tuple(state[key].shape) != tuple(t.shape):
            raise CheckpointError(
                f"{where}: tensor '{key}' has shape {tuple(state[key].shape)} but the model expects "
                f"{tuple(t.shape)}"
            )
    if strict:
        missing = [k for k in expected if k not in state]
        unexpected = [k for k in state if k not in expected]
        if missing:
            raise CheckpointError(f"{where}: missing {len(missing)} tensor(s) the model needs, e.g. '{missing[0]}'")
        if unexpected:
            raise CheckpointError(f"{where}: {len(unexpected)} tensor(s) the model does not have, e.g. '{unexpected[0]}'")


def load_pretrained(path: str | os.PathLike, *, map_location: Any = "cpu", strict: bool = True) -> "torch.nn.Module":
    """Build the model of an audiokit model folder and load its weights (eval mode).

    The config is checked before anything is built. ``strict`` requires the weights
    to match the model's state dict key for key.
    """
    folder = Path(path)
    cfg = read_checkpoint_config(folder)
    weights = folder / WEIGHTS_NAME
    state = _read_weights(weights)
    model = instantiate(cfg["model"], where=f"{folder / CONFIG_NAME}: model")
    check_state(model, state, weights, strict)
    model.load_state_dict(state, strict=strict)
    return model.to(map_location).eval()
