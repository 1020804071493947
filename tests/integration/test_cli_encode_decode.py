"""`audiokit encode` / `decode` / `codec info` run as a user would, with a tiny random WavTokenizer.

Round trips keep length and sample rate (also 16 kHz and 44.1 kHz stereo inputs), directory
trees of mixed formats are mirrored, and every bad input of a batch gives one line naming the
file while the rest of the batch is done, without partial outputs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from audiokit.checkpoint import save_pretrained
from audiokit.io.codes import CodesFile, read_codes, write_codes
from audiokit.models.codec.wavtokenizer import WavTokenizer

SR = 24000
HOP = 80


def _fp(codec):
    return codec.fingerprint()


def _tiny(seed: int, loud: bool = False) -> WavTokenizer:
    """A ~140 k-parameter WavTokenizer (hop 80) with a codebook of real encoder latents."""
    torch.manual_seed(seed)
    m = WavTokenizer(ratios=[5, 4, 4], dimension=16, n_filters=4, lstm=1, codebook_size=64,
                     backbone_dim=64, intermediate_dim=48, num_layers=1).eval()
    with torch.no_grad():
        rows = m.encoder(0.2 * torch.randn(1, 1, SR))[0].T[torch.randperm(300)[:64]]
        cb = m.quantizer.layers[0].codebook
        cb.embed.copy_(rows)
        cb.embed_avg.copy_(rows)
        cb.inited.fill_(1)
        if loud:  # raise the log-magnitudes so the decoded audio exceeds [-1, 1]
            m.head.out.bias[: m.head.out.out_features // 2] += 6.0
    return m


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("models")
    out = {}
    for name, seed, loud in [("a", 0, False), ("b", 1, False), ("loud", 0, True)]:
        m = _tiny(seed, loud)
        cfg = {"model": {"class_path": "audiokit.models.codec.wavtokenizer.WavTokenizer", "init_args": m.init_args}}
        out[name] = (save_pretrained(m, cfg, root / name), m)
    return out


def _run(*args: object, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # tiny model: threads only add contention
    return subprocess.run([sys.executable, "-m", "audiokit", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=300, env=env, check=False)


def _tone(n: int, sr: int, channels: int = 1, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / sr
    x = 0.3 * np.sin(2 * np.pi * 330 * t) + 0.02 * rng.standard_normal(n)
    return np.stack([x, 0.5 * x], axis=1) if channels == 2 else x


def _errors(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if ": error: " in ln]


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


# ----------------------------------------------------------------------------- round trips
def test_single_file_round_trip_16k(models: dict, tmp_path: Path) -> None:
    x = tmp_path / "x.wav"
    sf.write(x, _tone(16000 + 37, 16000), 16000)
    r = _run("encode", x, "-o", "x.akc", "--model", models["a"][0], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    cf = read_codes(tmp_path / "x.akc")
    assert cf.codec == "wavtokenizer" and cf.config_hash == _fp(models["a"][1])
    assert cf.original_length == 24056 and cf.n_frames == -(-24056 // HOP)  # 16037 samples at 24 kHz
    assert cf.extra["source_sample_rate"] == 16000 and cf.extra["source_length"] == 16037

    r = _run("decode", "x.akc", "-o", "y.wav", "--model", models["a"][0], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    info = sf.info(tmp_path / "y.wav")
    assert (info.samplerate, info.frames, info.channels) == (16000, 16037, 1)

    r = _run("decode", "x.akc", "-o", "z.flac", "--codec-rate", "--model", models["a"][0], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    info = sf.info(tmp_path / "z.flac")
    assert (info.samplerate, info.frames, info.format) == (SR, 24056, "FLAC")

    r = _run("codec", "info", "x.akc", cwd=tmp_path)
    assert r.returncode == 0 and r.stderr == ""
    assert "codec:" in r.stdout and "wavtokenizer" in r.stdout and cf.config_hash in r.stdout
    r = _run("codec", "info", "--json", "x.akc", cwd=tmp_path)
    d = json.loads(r.stdout)
    assert d["frames"] == cf.n_frames and d["bitrate_bps"] == 300 * 6 and abs(d["duration_s"] - 24056 / SR) < 1e-6


def test_directory_of_mixed_formats_round_trips(models: dict, tmp_path: Path) -> None:
    src = tmp_path / "in"
    (src / "sub" / "deeper").mkdir(parents=True)
    sf.write(src / "a.wav", _tone(SR // 4 + 5, SR), SR)
    sf.write(src / "sub" / "b.flac", _tone(44100, 44100, channels=2), 44100)
    sf.write(src / "sub" / "c.ogg", _tone(22050, 22050), 22050, format="OGG", subtype="VORBIS")
    sf.write(src / "sub" / "deeper" / "d.mp3", _tone(24000, SR), SR, format="MP3", subtype="MPEG_LAYER_III")
    sf.write(src / "long.wav", _tone(2 * SR + 300, SR), SR)  # longer than --chunk-seconds
    (src / "readme.txt").write_text("not audio")
    r = _run("encode", "in", "-o", "codes", "--model", models["a"][0], "--chunk-seconds", "0.5", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert _files(tmp_path / "codes") == ["a.akc", "long.akc", "sub/b.akc", "sub/c.akc", "sub/deeper/d.akc"]
    long = read_codes(tmp_path / "codes" / "long.akc")
    assert long.extra["chunk_samples"] == SR // 2 and long.n_frames == -(-(2 * SR + 300) // HOP)
    assert read_codes(tmp_path / "codes" / "a.akc").extra["chunk_samples"] == SR // 2  # the setting
    assert read_codes(tmp_path / "codes" / "sub" / "b.akc").extra["source_channels"] == 2

    r = _run("decode", "codes", "-o", "out", "--model", models["a"][0], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "decoded 5 of 5 files" in r.stdout
    assert _files(tmp_path / "out") == ["a.wav", "long.wav", "sub/b.wav", "sub/c.wav", "sub/deeper/d.wav"]
    for name in ["a.wav", "long.wav", "sub/b.flac", "sub/c.ogg", "sub/deeper/d.mp3"]:
        data, sr = sf.read(src / name)
        out = sf.info(tmp_path / "out" / Path(name).with_suffix(".wav"))
        assert (out.samplerate, out.frames, out.channels) == (sr, len(data), 1), name


# ----------------------------------------------------------------------------- bad inputs
def test_bad_audio_inputs_fail_alone(models: dict, tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    sf.write(src / "good.wav", _tone(8000, SR), SR)
    sf.write(src / "silent.wav", np.zeros(4000), SR)
    sf.write(src / "short.wav", np.zeros(HOP - 1), SR)
    sf.write(src / "nothing.wav", np.zeros(0), SR)
    (src / "empty.flac").write_bytes(b"")
    (src / "corrupt.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk")
    full = (src / "good.wav").read_bytes()
    (src / "cut.wav").write_bytes(full[: len(full) // 2])
    sf.write(src / "taken.wav", _tone(8000, SR), SR)
    (tmp_path / "codes").mkdir()
    (tmp_path / "codes" / "taken.akc").write_bytes(b"keep me")
    r = _run("encode", "in", "-o", "codes", "--model", models["a"][0], cwd=tmp_path)
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    errors = _errors(r.stderr)
    bad = ["corrupt.wav", "cut.wav", "empty.flac", "nothing.wav", "short.wav", "taken.wav"]
    assert len(errors) == len(bad), r.stderr
    for name, line in zip(bad, sorted(errors, key=lambda ln: ln.split("in/")[1])):
        assert line.startswith(f"audiokit encode: error: in/{name}: "), line
    assert "shorter than one code frame (79 samples" in r.stderr
    assert "output codes/taken.akc exists" in r.stderr
    assert r.stderr.splitlines()[-1] == "audiokit encode: 6 of 8 files failed"
    assert _files(tmp_path / "codes") == ["good.akc", "silent.akc", "taken.akc"]  # no partial or temp files
    assert (tmp_path / "codes" / "taken.akc").read_bytes() == b"keep me"

    r = _run("encode", "in/taken.wav", "-o", "codes", "--force", "--model", models["a"][0], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert read_codes(tmp_path / "codes" / "taken.akc").n_frames == 100


def _akc(model: WavTokenizer, frames: int = 50, **over) -> CodesFile:
    rng = np.random.default_rng(frames)
    kw = {"codes": rng.integers(0, 64, (1, frames)), "codec": "wavtokenizer", "config_hash": _fp(model),
          "sample_rate": SR, "frame_rate": SR / HOP, "codebook_size": 64, "original_length": frames * HOP - 10,
          "extra": {"source_sample_rate": SR, "source_length": frames * HOP - 10}}
    kw.update(over)
    return CodesFile(**kw)


def test_bad_codes_inputs_fail_alone(models: dict, tmp_path: Path) -> None:
    a, b = models["a"][1], models["b"][1]
    d = tmp_path / "codes"
    d.mkdir()
    write_codes(d / "good.akc", _akc(a))
    np.save(d / "good_npy.npy", np.random.default_rng(0).integers(0, 64, (1, 30)))
    write_codes(d / "other_weights.akc", _akc(b))
    write_codes(d / "other_codec.akc", _akc(a, codec="hificodec"))
    np.save(d / "out_of_range.npy", np.full((1, 20), 64))
    (d / "garbage.akc").write_bytes(b"this is not a codes file at all")
    whole = (d / "good.akc").read_bytes()
    (d / "truncated.akc").write_bytes(whole[:-20])
    (d / "version.akc").write_bytes(whole[:4] + (9).to_bytes(2, "little") + whole[6:])
    r = _run("decode", "codes", "-o", "wav", "--model", models["a"][0], cwd=tmp_path)
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    errors = _errors(r.stderr)
    assert len(errors) == 6, r.stderr
    expect = {"garbage.akc": "not an audiokit codes file", "other_codec.akc": "made by codec 'hificodec'",
              "other_weights.akc": f"fingerprint {_fp(b)}", "out_of_range.npy": "codebook index 64 out of range",
              "truncated.akc": "truncated", "version.akc": "version 9 is not supported"}
    for name, needle in expect.items():
        line = next(ln for ln in errors if f"codes/{name}:" in ln)
        assert line.startswith(f"audiokit decode: error: codes/{name}: ") and needle in line, line
    assert r.stderr.splitlines()[-1] == "audiokit decode: 6 of 8 files failed"
    assert _files(tmp_path / "wav") == ["good.wav", "good_npy.wav"]
    assert sf.info(tmp_path / "wav" / "good.wav").frames == 50 * HOP - 10
    assert sf.info(tmp_path / "wav" / "good_npy.wav").frames == 30 * HOP


def test_clipping_is_warned_and_counted(models: dict, tmp_path: Path) -> None:
    write_codes(tmp_path / "x.akc", _akc(models["loud"][1]))
    r = _run("decode", "x.akc", "-o", "y.wav", "--model", models["loud"][0], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stderr.startswith("audiokit decode: warning: y.wav: decoded audio exceeds [-1, 1]: clipped ")
    assert "1 clipped" in r.stdout
    data, _ = sf.read(tmp_path / "y.wav")
    assert np.abs(data).max() <= 1.0


@pytest.mark.parametrize("args, needle", [
    (["encode", "x.wav", "-o", "o", "--model", "no_such_model"], "no_such_model"),
    (["encode", "in", "-o", "one.akc", "--model", "no_such_model"], "-o names a single .akc file"),
    (["encode", "x.wav", "-o", "o", "--model", "M", "--batch-size", "0"], "--batch-size"),
    (["decode", "x.akc", "-o", "o", "--model", "M", "--chunk-seconds", "-1"], "--chunk-seconds"),
])
def test_usage_errors_are_one_line(models: dict, tmp_path: Path, args: list, needle: str) -> None:
    (tmp_path / "in").mkdir()
    sf.write(tmp_path / "x.wav", _tone(4000, SR), SR)
    sf.write(tmp_path / "in" / "a.wav", _tone(4000, SR), SR)
    args = [str(models["a"][0]) if a == "M" else a for a in args]
    r = _run(*args, cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], r.stderr
    assert not (tmp_path / "o").exists() and not (tmp_path / "one.akc").exists()


def test_missing_single_input_is_one_line(models: dict, tmp_path: Path) -> None:
    r = _run("encode", "nope.wav", "-o", "o", "--model", models["a"][0], cwd=tmp_path)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines() == ["audiokit encode: error: nope.wav: no such file or directory"]
    assert not (tmp_path / "o").exists()
