"""``audiokit convert``: official WavTokenizer ``.ckpt`` -> audiokit model folder, via the CLI.

The input files are synthetic checkpoints in the official Lightning layout, written by
``tests/unit/convert/_wavtokenizer_fixture.py`` (layout facts: codecs.md §6.3, §9).
Every failure must exit non-zero with exactly one stderr line, no traceback, and no output.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from audiokit.checkpoint import load_pretrained
from audiokit.convert.wavtokenizer import load_checkpoint

_FIXTURE = Path(__file__).resolve().parents[1] / "unit" / "convert" / "_wavtokenizer_fixture.py"
_spec = importlib.util.spec_from_file_location("_wavtokenizer_fixture", _FIXTURE)
fx = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fx)


class Payload:  # unpickling this needs code: weights_only must refuse it
    pass


def cli(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "audiokit", "convert", *map(str, args)],
                          capture_output=True, text=True, timeout=300, check=False)


def assert_user_error(proc: subprocess.CompletedProcess, *fragments: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    return fx.write_checkpoint(tmp_path_factory.mktemp("cli") / "wavtokenizer_tiny.ckpt")


def test_convert_then_load(ckpt, tmp_path):
    out = tmp_path / "model"
    proc = cli(ckpt, out, "--keep-discriminators")
    assert proc.returncode == 0, proc.stderr
    assert "hop 16" in proc.stdout and "discriminators" in proc.stdout
    assert {p.name for p in out.iterdir()} == {"config.yaml", "model.safetensors", "discriminators.safetensors"}
    wav = torch.randn(1, 1, 500) * 0.3
    converted, official = load_pretrained(out), load_checkpoint(ckpt)
    codes = converted.encode(wav)
    assert torch.equal(codes, official.encode(wav))
    assert torch.equal(converted.decode(codes), official.decode(codes))


def test_refuses_overwrite_then_force(ckpt, tmp_path):
    out = tmp_path / "model"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert_user_error(cli(ckpt, out), "exists", "--force")
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    official = tmp_path / "official.yaml"
    official.write_text(fx.official_yaml())
    proc = cli(ckpt, out, "--force", "--config", official)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["config.yaml", "model.safetensors"]


@pytest.mark.parametrize("kind", ["missing", "text", "pickled-code", "mismatched-yaml"])
def test_bad_inputs(ckpt, tmp_path, kind):
    out = tmp_path / "out"
    args: list = []
    if kind == "missing":
        src, expect = tmp_path / "nope.ckpt", "no such file"
    elif kind == "text":
        src, expect = tmp_path / "readme.ckpt", "corrupt or not a torch checkpoint"
        src.write_text("hello\n")
    elif kind == "pickled-code":
        src, expect = tmp_path / "evil.ckpt", "refused"
        obj = fx.lightning_checkpoint(fx.official_state_dict(fx.tiny_model()))
        obj["callbacks"]["x"] = Payload()
        torch.save(obj, src)
    else:
        src, expect = ckpt, "does not match"
        yml = tmp_path / "frame40.yaml"
        yml.write_text(fx.official_yaml(dict(fx.TINY, ratios=[4, 2, 2, 2], n_fft=128)))
        args = ["--config", yml]
    assert_user_error(cli(src, out, *args), expect)
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]  # no temp leftovers


def test_help_lists_convert():
    proc = subprocess.run([sys.executable, "-m", "audiokit", "--help"], capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode == 0 and "convert" in proc.stdout


def _hificodec_file(path: Path) -> Path:
    spec = importlib.util.spec_from_file_location(
        "_hificodec_fixture", Path(__file__).resolve().parents[1] / "unit" / "models" / "codec" / "_hificodec_fixture.py")
    hf = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("_hificodec_fixture", hf)
    spec.loader.exec_module(hf)
    cfg = dict(hf.RELEASES["16k_320d"], upsample_initial_channel=64)
    torch.save(hf.official_checkpoint(hf.official_key_shapes(cfg, latent=64, enc_base=8)), path)
    return path


def test_sample_rate_option_per_format(ckpt, tmp_path):
    # WavTokenizer weights fix the rate: the option does not apply
    out = tmp_path / "wt"
    assert_user_error(cli(ckpt, out, "--sample-rate", "16000"), "sample_rate", "does not apply")
    assert not out.exists()
    # an anonymous hop-320 HiFi-Codec file needs it (16 and 24 kHz releases share the hop)
    anonymous = _hificodec_file(tmp_path / "g_00100000")
    out = tmp_path / "hifi"
    assert_user_error(cli(anonymous, out), "--sample-rate")
    assert not out.exists()
    proc = cli(anonymous, out, "--sample-rate", "16000")
    assert proc.returncode == 0, proc.stderr
    assert "hificodec" in proc.stdout and "16000 Hz, hop 320" in proc.stdout
    assert load_pretrained(out).sample_rate == 16000
    # a release name as --config: its numbers must agree with the shapes (this file is narrower)
    assert_user_error(cli(anonymous, tmp_path / "rel", "--config", "hificodec_16k_320d"), "does not match")
