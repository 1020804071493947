"""Reader of the official Language-Codec Lightning checkpoints (codecs.md §5.4, §5.6, §9).

Released files (Google Drive links in the ``jishengpeng/Languagecodec`` README) are Lightning
``.ckpt`` dicts in the layout :mod:`audiokit.convert.lightning` reads (shared with
WavTokenizer): 8 MCRVQ codebooks under ``feature_extractor.encodec.quantizer.``; v2 files
also hold ``dacdiscriminator.*``.

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
from collections.abc import Mapping
from typing import Any

from audiokit.convert import lightning
from audiokit.convert.format import CheckpointFormat
from audiokit.convert.lightning import DISCRIMINATORS, DROP, RENAME  # noqa: F401  (re-exported)
from audiokit.errors import CheckpointError, ConfigError

CLASS_PATH = "audiokit.models.codec.languagecodec.LanguageCodec"
FORMAT_NAME = "languagecodec-lightning"
#: settings no tensor shape reveals; the release values
DEFAULTS = {"sample_rate": 24000, "kmeans_iters": 50, "decay": 0.99, "threshold_ema_dead_code": 2}
#: the Language-Codec encoder hop (ratios 8, 5, 4, 2)
HOP = 320

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


def matches(state: Mapping[str, Any]) -> bool:
    """Whether ``state`` (official key names) looks like a Language-Codec checkpoint."""
    keys = list(state)
    return (any(k.startswith("feature_extractor.encodec.encoder.") for k in keys)
            and any(k.startswith("feature_extractor.encodec.quantizer.vq.layers.") for k in keys)
            and any(k.startswith("head.out.") for k in keys)
            and not any(k.startswith("backbone.pos_net.") for k in keys))


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
    args = lightning.shape_args(state, where, DEFAULTS)
    args.pop("pos_net")  # matches() refused pos_net tensors
    if args["adanorm_num_embeddings"] is None:
        raise CheckpointError(f"{where}: missing tensor 'backbone.norm.scale.weight' (Language-Codec's AdaLN)")
    args["train_n_q"] = _train_n_q(args)
    return args


def read_official_yaml(path: str | os.PathLike) -> dict[str, Any]:
    """Init args stated by an official Language-Codec YAML (``model.init_args...``).

    Only numbers are read (``yaml.safe_load``); no class it names is imported. The YAML
    does not state the codebook size (it is hard-coded in the reference code).
    """
    args, _, _, hop = lightning.read_yaml_sections(path)
    if hop != HOP:
        raise ConfigError(f"{path!s}: model.init_args.head.init_args.hop_length: {hop}, but the "
                          f"Language-Codec encoder hop is {HOP}")
    return args


from_state = lightning.make_from_state(
    matches, "not a Language-Codec checkpoint (needs 'feature_extractor.encodec.encoder.', "
    "'...quantizer.vq.layers.' and 'head.out.' tensors and no 'backbone.pos_net.')",
    class_path=CLASS_PATH, infer=infer_init_args, read_config=read_official_yaml,
    checked=lambda key: key not in DEFAULTS and key != "train_n_q", release_of=release_of,
)
FORMAT = CheckpointFormat(FORMAT_NAME, CLASS_PATH, "ratios", from_state)
read_checkpoint = FORMAT.read
load_checkpoint = FORMAT.load
convert_checkpoint = FORMAT.convert
audiokit_config = FORMAT.audiokit_config
