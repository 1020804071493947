"""Reader of the official WavTokenizer Lightning checkpoints (codecs.md §6.3, §9).

Released files (``novateur/WavTokenizer*`` on Hugging Face, 1.6-1.76 GB) are Lightning
``.ckpt`` dicts; only ``['state_dict']`` matters. Its prefixes:

======================================== ==========================================
``feature_extractor.encodec.encoder.``   kept -> ``encoder.`` (legacy weight norm)
``feature_extractor.encodec.quantizer.`` kept -> ``quantizer.``
``backbone.``, ``head.``                 kept
``feature_extractor.encodec.decoder.``   dropped (SEANet decoder built but unused)
``melspec_loss.``                        dropped (mel filterbank buffers)
``multiperioddisc.``, ``multiresddisc.``, ``dac.``  dropped, or kept on request
``dacdiscriminator.``                    dropped (a duplicate of ``dac.``)
======================================== ==========================================

The configuration comes from tensor shapes (large checkpoints ship no YAML and community
loaders pair them with the small YAMLs, so file names are not trusted); an official YAML,
when given, is read with ``yaml.safe_load`` for its numbers only (the classes it names are
never imported) and must agree with the shapes.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audiokit.convert.common import (
    indices_under,
    load_checked,
    read_torch_file,
    save_converted,
    seanet_encoder_args,
    shape_of,
    split_prefixes,
    unwrap_state_dict,
    yaml_number,
    yaml_section,
)
from audiokit.errors import CheckpointError, ConfigError

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from audiokit.models.codec.wavtokenizer import WavTokenizer

CLASS_PATH = "audiokit.models.codec.wavtokenizer.WavTokenizer"
FORMAT_NAME = "wavtokenizer-lightning"
RENAME = {
    "feature_extractor.encodec.encoder.": "encoder.",
    "feature_extractor.encodec.quantizer.": "quantizer.",
    "backbone.": "backbone.",
    "head.": "head.",
}
DISCRIMINATORS = ("multiperioddisc.", "multiresddisc.", "dac.")
DROP = ("feature_extractor.encodec.decoder.", "melspec_loss.", "dacdiscriminator.", *DISCRIMINATORS)
#: settings no tensor shape reveals; the release values
DEFAULTS = {"sample_rate": 24000, "kmeans_iters": 200, "decay": 0.99, "threshold_ema_dead_code": 2}


@dataclass
class WavTokenizerCheckpoint:
    """What an official file holds, in audiokit terms.

    Attributes:
        init_args: :class:`~audiokit.models.codec.wavtokenizer.WavTokenizer` arguments.
        state_dict: the model's tensors under audiokit names.
        discriminators: ``multiperioddisc.*``, ``multiresddisc.*``, ``dac.*`` tensors
            (official names) when asked for, else ``None``.
        meta: plain Lightning entries (``epoch``, ``global_step``, ...).
    """

    init_args: dict[str, Any]
    state_dict: dict[str, torch.Tensor]
    discriminators: dict[str, torch.Tensor] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def build(self, where: str = "checkpoint") -> WavTokenizer:
        """The model with these weights loaded, in eval mode."""
        from audiokit.models.codec.wavtokenizer import WavTokenizer

        try:
            model = WavTokenizer(**self.init_args)
        except (TypeError, ValueError) as err:
            raise CheckpointError(f"{where}: cannot build WavTokenizer from its shapes ({err})") from None
        load_checked(model, self.state_dict, where)
        return model.eval()


def matches(state: Mapping[str, Any]) -> bool:
    """Whether ``state`` (official key names) looks like a WavTokenizer checkpoint."""
    keys = list(state)
    return (any(k.startswith("feature_extractor.encodec.encoder.") for k in keys)
            and any(k.startswith("backbone.pos_net.") for k in keys)
            and any(k.startswith("head.out.") for k in keys))


# aliases kept for modules written against the first version of this file


# --------------------------------------------------------------------------- shapes
def _quantizer_args(state: Mapping[str, Any], dimension: int, where: str) -> dict[str, Any]:
    layers = indices_under(state, "quantizer.vq.layers.")
    if len(layers) != 1:
        raise CheckpointError(f"{where}: {len(layers)} codebooks; WavTokenizer has exactly one "
                              "(a Language-Codec or EnCodec checkpoint?)")
    size, dim = shape_of(state, "quantizer.vq.layers.0._codebook.embed", where)
    if dim != dimension:
        raise CheckpointError(f"{where}: codebook entries have {dim} dims but the encoder gives {dimension}")
    return {"codebook_size": size}


def _decoder_args(state: Mapping[str, Any], dimension: int, where: str) -> dict[str, Any]:
    dim, c_in, _ = shape_of(state, "backbone.embed.weight", where)
    if c_in != dimension:
        raise CheckpointError(f"{where}: backbone takes {c_in} channels but the encoder gives {dimension}")
    layers = indices_under(state, "backbone.convnext.")
    if not layers:
        raise CheckpointError(f"{where}: no ConvNeXt layers under 'backbone.convnext.'")
    intermediate, _ = shape_of(state, "backbone.convnext.0.pwconv1.weight", where)
    adanorm = state.get("backbone.norm.scale.weight")
    rows, head_dim = shape_of(state, "head.out.weight", where)
    if head_dim != dim:
        raise CheckpointError(f"{where}: head takes {head_dim} features but the backbone gives {dim}")
    return {
        "backbone_dim": dim, "intermediate_dim": intermediate, "num_layers": len(layers),
        "adanorm_num_embeddings": None if adanorm is None else int(adanorm.shape[0]),
        "pos_net": any(k.startswith("backbone.pos_net.") for k in state), "n_fft": rows - 2,
    }


def infer_init_args(state: Mapping[str, Any], where: str = "checkpoint") -> dict[str, Any]:
    """WavTokenizer init args from the shapes of ``state`` (audiokit key names).

    Ratios come from the downsampling kernels (kernel = 2 x ratio), the codebook from
    ``embed``, the backbone from ``embed``/``pwconv1``/layer count, ``n_fft`` from the head
    rows (``n_fft + 2``); settings no shape reveals take the release values.
    """
    enc = seanet_encoder_args(state, where)
    args = {"sample_rate": DEFAULTS["sample_rate"], **enc,
            **_quantizer_args(state, enc["dimension"], where), **_decoder_args(state, enc["dimension"], where)}
    args.update({k: v for k, v in DEFAULTS.items() if k not in args})
    return args


# --------------------------------------------------------------------------- official YAML
def read_official_yaml(path: str | os.PathLike) -> dict[str, Any]:
    """Init args stated by an official WavTokenizer YAML (``model.init_args...``).

    Only numbers are read (``yaml.safe_load``); no class it names is imported.
    """
    from audiokit.config import read_yaml

    data, _ = read_yaml(path, ConfigError)
    where = str(path)
    model = yaml_section(data, "model", where)
    fe = yaml_section(model, "feature_extractor", f"{where}: model.init_args")
    bb = yaml_section(model, "backbone", f"{where}: model.init_args")
    hd = yaml_section(model, "head", f"{where}: model.init_args")
    fe_w, bb_w, hd_w = (f"{where}: model.init_args.{s}.init_args" for s in ("feature_extractor", "backbone", "head"))
    ratios = fe.get("dowmsamples")
    if not (isinstance(ratios, list) and ratios and all(isinstance(r, int) and r > 0 for r in ratios)):
        raise ConfigError(f"{fe_w}.dowmsamples: expected a list of positive integers, got {ratios!r}")
    if yaml_number(fe, "num_quantizers", fe_w) != 1:
        raise ConfigError(f"{fe_w}.num_quantizers: WavTokenizer has one codebook, got {fe['num_quantizers']!r}")
    if hd.get("padding", "same") != "same":
        raise ConfigError(f"{hd_w}.padding: only 'same' is supported, got {hd.get('padding')!r}")
    args = {
        "ratios": list(ratios), "codebook_size": yaml_number(fe, "vq_bins", fe_w),
        "kmeans_iters": yaml_number(fe, "vq_kmeans", fe_w), "dimension": yaml_number(bb, "input_channels", bb_w),
        "backbone_dim": yaml_number(bb, "dim", bb_w), "intermediate_dim": yaml_number(bb, "intermediate_dim", bb_w),
        "num_layers": yaml_number(bb, "num_layers", bb_w), "n_fft": yaml_number(hd, "n_fft", hd_w),
    }
    if bb.get("adanorm_num_embeddings") is not None:
        args["adanorm_num_embeddings"] = yaml_number(bb, "adanorm_num_embeddings", bb_w)
    if model.get("sample_rate") is not None:
        args["sample_rate"] = yaml_number(model, "sample_rate", f"{where}: model.init_args")
    hop = yaml_number(hd, "hop_length", hd_w)
    if hop != _prod(args["ratios"]):
        raise ConfigError(f"{hd_w}.hop_length: {hop} differs from the encoder hop {_prod(args['ratios'])} "
                          f"(product of dowmsamples {args['ratios']})")
    return args


def _prod(values: list[int]) -> int:
    out = 1
    for v in values:
        out *= int(v)
    return out


def merge_stated(inferred: dict[str, Any], stated: Mapping[str, Any], where: str, source: str) -> dict[str, Any]:
    """``inferred`` updated by ``stated``; a stated value that the shapes contradict is an error."""
    merged = dict(inferred)
    for key, value in stated.items():
        if key in inferred and key not in DEFAULTS and inferred[key] != value:
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
) -> WavTokenizerCheckpoint:
    """Interpret an official state dict (see the module docstring); nothing is built.

    ``config``: an official YAML whose numbers must agree with the shapes.
    ``expected``: init args the caller requires (e.g. a named bundle's), checked likewise.
    """
    if not matches(state):
        raise CheckpointError(f"{where}: not a WavTokenizer checkpoint (no 'feature_extractor.encodec.encoder.', "
                              "'backbone.pos_net.' and 'head.out.' tensors)")
    kept, dropped = split_prefixes(state, RENAME, DROP, where)
    args = infer_init_args(kept, where)
    if config is not None:
        args = merge_stated(args, read_official_yaml(config), where, str(config))
    if expected is not None:
        args = merge_stated(args, expected, where, "the requested model")
    inited = kept.get("quantizer.vq.layers.0._codebook.inited")
    if inited is None or not bool((inited != 0).all()):
        raise CheckpointError(f"{where}: the codebook was never initialised (inited = 0): the checkpoint "
                              "predates the first training step and its codes would be meaningless")
    discs = None
    if keep_discriminators:
        discs = {k: v for p in DISCRIMINATORS for k, v in dropped[p].items()}
        if not discs:
            raise CheckpointError(f"{where}: holds no discriminator weights to keep")
    return WavTokenizerCheckpoint(_in_signature_order(args), kept, discs, dict(meta or {}))


def _in_signature_order(args: dict[str, Any]) -> dict[str, Any]:
    from audiokit.models.codec.wavtokenizer import WavTokenizer

    order = list(inspect.signature(WavTokenizer).parameters)
    return dict(sorted(args.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order)))


def read_checkpoint(
    path: str | os.PathLike,
    *,
    config: str | os.PathLike | None = None,
    expected: Mapping[str, Any] | None = None,
    keep_discriminators: bool = False,
) -> WavTokenizerCheckpoint:
    """Read an official ``.ckpt`` (``torch.load(weights_only=True)``) and interpret it."""
    state, meta = unwrap_state_dict(read_torch_file(path), str(path))
    return from_state(state, meta, where=str(path), config=config, expected=expected,
                      keep_discriminators=keep_discriminators)


def load_checkpoint(
    path: str | os.PathLike, *, config: str | os.PathLike | None = None, device: Any = "cpu"
) -> WavTokenizer:
    """The :class:`WavTokenizer` of an official ``.ckpt``, in eval mode on ``device``."""
    return read_checkpoint(path, config=config).build(str(path)).to(device)


# --------------------------------------------------------------------------- converting
def audiokit_config(ckpt: WavTokenizerCheckpoint, source: str | os.PathLike) -> dict[str, Any]:
    """The ``config.yaml`` content of a converted model (model node + metadata)."""
    args = ckpt.init_args
    hop = _prod(args["ratios"])
    return {
        "model": {"class_path": CLASS_PATH, "init_args": dict(args)},
        "sample_rate": args["sample_rate"], "hop_length": hop, "frame_rate": args["sample_rate"] / hop,
        "source": {"format": FORMAT_NAME, "file": Path(source).name, **ckpt.meta},
    }


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
    from audiokit.io.atomic import check_writable

    check_writable(out_dir, force)  # fail before reading a 1.7 GB file
    ckpt = read_checkpoint(path, config=config, keep_discriminators=keep_discriminators)
    return save_converted(ckpt.build(str(path)), audiokit_config(ckpt, path), out_dir,
                          discriminators=ckpt.discriminators, force=force)
