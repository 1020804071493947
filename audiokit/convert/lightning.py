"""The Lightning checkpoint layout WavTokenizer and Language-Codec share (codecs.md §5.4, §6.3, §9).

Both forks of vocos save a Lightning ``.ckpt`` whose ``['state_dict']`` has the same
prefixes:

======================================== ==========================================
``feature_extractor.encodec.encoder.``   kept -> ``encoder.`` (legacy weight norm)
``feature_extractor.encodec.quantizer.`` kept -> ``quantizer.``
``backbone.``, ``head.``                 kept
``feature_extractor.encodec.decoder.``   dropped (SEANet decoder built but unused)
``melspec_loss.``                        dropped (mel filterbank buffers)
``multiperioddisc.``, ``multiresddisc.``, ``dac.``  dropped, or kept on request
``dacdiscriminator.``                    dropped (a duplicate of ``dac.``)
======================================== ==========================================

This module reads what the two have in common: the SEANet encoder, codebook and
vocos decoder shapes, the official YAML's backbone/head numbers, and the reading flow
(:func:`interpret`). The format modules add what tells them apart.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from audiokit.convert.common import (
    indices_under,
    seanet_encoder_args,
    shape_of,
    split_prefixes,
    yaml_number,
    yaml_section,
)
from audiokit.convert.format import OfficialCheckpoint, merge_stated
from audiokit.errors import CheckpointError, ConfigError

if TYPE_CHECKING:  # pragma: no cover
    import torch

RENAME = {
    "feature_extractor.encodec.encoder.": "encoder.",
    "feature_extractor.encodec.quantizer.": "quantizer.",
    "backbone.": "backbone.",
    "head.": "head.",
}
DISCRIMINATORS = ("multiperioddisc.", "multiresddisc.", "dac.")
DROP = ("feature_extractor.encodec.decoder.", "melspec_loss.", "dacdiscriminator.", *DISCRIMINATORS)


# --------------------------------------------------------------------------- shapes
def codebook_args(state: Mapping[str, Any], dimension: int, where: str) -> dict[str, int]:
    """``n_q`` and ``codebook_size`` from ``quantizer.vq.layers.{i}._codebook.embed`` (audiokit names)."""
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


def decoder_args(state: Mapping[str, Any], dimension: int, where: str) -> dict[str, Any]:
    """Vocos backbone + ISTFT head settings; ``adanorm_num_embeddings`` is ``None`` without AdaLN."""
    dim, c_in, _ = shape_of(state, "backbone.embed.weight", where)
    if c_in != dimension:
        raise CheckpointError(f"{where}: backbone takes {c_in} channels but the encoder gives {dimension}")
    layers = indices_under(state, "backbone.convnext.")
    if not layers:
        raise CheckpointError(f"{where}: no ConvNeXt layers under 'backbone.convnext.'")
    intermediate, _ = shape_of(state, "backbone.convnext.0.pwconv1.weight", where)
    adanorm = state.get("backbone.norm.scale.weight")  # AdaLayerNorm (n_embeddings, dim)
    rows, head_dim = shape_of(state, "head.out.weight", where)
    if head_dim != dim:
        raise CheckpointError(f"{where}: head takes {head_dim} features but the backbone gives {dim}")
    return {
        "backbone_dim": dim, "intermediate_dim": intermediate, "num_layers": len(layers),
        "adanorm_num_embeddings": None if adanorm is None else int(adanorm.shape[0]),
        "pos_net": any(k.startswith("backbone.pos_net.") for k in state), "n_fft": rows - 2,
    }


def shape_args(state: Mapping[str, Any], where: str, defaults: Mapping[str, Any]) -> dict[str, Any]:
    """Encoder, codebook and decoder settings from shapes, then ``defaults`` for what no shape shows."""
    enc = seanet_encoder_args(state, where)
    args = {"sample_rate": defaults["sample_rate"], **enc, **codebook_args(state, enc["dimension"], where),
            **decoder_args(state, enc["dimension"], where)}
    args.update({k: v for k, v in defaults.items() if k not in args})
    return args


# --------------------------------------------------------------------------- official YAML
def read_yaml_sections(path: str | os.PathLike) -> tuple[dict[str, Any], Mapping, str, int]:
    """Numbers every official vocos-fork YAML states (``model.init_args.{backbone,head}``).

    Returns ``(args, feature_extractor section, its location, head hop_length)``; only
    numbers are read (``yaml.safe_load``), no class it names is imported.
    """
    from audiokit.config import read_yaml

    data, _ = read_yaml(path, ConfigError)
    where = str(path)
    model = yaml_section(data, "model", where)
    fe = yaml_section(model, "feature_extractor", f"{where}: model.init_args")
    bb = yaml_section(model, "backbone", f"{where}: model.init_args")
    hd = yaml_section(model, "head", f"{where}: model.init_args")
    fe_w, bb_w, hd_w = (f"{where}: model.init_args.{s}.init_args" for s in ("feature_extractor", "backbone", "head"))
    if hd.get("padding", "same") != "same":
        raise ConfigError(f"{hd_w}.padding: only 'same' is supported, got {hd.get('padding')!r}")
    args = {
        "dimension": yaml_number(bb, "input_channels", bb_w), "backbone_dim": yaml_number(bb, "dim", bb_w),
        "intermediate_dim": yaml_number(bb, "intermediate_dim", bb_w),
        "num_layers": yaml_number(bb, "num_layers", bb_w), "n_fft": yaml_number(hd, "n_fft", hd_w),
    }
    if bb.get("adanorm_num_embeddings") is not None:
        args["adanorm_num_embeddings"] = yaml_number(bb, "adanorm_num_embeddings", bb_w)
    if model.get("sample_rate") is not None:
        args["sample_rate"] = yaml_number(model, "sample_rate", f"{where}: model.init_args")
    return args, fe, fe_w, yaml_number(hd, "hop_length", hd_w)


# --------------------------------------------------------------------------- reading
def check_inited(kept: Mapping[str, torch.Tensor], n_q: int, where: str) -> None:
    """Every codebook must have been initialised (``inited != 0``), else its codes mean nothing."""
    for i in range(n_q):
        inited = kept.get(f"quantizer.vq.layers.{i}._codebook.inited")
        if inited is None or not bool((inited != 0).all()):
            raise CheckpointError(f"{where}: codebook {i} was never initialised (inited = 0): the checkpoint "
                                  "predates the first training step and its codes would be meaningless")


def interpret(
    state: Mapping[str, torch.Tensor],
    meta: Mapping[str, Any] | None,
    where: str,
    *,
    class_path: str,
    infer: Callable[[Mapping[str, Any], str], dict[str, Any]],
    read_config: Callable[[str | os.PathLike], dict[str, Any]],
    checked: Callable[[str], bool],
    config: str | os.PathLike | None = None,
    expected: Mapping[str, Any] | None = None,
    keep_discriminators: bool = False,
    release_of: Callable[[Mapping[str, Any]], str | None] | None = None,
) -> OfficialCheckpoint:
    """The common reading flow: split prefixes, infer from shapes, check stated configs and codebooks.

    ``config``: an official YAML (read by ``read_config``) whose numbers must agree with the
    shapes; ``expected``: init args the caller requires (a bundle's), checked likewise;
    ``checked(key)``: whether a key comes from the shapes (a stated value must agree).
    """
    kept, dropped = split_prefixes(state, RENAME, DROP, where)
    args = infer(kept, where)
    if config is not None:
        args = merge_stated(args, read_config(config), where, str(config), checked)
    if expected is not None:
        args = merge_stated(args, expected, where, "the requested model", checked)
    check_inited(kept, int(args.get("n_q", 1)), where)
    discs = None
    if keep_discriminators:
        discs = {k: v for p in DISCRIMINATORS for k, v in dropped[p].items()}
        if not discs:
            raise CheckpointError(f"{where}: holds no discriminator weights to keep")
    release = release_of(args) if release_of is not None else None
    return OfficialCheckpoint(class_path, args, kept, discs, dict(meta or {}), release)


def make_from_state(matches: Callable[[Mapping[str, Any]], bool], refusal: str,
                    **spec: Any) -> Callable[..., OfficialCheckpoint]:
    """A format's ``from_state``: refuse a state ``matches`` rejects (``"{where}: {refusal}"``),
    else :func:`interpret` with ``spec`` (``class_path``, ``infer``, ``read_config``, ``checked``,
    ``release_of``)."""

    def from_state(
        state: Mapping[str, torch.Tensor],
        meta: Mapping[str, Any] | None = None,
        *,
        where: str = "checkpoint",
        config: str | os.PathLike | None = None,
        expected: Mapping[str, Any] | None = None,
        keep_discriminators: bool = False,
    ) -> OfficialCheckpoint:
        """Interpret an official state dict (see the format's module docstring); nothing is built.

        ``config``: an official YAML whose numbers must agree with the shapes.
        ``expected``: init args the caller requires (e.g. a named bundle's), checked likewise.
        ``keep_discriminators``: keep the discriminator tensors (official names).
        """
        if not matches(state):
            raise CheckpointError(f"{where}: {refusal}")
        return interpret(state, meta, where, config=config, expected=expected,
                         keep_discriminators=keep_discriminators, **spec)

    return from_state
