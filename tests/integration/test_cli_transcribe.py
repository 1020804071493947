"""``audiokit transcribe`` and ``audiokit stream --file``: agreement, formats, bad input, long files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audiokit.streaming.endpoint import speech_segments
from tests.unit.streaming._helpers import SR, espeak, tiny_asr_folder


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PULSE_SERVER"}
    env["OMP_NUM_THREADS"] = "1"
    return subprocess.run([sys.executable, "-m", "audiokit", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, check=False)


def assert_user_error(res: subprocess.CompletedProcess, *needles: str) -> None:
    assert res.returncode != 0
    assert "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    for n in needles:
        assert n in lines[0], lines[0]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("tr")
    model = tiny_asr_folder(d)
    utt = espeak("testing one two three", d / "utt.wav")
    wav, _ = sf.read(utt, dtype="float32")
    (s, e), = speech_segments(wav, SR)
    tight = d / "tight.wav"
    sf.write(tight, wav[s:e], SR, subtype="PCM_16")
    return {"dir": d, "model": str(model), "utt": utt, "tight": tight}


def transcript(res: subprocess.CompletedProcess) -> dict[str, str]:
    assert res.returncode == 0, res.stderr
    return dict(line.split("\t", 1) for line in res.stdout.splitlines())


def finals(res: subprocess.CompletedProcess) -> list[dict]:
    assert res.returncode == 0, res.stderr
    return [e for e in map(json.loads, res.stdout.splitlines()) if e["type"] == "final"]


def test_stream_file_agrees_with_transcribe(env):
    text = transcript(cli("transcribe", str(env["tight"]), str(env["utt"]), "--model", env["model"]))
    assert text[str(env["tight"])] and text[str(env["tight"])] != text[str(env["utt"])]
    # the gate trims the untrimmed file to its speech: same final as transcribing the trimmed file
    res = cli("stream", "--file", str(env["utt"]), "--model", env["model"], "--no-realtime", "--format", "jsonl")
    assert [e["text"] for e in finals(res)] == [text[str(env["tight"])]]
    assert "real-time factor" in res.stderr and "p95" in res.stderr
    res = cli("stream", "--file", str(env["utt"]), "--model", env["model"], "--no-realtime", "--format", "jsonl",
              "--vad", "none")
    assert [e["text"] for e in finals(res)] == [text[str(env["utt"])]]


def test_other_sample_rate_is_resampled_the_same_way(env):
    wav, _ = sf.read(env["tight"], dtype="float32")
    pad = np.zeros(4410, np.float32)
    path = env["dir"] / "rate44k.wav"
    import soxr

    sf.write(path, np.concatenate([pad, soxr.resample(wav, SR, 44100), pad]), 44100, subtype="FLOAT")
    offline = transcript(cli("transcribe", str(path), "--model", env["model"], "--lookahead", "0"))[str(path)]
    res = cli("stream", "--file", str(path), "--model", env["model"], "--no-realtime", "--format", "jsonl",
              "--vad", "none", "--lookahead", "0")
    assert [e["text"] for e in finals(res)] == [offline]


def test_jsonl_output_file_and_directory_input(env, tmp_path):
    d = tmp_path / "in"
    (d / "sub").mkdir(parents=True)
    for name in ("b.wav", "sub/a.wav"):
        (d / name).write_bytes(env["tight"].read_bytes())
    (d / ".hidden.wav").write_bytes(b"junk")
    out = tmp_path / "out.jsonl"
    res = cli("transcribe", str(d), "--model", env["model"], "--format", "jsonl", "-o", str(out), "--batch-size", "2")
    assert res.returncode == 0 and res.stdout == "", res.stderr
    recs = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["file"] for r in recs] == [str(d / "b.wav"), str(d / "sub/a.wav")]
    r = recs[0]
    assert r["text"] == recs[1]["text"] and abs(r["duration"] - sf.info(env["tight"]).duration) < 1e-3
    assert "".join(t["token"] for t in r["tokens"]) == r["text"]
    assert all(0 <= t["start"] <= r["duration"] for t in r["tokens"])
    assert [w["word"] for w in r["words"]] == r["text"].split()
    before = out.read_text()
    assert_user_error(cli("transcribe", str(d), "--model", env["model"], "-o", str(out)), "exists", "--force")
    assert out.read_text() == before


def test_bad_inputs_are_reported_and_the_rest_transcribed(env, tmp_path):
    empty, corrupt = tmp_path / "empty.wav", tmp_path / "corrupt.flac"
    sf.write(empty, np.zeros(0, np.float32), SR)
    corrupt.write_bytes(b"fLaC" + os.urandom(300))
    out = tmp_path / "o.txt"
    out.write_text("old\n")
    res = cli("transcribe", str(empty), str(env["tight"]), str(corrupt), str(tmp_path / "nope.wav"),
              "--model", env["model"], "-o", str(out), "--force")
    assert res.returncode == 1 and "Traceback" not in res.stderr
    errors = res.stderr.strip().splitlines()
    assert len(errors) == 4 and errors[-1] == "audiokit transcribe: 3 of 4 files failed"
    for path in (empty, corrupt, tmp_path / "nope.wav"):
        assert sum(str(path) in line for line in errors) == 1
    assert list(transcript_lines(out)) == [str(env["tight"])]
    # nothing transcribed -> no output file
    out2 = tmp_path / "o2.txt"
    res = cli("transcribe", str(empty), "--model", env["model"], "-o", str(out2))
    assert_user_error(res, str(empty), "no audio")
    assert not out2.exists()


def transcript_lines(path: Path):
    for line in path.read_text().splitlines():
        yield line.split("\t", 1)[0]


@pytest.mark.parametrize("args, needles", [
    (["transcribe", "{utt}", "--model", "{dir}/missing"], ["missing"]),
    (["transcribe", "{utt}", "--model", "{model}", "--lookahead", "100"], ["--lookahead", "0, 80, 240"]),
    (["stream", "--file", "{dir}/nope.wav", "--model", "{model}"], ["nope.wav", "no such file"]),
    (["stream", "--file", "{dir}/empty.wav", "--model", "{model}"], ["empty.wav", "no audio"]),
    (["stream", "--file", "{utt}"], ["--model"]),
    (["stream", "--file", "{utt}", "--model", "{model}", "--vad-threshold", "6"], ["threshold"]),
])
def test_cli_user_errors(env, args, needles):
    sf.write(env["dir"] / "empty.wav", np.zeros(0, np.float32), SR)
    fmt = {k: str(v) for k, v in env.items()}
    assert_user_error(cli(*[a.format(**fmt) for a in args]), *needles)


def test_stream_mic_without_microphone_lists_devices(env):
    res = cli("stream", "--mic", "--model", env["model"])
    assert_user_error(res, "no microphone", "devices: none")
    res = cli("stream", "--list-devices")
    assert res.returncode == 0 and res.stdout.startswith("audio devices:")


@pytest.mark.slow
def test_long_file_is_transcribed_in_bounded_memory(env, tmp_path):
    """10 minutes of silence go through the streaming path: peak memory as for 30 seconds."""
    script = ("import resource, sys; from audiokit.cli.main import main; rc = main(sys.argv[1:]); "
              "print('MAXRSS', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); "
              "raise SystemExit(rc)")
    peaks, texts = {}, {}
    for minutes in (0.5, 10):
        path = tmp_path / f"silence{minutes}.wav"
        with sf.SoundFile(path, "w", SR, 1, "PCM_16") as fh:
            for _ in range(int(minutes * 60)):
                fh.write(np.zeros(SR, np.int16))
        out = tmp_path / f"{minutes}.txt"
        res = subprocess.run([sys.executable, "-c", script, "transcribe", str(path), "--model", env["model"],
                              "--max-offline-seconds", "10", "-o", str(out), "--threads", "1"],
                             capture_output=True, text=True, timeout=600, check=False)
        assert res.returncode == 0, res.stderr
        peaks[minutes] = int(res.stderr.split("MAXRSS")[1].split()[0]) / 1024  # MiB
        texts[minutes] = out.read_text().split("\t", 1)[1]
    assert peaks[10] - peaks[0.5] < 20, peaks  # the audio alone would be 37 MiB as float32
    assert texts[10].startswith(texts[0.5][:3])
