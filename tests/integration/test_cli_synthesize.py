"""``audiokit synthesize``: round trip with a tiny random F5-TTS folder, bad input, batch mode."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audiokit.decoding.flow import estimate_duration
from tests.unit.models.tts.test_bundle import HOP, SR, speech_like, tiny_tts_folder

REF_TEXT = "hello there"  # fed to the model as "hello there.  " (F5-TTS: ". " then a space)


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "audiokit", "synthesize", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, check=False)


def assert_user_error(res: subprocess.CompletedProcess, *needles: str) -> None:
    assert res.returncode != 0
    assert "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    for n in needles:
        assert n in lines[0], lines[0]


def expected_samples(ref_seconds: float, text: str, speed: float = 1.0) -> int:
    """Output length by the F5-TTS duration rule: generated frames - 1 (center ISTFT), times hop."""
    ref_frames = int(ref_seconds * SR) // HOP
    total = estimate_duration(ref_frames, REF_TEXT + ".  ", text, speed)
    return (total - ref_frames - 1) * HOP


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("synth")
    model = tiny_tts_folder(d)
    ref = d / "ref.wav"
    sf.write(ref, speech_like(1.0), SR)
    return {"dir": d, "model": model, "ref": ref}


def base(env, *extra: str) -> list[str]:
    return ["--model", str(env["model"]), "--ref-audio", str(env["ref"]), "--ref-text", REF_TEXT, "--nfe", "2",
            *extra]


def test_round_trip_and_no_overwrite(env, tmp_path):
    out = tmp_path / "out.wav"
    text = "abc def ghi"
    res = cli(*base(env, "--text", text, "-o", str(out), "--seed", "1"))
    assert res.returncode == 0 and res.stderr == "", res.stderr
    info = sf.info(out)
    assert info.samplerate == SR and info.channels == 1 and info.frames == expected_samples(1.0, text)
    before = out.read_bytes()
    assert_user_error(cli(*base(env, "--text", text, "-o", str(out), "--seed", "2")), str(out), "--force")
    assert out.read_bytes() == before
    res = cli(*base(env, "--text", text, "-o", str(out), "--seed", "1", "--force", "--speed", "2", "--sway", "0"))
    assert res.returncode == 0, res.stderr
    assert sf.info(out).frames == expected_samples(1.0, text, speed=2.0)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left


def test_resampled_reference_random_seed_and_unknown_fallback(env, tmp_path):
    ref16 = tmp_path / "ref16.flac"
    sf.write(ref16, speech_like(1.0, 16000), 16000)
    out = tmp_path / "o.wav"
    res = cli("--model", str(env["model"]), "--ref-audio", str(ref16), "--ref-text", REF_TEXT, "--nfe", "2",
              "--text", "caf\u00e9 bar", "--on-unknown", "space", "-o", str(out))
    assert res.returncode == 0, res.stderr
    assert res.stderr.startswith("audiokit synthesize: seed ") and "--seed" in res.stderr
    assert sf.info(out).frames == expected_samples(1.0, "caf\u00e9 bar")


def test_official_file_layout(env, tmp_path):
    """An official-style file: model_*.safetensors + vocab.txt beside it, --vocoder, --model-config."""
    import torch
    import yaml
    from safetensors.torch import save_file

    from audiokit.checkpoint import load_pretrained
    from tests.unit.models.tts.test_bundle import MODEL_ARGS

    state = {f"ema_model.{k}": v for k, v in load_pretrained(env["model"]).state_dict().items()}
    renamed = {k.replace(".attn.linear_out.", ".attn.to_out.0.").replace(".attn.linear_", ".attn.to_")
               .replace(".ff.0.", ".ff.ff.0.0.").replace(".ff.3.", ".ff.ff.2."): v for k, v in state.items()}
    renamed["step"] = torch.tensor(5)
    save_file(renamed, str(tmp_path / "model_5.safetensors"))
    shutil.copy(env["model"] / "vocab.txt", tmp_path / "vocab.txt")
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump({"model": {"class_path": "audiokit.models.tts.f5tts.F5TTS",
                                             "init_args": MODEL_ARGS}}))
    out, ref_out = tmp_path / "a.wav", tmp_path / "b.wav"
    args = ["--ref-audio", str(env["ref"]), "--ref-text", REF_TEXT, "--nfe", "2", "--text", "abc", "--seed", "4"]
    res = cli("--model", str(tmp_path / "model_5.safetensors"), "--model-config", str(cfg),
              "--vocoder", str(env["model"] / "vocoder"), *args, "-o", str(out))
    assert res.returncode == 0, res.stderr
    assert cli("--model", str(env["model"]), *args, "-o", str(ref_out)).returncode == 0
    assert out.read_bytes() == ref_out.read_bytes()


def _bad_model(env, tmp_path: Path, what: str) -> Path:
    folder = tmp_path / f"model_{what}"
    shutil.copytree(env["model"], folder)
    if what == "novocab":
        (folder / "vocab.txt").unlink()
    else:
        shutil.rmtree(folder / "vocoder")
    return folder


@pytest.mark.parametrize("case, needles", [
    ("empty_text", ["--text: empty text"]),
    ("unknown", ["--text", "not in the model vocabulary", "U+00E9", "'5'", "--on-unknown"]),
    ("unknown_ref", ["--ref-text", "U+00FC"]),
    ("empty_ref_text", ["--ref-text", "empty"]),
    ("silent", ["silent.wav", "silent"]),
    ("too_long", ["long.wav", "31.0 s long", "at most 30 s"]),
    ("missing_ref", ["nope.wav"]),
    ("speed0", ["--speed must be positive"]),
    ("nfe0", ["--nfe"]),
    ("cfg_negative", ["--cfg must be a number >= 0"]),
    ("novocab", ["vocab.txt", "no such file"]),
    ("novocoder", ["no vocoder", "--vocoder"]),
    ("nomodel", ["missing_model", "no such model folder"]),
])
def test_user_errors(env, tmp_path, case, needles):
    out = tmp_path / "out.wav"
    sf.write(tmp_path / "silent.wav", np.zeros(SR, np.float32), SR)
    sf.write(tmp_path / "long.wav", speech_like(31.0), SR)
    args = {"--text": "abc", "--ref-text": REF_TEXT, "--ref-audio": str(env["ref"]), "--model": str(env["model"])}
    change = {
        "empty_text": {"--text": "  "}, "unknown": {"--text": "caf\u00e9 5"}, "unknown_ref": {"--ref-text": "gr\u00fc\u00df"},
        "empty_ref_text": {"--ref-text": " "}, "silent": {"--ref-audio": str(tmp_path / "silent.wav")},
        "too_long": {"--ref-audio": str(tmp_path / "long.wav")}, "missing_ref": {"--ref-audio": str(tmp_path / "nope.wav")},
        "speed0": {"--speed": "0"}, "nfe0": {"--nfe": "0"}, "cfg_negative": {"--cfg": "-1"},
        "novocab": {"--model": "NOVOCAB"}, "novocoder": {"--model": "NOVOCODER"},
        "nomodel": {"--model": str(tmp_path / "missing_model")},
    }[case]
    args.update(change)
    if args["--model"] in ("NOVOCAB", "NOVOCODER"):
        args["--model"] = str(_bad_model(env, tmp_path, args["--model"].lower()))
    argv = [x for kv in args.items() for x in kv]
    assert_user_error(cli(*argv, "--nfe", args.get("--nfe", "2"), "-o", str(out)), *needles)
    assert not out.exists() and not list(tmp_path.glob(".out*"))


def test_batch_with_bad_lines(env, tmp_path):
    lines = tmp_path / "lines.txt"
    lines.write_text("abc def ghi\n\nutt-b\tjkl mno\nbad\t\ncaf\u00e9\nutt-b\tpqr\n../x\tstu\nold\tvwx\n",
                     encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.wav").write_bytes(b"keep")
    res = cli(*base(env, "--text-file", str(lines), "-o", str(out), "--seed", "0"))
    assert res.returncode == 1 and "Traceback" not in res.stderr
    errors = res.stderr.strip().splitlines()
    assert errors[-1] == "audiokit synthesize: 5 of 7 files failed"
    bad = errors[:-1]
    assert len(bad) == 5
    for lineno, needle in ((4, "empty text"), (5, "U+00E9"), (6, "'utt-b' is also used by line 3"),
                           (7, "bad id '../x'"), (8, "output exists")):
        assert sum(line.startswith(f"audiokit synthesize: error: {lines}:{lineno}: ") and needle in line
                   for line in bad) == 1, (lineno, bad)
    assert sorted(p.name for p in out.iterdir()) == ["0001.wav", "old.wav", "utt-b.wav"]
    assert (out / "old.wav").read_bytes() == b"keep"
    assert sf.info(out / "0001.wav").frames == expected_samples(1.0, "abc def ghi")
    assert sf.info(out / "utt-b.wav").frames == expected_samples(1.0, "jkl mno")


def test_batch_user_errors(env, tmp_path):
    out = tmp_path / "o.wav"
    out.write_bytes(b"x")
    lines = tmp_path / "l.txt"
    lines.write_text("abc\n")
    assert_user_error(cli(*base(env, "--text-file", str(lines), "-o", str(out))), "not a folder")
    assert_user_error(cli(*base(env, "--text-file", str(tmp_path / "none.txt"), "-o", str(tmp_path / "d"))),
                      "none.txt", "no such file")
    (tmp_path / "blank.txt").write_text("\n \n")
    assert_user_error(cli(*base(env, "--text-file", str(tmp_path / "blank.txt"), "-o", str(tmp_path / "d"))),
                      "no text lines")
    assert not (tmp_path / "d").exists()
