"""The ASR pipeline's data, tokenizer and training stages (see ``recipes/asr/__init__.py``)."""

from __future__ import annotations

import os
import re
import shlex
import sys
import tempfile
from pathlib import Path
from typing import Any

from audiokit.errors import ConfigError
from audiokit.recipe import StageContext
from audiokit.recipe.validate import validate_data_dirs

_SET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
TOKENIZERS = ("spm", "char")
MODES = ("streaming", "offline")
HEADS = ("rnnt", "ctc")
PEERS = ("pocketsphinx", "none")


# --------------------------------------------------------------------------- config
def _relative(config: dict[str, Any], key: str) -> None:
    path = Path(str(config[key]))
    if not str(config[key]) or path.is_absolute() or ".." in path.parts:
        raise ConfigError(f"{key} '{config[key]}': give a relative path without '..'")


def _int(value: Any, key: str, low: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ConfigError(f"{key} must be an integer >= {low}, got {value!r}")


def _str_list(value: Any, key: str, allowed: tuple[str, ...] | None = None, empty_ok: bool = True) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or (not value and not empty_ok):
        raise ConfigError(f"{key}: a {'non-empty ' if not empty_ok else ''}list of strings, got {value!r}")
    bad = [v for v in value if allowed is not None and v not in allowed]
    if bad:
        raise ConfigError(f"{key}: '{bad[0]}' is not one of {', '.join(allowed or ())}")


def _check_sets(config: dict[str, Any]) -> None:
    seen: dict[str, str] = {}
    for key in ("train_sets", "dev_sets", "test_sets"):
        _str_list(config[key], key, empty_ok=key == "dev_sets")
        for name in config[key]:
            if not _SET.match(name) or name.startswith("lang_"):
                raise ConfigError(f"{key}: '{name}' is not a data dir name (letters, digits, '.', '_', '-')")
            if name in seen and {seen[name], key} != {"dev_sets", "test_sets"}:
                raise ConfigError(f"{key}: '{name}' is also in {seen[name]}")
            seen.setdefault(name, key)


def check_config(config: dict[str, Any]) -> None:
    """Reject impossible values before anything runs (ConfigError)."""
    _relative(config, "data_dir")
    _relative(config, "train_config")
    _int(config["seed"], "seed", 0)
    _int(config["jobs"], "jobs", 1)
    args = config["prepare_args"]
    if isinstance(args, list):  # numbers are fine: `prepare_args=[--seed,1]` reads 1 as an int
        args = [str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v for v in args]
    _str_list(args, "prepare_args")
    _str_list(config["prepare_outputs"], "prepare_outputs")
    _check_sets(config)
    for key in ("corpus", "corpus_env"):
        if not isinstance(config[key], str):
            raise ConfigError(f"{key}: a string, got {config[key]!r}")
    tok = config["tokenizer"]
    if tok["type"] not in TOKENIZERS:
        raise ConfigError(f"tokenizer.type '{tok['type']}': choose {' or '.join(TOKENIZERS)}")
    if tok["model_type"] not in ("unigram", "bpe"):
        raise ConfigError(f"tokenizer.model_type '{tok['model_type']}': choose unigram or bpe")
    _int(tok["vocab_size"], "tokenizer.vocab_size", 2)
    overrides = config["train_overrides"]
    if not isinstance(overrides, list) or not all(isinstance(o, str) and "=" in o for o in overrides):
        raise ConfigError(f"train_overrides: a list of key=value strings, got {overrides!r}")
    dec = config["decode"]
    _str_list(dec["modes"], "decode.modes", MODES, empty_ok=False)
    _str_list(dec["heads"], "decode.heads", HEADS)
    looks = dec["lookaheads_ms"]
    if not isinstance(looks, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                              and v >= 0 for v in looks):
        raise ConfigError(f"decode.lookaheads_ms: a list of look-aheads in ms (>= 0), got {looks!r}")
    _int(dec["max_utts"], "decode.max_utts", 0)
    _int(dec["batch_size"], "decode.batch_size", 1)
    if config["peer"] not in PEERS:
        raise ConfigError(f"peer '{config['peer']}': choose {' or '.join(PEERS)}")


def data(ctx: StageContext, name: str) -> str:
    """``<data_dir>/<name>`` (relative to the work dir)."""
    return f"{ctx.get('data_dir')}/{name}"


def all_sets(ctx: StageContext) -> list[str]:
    """Every data dir the recipe uses (train, dev, test; each once)."""
    names = [*ctx.get("train_sets"), *ctx.get("dev_sets"), *ctx.get("test_sets")]
    return list(dict.fromkeys(names))


# --------------------------------------------------------------------------- prepare / validate
def corpus_root(ctx: StageContext) -> str:
    """``corpus``, else the ``corpus_env`` variable; ConfigError when the recipe needs one."""
    corpus = str(ctx.get("corpus"))
    env = str(ctx.get("corpus_env"))
    if not corpus and env:
        corpus = os.environ.get(env, "")
        if not corpus:
            raise ConfigError(f"no corpus: pass corpus=/path/to/the/corpus or set ${env}")
    return corpus


def prepare_argv(ctx: StageContext) -> list[str]:
    """``python <recipe>/local/prepare.py --out <data_dir> --jobs N [--corpus DIR] <prepare_args>``."""
    argv = [sys.executable, str(ctx.recipe_dir / "local" / "prepare.py"), "--out", str(ctx.get("data_dir")),
            "--jobs", str(ctx.get("jobs"))]
    corpus = corpus_root(ctx)
    if corpus:
        argv += ["--corpus", corpus]
    return argv + [str(v) for v in ctx.get("prepare_args")]


def prepare_outputs(ctx: StageContext) -> list[str]:
    """The data dirs (and any declared extra outputs) ``prepare`` makes."""
    return [data(ctx, n) for n in all_sets(ctx)] + list(ctx.get("prepare_outputs"))


def data_inputs(ctx: StageContext) -> list[str]:
    """The data dirs and the audio folders inside the work dir."""
    return prepare_outputs(ctx)


def validate(ctx: StageContext) -> None:
    """Validate every set; write ``exp/<tag>/validate.txt``; DataDirError on any error."""
    validate_data_dirs(ctx, ((data(ctx, name), True) for name in all_sets(ctx)))


# --------------------------------------------------------------------------- tokenizer
def tokenizer_dir(ctx: StageContext) -> str:
    """``<data_dir>/lang_char``, ``lang_spm<N>`` (unigram) or ``lang_bpe<N>``."""
    tok = ctx.get("tokenizer")
    if tok["type"] == "char":
        return data(ctx, "lang_char")
    kind = "spm" if tok["model_type"] == "unigram" else "bpe"
    return data(ctx, f"lang_{kind}{tok['vocab_size']}")


def tokenizer_inputs(ctx: StageContext) -> list[str]:
    """The training transcripts."""
    return [data(ctx, f"{n}/text") for n in ctx.get("train_sets")]


def tokenizer_outputs(ctx: StageContext) -> list[str]:
    return [tokenizer_dir(ctx)]


def train_tokenizer(ctx: StageContext) -> None:
    """Train the tokenizer on every training transcript (one Kaldi text file of all train sets)."""
    from audiokit.text import CharTokenizer, SentencePieceTokenizer

    cfg = ctx.get("tokenizer")
    lines = []
    for path in tokenizer_inputs(ctx):
        lines += [line for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    with tempfile.TemporaryDirectory(prefix="asr-tok-") as tmp:
        text = Path(tmp) / "text"
        text.write_text("\n".join(lines) + "\n", encoding="utf-8")
        if cfg["type"] == "char":
            tok = CharTokenizer.train(text)
        else:
            tok = SentencePieceTokenizer.train(text, int(cfg["vocab_size"]), model_type=cfg["model_type"])
    out = Path(tokenizer_dir(ctx))
    tok.save(out, force=True)
    print(f"tokenizer: {cfg['type']} with {tok.vocab_size} tokens (+ blank) -> {out}", flush=True)


# --------------------------------------------------------------------------- train
def train_inputs(ctx: StageContext) -> list[str]:
    """The training config, the data dirs it reads and the tokenizer."""
    sets = [*ctx.get("train_sets"), *ctx.get("dev_sets")]
    return [str(ctx.repo_path(str(ctx.get("train_config"))).resolve()), *(data(ctx, n) for n in sets),
            tokenizer_dir(ctx)]


def _yaml_list(items: list[str]) -> str:
    return "[" + ",".join(items) + "]"


def train_argv(ctx: StageContext, vocab_size: int) -> list[str]:
    """The ``audiokit train`` command line."""
    config = ctx.repo_file("train_config").resolve()
    return [
        sys.executable, "-m", "audiokit", "train", "--config", str(config),
        f"exp_dir=exp/{ctx.tag}/train", f"seed={ctx.get('seed')}",
        f"data.train_dirs={_yaml_list([data(ctx, n) for n in ctx.get('train_sets')])}",
        f"data.val_dirs={_yaml_list([data(ctx, n) for n in ctx.get('dev_sets')])}",
        f"data.tokenizer={tokenizer_dir(ctx)}", f"task.model.init_args.vocab_size={vocab_size}",
        *ctx.get("train_overrides"),
    ]


def train(ctx: StageContext) -> None:
    """Run ``audiokit train`` with the tokenizer's vocabulary size (resumes from last.ckpt)."""
    from audiokit.recipe.runner import run_argv
    from audiokit.text import load_tokenizer

    vocab = load_tokenizer(tokenizer_dir(ctx)).vocab_size
    argv = train_argv(ctx, vocab)
    print("$ " + shlex.join(["audiokit", *argv[3:]]), flush=True)
    run_argv(argv, ctx.workdir)
