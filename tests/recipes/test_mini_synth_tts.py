"""Smoke test of egs/mini_synth/tts1: run.sh with the debug config, in a temporary work dir.

Runs every stage (tiny corpus, vocabulary, a tiny F5-TTS trained for a few steps, synthesis of held-out
sentences in held-out voices, scoring with pocketsphinx, packing) and checks what each leaves behind;
then the default config's dry run (it would start) and config errors.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf
import torch

RECIPE = Path(__file__).resolve().parents[2] / "egs" / "mini_synth" / "tts1"
STAGES = ("prepare", "validate", "lang", "train", "synthesize", "score", "pack")


def run_sh(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHON": sys.executable}
    return subprocess.run(["bash", str(RECIPE / "run.sh"), *args], capture_output=True,
                          text=True, env=env, timeout=timeout, check=False)


def _listing() -> set[str]:
    return {str(p.relative_to(RECIPE)) for p in RECIPE.rglob("*") if "__pycache__" not in p.parts}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    work = tmp_path_factory.mktemp("tts1")
    before = _listing()
    first = run_sh("--config", "conf/recipe_debug.yaml", "--workdir", str(work))
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert _listing() == before, "the recipe wrote into the repository"
    return work, first


def test_every_stage_ran(built):
    work, first = built
    exp = work / "exp" / "tts_debug"
    rows = [json.loads(x) for x in (exp / "stages.jsonl").read_text().splitlines()]
    assert [(r["stage"], r["status"]) for r in rows] == [(s, "run") for s in STAGES]
    vocab = (work / "data" / "lang" / "vocab.txt").read_text().split("\n")
    assert vocab[0] == " " and "a" in vocab
    assert "Traceback" not in first.stderr


def test_synthesis_uses_held_out_voices_and_other_prompts(built):
    work, _ = built
    synth = work / "exp" / "tts_debug" / "synth"
    items = json.loads((synth / "items.json").read_text())
    train_spk = set((work / "data" / "train" / "spk2utt").read_text().split()[::1])
    assert items
    for item in items:
        assert item["ref"] != item["utt"] and item["ref"].split("-")[0] == item["spk"]
        assert item["spk"] not in train_spk
        for system in ("trained", "untrained", "copysynth"):
            info = sf.info(synth / system / f"{item['utt']}.wav")
            assert info.samplerate == 24000 and info.frames > 0
    names = {e["name"] for e in json.loads((synth / "sweep.json").read_text())}
    assert names == {"nfe16_sway", "nfe16_nosway", "nfe32_sway", "nfe32_nosway"}


def test_results_have_rows_for_every_system_and_the_sweep(built):
    work, _ = built
    text = (work / "exp" / "tts_debug" / "RESULTS.md").read_text()
    assert "./run.sh --config conf/recipe_debug.yaml --workdir" in text
    assert "| system | items | seconds | mel L1 (DTW) | mel-stats L1 | WER |" in text
    cells = {}
    for system in ("real", "copysynth", "trained", "untrained"):
        row = next(line for line in text.splitlines() if line.startswith(f"| {system} | "))
        cells[system] = [c.strip() for c in row.strip("|").split("|")]
        assert cells[system][5].endswith("%"), row  # a WER was computed
    assert float(cells["copysynth"][3]) < float(cells["untrained"][3])  # vocoder ceiling beats noise
    for nfe in ("16", "32"):
        for sway in ("-1.0", "off"):
            assert any(line.startswith(f"| {nfe} | {sway} | ") for line in text.splitlines()), (nfe, sway)
    scores = json.loads((work / "exp" / "tts_debug" / "scores.json").read_text())
    assert scores["info"]["global_step"] == 6 and len(scores["sweep"]) == 4


def test_packed_model_loads_and_speaks(built):
    from audiokit.checkpoint import load_pretrained, read_checkpoint_config
    from audiokit.train.tts import tts_from_checkpoint
    from audiokit.train.tts_data import read_vocab

    work, _ = built
    exp = work / "exp" / "tts_debug"
    packed = load_pretrained(exp / "packed")
    cfg = read_checkpoint_config(exp / "packed")
    assert cfg["tokenizer"] == "vocab.txt" and cfg["sample_rate"] == 24000
    vocab = read_vocab(exp / "packed" / "vocab.txt")
    assert packed.vocab_size == len(vocab)  # text embedding trimmed to the vocabulary
    ema, _ = tts_from_checkpoint(exp / "train" / "checkpoints" / "last.ckpt", exp / "train" / "config.yaml")
    emb = "transformer.text_embed.text_embed.weight"
    for key, value in ema.state_dict().items():
        assert torch.equal(packed.state_dict()[key], value[: len(vocab) + 1] if key == emb else value), key
    mel = packed.synthesize("a test", torch.randn(12000) * 0.1, "the prompt", vocab=vocab, nfe=2, seed=0)
    assert mel.shape[1] == 100 and mel.shape[0] > 0


def test_text_gain_script(built):
    work, _ = built
    script = RECIPE / "local" / "text_gain.py"
    run = subprocess.run([sys.executable, str(script), "exp/tts_debug", "--items", "4"], cwd=work,
                         capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    rows = {line[:15].strip(): line[15:].split() for line in run.stdout.splitlines()[2:]}
    assert set(rows) == {"trained (EMA)", "trained (raw)", "untrained"}
    for name, (with_text, without, gain) in rows.items():
        assert float(gain) == pytest.approx(float(without) - float(with_text), abs=2e-4), name
    assert float(rows["untrained"][2]) == 0.0  # AdaLN-zero output layer: the fresh model ignores everything
    assert float(rows["trained (raw)"][0]) < float(rows["untrained"][0])
    bad = subprocess.run([sys.executable, str(script), "exp/missing"], cwd=work, capture_output=True, text=True,
                         timeout=120, check=False)
    assert bad.returncode == 1 and bad.stderr.strip().count("\n") == 0 and "run the train stage" in bad.stderr


def test_rerun_skips_everything(built):
    work, _ = built
    again = run_sh("--config", "conf/recipe_debug.yaml", "--workdir", str(work))
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stdout.count("skip (up to date)") == len(STAGES)


def test_default_config_would_start(tmp_path):
    dry = run_sh("--dry-run", "--workdir", str(tmp_path), timeout=120)
    assert dry.returncode == 0, dry.stderr
    for stage in STAGES:
        assert stage in dry.stdout
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("override, message", [("asr=whisper", "asr 'whisper'"), ("nfe=0", "nfe must be"),
                                               ("duration=long", "duration 'long'")])
def test_bad_config_is_one_line(tmp_path, override, message):
    bad = run_sh("--config", "conf/recipe_debug.yaml", "--workdir", str(tmp_path), override, timeout=120)
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0 and message in bad.stderr, bad.stderr
    assert "Traceback" not in bad.stderr
