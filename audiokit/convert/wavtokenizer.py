"""Reader of the official WavTokenizer Lightning checkpoints (codecs.md §6.3, §9).

Released files (``novateur/WavTokenizer*`` on Hugging Face, 1.6-1.76 GB) are Lightning
``.ckpt`` dicts in the layout :mod:`audiokit.convert.lightning` reads (shared with
Language-Codec); a WavTokenizer has one 4096 x 512 codebook and ``backbone.pos_net.*``.

The configuration comes from tensor shapes (large checkpoints ship no YAML and community
loaders pair them with the small YAMLs, so file names are not trusted); an official YAML,
when given, is read with ``yaml.safe_load`` for its numbers only (the classes it names are
never imported) and must agree with the shapes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from audiokit.convert import lightning
from audiokit.convert.common import yaml_number
from audiokit.convert.format import CheckpointFormat
from audiokit.convert.lightning import DISCRIMINATORS, DROP, RENAME  # noqa: F401  (re-exported)
from audiokit.errors import CheckpointError, ConfigError

CLASS_PATH = "audiokit.models.codec.wavtokenizer.WavTokenizer"
FORMAT_NAME = "wavtokenizer-lightning"
#: settings no tensor shape reveals; the release values
DEFAULTS = {"sample_rate": 24000, "kmeans_iters": 200, "decay": 0.99, "threshold_ema_dead_code": 2}


def matches(state: Mapping[str, Any]) -> bool:
    """Whether ``state`` (official key names) looks like a WavTokenizer checkpoint."""
    keys = list(state)
    return (any(k.startswith("feature_extractor.encodec.encoder.") for k in keys)
            and any(k.startswith("backbone.pos_net.") for k in keys)
            and any(k.startswith("head.out.") for k in keys))


def infer_init_args(state: Mapping[str, Any], where: str = "checkpoint") -> dict[str, Any]:
    """WavTokenizer init args from the shapes of ``state`` (audiokit key names).

    Ratios come from the downsampling kernels (kernel = 2 x ratio), the codebook from
    ``embed``, the backbone from ``embed``/``pwconv1``/layer count, ``n_fft`` from the head
    rows (``n_fft + 2``); settings no shape reveals take the release values.
    """
    args = lightning.shape_args(state, where, DEFAULTS)
    n_q = args.pop("n_q")
    if n_q != 1:
        raise CheckpointError(f"{where}: {n_q} codebooks; WavTokenizer has exactly one "
                              "(a Language-Codec or EnCodec checkpoint?)")
    return args


def read_official_yaml(path: str | os.PathLike) -> dict[str, Any]:
    """Init args stated by an official WavTokenizer YAML (``model.init_args...``).

    Only numbers are read (``yaml.safe_load``); no class it names is imported.
    """
    args, fe, fe_w, hop = lightning.read_yaml_sections(path)
    ratios = fe.get("dowmsamples")
    if not (isinstance(ratios, list) and ratios and all(isinstance(r, int) and r > 0 for r in ratios)):
        raise ConfigError(f"{fe_w}.dowmsamples: expected a list of positive integers, got {ratios!r}")
    if yaml_number(fe, "num_quantizers", fe_w) != 1:
        raise ConfigError(f"{fe_w}.num_quantizers: WavTokenizer has one codebook, got {fe['num_quantizers']!r}")
    args = {"ratios": list(ratios), "codebook_size": yaml_number(fe, "vq_bins", fe_w),
            "kmeans_iters": yaml_number(fe, "vq_kmeans", fe_w), **args}
    encoder_hop = FORMAT.hop_length(args)
    if hop != encoder_hop:
        raise ConfigError(f"{path!s}: model.init_args.head.init_args.hop_length: {hop} differs from the "
                          f"encoder hop {encoder_hop} (product of dowmsamples {args['ratios']})")
    return args


from_state = lightning.make_from_state(
    matches, "not a WavTokenizer checkpoint (no 'feature_extractor.encodec.encoder.', 'backbone.pos_net.' "
    "and 'head.out.' tensors)",
    class_path=CLASS_PATH, infer=infer_init_args, read_config=read_official_yaml,
    checked=lambda key: key not in DEFAULTS,
)
FORMAT = CheckpointFormat(FORMAT_NAME, CLASS_PATH, "ratios", from_state)
read_checkpoint = FORMAT.read
load_checkpoint = FORMAT.load
convert_checkpoint = FORMAT.convert
audiokit_config = FORMAT.audiokit_config
