"""Reader of the official HiFi-Codec checkpoints (AcademiCodec; codecs.md §3.5, §9).

The released files (Hugging Face ``Dongchao/AcademiCodec``: ``HiFi-Codec-16k-320d``,
``HiFi-Codec-16k-320d-large-universal``, ``HiFi-Codec-24k-240d``, ``HiFi-Codec-24k-320d``; no
extension, ~255 MB) are plain ``torch.save`` dicts ``{'generator', 'encoder', 'quantizer'}`` of
OrderedDicts with legacy ``weight_g``/``weight_v`` names and **no config**. The training
script's ``g_XXXXXXXX`` files have the same layout. :func:`unwrap_official` flattens them to
``generator.*``, ``encoder.*``, ``quantizer.*``: exactly the keys of
:class:`~audiokit.models.codec.hificodec.HiFiCodec`.

The configuration is inferred from shapes: kernels, channels, codebooks and stages are read
off the tensors; the upsampling strides are ``kernel // 2`` (true of every release: 16/8,
11/5, 8/4, 7/3, 4/2). The sample rate is not in the weights: hop 240 is only released at
24 kHz, but hop 320 exists at 16 kHz and at 24 kHz, so it must come from the caller (a
sample rate, a config, a bundle) or from the official file name. A stated config (release
name, audiokit YAML, official ``config_*.json``) must agree with the shapes.
"""

from __future__ import annotations

import json
import os
import re
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audiokit.convert.common import (
    conv_weight_shape,
    indices_under,
    read_torch_file,
    shape_of,
)
from audiokit.convert.format import CheckpointFormat, OfficialCheckpoint, merge_stated
from audiokit.errors import CheckpointError, ConfigError

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from audiokit.models.codec.hificodec import HiFiCodec

CLASS_PATH = "audiokit.models.codec.hificodec.HiFiCodec"
FORMAT_NAME = "hificodec-academicodec"
GROUPS = ("generator", "encoder", "quantizer")
SOURCE = "https://huggingface.co/Dongchao/AcademiCodec"

_V1 = {"upsample_initial_channel": 512, "resblock_kernel_sizes": [3, 7, 11],
       "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]], "resblock": "1", "encoder_channels": 32,
       "latent_dim": 512, "n_code_groups": 2, "n_residual_layers": 2, "n_codes": 1024,
       "codebook_loss_lambda": 1.0, "commitment_loss_lambda": 0.25, "group_norm_size": 16}
_HOP320 = {"upsample_rates": [8, 5, 4, 2], "upsample_kernel_sizes": [16, 11, 8, 4]}
_HOP240 = {"upsample_rates": [8, 5, 3, 2], "upsample_kernel_sizes": [16, 11, 7, 4]}
#: release name -> HiFiCodec init args (configs/codec/hificodec_*.yaml hold the same)
RELEASES: dict[str, dict[str, Any]] = {
    "hificodec-16k-320d": {"sample_rate": 16000, **_HOP320, **_V1},
    "hificodec-16k-320d-large-universal": {"sample_rate": 16000, **_HOP320, **_V1},
    "hificodec-24k-240d": {"sample_rate": 24000, **_HOP240, **_V1},
    "hificodec-24k-320d": {"sample_rate": 24000, **_HOP320, **_V1},
}
#: official file name of each release
FILENAMES = {name: "HiFi-Codec-" + name[len("hificodec-"):] for name in RELEASES}
#: init args the shapes determine (a stated value must agree); the rest are defaults/guesses
_FROM_SHAPES = ("upsample_kernel_sizes", "upsample_initial_channel", "resblock_kernel_sizes", "resblock",
                "encoder_channels", "latent_dim", "n_code_groups", "n_residual_layers", "n_codes")
_DEFAULTS = {"resblock_dilation_sizes": None, "codebook_loss_lambda": 1.0, "commitment_loss_lambda": 0.25,
             "group_norm_size": 16}
_JSON_KEYS = {"sampling_rate": "sample_rate", "upsample_rates": "upsample_rates",
              "upsample_kernel_sizes": "upsample_kernel_sizes", "upsample_initial_channel": "upsample_initial_channel",
              "resblock_kernel_sizes": "resblock_kernel_sizes", "resblock_dilation_sizes": "resblock_dilation_sizes",
              "resblock": "resblock", "n_code_groups": "n_code_groups", "n_codes": "n_codes",
              "codebook_loss_lambda": "codebook_loss_lambda", "commitment_loss_lambda": "commitment_loss_lambda"}


def release_name(text: str) -> str | None:
    """Canonical release name for ``hificodec_16k_320d``, ``HiFi-Codec-16k-320d``... (else ``None``)."""
    key = re.sub(r"[_\s]+", "-", Path(str(text)).name.strip().lower())
    key = re.sub(r"^(hifi-codec-|hificodec-)", "", key)
    key = re.sub(r"\.(ya?ml|pth?|ckpt|bin)$", "", key)
    name = f"hificodec-{key}"
    return name if name in RELEASES else None


# --------------------------------------------------------------------------- the file
def is_official(obj: Any) -> bool:
    """Whether a loaded object has the released layout (a dict with the three state dicts)."""
    return isinstance(obj, Mapping) and all(isinstance(obj.get(g), Mapping) for g in GROUPS)


def _strip_module(group: Mapping[str, Any]) -> Mapping[str, Any]:
    keys = list(group)
    if keys and all(isinstance(k, str) and k.startswith("module.") for k in keys):
        return {k[len("module."):]: v for k, v in group.items()}
    return group


def unwrap_official(obj: Any, where: str) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """``(state, meta)``: the three state dicts flattened to ``generator.*``/``encoder.*``/``quantizer.*``."""
    import torch

    if not is_official(obj):
        found = ", ".join(map(repr, list(obj)[:5])) if isinstance(obj, Mapping) else type(obj).__name__
        raise CheckpointError(f"{where}: not a HiFi-Codec checkpoint (expected a dict with 'generator', "
                              f"'encoder' and 'quantizer' state dicts, found {found})")
    state: dict[str, Any] = {}
    for group in GROUPS:
        for key, value in _strip_module(obj[group]).items():
            if not isinstance(key, str) or not isinstance(value, torch.Tensor):
                raise CheckpointError(f"{where}: '{group}' entry {key!r} is not a named tensor")
            state[f"{group}.{key}"] = value
    meta = {k: v for k, v in obj.items() if k not in GROUPS and isinstance(v, (int, float, str))}
    return state, meta


def matches(state: Mapping[str, Any]) -> bool:
    """Whether a flat state dict has HiFi-Codec's keys (after :func:`unwrap_official`)."""
    return ("quantizer.quantizer_modules.0.embedding.weight" in state
            and any(k.startswith("encoder.normalize.") for k in state)
            and any(k.startswith("generator.ups.") for k in state))


# --------------------------------------------------------------------------- shapes
def _resblock_args(state: Mapping[str, Any], n_stages: int, where: str) -> dict[str, Any]:
    prefix = "generator.resblocks."
    blocks = indices_under(state, prefix)
    if not blocks or len(blocks) % n_stages:
        raise CheckpointError(f"{where}: {len(blocks)} generator resblocks for {n_stages} upsampling layers")
    per_stage = len(blocks) // n_stages
    kind = "1" if indices_under(state, f"{prefix}0.convs1.") else "2"
    sub = "convs1" if kind == "1" else "convs"
    kernels = [conv_weight_shape(state, f"{prefix}{j}.{sub}.0.", where)[-1] for j in range(per_stage)]
    n_dil = len(indices_under(state, f"{prefix}0.{sub}."))
    return {"resblock": kind, "resblock_kernel_sizes": kernels, "_n_dilations": n_dil}


def _check_encoder(state: Mapping[str, Any], args: Mapping[str, Any], where: str) -> None:
    kernels = args["upsample_kernel_sizes"][::-1]
    for i, k in enumerate(kernels):
        shape = conv_weight_shape(state, f"encoder.ups.{i}.", where)
        if shape[-1] != k:
            raise CheckpointError(f"{where}: encoder.ups.{i} has kernel {shape[-1]} but the generator's "
                                  f"mirror layer has {k}")
    n_rb = len(indices_under(state, "encoder.resblocks."))
    if n_rb != len(kernels) * len(args["resblock_kernel_sizes"]):
        raise CheckpointError(f"{where}: encoder has {n_rb} resblocks, the generator mirror needs "
                              f"{len(kernels) * len(args['resblock_kernel_sizes'])}")


def _quantizer_args(state: Mapping[str, Any], latent: int, where: str) -> dict[str, Any]:
    groups = indices_under(state, "quantizer.quantizer_modules.")
    stages = 1
    while indices_under(state, f"quantizer.quantizer_modules{stages + 1}."):
        stages += 1
    if not groups:
        raise CheckpointError(f"{where}: no codebooks under 'quantizer.quantizer_modules.'")
    n_codes, dim = shape_of(state, "quantizer.quantizer_modules.0.embedding.weight", where)
    if dim * len(groups) != latent:
        raise CheckpointError(f"{where}: {len(groups)} codebook groups of {dim} dims do not cover the "
                              f"{latent}-dim latent")
    return {"n_code_groups": len(groups), "n_residual_layers": stages, "n_codes": n_codes}


def infer_init_args(state: Mapping[str, Any], where: str = "checkpoint") -> dict[str, Any]:
    """HiFiCodec init args from the shapes of a flat state dict (no ``sample_rate``).

    ``upsample_rates`` are guessed as ``kernel // 2`` and ``resblock_dilation_sizes`` as
    HiFi-GAN V1's (``[1, 3, 5]`` for three convs); a stated config overrides both.
    """
    ups = indices_under(state, "generator.ups.")
    if not ups:
        raise CheckpointError(f"{where}: no upsampling layers under 'generator.ups.'")
    kernels = [conv_weight_shape(state, f"generator.ups.{i}.", where)[-1] for i in ups]
    uic, latent, _ = conv_weight_shape(state, "generator.conv_pre.", where)
    enc_base = conv_weight_shape(state, "encoder.conv_pre.", where)[0]
    args: dict[str, Any] = {"upsample_rates": [k // 2 for k in kernels], "upsample_kernel_sizes": kernels,
                            "upsample_initial_channel": uic, "latent_dim": latent, "encoder_channels": enc_base}
    args.update(_resblock_args(state, len(ups), where))
    n_dil = args.pop("_n_dilations")
    guess = {3: [1, 3, 5], 2: [1, 3]}.get(n_dil, list(range(1, 2 * n_dil, 2)))
    args["resblock_dilation_sizes"] = [list(guess) for _ in args["resblock_kernel_sizes"]]
    _check_encoder(state, args, where)
    args.update(_quantizer_args(state, latent, where))
    args.update({k: v for k, v in _DEFAULTS.items() if v is not None})
    return args


# --------------------------------------------------------------------------- stated configs
def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read ({err})") from None
    except json.JSONDecodeError as err:
        raise ConfigError(f"{path}:{err.lineno}: invalid JSON: {err.msg}") from None
    if not isinstance(data, dict) or "upsample_rates" not in data:
        raise ConfigError(f"{path}: not a HiFi-Codec config (no 'upsample_rates'; expected "
                          "egs/HiFi-Codec-*/config_*.json)")
    return {ours: data[theirs] for theirs, ours in _JSON_KEYS.items() if theirs in data}


def _read_yaml(path: Path) -> dict[str, Any]:
    from audiokit.config import read_yaml

    data, _ = read_yaml(path, ConfigError)
    model = data.get("model") if isinstance(data, dict) else None
    if not isinstance(model, dict) or model.get("class_path") != CLASS_PATH:
        raise ConfigError(f"{path}: expected 'model: {{class_path: {CLASS_PATH}, init_args: ...}}'")
    args = model.get("init_args") or {}
    if not isinstance(args, dict):
        raise ConfigError(f"{path}: model.init_args must be a mapping")
    return dict(args)


def read_config(config: str | os.PathLike | Mapping[str, Any]) -> dict[str, Any]:
    """Init args stated by ``config``: a release name, an audiokit YAML, an official JSON, or a dict."""
    if isinstance(config, Mapping):
        return dict(config)
    name = release_name(str(config))
    path = Path(config)
    if name is not None and not path.is_file():
        return dict(RELEASES[name])
    if path.suffix.lower() == ".json":
        return _read_json(path)
    if path.suffix.lower() in (".yaml", ".yml"):
        return _read_yaml(path)
    raise ConfigError(f"{config}: not a HiFi-Codec release name ({', '.join(RELEASES)}), "
                      "audiokit YAML or official config_*.json")


def _sample_rate(args: Mapping[str, Any], where: str) -> int:
    hop = 1
    for u in args["upsample_rates"]:
        hop *= int(u)
    name = release_name(where)
    if name is not None and RELEASES[name]["upsample_rates"] == list(args["upsample_rates"]):
        return RELEASES[name]["sample_rate"]
    if hop == 240:
        return 24000
    raise CheckpointError(
        f"{where}: cannot tell the sample rate: a hop-{hop} HiFi-Codec is released at 16 kHz and at 24 kHz "
        "and the weights do not say which; give the sample rate (--sample-rate 16000 or 24000) or a config "
        "(--config hificodec_16k_320d / hificodec_24k_320d)")


# --------------------------------------------------------------------------- reading
def from_state(
    state: Mapping[str, torch.Tensor],
    meta: Mapping[str, Any] | None = None,
    *,
    where: str = "checkpoint",
    config: str | os.PathLike | Mapping[str, Any] | None = None,
    expected: Mapping[str, Any] | None = None,
    sample_rate: int | None = None,
) -> OfficialCheckpoint:
    """Interpret a flat HiFi-Codec state dict; nothing is built.

    ``config``: a stated configuration (see :func:`read_config`) that must agree with the
    shapes; ``expected``: init args the caller requires (a bundle's), checked likewise;
    ``sample_rate`` overrides both (the one setting the weights cannot tell).
    """
    if not matches(state):
        raise CheckpointError(f"{where}: not a HiFi-Codec checkpoint (no 'generator.ups.', "
                              "'encoder.normalize.' and 'quantizer.quantizer_modules.' tensors)")
    args = infer_init_args(state, where)
    if config is not None:
        source = "the given config" if isinstance(config, Mapping) else str(config)
        args = merge_stated(args, read_config(config), where, source, _from_shapes)
    if expected is not None:
        args = merge_stated(args, expected, where, "the requested model", _from_shapes)
    if sample_rate is not None:
        args["sample_rate"] = int(sample_rate)
    elif "sample_rate" not in args:
        args["sample_rate"] = _sample_rate(args, where)
    return OfficialCheckpoint(CLASS_PATH, args, dict(state), None, dict(meta or {}), _release(args, where))


def _from_shapes(key: str) -> bool:
    return key in _FROM_SHAPES


def _release(init_args: Mapping[str, Any], where: str) -> str | None:
    """The release the file is named after, when its configuration is that release's."""
    name = release_name(where)
    if name is None or any(str(init_args.get(k)) != str(v) for k, v in RELEASES[name].items()):
        return None
    return name


FORMAT = CheckpointFormat(FORMAT_NAME, CLASS_PATH, "upsample_rates", from_state, unwrap_official)
read_checkpoint = FORMAT.read
load_checkpoint = FORMAT.load
convert_checkpoint = FORMAT.convert
audiokit_config = FORMAT.audiokit_config


def is_hificodec_checkpoint(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a file in the released layout (reads it; prefer :func:`is_official` on a loaded object)."""
    try:
        return Path(path).is_file() and is_official(read_torch_file(path))
    except CheckpointError:
        return False


# --------------------------------------------------------------------------- converting and exporting
def to_official(model: HiFiCodec) -> dict[str, OrderedDict]:
    """The released layout of ``model``'s weights (legacy weight norm, whatever style it uses)."""
    import torch

    from audiokit.models.codec.hificodec import HiFiCodec
    from audiokit.nn.weight_norm import adapt_weight_norm_keys

    with torch.device("meta"):
        target = list(HiFiCodec(**model.init_args).state_dict())
    state = adapt_weight_norm_keys({k: v.detach().cpu() for k, v in model.state_dict().items()}, target)
    out = {g: OrderedDict() for g in GROUPS}
    for key in target:
        group, _, rest = key.partition(".")
        out[group][rest] = state[key].contiguous()
    return out


def from_official_codes(codes: torch.Tensor) -> torch.Tensor:
    """Reference codes ``[B, T, 4]`` -> audiokit codes ``(B, 4, T)`` (same stage-major order)."""
    if codes.dim() != 3:
        raise ValueError(f"expected HiFi-Codec codes [B, T, n_q], got {tuple(codes.shape)}")
    return codes.transpose(1, 2).long().contiguous()


def to_official_codes(codes: torch.Tensor) -> torch.Tensor:
    """audiokit codes ``(B, n_q, T)`` -> the reference's ``[B, T, n_q]``."""
    if codes.dim() != 3:
        raise ValueError(f"expected codes (B, n_q, T), got {tuple(codes.shape)}")
    return codes.transpose(1, 2).contiguous()
