"""Reader of NVIDIA NeMo ``.nemo`` archives of (cache-aware) Conformer / FastConformer ASR models.

A ``.nemo`` file is a tar archive (uncompressed; older ones gzip) holding
``model_config.yaml`` (the model section of the training config, interpolations resolved),
``model_weights.ckpt`` (a ``torch.save``d flat state dict) and the artefacts the config
points to with ``nemo:`` names, e.g. ``nemo:<hash>_tokenizer.model`` (downstream.md §6.5).

Safety: members are checked before anything is written (no absolute paths, no ``..``, no
links or devices, per-member / total size and member-count limits) and copied into a
private temporary folder by audiokit itself (``tarfile.extract`` is never used); the YAML is
read with ``yaml.safe_load`` and its ``_target_`` class names are only compared as strings
(never imported); weights are read with ``torch.load(weights_only=True)``.

The config is mapped to :class:`audiokit.models.asr.model.StreamingASR` arguments
(:func:`config_to_init_args`); weights keep their NeMo names except the CTC head of a pure
CTC model (``decoder.decoder_layers.*`` -> ``ctc_decoder.decoder_layers.*``) and shared
attention biases (``untie_biases: false``), which are copied into every layer.
"""

from __future__ import annotations

import os
import tarfile
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from audiokit.convert.common import load_checked, split_prefixes, unwrap_state_dict
from audiokit.convert.nemo_config import config_to_init_args, find_tokenizer, model_kind
from audiokit.errors import CheckpointError

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from audiokit.models.asr.model import StreamingASR

CLASS_PATH = "audiokit.models.asr.model.StreamingASR"
FORMAT_NAME = "nemo"
CONFIG_FILE = "model_config.yaml"
WEIGHTS_FILE = "model_weights.ckpt"
#: default extraction limits (the released large models are ~0.5 GB)
MAX_MEMBERS = 256
MAX_MEMBER_BYTES = 8 << 30
MAX_TOTAL_BYTES = 16 << 30
DROP = ("preprocessor.", "encoder.pos_enc.", "spec_augmentation.", "wer.", "ctc_wer.", "loss.")


@dataclass
class NemoCheckpoint:
    """What a ``.nemo`` archive holds, in audiokit terms (nothing built yet)."""

    init_args: dict[str, Any]
    state_dict: dict[str, torch.Tensor]
    tokenizer: Any = None
    meta: dict[str, Any] = field(default_factory=dict)

    def build(self, where: str = "checkpoint") -> StreamingASR:
        """The model with these weights (and the tokenizer attached), in eval mode."""
        from audiokit.models.asr.model import StreamingASR

        try:
            model = StreamingASR(**self.init_args)
        except (TypeError, ValueError) as err:
            raise CheckpointError(f"{where}: cannot build the model from its config ({err})") from None
        load_checked(model, self.state_dict, where)
        if self.tokenizer is not None:
            model.set_tokenizer(self.tokenizer)
        default = self.meta.get("att_context_size")
        if default is not None:
            model.encoder.set_default_att_context_size(default)
        return model.eval()


# --------------------------------------------------------------------------- archive
def sniff(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a tar archive (a ``.nemo`` candidate); never raises."""
    try:
        return Path(path).is_file() and tarfile.is_tarfile(str(path))
    except OSError:
        return False


def _member_path(member: tarfile.TarInfo, where: str) -> PurePosixPath | None:
    """The safe relative path of ``member`` (None for the root entry ``.``); refuses escapes."""
    name = member.name
    if name.startswith("/") or (len(name) > 1 and name[1] == ":") or "\\" in name:
        raise CheckpointError(f"{where}: refused: member '{name}' has an absolute path")
    parts = [p for p in PurePosixPath(name).parts if p not in ("", ".")]
    if ".." in parts:
        raise CheckpointError(f"{where}: refused: member '{name}' points outside the archive folder")
    if member.issym() or member.islnk():
        raise CheckpointError(f"{where}: refused: member '{name}' is a link")
    if not (member.isfile() or member.isdir()):
        raise CheckpointError(f"{where}: refused: member '{name}' is not a regular file")
    return PurePosixPath(*parts) if parts else None


def safe_extract(path: str | os.PathLike, dest: str | os.PathLike, *, max_members: int = MAX_MEMBERS,
                 max_member_bytes: int = MAX_MEMBER_BYTES, max_total_bytes: int = MAX_TOTAL_BYTES) -> list[str]:
    """Copy the regular files of archive ``path`` into ``dest``; returns their relative names.

    Every member is checked first (see the module docstring); any refusal or a corrupt
    archive is a one-line :class:`CheckpointError` and nothing is extracted.
    """
    where = str(path)
    try:
        with tarfile.open(where, "r:*") as tar:
            members = tar.getmembers()
            plan = _plan(members, where, max_members, max_member_bytes, max_total_bytes)
            for member, rel in plan:
                target = Path(dest, *rel.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                src = tar.extractfile(member)
                if src is None:
                    raise CheckpointError(f"{where}: member '{member.name}' cannot be read")
                with src, open(target, "xb") as out:
                    copied = _copy_limited(src, out, member.size)
                if copied != member.size:
                    raise CheckpointError(f"{where}: member '{member.name}' is truncated")
    except (tarfile.TarError, EOFError, OSError, ValueError) as err:
        if isinstance(err, FileNotFoundError) and not Path(where).exists():
            raise CheckpointError(f"{where}: no such file") from None
        first = " ".join(str(err).split()) or type(err).__name__
        raise CheckpointError(f"{where}: corrupt or not a .nemo archive ({first})") from None
    return [str(rel) for _, rel in plan]


def _plan(members: list[tarfile.TarInfo], where: str, max_members: int, max_member_bytes: int,
          max_total_bytes: int) -> list[tuple[tarfile.TarInfo, PurePosixPath]]:
    if len(members) > max_members:
        raise CheckpointError(f"{where}: refused: {len(members)} members (limit {max_members})")
    plan, seen, total = [], set(), 0
    for member in members:
        rel = _member_path(member, where)
        if rel is None or member.isdir():
            continue
        if member.size > max_member_bytes:
            raise CheckpointError(f"{where}: refused: member '{member.name}' has {member.size} bytes "
                                  f"(limit {max_member_bytes})")
        total += member.size
        if total > max_total_bytes:
            raise CheckpointError(f"{where}: refused: members exceed {max_total_bytes} bytes in total")
        if rel in seen:
            raise CheckpointError(f"{where}: refused: member '{member.name}' appears twice")
        seen.add(rel)
        plan.append((member, rel))
    return plan


def _copy_limited(src: Any, out: Any, limit: int) -> int:
    copied = 0
    while chunk := src.read(min(1 << 20, limit - copied + 1)):
        copied += len(chunk)
        if copied > limit:
            return copied
        out.write(chunk)
    return copied


# --------------------------------------------------------------------------- reading
def matches(state: Mapping[str, Any]) -> bool:
    """Whether a flat state dict has NeMo Conformer ASR key names."""
    return (any(k.startswith("encoder.pre_encode.") for k in state)
            and any(k.startswith("encoder.layers.0.self_attn.linear_pos") for k in state))


def unwrap_official(obj: Any, where: str) -> tuple[dict, dict]:
    """A bare ``model_weights.ckpt`` (a flat state dict) is recognised, so that it gets a clear
    error from :func:`from_state` without its config."""
    return unwrap_state_dict(obj, where)


def map_state(state: Mapping[str, torch.Tensor], init_args: Mapping[str, Any], where: str) -> dict:
    """NeMo weight names -> :class:`StreamingASR` names (see the module docstring)."""
    state = dict(state)
    shared = {k: state.pop(f"encoder.{k}") for k in ("pos_bias_u", "pos_bias_v") if f"encoder.{k}" in state}
    for key, tensor in shared.items():
        for i in range(int(init_args["encoder"]["n_layers"])):
            state[f"encoder.layers.{i}.self_attn.{key}"] = tensor.clone()
    rename = {"encoder.": "encoder.", "decoder.prediction.": "decoder.prediction.", "joint.": "joint.",
              "ctc_decoder.": "ctc_decoder."}
    if init_args["decoder_type"] == "ctc":
        rename = {"encoder.": "encoder.", "decoder.decoder_layers.": "ctc_decoder.decoder_layers."}
    kept, _ = split_prefixes(state, rename, DROP, where)
    return kept


def from_state(state: Mapping[str, torch.Tensor], meta: Mapping[str, Any] | None = None, *,
               where: str = "checkpoint", config: Mapping[str, Any] | None = None,
               tokenizer: Any = None) -> NemoCheckpoint:
    """Interpret NeMo weights with their ``model_config.yaml`` content (``config``)."""
    if config is None:
        raise CheckpointError(f"{where}: NeMo weights need their model_config.yaml: load the .nemo archive")
    init_args, extra = config_to_init_args(config, where, tokenizer)
    return NemoCheckpoint(init_args, map_state(state, init_args, where), tokenizer, {**extra, **dict(meta or {})})


def read_nemo(path: str | os.PathLike, **limits: int) -> NemoCheckpoint:
    """Read a ``.nemo`` archive (safe extraction, ``weights_only`` load); nothing is built."""
    import yaml

    from audiokit.checkpoint import torch_load_safe

    where = str(path)
    with tempfile.TemporaryDirectory(prefix="audiokit-nemo-") as tmp:
        names = safe_extract(path, tmp, **limits)
        by_base = {PurePosixPath(n).name: Path(tmp, n) for n in names}
        for required in (CONFIG_FILE, WEIGHTS_FILE):
            if required not in by_base:
                raise CheckpointError(f"{where}: no {required} in the archive (not a .nemo model)")
        try:
            config = yaml.safe_load(by_base[CONFIG_FILE].read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as err:
            first = " ".join(str(err).split())
            raise CheckpointError(f"{where}:{CONFIG_FILE}: not valid YAML ({first})") from None
        if not isinstance(config, Mapping):
            raise CheckpointError(f"{where}:{CONFIG_FILE}: expected a mapping")
        if "encoder" not in config and isinstance(config.get("model"), Mapping):
            config = config["model"]
        model_kind(config, f"{where}:{CONFIG_FILE}")  # refuse foreign models before loading weights
        tokenizer = find_tokenizer(config, by_base, f"{where}:{CONFIG_FILE}")
        try:
            obj = torch_load_safe(by_base[WEIGHTS_FILE])
        except CheckpointError as err:
            raise CheckpointError(f"{where}:{WEIGHTS_FILE}: {str(err).split(': ', 1)[-1]}") from None
        state, meta = unwrap_state_dict(obj, f"{where}:{WEIGHTS_FILE}")
    return from_state(state, meta, where=where, config=config, tokenizer=tokenizer)


read_file = read_nemo


def load_nemo(path: str | os.PathLike, *, device: Any = "cpu") -> StreamingASR:
    """The :class:`StreamingASR` of a ``.nemo`` file (tokenizer attached), eval mode."""
    return read_nemo(path).build(str(path)).to(device)


# --------------------------------------------------------------------------- converting
def audiokit_config(ckpt: NemoCheckpoint, source: str | os.PathLike) -> dict[str, Any]:
    """The ``config.yaml`` content of a converted model (model node + metadata)."""
    enc = ckpt.init_args["encoder"]
    return {
        "model": {"class_path": CLASS_PATH, "init_args": dict(ckpt.init_args)},
        "sample_rate": int(ckpt.meta.get("sample_rate", 16000)),
        "att_context_size": ckpt.meta.get("att_context_size") or enc.get("att_context_size"),
        "tokenizer": "." if ckpt.tokenizer is not None else None,
        "source": {"format": FORMAT_NAME, "file": Path(source).name,
                   "target": ckpt.meta.get("target")},
    }


def convert_nemo(path: str | os.PathLike, out_dir: str | os.PathLike, *, force: bool = False) -> Path:
    """Convert a ``.nemo`` archive to an audiokit model folder (tokenizer files included)."""
    from audiokit.checkpoint import save_pretrained
    from audiokit.io.atomic import check_writable

    check_writable(out_dir, force)
    ckpt = read_nemo(path)
    model = ckpt.build(str(path))
    with tempfile.TemporaryDirectory(prefix="audiokit-nemo-tok-") as tmp:
        extra: list[Path] = []
        if ckpt.tokenizer is not None:
            ckpt.tokenizer.save(tmp)
            extra = sorted(Path(tmp).iterdir())
        return save_pretrained(model, audiokit_config(ckpt, path), out_dir, extra_files=extra, force=force)
