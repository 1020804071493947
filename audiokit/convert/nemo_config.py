"""NeMo ``model_config.yaml`` -> :class:`audiokit.models.asr.model.StreamingASR` arguments.

The config is data: ``_target_`` strings are compared with the class names audiokit knows
(never imported), numbers are read with type checks, and every setting audiokit cannot
reproduce exactly is refused with a one-line error naming the key (rather than loading a
model that would silently compute something else). Missing keys take NeMo's defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from audiokit.convert.common import yaml_number
from audiokit.errors import CheckpointError, ConfigError

#: model ``target`` (last dotted part) -> decoder type
MODEL_KINDS = {
    "EncDecHybridRNNTCTCBPEModel": "hybrid", "EncDecHybridRNNTCTCModel": "hybrid",
    "EncDecRNNTBPEModel": "rnnt", "EncDecRNNTModel": "rnnt",
    "EncDecCTCModelBPE": "ctc", "EncDecCTCModel": "ctc",
}
#: NeMo ``ConformerEncoder`` defaults for keys a config leaves out
ENCODER_DEFAULTS: dict[str, Any] = {
    "subsampling": "striding", "subsampling_factor": 4, "subsampling_conv_channels": -1,
    "causal_downsampling": False, "ff_expansion_factor": 4, "self_attention_model": "rel_pos",
    "n_heads": 4, "att_context_size": None, "att_context_probs": None, "att_context_style": "regular",
    "xscaling": True, "untie_biases": True, "conv_kernel_size": 31, "conv_norm_type": "batch_norm",
    "conv_context_size": None, "use_bias": True, "dropout": 0.1, "dropout_pre_encoder": 0.1,
    "dropout_emb": 0.1, "dropout_att": 0.0, "feat_out": -1,
}


def _short(target: Any) -> str:
    return str(target).rsplit(".", 1)[-1] if target else ""


def _check_target(node: Mapping, expected: tuple[str, ...], where: str) -> None:
    target = node.get("_target_")
    if target is not None and _short(target) not in expected:
        raise CheckpointError(f"{where}._target_: '{target}' is not supported (audiokit reads {', '.join(expected)})")


def _section(cfg: Mapping, key: str, where: str) -> Mapping:
    node = cfg.get(key)
    if not isinstance(node, Mapping):
        raise CheckpointError(f"{where}: missing section '{key}'")
    return node


def _num(node: Mapping, key: str, default: Any, where: str, kind: type = int) -> Any:
    if node.get(key) is None:
        return default
    return yaml_number(node, key, where, kind)


def model_kind(cfg: Mapping, where: str) -> str:
    """``"hybrid"``, ``"rnnt"`` or ``"ctc"`` from ``target`` and the sections present."""
    target = _short(cfg.get("target"))
    if target and target not in MODEL_KINDS:
        raise CheckpointError(f"{where}: model '{cfg.get('target')}' is not a Conformer CTC/RNN-T ASR model "
                              f"audiokit reads ({', '.join(sorted(MODEL_KINDS))})")
    if target:
        return MODEL_KINDS[target]
    if isinstance(cfg.get("joint"), Mapping):
        return "hybrid" if isinstance(cfg.get("aux_ctc"), Mapping) else "rnnt"
    if isinstance(cfg.get("decoder"), Mapping):
        return "ctc"
    raise CheckpointError(f"{where}: no decoder section (not an ASR model config)")


def frontend_options(cfg: Mapping, where: str) -> tuple[dict[str, Any], int]:
    """``(overrides of the nemo_mel_80 preset, sample_rate)`` from the ``preprocessor`` section."""
    from audiokit.features import get_preset

    pre = _section(cfg, "preprocessor", where)
    w = f"{where}: preprocessor"
    _check_target(pre, ("AudioToMelSpectrogramPreprocessor",), w)
    sr = _num(pre, "sample_rate", _num(cfg, "sample_rate", 16000, where), w)
    for key, ok in (("frame_splicing", 1), ("exact_pad", False), ("log", True)):
        if pre.get(key, ok) != ok:
            raise CheckpointError(f"{w}.{key}: {pre.get(key)!r} is not supported (only {ok!r})")
    norm = pre.get("normalize", "per_feature")
    norms = {"NA": None, None: None, "per_feature": "per_feature"}
    if norm not in norms:
        raise CheckpointError(f"{w}.normalize: {norm!r} is not supported (NA or per_feature)")
    window = pre.get("window", "hann")
    if window not in ("hann", "hamming"):
        raise CheckpointError(f"{w}.window: {window!r} is not supported (hann or hamming)")
    guard = pre.get("log_zero_guard_type", "add")
    if guard not in ("add", "clamp"):
        raise CheckpointError(f"{w}.log_zero_guard_type: {guard!r} is not supported")
    win = round(_num(pre, "window_size", 0.02, w, float) * sr)
    n_fft = _num(pre, "n_fft", None, w) or 1 << (win - 1).bit_length()
    opts = {
        "sample_rate": sr, "n_fft": n_fft, "win_length": win, "hop_length": round(_num(pre, "window_stride", 0.01, w, float) * sr),
        "n_mels": _num(pre, "features", _num(pre, "nfilt", 64, w), w), "window": window,
        "dither": _num(pre, "dither", 1e-5, w, float), "preemphasis": _num(pre, "preemph", 0.97, w, float),
        "power": _num(pre, "mag_power", 2.0, w, float), "f_min": _num(pre, "lowfreq", 0.0, w, float),
        "f_max": _num(pre, "highfreq", None, w, float), "normalize": norms[norm], "log": guard,
        "log_floor": _num(pre, "log_zero_guard_value", 2.0 ** -24, w, float),
    }
    preset = get_preset("nemo_mel_80")
    return {k: v for k, v in opts.items() if getattr(preset, k) != v}, sr


def _context(value: Any, where: str) -> list | None:
    if value is None:
        return None
    ok = isinstance(value, list) and value and (
        all(isinstance(v, int) for v in value) and len(value) == 2
        or all(isinstance(v, list) and len(v) == 2 and all(isinstance(x, int) for x in v) for v in value))
    if not ok:
        raise ConfigError(f"{where}: expected [left, right] or a list of them, got {value!r}")
    return value


def encoder_args(cfg: Mapping, where: str) -> dict[str, Any]:
    """:class:`~audiokit.models.asr.fastconformer.FastConformerEncoder` arguments."""
    enc = {**ENCODER_DEFAULTS, **_section(cfg, "encoder", where)}
    w = f"{where}: encoder"
    _check_target(enc, ("ConformerEncoder",), w)
    for key, ok in (("subsampling", "dw_striding"), ("self_attention_model", "rel_pos"), ("use_bias", True),
                    ("feat_out", -1)):
        if enc[key] != ok:
            raise CheckpointError(f"{w}.{key}: {enc[key]!r} is not supported (only {ok!r})")
    if enc["conv_norm_type"] not in ("batch_norm", "layer_norm"):
        raise CheckpointError(f"{w}.conv_norm_type: {enc['conv_norm_type']!r} is not supported")
    d_model = _num(enc, "d_model", None, w)
    channels = _num(enc, "subsampling_conv_channels", -1, w)
    conv_ctx = enc["conv_context_size"]
    return {
        "d_model": d_model, "n_layers": _num(enc, "n_layers", None, w), "n_heads": _num(enc, "n_heads", 4, w),
        "feat_in": _num(enc, "feat_in", None, w), "ff_expansion": _num(enc, "ff_expansion_factor", 4, w),
        "conv_kernel_size": _num(enc, "conv_kernel_size", 31, w), "conv_norm": enc["conv_norm_type"],
        "conv_context": "symmetric" if conv_ctx is None else conv_ctx,
        "subsampling_factor": _num(enc, "subsampling_factor", 4, w),
        "subsampling_conv_channels": d_model if channels == -1 else channels,
        "causal_subsampling": bool(enc["causal_downsampling"]),
        "att_context_size": _context(enc["att_context_size"], f"{w}.att_context_size"),
        "att_context_probs": enc["att_context_probs"], "att_context_style": enc["att_context_style"],
        "xscaling": bool(enc["xscaling"]), "dropout": _num(enc, "dropout", 0.1, w, float),
        "dropout_att": _num(enc, "dropout_att", 0.0, w, float),
        "dropout_pre_encoder": _num(enc, "dropout_pre_encoder", 0.1, w, float),
        "dropout_emb": _num(enc, "dropout_emb", 0.1, w, float),
    }


def config_to_init_args(cfg: Mapping, where: str, tokenizer: Any = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(StreamingASR init args, metadata)`` of a NeMo model config.

    The vocabulary size comes from the tokenizer when there is one, else from the config.
    """
    kind = model_kind(cfg, where)
    enc = encoder_args(cfg, where)
    frontend, sr = frontend_options(cfg, where)
    if frontend:
        enc["frontend_options"] = frontend
    args: dict[str, Any] = {"encoder": enc, "decoder_type": kind}
    vocab = tokenizer.vocab_size if tokenizer is not None else None
    if kind in ("rnnt", "hybrid"):
        dec, joint = _section(cfg, "decoder", where), _section(cfg, "joint", where)
        _check_target(dec, ("RNNTDecoder",), f"{where}: decoder")
        _check_target(joint, ("RNNTJoint",), f"{where}: joint")
        if not dec.get("blank_as_pad", True) or dec.get("normalization_mode") is not None:
            raise CheckpointError(f"{where}: decoder: only blank_as_pad=true without normalization is supported")
        pred, jnet = dec.get("prednet") or {}, joint.get("jointnet") or {}
        args.update({
            "pred_hidden": _num(pred, "pred_hidden", 640, f"{where}: decoder.prednet"),
            "pred_rnn_layers": _num(pred, "pred_rnn_layers", 1, f"{where}: decoder.prednet"),
            "pred_dropout": _num(pred, "dropout", 0.0, f"{where}: decoder.prednet", float),
            "joint_hidden": _num(jnet, "joint_hidden", 640, f"{where}: joint.jointnet"),
            "joint_dropout": _num(jnet, "dropout", 0.0, f"{where}: joint.jointnet", float),
            "joint_activation": str(jnet.get("activation", "relu")),
        })
        vocab = vocab or _num(dec, "vocab_size", None, f"{where}: decoder")
        greedy = (cfg.get("decoding") or {}).get("greedy") or {}
        args["max_symbols"] = _num(greedy, "max_symbols", 10, f"{where}: decoding.greedy") or 10
    if kind == "ctc":
        ctc = _section(cfg, "decoder", where)
        _check_target(ctc, ("ConvASRDecoder",), f"{where}: decoder")
        vocab = vocab or _num(ctc, "num_classes", None, f"{where}: decoder")
    if not vocab or vocab < 1:
        raise CheckpointError(f"{where}: cannot tell the vocabulary size (no tokenizer and no vocab_size)")
    args = {"vocab_size": int(vocab), **args}
    ctx = enc["att_context_size"]
    meta = {"target": cfg.get("target"), "sample_rate": sr,
            "att_context_size": (ctx[0] if ctx and isinstance(ctx[0], list) else ctx)}
    return args, meta


def _artifact(value: Any, files: Mapping[str, Path]) -> Path | None:
    if not isinstance(value, str) or not value:
        return None
    name = Path(value.removeprefix("nemo:")).name
    return files.get(name)


def find_tokenizer(cfg: Mapping, files: Mapping[str, Path], where: str) -> Any:
    """The tokenizer of a NeMo config: SentencePiece (``tokenizer.model_path``) or characters
    (``labels`` / ``decoder.vocabulary``); None when the config names neither."""
    from audiokit.text import CharTokenizer, SentencePieceTokenizer, TokenizerError

    tok = cfg.get("tokenizer")
    try:
        if isinstance(tok, Mapping):
            if tok.get("type", "bpe") != "bpe":
                raise CheckpointError(f"{where}: tokenizer.type {tok.get('type')!r} is not supported (bpe only)")
            path = _artifact(tok.get("model_path"), files)
            if path is None:
                found = [p for n, p in files.items() if n == "tokenizer.model" or n.endswith("_tokenizer.model")]
                if len(found) != 1:
                    raise CheckpointError(f"{where}: tokenizer.model_path {tok.get('model_path')!r} is not in the archive")
                path = found[0]
            return SentencePieceTokenizer.from_file(path)
        labels = cfg.get("labels") or (cfg.get("decoder") or {}).get("vocabulary") or None
        if labels:
            return CharTokenizer(list(labels))
    except TokenizerError as err:
        raise CheckpointError(f"{where}: tokenizer: {err}") from None
    return None
