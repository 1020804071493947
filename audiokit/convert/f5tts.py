"""Reader of released F5-TTS checkpoints (``SWivid/F5-TTS``) and their ``vocab.txt``.

Layouts (downstream.md §5.10):

* ``model_*.safetensors``: the EMA weights with keys ``ema_model.transformer.*`` plus scalar
  ``ema_model.initted`` / ``ema_model.step`` (dropped);
* ``model_*.pt``: a dict with ``ema_model_state_dict`` (EMA, used by default) and
  ``model_state_dict`` (``use_ema=False``), optimizer/scheduler entries ignored;
* old files may carry ``mel_spec.*`` buffers and ``transformer.rotary_embed.inv_freq`` (dropped).

Attention and feed-forward keys are renamed to audiokit's (``attn.to_q`` -> ``attn.linear_q``,
``attn.to_out.0`` -> ``attn.linear_out``, ``ff.ff.0.0`` -> ``ff.0``, ``ff.ff.2`` -> ``ff.3``).
Widths, depth, vocabulary and refiner size come from the shapes; what shapes cannot tell
(heads, ``pe_attn_head``, ``text_mask_padding``: v0 vs v1) comes from a model config
(``configs/tts/f5tts_v1_base.yaml`` by default). Every failure is a one-line
:class:`~audiokit.errors.CheckpointError` naming the file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audiokit.errors import CheckpointError

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from audiokit.models.tts.f5tts import F5TTS
    from audiokit.models.tts.f5tts_text import F5Vocab

CLASS_PATH = "audiokit.models.tts.f5tts.F5TTS"
CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs" / "tts"
DEFAULT_CONFIG = "f5tts_v1_base.yaml"
_DROP_SCALARS = ("initted", "step", "update")
_RENAMES = [
    (re.compile(r"\.attn\.to_([qkv])\."), r".attn.linear_\1."),
    (re.compile(r"\.attn\.to_out\.0\."), ".attn.linear_out."),
    (re.compile(r"\.ff\.ff\.0\.0\."), ".ff.0."),
    (re.compile(r"\.ff\.ff\.2\."), ".ff.3."),
]
_DROPPED = ("mel_spec.", "transformer.rotary_embed.inv_freq")


def read_vocab(path: str | os.PathLike) -> F5Vocab:
    """The F5-TTS ``vocab.txt`` at ``path`` (one token per line; line 1 must be the space)."""
    from audiokit.models.tts.f5tts_text import F5Vocab

    where = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CheckpointError(f"{where}: no such file (the F5-TTS vocabulary vocab.txt is needed)") from None
    except (OSError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{where}: cannot read the vocabulary ({type(err).__name__})") from None
    tokens = text.split("\n")
    if tokens and tokens[-1] == "":
        tokens.pop()
    if not tokens:
        raise CheckpointError(f"{where}: empty vocabulary")
    if tokens[0] != " ":
        raise CheckpointError(f"{where}:1: the first token must be the space ' ' (id 0), got {tokens[0]!r}")
    return F5Vocab(tokens)


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such file") from None
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"{path}: corrupt or not a safetensors file ({first})") from None


def _unwrap(obj: Any, where: str, use_ema: bool) -> dict[str, Any]:
    """The model tensors of a loaded F5 file (EMA unless ``use_ema=False``), prefix removed."""
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{where}: not an F5-TTS checkpoint (holds a {type(obj).__name__})")
    if "ema_model_state_dict" in obj or "model_state_dict" in obj:
        key = "ema_model_state_dict" if use_ema else "model_state_dict"
        if key not in obj:
            raise CheckpointError(f"{where}: no '{key}' in this checkpoint")
        state = obj[key]
    elif use_ema:
        state = {k[len("ema_model."):]: v for k, v in obj.items() if k.startswith("ema_model.")}
        if not state:
            raise CheckpointError(f"{where}: no 'ema_model.' tensors (not an F5-TTS checkpoint)")
    else:
        raise CheckpointError(f"{where}: use_ema=False needs a training checkpoint with 'model_state_dict'")
    if not isinstance(state, Mapping):
        raise CheckpointError(f"{where}: the state dict is not a mapping")
    if use_ema and any(k.startswith("ema_model.") for k in state):
        state = {k[len("ema_model."):]: v for k, v in state.items() if k.startswith("ema_model.")}
    return dict(state)


def read_state(path: str | os.PathLike, *, use_ema: bool = True) -> dict[str, torch.Tensor]:
    """The F5-TTS tensors of a ``.safetensors`` or ``.pt`` file under audiokit names."""
    import torch

    from audiokit.convert.common import read_torch_file

    path = Path(path)
    where = str(path)
    if path.suffix == ".safetensors":
        obj: Any = _read_safetensors(path)
    else:
        obj = read_torch_file(path)
    state = _unwrap(obj, where, use_ema)
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key in _DROP_SCALARS or key.startswith(_DROPPED):
            continue
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise CheckpointError(f"{where}: entry {key!r} is not a named tensor")
        if not key.startswith("transformer."):
            raise CheckpointError(f"{where}: unexpected tensor '{key}' (not part of an F5-TTS DiT checkpoint)")
        for pattern, repl in _RENAMES:
            key = pattern.sub(repl, key)
        out[key] = value
    if not out:
        raise CheckpointError(f"{where}: no model tensors found")
    return out


def _count(state: Mapping[str, Any], prefix: str) -> int:
    found = {k[len(prefix):].split(".", 1)[0] for k in state if k.startswith(prefix)}
    return len([i for i in found if i.isdigit()])


def infer_args(state: Mapping[str, torch.Tensor], where: str) -> dict[str, Any]:
    """F5TTS constructor arguments that the tensor shapes determine."""
    from audiokit.convert.common import shape_of

    mel_dim, dim = shape_of(state, "transformer.proj_out.weight", where)
    rows, text_dim = shape_of(state, "transformer.text_embed.text_embed.weight", where)
    hidden, _ = shape_of(state, "transformer.transformer_blocks.0.ff.0.weight", where)
    return {
        "dim": dim, "depth": _count(state, "transformer.transformer_blocks."), "ff_mult": hidden / dim
        if hidden % dim else hidden // dim, "mel_dim": mel_dim, "vocab_size": rows - 1, "text_dim": text_dim,
        "conv_layers": _count(state, "transformer.text_embed.text_blocks."),
    }


def config_args(config: str | os.PathLike | Mapping | None) -> dict[str, Any]:
    """``model.init_args`` of an F5TTS config (a YAML path, a dict, or the default v1 config)."""
    from audiokit.config import load_config
    from audiokit.errors import ConfigError

    if isinstance(config, Mapping):
        return dict(config)
    path = Path(config) if config is not None else CONFIG_DIR / DEFAULT_CONFIG
    cfg = load_config(path, known_keys=None)
    model = cfg.get("model") if isinstance(cfg, Mapping) else None
    if not isinstance(model, Mapping) or model.get("class_path") != CLASS_PATH:
        raise ConfigError(f"{path}: expected 'model' with class_path {CLASS_PATH}")
    return dict(model.get("init_args") or {})


def load_f5tts(
    path: str | os.PathLike, *, config: str | os.PathLike | Mapping | None = None,
    vocab: str | os.PathLike | None = None, use_ema: bool = True,
) -> tuple[F5TTS, F5Vocab | None]:
    """Build an :class:`F5TTS` from a released checkpoint (eval mode) and read its vocabulary.

    ``config`` supplies what shapes do not determine (default: the v1 Base config); a stated
    value that the shapes contradict is an error, as is a ``vocab.txt`` whose size differs
    from the text embedding (``rows - 1``).
    """
    from audiokit.convert.common import load_checked
    from audiokit.convert.format import merge_stated
    from audiokit.models.tts.f5tts import F5TTS

    where = str(path)
    state = read_state(path, use_ema=use_ema)
    inferred = infer_args(state, where)
    args = merge_stated(inferred, config_args(config), where, "the model config", lambda k: True)
    words = None
    if vocab is not None:
        words = read_vocab(vocab)
        if len(words) != args["vocab_size"]:
            raise CheckpointError(f"{vocab}: {len(words)} tokens, but {where} has a text embedding for "
                                  f"{args['vocab_size']} (+1 filler row)")
    try:
        model = F5TTS(**args)
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{where}: cannot build the model ({err})") from None
    load_checked(model, state, where)
    return model.eval(), words


def convert_f5tts(
    path: str | os.PathLike, out_dir: str | os.PathLike, *, vocab: str | os.PathLike,
    config: str | os.PathLike | Mapping | None = None, use_ema: bool = True, force: bool = False,
) -> Path:
    """Write an audiokit model folder (``config.yaml``, ``model.safetensors``, ``vocab.txt``)."""
    from audiokit.checkpoint import save_pretrained
    from audiokit.convert.format import in_signature_order
    from audiokit.io.atomic import check_writable
    from audiokit.models.tts.f5tts import F5TTS

    check_writable(out_dir, force)
    model, _ = load_f5tts(path, config=config, vocab=vocab, use_ema=use_ema)
    init_args = {k: _plain(v) for k, v in config_args(config).items()}
    init_args.update(infer_args(model.state_dict(), str(path)))
    cfg = {"model": {"class_path": CLASS_PATH, "init_args": in_signature_order(F5TTS, init_args)},
           "sample_rate": model.sample_rate, "source": str(path), "tokenizer": "vocab.txt"}
    return save_pretrained(model, cfg, out_dir, extra_files=[vocab], force=force)


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
