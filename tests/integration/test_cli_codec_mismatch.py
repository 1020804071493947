"""`audiokit decode` refuses codes made by another codec family.

A HiFi-Codec ``.akc`` decoded with a Language-Codec model (and the reverse) must fail with one
line on stderr naming the codes file and both codecs, exit non-zero, no traceback, no output.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from audiokit.checkpoint import save_pretrained
from audiokit.config import instantiate, read_yaml

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: object, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "audiokit", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=300, env=env, check=False)


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """Tiny random HiFi-Codec and Language-Codec models, and one 16 kHz tone (0.5 s)."""
    root = tmp_path_factory.mktemp("mismatch")
    for name in ("hificodec", "languagecodec"):
        node = read_yaml(ROOT / "configs" / "codec" / f"{name}_debug.yaml")[0]["model"]
        torch.manual_seed(0)
        model = instantiate(node)
        save_pretrained(model, {"model": {"class_path": node["class_path"], "init_args": model.init_args}},
                        root / name)
    t = np.arange(8000) / 16000
    sf.write(root / "tone.wav", (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16000)
    return root


@pytest.mark.parametrize("made_by, decoder", [("hificodec", "languagecodec"), ("languagecodec", "hificodec")])
def test_decoding_with_another_codec_is_refused(work, made_by, decoder):
    akc = work / f"tone_{made_by}.akc"
    enc = _run("encode", "tone.wav", "-o", akc.name, "--model", made_by, "--force", cwd=work)
    assert enc.returncode == 0 and akc.is_file(), enc.stderr
    out = work / f"out_{made_by}_by_{decoder}.wav"
    dec = _run("decode", akc.name, "-o", out.name, "--model", decoder, cwd=work)
    assert dec.returncode != 0
    lines = dec.stderr.strip().splitlines()
    assert len(lines) == 1, dec.stderr
    assert "Traceback" not in dec.stderr
    assert akc.name in lines[0] and f"'{made_by}'" in lines[0] and f"'{decoder}'" in lines[0]
    assert not out.exists()


def test_decoding_with_the_right_codec_works(work):
    enc = _run("encode", "tone.wav", "-o", "ok.akc", "--model", "hificodec", "--force", cwd=work)
    assert enc.returncode == 0, enc.stderr
    dec = _run("decode", "ok.akc", "-o", "ok.wav", "--model", "hificodec", cwd=work)
    assert dec.returncode == 0, dec.stderr
    info = sf.info(work / "ok.wav")
    assert info.samplerate == 16000 and info.frames == 8000
