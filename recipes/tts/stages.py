"""The work of the TTS pipeline's stages (see ``recipes/tts/__init__.py``): config checks,
prepare, validate, lang, train and pack. Synthesis is in ``synth.py``, scoring in ``results.py``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from audiokit.errors import ConfigError, DataDirError
from audiokit.io.atomic import write_text_atomic
from audiokit.recipe import StageContext
from audiokit.recipe.validate import validate_data_dirs

SETS = ("train", "dev", "test")


# --------------------------------------------------------------------------- config
def _positive(config: dict[str, Any], key: str, kind: type | tuple = (int, float), low: float = 0) -> None:
    value = config[key]
    if isinstance(value, bool) or not isinstance(value, kind) or value <= low:
        raise ConfigError(f"{key} must be a number > {low}, got {value!r}")


def check_config(config: dict[str, Any]) -> None:
    """Reject impossible values before anything runs (ConfigError)."""
    for key in ("data_dir", "train_config"):
        path = Path(str(config[key]))
        if not str(config[key]) or path.is_absolute() or ".." in path.parts:
            raise ConfigError(f"{key} '{config[key]}': give a relative path without '..'")
    for key in ("prepare_args", "train_overrides"):
        value = config[key]
        if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) for v in value):
            raise ConfigError(f"{key}: a list of strings, got {value!r}")
    if not all(isinstance(o, str) and "=" in o for o in config["train_overrides"]):
        raise ConfigError(f"train_overrides: a list of key=value strings, got {config['train_overrides']!r}")
    for key in ("seed", "torch_threads"):
        if isinstance(config[key], bool) or not isinstance(config[key], int) or config[key] < 0:
            raise ConfigError(f"{key} must be an integer >= 0, got {config[key]!r}")
    for key in ("synth_max_utts", "nfe", "sweep_utts", "griffinlim_iters"):
        _positive(config, key, int)
    for key in ("ref_max_seconds", "speed"):
        _positive(config, key)
    if isinstance(config["cfg_strength"], bool) or not isinstance(config["cfg_strength"], (int, float)) \
            or config["cfg_strength"] < 0:
        raise ConfigError(f"cfg_strength must be a number >= 0, got {config['cfg_strength']!r}")
    if config["sway"] is not None and not isinstance(config["sway"], (int, float)):
        raise ConfigError(f"sway must be a number or null, got {config['sway']!r}")
    if config["duration"] not in ("estimate", "oracle"):
        raise ConfigError(f"duration '{config['duration']}': choose estimate or oracle")
    if config["asr"] not in ("pocketsphinx", "none"):
        raise ConfigError(f"asr '{config['asr']}': choose pocketsphinx or none")
    nfes = config["sweep_nfe"]
    if not isinstance(nfes, list) or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in nfes):
        raise ConfigError(f"sweep_nfe: a list of positive integers, got {nfes!r}")
    if not isinstance(config["vocoder"], str) or not config["vocoder"]:
        raise ConfigError(f"vocoder: 'griffinlim' or the path of a Vocos mel folder, got {config['vocoder']!r}")


def set_threads(ctx: StageContext) -> None:
    """``torch.set_num_threads(torch_threads)`` when set (> 0) for this stage's process."""
    import torch

    if int(ctx.get("torch_threads")) > 0:
        torch.set_num_threads(int(ctx.get("torch_threads")))


def data(ctx: StageContext, name: str) -> str:
    """``<data_dir>/<name>`` (relative to the work dir)."""
    return f"{ctx.get('data_dir')}/{name}"


def vocab_file(ctx: StageContext) -> str:
    return data(ctx, "lang/vocab.txt")


# --------------------------------------------------------------------------- prepare / validate / lang
def prepare_argv(ctx: StageContext) -> list[str]:
    """``python <recipe>/local/prepare.py --out <data_dir> --seed N <prepare_args...>``."""
    return [sys.executable, str(ctx.recipe_dir / "local" / "prepare.py"), "--out", str(ctx.get("data_dir")),
            "--seed", str(ctx.get("seed")), *map(str, ctx.get("prepare_args"))]


def set_paths(ctx: StageContext) -> list[str]:
    """The Kaldi data dirs every recipe's prepare.py makes."""
    return [data(ctx, n) for n in SETS]


def validate(ctx: StageContext) -> None:
    """Validate train/dev/test (transcripts required); ``exp/<tag>/validate.txt``; DataDirError on errors."""
    validate_data_dirs(ctx, ((data(ctx, name), True) for name in SETS))


def lang(ctx: StageContext) -> None:
    """``<data_dir>/lang/vocab.txt``: the characters of the training transcripts (space first)."""
    from audiokit.data.kaldi import DataDir
    from audiokit.train.tts_data import build_vocab

    texts = list(DataDir.load(ctx.path(data(ctx, "train"))).text.values())
    if not texts:
        raise DataDirError(f"{data(ctx, 'train')}/text: no transcripts")
    tokens = build_vocab(texts)
    out = ctx.path(vocab_file(ctx))
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out, "".join(t + "\n" for t in tokens))
    print(f"{vocab_file(ctx)}: {len(tokens)} tokens", flush=True)


# --------------------------------------------------------------------------- train / pack
def train_argv(ctx: StageContext) -> list[str]:
    """``python -m audiokit train --config <repo>/<train_config> exp_dir=... data...=... <overrides>``."""
    config = ctx.repo_file("train_config")
    return [sys.executable, "-m", "audiokit", "train", "--config", str(config),
            f"exp_dir=exp/{ctx.tag}/train", f"seed={ctx.get('seed')}",
            f"data.train_dirs=[{data(ctx, 'train')}]", f"data.val_dirs=[{data(ctx, 'dev')}]",
            f"data.vocab={vocab_file(ctx)}", *ctx.get("train_overrides")]


def train_inputs(ctx: StageContext) -> list[str]:
    """The training config, the data dirs it reads and the vocabulary."""
    return [str(ctx.repo_path(str(ctx.get("train_config")))), data(ctx, "train"), data(ctx, "dev"),
            vocab_file(ctx)]


def checkpoint(ctx: StageContext) -> tuple[Path, Path]:
    """``(last.ckpt, config.yaml)`` of the training run."""
    train = ctx.exp_dir / "train"
    return train / "checkpoints" / "last.ckpt", train / "config.yaml"


def pack(ctx: StageContext) -> None:
    """Export the trained model (EMA weights) with its vocabulary to ``exp/<tag>/packed`` and reload it."""
    from audiokit.checkpoint import load_pretrained
    from audiokit.train.tts import export_tts

    ckpt, cfg = checkpoint(ctx)
    source = {"recipe": str(ctx.recipe_dir.relative_to(ctx.recipe_dir.parents[2])), "tag": ctx.tag,
              "checkpoint": ckpt.name, "weights": "ema", "vocoder": str(ctx.get("vocoder"))}
    out = export_tts(ckpt, cfg, ctx.path(vocab_file(ctx)), ctx.exp_dir / "packed", force=True,
                     extra={"source": source})
    load_pretrained(out)
    print(f"packed: {out}", flush=True)
