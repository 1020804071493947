"""Reader of the official Language-Codec Lightning checkpoints (codecs.md §5.4, §5.6, §9).

Released files (Google Drive links in the ``jishengpeng/Languagecodec`` README) are Lightning
``.ckpt`` dicts; only ``['state_dict']`` matters. Its prefixes:

======================================== ==========================================
``feature_extractor.encodec.encoder.``   kept -> ``encoder.`` (legacy weight norm)
``feature_extractor.encodec.quantizer.`` kept -> ``quantizer.`` (8 MCRVQ codebooks)
``backbone.``, ``head.``                 kept
``feature_extractor.encodec.decoder.``   dropped (SEANet decoder built but unused)
``melspec_loss.``                        dropped (mel filterbank buffers)
``multiperioddisc.``, ``multiresddisc.``, ``dac.``  dropped, or kept on request
``dacdiscriminator.``                    dropped (a duplicate of ``dac.``; v2 only)
======================================== ==========================================

Two releases share file names and key names (codecs.md §5.6), so the configuration comes
from tensor shapes: ``_codebook.embed`` rows give the codebook size (v2 1024, v1 2048) and
the number of ``backbone.convnext.*`` blocks the depth (v2 12, v1 8). An official YAML
(``configs/languagecodec_mm.yaml`` or v1's ``languagecodec.yaml``), when given, is read with
``yaml.safe_load`` for its numbers only and must agree with the shapes.

Told apart from a WavTokenizer file (same layout) by: no ``backbone.pos_net.*`` tensors, and
codebooks of 128 dims, usually 8 of them (WavTokenizer: one 4096 x 512 codebook + pos_net).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audiokit.convert.common import (
    indices_under,
    load_checked,
    shape_of,
    split_prefixes,
    unwrap_state_dict,
)
from audiokit.convert.common import seanet_encoder_args, yaml_number, yaml_section
from audiokit.errors import CheckpointError, ConfigError

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from audiokit.models.codec.languagecodec import LanguageCodec

CLASS_PATH = "audiokit.models.codec.languagecodec.LanguageCodec"
FORMAT_NAME = "languagecodec-lightning"
RENAME = {
    "feature_extractor.encodec.encoder.": "encoder.",
    "feature_extractor.encodec.quantizer.": "quantizer.",
    "backbone.": "backbone.",
    "head.": "head.",
}
DISCRIMINATORS = ("multiperioddisc.", "multiresddisc.", "dac.")
DROP = ("feature_extractor.encodec.decoder.", "melspec_loss.", "dacdiscriminator.", *DISCRIMINATORS)
DISCRIMINATORS_FILE = "discriminators.safetensors"
#: settings no tensor shape reveals; the release values
DEFAULTS = {"sample_rate": 24000, "kmeans_iters": 50, "decay": 0.99, "threshold_ema_dead_code": 2}

#: the two released architectures (codecs.md §5.6); v1 = Feb 2024 tree, v2 = Apr 2024 (current)
RELEASES: dict[str, dict[str, Any]] = {
    "v1": {"codebook_size": 2048, "num_layers": 8, "train_n_q": [3, 4, 8]},
    "v2": {"codebook_size": 1024, "num_layers": 12, "train_n_q": [3, 4, 5, 6, 7, 8]},
}


def release_init_args(version: str) -> dict[str, Any]:
    """Full :class:`LanguageCodec` init args of release ``"v1"`` or ``"v2"``."""
    if version not in RELEASES:
        raise ValueError(f"unknown Language-Codec release {version!r}; known: {', '.join(RELEASES)}")
    return {
        "sample_rate": 24000, "ratios": [8, 5, 4, 2], "dimension": 128, "n_filters": 32, "lstm": 2,
        "n_q": 8, "kmeans_iters": 50, "decay": 0.99, "threshold_ema_dead_code": 2,
        "backbone_dim": 384, "intermediate_dim": 1152, "adanorm_num_embeddings": 4, "n_fft": 1280,
        **RELEASES[version],
    }


def release_of(init_args: Mapping[str, Any]) -> str | None:
    """``"v1"``/``"v2"`` when the codebook size and depth are a release's, else ``None``."""
    for version, spec in RELEASES.items():
        if (init_args.get("codebook_size"), init_args.get("num_layers")) == (spec["codebook_size"], spec["num_layers"]):
            return version
    return None


@dataclass
class LanguageCodecCheckpoint:
    """What an official file holds, in audiokit terms.

    Attributes:
        init_args: :class:`~audiokit.models.codec.languagecodec.LanguageCodec` arguments.
        state_dict: the model's tensors under audiokit names.
        discriminators: ``multiperioddisc.*``, ``multiresddisc.*``, ``dac.*`` tensors
            (official names) when asked for, else ``None``.
        meta: plain Lightning entries (``epoch``, ``global_step``, ...).
        release: ``"v1"``, ``"v2"`` or ``None`` (not a released architecture).
    """

    init_args: dict[str, Any]
    state_dict: dict[str, torch.Tensor]
    discriminators: dict[str, torch.Tensor] | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    release: str | None = None

    def build(self, where: str = "checkpoint") -> LanguageCodec:
        """The model with these weights loaded, in eval mode."""
        from audiokit.models.codec.languagecodec import LanguageCodec

        try:
            model = LanguageCodec(**self.init_args)
        except (TypeError, ValueError) as err:
            raise CheckpointError(f"{where}: cannot build LanguageCodec from its shapes ({err})") from None
        load_checked(model, self.state_dict, where)
        return model.eval()


def matches(state: Mapping[str, Any]) -> bool:
    """Whether ``state`` (official key names) looks like a Language-Codec checkpoint."""
    keys = list(state)
    return (any(k.startswith("feature_extractor.encodec.encoder.") for k in keys)
            and any(k.startswith("feature_extractor.encodec.quantizer.vq.layers.") for k in keys)
            and any(k.startswith("head.out.") for k in keys)
            and not any(k.startswith("backbone.pos_net.") for k in keys))


# --------------------------------------------------------------------------- shapes
def _quantizer_args(state: Mapping[str, Any], dimension: int, where: str) -> dict[str, Any]:
    layers = indices_under(state, "quantizer.vq.layers.", "_codebook.")
    if not layers or layers != list(range(len(layers))):
        raise CheckpointError(f"{where}: codebooks under 'feature_extractor.encodec.quantizer.vq.layers.' "
                              f"are not numbered 0..n-1 (found {layers})")
    sizes = {shape_of(state, f"quantizer.vq.layers.{i}._codebook.embed", where) for i in layers}
    if len(sizes) != 1:
        raise CheckpointError(f"{where}: codebooks of different shapes {sorted(sizes)}")
    size, dim = sizes.pop()
    if dim != dimension:
        raise CheckpointError(f"{where}: codebook entries have {dim} dims but the encoder gives {dimension}")
    return {"n_q": len(layers), "codebook_size": size}


def _decoder_args(state: Mapping[str, Any], dimension: int, where: str) -> dict[str, Any]:
    dim, c_in, _ = shape_of(state, "backbone.embed.weight", where)
    if c_in != dimension:
        raise CheckpointError(f"{where}: backbone takes {c_in} channels but the encoder gives {dimension}")
    layers = indices_under(state, "backbone.convnext.")
    if not layers:
        raise CheckpointError(f"{where}: no ConvNeXt layers under 'backbone.convnext.'")
    intermediate, _ = shape_of(state, "backbone.convnext.0.pwconv1.weight", where)
    rows, _ = shape_of(state, "backbone.norm.scale.weight", where)  # AdaLayerNorm (4, dim)
    out_rows, head_dim = shape_of(state, "head.out.weight", where)
    if head_dim != dim:
        raise CheckpointError(f"{where}: head takes {head_dim} features but the backbone gives {dim}")
    return {"backbone_dim": dim, "intermediate_dim": intermediate, "num_layers": len(layers),
            "adanorm_num_embeddings": rows, "n_fft": out_rows - 2}


def _train_n_q(args: Mapping[str, Any]) -> list[int]:
    version = release_of(args)
    if version is not None and args["n_q"] == 8:
        return list(RELEASES[version]["train_n_q"])
    return list(range(min(3, args["n_q"]), args["n_q"] + 1))


def infer_init_args(state: Mapping[str, Any], where: str = "checkpoint") -> dict[str, Any]:
    """LanguageCodec init args from the shapes of ``state`` (audiokit key names).

    Ratios come from the SEANet downsampling kernels (kernel = 2 x ratio), codebook count
    and size from ``vq.layers.{i}._codebook.embed``, the backbone from ``embed``/``pwconv1``/
    layer count, ``n_fft`` from the head rows (``n_fft + 2``); ``train_n_q`` from the release
    the shapes identify; settings no shape reveals take the release values.
    """
    enc = seanet_encoder_args(state, where)
    args = {"sample_rate": DEFAULTS["sample_rate"], **enc,
            **_quantizer_args(state, enc["dimension"], where), **_decoder_args(state, enc["dimension"], where)}
    args.update({k: v for k, v in DEFAULTS.items() if k not in args})
    args["train_n_q"] = _train_n_q(args)
    return args


# --------------------------------------------------------------------------- official YAML
def read_official_yaml(path: str | os.PathLike) -> dict[str, Any]:
    """Init args stated by an official Language-Codec YAML (``model.init_args...``).

    Only numbers are read (``yaml.safe_load``); no class it names is imported. The YAML
    does not state the codebook size (it is hard-coded in the reference code).
    """
    from audiokit.config import read_yaml

    data, _ = read_yaml(path, ConfigError)
    where = str(path)
    model = yaml_section(data, "model", where)
    yaml_section(model, "feature_extractor", f"{where}: model.init_args")
    bb = yaml_section(model, "backbone", f"{where}: model.init_args")
    hd = yaml_section(model, "head", f"{where}: model.init_args")
    bb_w, hd_w = (f"{where}: model.init_args.{s}.init_args" for s in ("backbone", "head"))
    if hd.get("padding", "same") != "same":
        raise ConfigError(f"{hd_w}.padding: only 'same' is supported, got {hd.get('padding')!r}")
    args = {
        "dimension": yaml_number(bb, "input_channels", bb_w), "backbone_dim": yaml_number(bb, "dim", bb_w),
        "intermediate_dim": yaml_number(bb, "intermediate_dim", bb_w), "num_layers": yaml_number(bb, "num_layers", bb_w),
        "n_fft": yaml_number(hd, "n_fft", hd_w),
    }
    if bb.get("adanorm_num_embeddings") is not None:
        args["adanorm_num_embeddings"] = yaml_number(bb, "adanorm_num_embeddings", bb_w)
    if model.get("sample_rate") is not None:
        args["sample_rate"] = yaml_number(model, "sample_rate", f"{where}: model.init_args")
    hop = yaml_number(hd, "hop_length", hd_w)
    if hop != 320:
        raise ConfigError(f"{hd_w}.hop_length: {hop}, but the Language-Codec encoder hop is 320")
    return args


def merge_stated(inferred: dict[str, Any], stated: Mapping[str, Any], where: str, source: str) -> dict[str, Any]:
    """``inferred`` updated by ``stated``; a stated value that the shapes contradict is an error."""
    merged = dict(inferred)
    for key, value in stated.items():
        if key in inferred and key not in DEFAULTS and key != "train_n_q" and inferred[key] != value:
            raise CheckpointError(f"{where}: does not match {source}: {key} is {value!r} there but "
                                  f"{inferred[key]!r} in the checkpoint")
        merged[key] = value
    return merged


# --------------------------------------------------------------------------- reading
def from_state(
    state: Mapping[str, torch.Tensor],
    meta: Mapping[str, Any] | None = None,
    *,
    where: str = "checkpoint",
    config: str | os.PathLike | None = None,
    expected: Mapping[str, Any] | None = None,
    keep_discriminators: bool = False,
) -> LanguageCodecCheckpoint:
    """Interpret an official state dict (see the module docstring); nothing is built.

    ``config``: an official YAML whose numbers must agree with the shapes.
    ``expected``: init args the caller requires (e.g. a named bundle's), checked likewise.
    """
    if not matches(state):
        raise CheckpointError(f"{where}: not a Language-Codec checkpoint (needs 'feature_extractor.encodec."
                              "encoder.', '...quantizer.vq.layers.' and 'head.out.' tensors and no "
                              "'backbone.pos_net.')")
    kept, dropped = split_prefixes(state, RENAME, DROP, where)
    args = infer_init_args(kept, where)
    if config is not None:
        args = merge_stated(args, read_official_yaml(config), where, str(config))
    if expected is not None:
        args = merge_stated(args, expected, where, "the requested model")
    for i in range(args["n_q"]):
        inited = kept.get(f"quantizer.vq.layers.{i}._codebook.inited")
        if inited is None or not bool((inited != 0).all()):
            raise CheckpointError(f"{where}: codebook {i} was never initialised (inited = 0): the checkpoint "
                                  "predates the first training step and its codes would be meaningless")
    discs = None
    if keep_discriminators:
        discs = {k: v for p in DISCRIMINATORS for k, v in dropped[p].items()}
        if not discs:
            raise CheckpointError(f"{where}: holds no discriminator weights to keep")
    return LanguageCodecCheckpoint(args, kept, discs, dict(meta or {}), release_of(args))


def read_checkpoint(
    path: str | os.PathLike,
    *,
    config: str | os.PathLike | None = None,
    expected: Mapping[str, Any] | None = None,
    keep_discriminators: bool = False,
) -> LanguageCodecCheckpoint:
    """Read an official ``.ckpt`` (``torch.load(weights_only=True)``) and interpret it."""
    from audiokit.checkpoint import torch_load_safe

    state, meta = unwrap_state_dict(torch_load_safe(path), str(path))
    return from_state(state, meta, where=str(path), config=config, expected=expected,
                      keep_discriminators=keep_discriminators)


def load_checkpoint(
    path: str | os.PathLike, *, config: str | os.PathLike | None = None, device: Any = "cpu"
) -> LanguageCodec:
    """The :class:`LanguageCodec` of an official ``.ckpt``, in eval mode on ``device``."""
    return read_checkpoint(path, config=config).build(str(path)).to(device)


# --------------------------------------------------------------------------- converting
def audiokit_config(ckpt: LanguageCodecCheckpoint, source: str | os.PathLike) -> dict[str, Any]:
    """The ``config.yaml`` content of a converted model (model node + metadata)."""
    hop = 1
    for r in ckpt.init_args["ratios"]:
        hop *= int(r)
    cfg: dict[str, Any] = {
        "model": {"class_path": CLASS_PATH, "init_args": dict(ckpt.init_args)},
        "sample_rate": ckpt.init_args["sample_rate"], "hop_length": hop,
        "frame_rate": ckpt.init_args["sample_rate"] / hop,
        "source": {"format": FORMAT_NAME, "file": Path(source).name, "release": ckpt.release, **ckpt.meta},
    }
    if ckpt.discriminators is not None:
        cfg["discriminators"] = DISCRIMINATORS_FILE
    return cfg


def convert_checkpoint(
    path: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    config: str | os.PathLike | None = None,
    keep_discriminators: bool = False,
    force: bool = False,
) -> Path:
    """Convert an official ``.ckpt`` to an audiokit model folder; returns its path.

    The folder holds ``config.yaml``, ``model.safetensors`` and, with
    ``keep_discriminators``, ``discriminators.safetensors`` (official key names). It is
    written atomically; an existing ``out_dir`` is replaced only with ``force``.
    """
    from safetensors.torch import save_file

    from audiokit.checkpoint import save_pretrained
    from audiokit.io.atomic import check_writable

    check_writable(out_dir, force)
    ckpt = read_checkpoint(path, config=config, keep_discriminators=keep_discriminators)
    model = ckpt.build(str(path))
    cfg = audiokit_config(ckpt, path)
    with tempfile.TemporaryDirectory(prefix="audiokit-convert-") as tmp:
        extra = []
        if ckpt.discriminators is not None:
            extra.append(Path(tmp) / DISCRIMINATORS_FILE)
            tensors = {k: v.detach().cpu().contiguous() for k, v in ckpt.discriminators.items()}
            save_file(tensors, str(extra[0]), metadata={"format": "pt", "source": FORMAT_NAME})
        return save_pretrained(model, cfg, out_dir, extra_files=extra, force=force)
