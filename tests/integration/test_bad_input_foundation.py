"""Issue 2 acceptance: bad input tried as a new user would.

Each case must give a one-line error naming the file (and line for tables), a non-zero
exit, no traceback, and leave no output behind.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

SR = 16000


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "audiokit", *args], capture_output=True, text=True,
                          timeout=300, cwd=cwd)


def _tone(n: int = 8000, channels: int = 1) -> np.ndarray:
    x = (0.2 * np.sin(np.arange(n) / 7.0)).astype(np.float32)
    return x if channels == 1 else np.stack([x] * channels, axis=1)


def _data_dir(root: Path, bad_audio: Path | None = None) -> Path:
    d = root / "data"
    d.mkdir()
    lines = {"wav.scp": [], "text": [], "utt2spk": []}
    for i in range(3):
        utt = f"spk-{i}"
        wav = root / f"{utt}.wav"
        sf.write(wav, _tone(), SR)
        lines["wav.scp"].append(f"{utt} {wav}")
        lines["text"].append(f"{utt} hello there")
        lines["utt2spk"].append(f"{utt} spk")
    if bad_audio is not None:
        lines["wav.scp"].append(f"spk-9 {bad_audio}")
        lines["text"].append("spk-9 hello there")
        lines["utt2spk"].append("spk-9 spk")
    for name, rows in lines.items():
        (d / name).write_text("".join(r + "\n" for r in rows))
    return d


def _bad_audio_files(tmp: Path) -> dict[str, Path]:
    files = {}
    good = tmp / "good.wav"
    sf.write(good, _tone(16000), SR)
    data = good.read_bytes()
    files["truncated"] = tmp / "truncated.wav"
    files["truncated"].write_bytes(data[: len(data) // 2])
    files["empty"] = tmp / "empty.wav"
    files["empty"].write_bytes(b"")
    files["text"] = tmp / "notes.wav"
    files["text"].write_text("this is not audio at all\n")
    files["6ch96k"] = tmp / "six.wav"
    sf.write(files["6ch96k"], _tone(9600, channels=6), 96000)
    return files


def _assert_one_line_error(out: subprocess.CompletedProcess, *needles: str) -> None:
    assert out.returncode != 0, out
    assert "Traceback" not in out.stderr, out.stderr
    err = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert len(err) == 1, out.stderr
    text = out.stdout + out.stderr
    for needle in needles:
        assert needle in text, (needle, text)


@pytest.mark.parametrize("case", ["truncated", "empty", "text", "6ch96k"])
def test_bad_audio_in_data_dir(tmp_path, case):
    bad = _bad_audio_files(tmp_path)[case]
    d = _data_dir(tmp_path, bad_audio=bad)
    out = _cli("data", "validate", str(d))
    _assert_one_line_error(out, f"{d / 'wav.scp'}:4", )
    # the problem line names the audio file or its table line
    assert f"{d / 'wav.scp'}:4" in out.stdout
    # and nothing was written into the data dir
    assert sorted(p.name for p in d.iterdir()) == ["text", "utt2spk", "wav.scp"]


def test_bad_audio_direct_load_messages(tmp_path):
    from audiokit.errors import AudioError
    from audiokit.io.audio import load_audio

    files = _bad_audio_files(tmp_path)
    for case in ("truncated", "empty", "text"):
        with pytest.raises(AudioError) as info:
            load_audio(files[case])
        msg = str(info.value)
        assert str(files[case]) in msg and "\n" not in msg
    # six channels at 96 kHz is valid audio: it loads, down-mixed and resampled on request
    wav, sr = load_audio(files["6ch96k"], sr=SR)
    assert sr == SR and wav.ndim == 1 and abs(len(wav) - 1600) <= 1


@pytest.mark.parametrize("defect", ["unsorted", "duplicate", "missing-audio"])
def test_bad_data_dir_lines(tmp_path, defect):
    d = _data_dir(tmp_path)
    rows = (d / "wav.scp").read_text().splitlines()
    if defect == "unsorted":
        rows[0], rows[1] = rows[1], rows[0]
        line = 2
    elif defect == "duplicate":
        rows.insert(1, rows[1])
        line = 3
    else:
        rows[2] = f"spk-2 {tmp_path / 'nowhere.wav'}"
        line = 3
    (d / "wav.scp").write_text("".join(r + "\n" for r in rows))
    out = _cli("data", "validate", str(d))
    _assert_one_line_error(out, f"{d / 'wav.scp'}:{line}")
    # subset refuses to produce anything from a broken dir? it must at least leave no half output
    dst = tmp_path / "subset"
    out = _cli("data", "subset", str(d), str(dst), "--first", "2")
    if out.returncode != 0:
        assert not dst.exists()
        assert "Traceback" not in out.stderr


def test_config_naming_foreign_class(tmp_path):
    cfg = tmp_path / "evil.yaml"
    cfg.write_text(
        "exp_dir: " + str(tmp_path / "exp") + "\n"
        "task:\n  class_path: subprocess.Popen\n  init_args: {args: ['touch', '" + str(tmp_path / "pwned") + "']}\n"
    )
    out = _cli("train", "--config", str(cfg))
    _assert_one_line_error(out, "subprocess.Popen", str(cfg))
    assert not (tmp_path / "pwned").exists()
    assert not (tmp_path / "exp").exists()
