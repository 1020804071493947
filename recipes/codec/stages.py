"""The work of the codec pipeline's stages (see ``recipes/codec/__init__.py``)."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from audiokit.errors import AudiokitError, ConfigError
from audiokit.io.atomic import write_text_atomic
from audiokit.recipe import StageContext, stage_minutes
from audiokit.recipe.validate import validate_data_dirs

SPEECH = ("train", "dev", "test")
MUSIC = ("music", "music_train", "music_test")


# --------------------------------------------------------------------------- config
def check_config(config: dict[str, Any]) -> None:
    """Reject impossible values before anything runs (ConfigError)."""
    from audiokit.data.synth import SIZES

    if config["size"] not in SIZES:
        raise ConfigError(f"size '{config['size']}': choose one of {', '.join(SIZES)}")
    if not isinstance(config["score_max_seconds"], (int, float)) or config["score_max_seconds"] <= 0:
        raise ConfigError(f"score_max_seconds must be > 0, got {config['score_max_seconds']!r}")
    for key, low in (("seed", 0), ("jobs", 1), ("music_test_songs", 1), ("score_max_utts", 1)):
        if not isinstance(config[key], int) or config[key] < low:
            raise ConfigError(f"{key} must be an integer >= {low}, got {config[key]!r}")
    if not isinstance(config["music_songs"], int) or config["music_songs"] <= config["music_test_songs"]:
        raise ConfigError(f"music_songs ({config['music_songs']}) must exceed music_test_songs "
                          f"({config['music_test_songs']})")
    for key in ("data_dir", "train_config"):
        path = Path(str(config[key]))
        if not str(config[key]) or path.is_absolute() or ".." in path.parts:
            raise ConfigError(f"{key} '{config[key]}': give a relative path without '..'")
    overrides = config["train_overrides"]
    if not isinstance(overrides, list) or not all(isinstance(o, str) and "=" in o for o in overrides):
        raise ConfigError(f"train_overrides: a list of key=value strings, got {overrides!r}")
    if config["baseline"] not in ("codec2", "none"):
        raise ConfigError(f"baseline '{config['baseline']}': choose codec2 or none")
    modes = config["codec2_modes"]
    if not isinstance(modes, list) or not modes or not all(isinstance(m, (str, int)) for m in modes):
        raise ConfigError(f"codec2_modes: a non-empty list of Codec 2 modes, got {modes!r}")


def _data(ctx: StageContext, name: str) -> str:
    return f"{ctx.get('data_dir')}/{name}"


# --------------------------------------------------------------------------- prepare / validate
def prepare_argv(ctx: StageContext) -> list[str]:
    """``python <recipe>/local/prepare.py --out data --size ... --music-songs N ...``."""
    return [
        sys.executable, str(ctx.recipe_dir / "local" / "prepare.py"), "--out", str(ctx.get("data_dir")),
        "--size", str(ctx.get("size")), "--seed", str(ctx.get("seed")), "--jobs", str(ctx.get("jobs")),
        "--music-songs", str(ctx.get("music_songs")), "--music-test-songs", str(ctx.get("music_test_songs")),
    ]


def prepare_outputs(ctx: StageContext) -> list[str]:
    """What ``prepare`` makes."""
    return [_data(ctx, n) for n in (*SPEECH, *MUSIC)] + [_data(ctx, "wav"), _data(ctx, "stats.json")]


def data_inputs(ctx: StageContext) -> list[str]:
    """The data dirs and the audio they point to."""
    return [_data(ctx, n) for n in (*SPEECH, *MUSIC)] + [_data(ctx, "wav")]


def validate(ctx: StageContext) -> None:
    """Validate every set; write ``exp/<tag>/validate.txt``; DataDirError on any error."""
    validate_data_dirs(ctx, ((_data(ctx, name), name in SPEECH) for name in (*SPEECH, *MUSIC)))


# --------------------------------------------------------------------------- train
def train_argv(ctx: StageContext) -> list[str]:
    """``python -m audiokit train --config <repo>/<train_config> exp_dir=... data...=... <overrides>``."""
    config = ctx.repo_file("train_config")
    return [
        sys.executable, "-m", "audiokit", "train", "--config", str(config),
        f"exp_dir=exp/{ctx.tag}/train", f"seed={ctx.get('seed')}",
        f"data.train_dirs=[{_data(ctx, 'train')},{_data(ctx, 'music_train')}]",
        f"data.val_dirs=[{_data(ctx, 'dev')}]", *ctx.get("train_overrides"),
    ]


def train_inputs(ctx: StageContext) -> list[str]:
    """The training config and the data dirs it reads."""
    return [str(ctx.repo_path(str(ctx.get("train_config")))),
            *(_data(ctx, n) for n in ("train", "music_train", "dev"))]


# --------------------------------------------------------------------------- score
def _checkpoint(ctx: StageContext) -> tuple[Path, Path]:
    train = ctx.exp_dir / "train"
    return train / "checkpoints" / "last.ckpt", train / "config.yaml"


def score_inputs(ctx: StageContext) -> list[str]:
    """The final checkpoint and the held-out sets."""
    return [f"exp/{ctx.tag}/train/checkpoints/last.ckpt", _data(ctx, "test"), _data(ctx, "music_test")]


def _signals(data_dir: Path, sample_rate: int, max_items: int | None, max_seconds: float
             ) -> tuple[list, list[str]]:
    """Audio (the first ``max_seconds`` of each) of up to ``max_items`` utterances spread evenly
    over the C-sorted ids."""
    from audiokit.data.dataset import KaldiAudioDataset

    ds = KaldiAudioDataset(data_dir, sample_rate=sample_rate)
    index = list(range(len(ds)))
    if max_items is not None and len(index) > max_items:
        index = [index[round(i * len(ds) / max_items)] for i in range(max_items)]
    items = [ds[i] for i in index]
    limit = int(max_seconds * sample_rate)
    return [it["wav"].numpy()[:limit] for it in items], [it["id"] for it in items]


def _command() -> str:
    args = sys.argv[1:]
    if args[:2] == ["--config", "conf/recipe.yaml"]:  # what run.sh adds in front
        args = args[2:]
    return shlex.join(["./run.sh", *args])


def score(ctx: StageContext) -> None:
    """Score trained, untrained and baseline systems; write RESULTS.md and scores.json."""
    import dataclasses

    from audiokit.checkpoint import torch_load_safe
    from audiokit.config import read_yaml
    from audiokit.metrics.codec_eval import codec2_system, neural_system, results_table, score_set
    from audiokit.train.codec import build_codec, codec_from_checkpoint

    ckpt, train_cfg = _checkpoint(ctx)
    trained, node = codec_from_checkpoint(ckpt, train_cfg)
    run_cfg, _ = read_yaml(train_cfg)
    untrained, _ = build_codec(train_cfg, seed=int(run_cfg.get("seed", 0)))
    untrained.eval()
    state = torch_load_safe(ckpt)
    sr = int(trained.sample_rate)
    systems = [neural_system("trained", trained, "this recipe"),
               neural_system("untrained", untrained, "same config and seed, no training")]
    if ctx.get("baseline") == "codec2":
        nominal = {"700C": 700, "450": 450, "1200": 1200, "1300": 1300, "1400": 1400, "1600": 1600,
                   "2400": 2400, "3200": 3200}
        systems += [codec2_system(str(m), sr, nominal.get(str(m), float("nan"))) for m in ctx.get("codec2_modes")]
    seconds = float(ctx.get("score_max_seconds"))
    sets = {
        "test speech": _signals(Path(_data(ctx, "test")), sr, int(ctx.get("score_max_utts")), seconds),
        "test music": _signals(Path(_data(ctx, "music_test")), sr, None, seconds),
    }
    scores = []
    for system in systems:
        for set_name, (signals, _) in sets.items():
            scores.append(score_set(system, set_name, signals, sr))
            print(f"scored {system.name} on {set_name}", flush=True)
    bitrates = {s.name: s.bitrate for s in systems}
    tokens = {s.name: s.tokens_per_s for s in systems}
    info = {
        "checkpoint": f"exp/{ctx.tag}/train/checkpoints/last.ckpt", "global_step": int(state.get("global_step", 0)),
        "iterations": int((state.get("codec_gan") or {}).get("iteration", 0)),
        "train_config": str(ctx.get("train_config")), "train_overrides": list(ctx.get("train_overrides")),
        "model": node, "sample_rate": sr, "command": _command(), "hop_length": int(trained.hop_length),
        "n_codebooks": int(trained.n_codebooks), "codebook_size": int(trained.codebook_size),
        "sets": {k: {"items": len(v[0]), "seconds": round(sum(len(x) for x in v[0]) / sr, 1)}
                 for k, v in sets.items()},
    }
    out = {"info": info, "bitrates": bitrates, "tokens_per_s": tokens, "scores": [dataclasses.asdict(s) for s in scores]}
    write_text_atomic(ctx.exp_dir / "scores.json", json.dumps(out, indent=1, default=str) + "\n")
    text = format_results(ctx, info, results_table(scores, bitrates, tokens), systems)
    write_text_atomic(ctx.exp_dir / "RESULTS.md", text)
    print(text, end="", flush=True)


def format_results(ctx: StageContext, info: dict, table: str, systems: list) -> str:
    """The RESULTS.md text."""
    from audiokit.metrics.codec_eval import ACTIVE_TOP_DB

    sets = ", ".join(f"{k}: {v['items']} items, {v['seconds']} s" for k, v in info["sets"].items())
    lines = [
        f"# Codec results ({ctx.tag})", "",
        f"Command (from `egs/mini_synth/codec1`): `{info['command']}`", "",
        (f"* training: `audiokit train --config {info['train_config']}` "
         f"{' '.join(info['train_overrides'])} -> `{info['checkpoint']}` "
         f"({info['global_step']} optimiser steps, {info['iterations']} iterations; train stage "
         f"{stage_minutes(ctx, 'train')});"),
        (f"* model: `{info['model']['class_path']}`, {info['sample_rate']} Hz, hop {info['hop_length']}, "
         f"{info['n_codebooks']} codebook(s) of {info['codebook_size']} entries;"),
        (f"* held-out sets ({sets}): `test` speech is spoken by voices never seen in training; "
         "`music_test` songs are rendered from seeds not used for training; each item is cut to its "
         f"first {ctx.get('score_max_seconds')} s (WavTokenizer's attention is quadratic in length);"),
        ("* metrics: mel distance = mean L1 between log-mel spectrograms (100 mels, n_fft 1024, hop 256) "
         "at the codec rate (0 = identical); *active frames*: the same over the reference's frames within "
         f"{ACTIVE_TOP_DB:.0f} dB of its loudest (digitally silent frames sit at the log floor, where faint coder "
         "noise costs the most); PESQ = ITU-T P.862.2 wide-band at 16 kHz (`pesq`); STOI "
         "(`pystoi`); code perplexity = exp(entropy) of the code histogram over the set. PESQ and STOI "
         "are speech measures; on music read them as rough similarity scores only."),
        "", table, "Systems:", "",
    ]
    for s in systems:
        rate = "" if s.tokens_per_s is None else f", {s.tokens_per_s:.0f} tokens/s"
        lines.append(f"* **{s.name}** ({s.bitrate:.0f} bit/s{rate}): {s.note or 'audiokit codec'}")
    lines += [
        "",
        ("Baseline choice: Codec 2 (Debian `codec2`, `c2enc`/`c2dec`) is a real classical speech coder in "
         "the bitrate class of the WavTokenizer mini codec (700C: 700 bit/s vs 750 bit/s; 1200 mode for "
         "context; HiFi-Codec and Language-Codec run at several kbit/s, see the bit/s column). "
         "It is narrow-band (8 kHz): audio is resampled to 8 kHz and back, which caps its PESQ-wb and mel "
         "distance; the 700C payload is 28 bits per 40-ms frame, stored as 4 bytes per frame."),
    ]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- pack / roundtrip
def pack(ctx: StageContext) -> None:
    """``save_pretrained`` of the trained codec into ``exp/<tag>/packed`` and check it loads."""
    from audiokit.checkpoint import load_pretrained, save_pretrained
    from audiokit.train.codec import codec_from_checkpoint

    ckpt, train_cfg = _checkpoint(ctx)
    model, node = codec_from_checkpoint(ckpt, train_cfg)
    meta = {"model": node, "sample_rate": int(model.sample_rate), "frame_rate": float(model.frame_rate),
            "source": {"recipe": "egs/mini_synth/codec1", "tag": ctx.tag, "checkpoint": str(ckpt.name)}}
    out = save_pretrained(model, meta, ctx.exp_dir / "packed", force=True)
    load_pretrained(out)
    print(f"packed: {out}", flush=True)


def _verbs() -> set[str]:
    from audiokit.cli.main import VERBS

    return set(VERBS)


def roundtrip(ctx: StageContext) -> None:
    """Encode and decode the first test utterance with the packed model through the CLI."""
    from audiokit.data.kaldi import DataDir
    from audiokit.io.audio import audio_info

    report = ctx.exp_dir / "roundtrip.txt"
    if not {"encode", "decode"} <= _verbs():
        write_text_atomic(report, "skipped: this audiokit has no 'encode'/'decode' verbs\n")
        return
    test = DataDir.load(Path(_data(ctx, "test")))
    utt = test.utt_ids[0]
    wav = Path(test.wav_scp[utt])
    work = ctx.exp_dir / "roundtrip"
    work.mkdir(parents=True, exist_ok=True)
    akc, out = work / f"{utt}.akc", work / f"{utt}.wav"
    model = str(ctx.exp_dir / "packed")
    cmds = [[sys.executable, "-m", "audiokit", "encode", str(wav), "-o", str(akc), "--model", model, "--force"],
            [sys.executable, "-m", "audiokit", "decode", str(akc), "-o", str(out), "--model", model, "--force"]]
    for cmd in cmds:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0 or not Path(cmd[6]).exists():
            raise AudiokitError(f"`audiokit {cmd[3]}` failed ({proc.returncode}): "
                                f"{(proc.stderr.strip().splitlines() or ['no message'])[-1]}")
    src, dst = audio_info(wav), audio_info(out)
    same = src.sample_rate == dst.sample_rate and src.frames == dst.frames
    lines = [f"input:  {wav} ({src.sample_rate} Hz, {src.frames} samples)",
             f"codes:  {akc} ({akc.stat().st_size} bytes)",
             f"output: {out} ({dst.sample_rate} Hz, {dst.frames} samples)",
             f"rate and length preserved: {'yes' if same else 'NO'}",
             *(f"$ {shlex.join(['audiokit', *c[3:]])}" for c in cmds)]
    write_text_atomic(report, "\n".join(lines) + "\n")
    print("\n".join(lines), flush=True)
