"""Smoke test of egs/mini_synth/asr1: run.sh with the debug config, in a temporary work dir.

Runs every stage (tiny corpus, character tokenizer, a tiny FastConformer trained for a few
steps, streaming + offline decoding, pocketsphinx, scoring, packing) and checks what each
leaves behind; then the packed model through ``audiokit transcribe``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

RECIPE = Path(__file__).resolve().parents[2] / "egs" / "mini_synth" / "asr1"
STAGES = ("prepare", "validate", "tokenizer", "train", "decode", "peer", "score", "pack")
SYSTEMS = [f"{mode}_{head}_la{ms}" for ms in (240, 0) for mode in ("streaming", "offline")
           for head in ("rnnt", "ctc")]


def _env() -> dict[str, str]:
    # one thread per process: the 2 CI cores are shared with other jobs
    return {**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}


def run_sh(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(RECIPE / "run.sh"), *args], capture_output=True, text=True,
                          env=_env(), timeout=timeout, check=False)


def _listing() -> set[str]:
    return {str(p.relative_to(RECIPE)) for p in RECIPE.rglob("*") if "__pycache__" not in p.parts}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    work = tmp_path_factory.mktemp("asr1")
    before = _listing()
    first = run_sh("--config", "conf/recipe_debug.yaml", "--workdir", str(work))
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert _listing() == before, "the recipe wrote into the repository"
    return work, first


def _exp(work: Path) -> Path:
    return work / "exp" / "asr_debug"


def _row(text: str, system: str) -> list[str]:
    line = next(x for x in text.splitlines() if x.startswith(f"| {system} | "))
    return [c.strip() for c in line.strip("|").split("|")]


def test_every_stage_ran(built):
    work, first = built
    rows = [json.loads(x) for x in (_exp(work) / "stages.jsonl").read_text().splitlines()]
    assert [(r["stage"], r["status"]) for r in rows] == [(s, "run") for s in STAGES]
    assert (work / "data" / "lang_char" / "tokenizer.json").is_file()
    assert (_exp(work) / "train" / "checkpoints" / "last.ckpt").is_file()
    assert "Traceback" not in first.stderr


def test_decode_and_peer_use_the_same_utterances(built):
    work, _ = built
    test_ids = [line.split()[0] for line in (work / "data" / "test" / "text").read_text().splitlines()]
    ids = None
    for system in SYSTEMS:
        hyp = [line.split(" ", 1)[0] for line in
               (_exp(work) / "decode" / "test" / system / "hyp.txt").read_text().splitlines()]
        assert ids is None or hyp == ids, system
        ids = hyp
    assert len(ids) == 6 and set(ids) <= set(test_ids)
    assert {i.rsplit("-", 1)[0] for i in ids} == {i.rsplit("-", 1)[0] for i in test_ids}  # every test voice
    peer = [line.split(" ", 1)[0] for line in (_exp(work) / "peer" / "test" / "hyp.txt").read_text().splitlines()]
    assert peer == ids


def test_results_have_every_system_and_pocketsphinx(built):
    work, _ = built
    text = (_exp(work) / "RESULTS.md").read_text()
    assert "Command (from `mini_synth/asr1`): `./run.sh --config conf/recipe_debug.yaml --workdir" in text
    assert "| system | recogniser | mode | look-ahead (ms) | search | WER % | CER % |" in text
    for system in SYSTEMS:
        cells = _row(text, system)
        assert cells[2] == system.split("_")[0] and cells[3] == system.rsplit("la", 1)[1]
        assert 0.0 <= float(cells[5]) and int(cells[10]) > 0 and cells[11] == "6"
    ps = _row(text, "pocketsphinx")
    assert ps[1].startswith("pocketsphinx ") and float(ps[5]) < 50.0, ps  # clean TTS speech
    assert "Per speaker (WER %, errors/words):" in text and "| **all** | 6 |" in text
    # exact streaming: chunk-by-chunk hypotheses equal the offline ones
    for head in ("rnnt", "ctc"):
        for ms in (240, 0):
            assert f"{head} at {ms} ms: 6/6 identical" in text
    scores = json.loads((_exp(work) / "scores.json").read_text())
    assert set(scores["scores"]["test"]) == {*SYSTEMS, "pocketsphinx"}
    ps_wer = scores["scores"]["test"]["pocketsphinx"]["wer"]
    assert ps_wer["utts"] == 6 and ps_wer["ref"] > 0


def test_packed_model_transcribes_through_the_cli(built):
    work, _ = built
    packed = _exp(work) / "packed"
    assert {"config.yaml", "model.safetensors", "tokenizer.json"} <= {p.name for p in packed.iterdir()}
    hyps = dict(line.partition(" ")[::2] for line in
                (_exp(work) / "decode" / "test" / "offline_rnnt_la240" / "hyp.txt").read_text().splitlines())
    utt = min(hyps)
    wav = work / "data" / "wav" / utt.rsplit("-", 1)[0] / f"{utt}.wav"
    res = subprocess.run([sys.executable, "-m", "audiokit", "transcribe", str(wav), "--model", str(packed)],
                         capture_output=True, text=True, env=_env(), timeout=300, check=False)
    assert res.returncode == 0, res.stderr
    path, _, text = res.stdout.rstrip("\n").partition("\t")
    assert path == str(wav) and text.strip() == hyps[utt].strip()


def test_rerun_skips_everything(built):
    work, _ = built
    again = run_sh("--config", "conf/recipe_debug.yaml", "--workdir", str(work), "jobs=1")
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stdout.count("skip (up to date)") == len(STAGES)


def test_bad_config_is_one_line(built):
    work, _ = built
    for override, needle in (("peer=whisper", "peer 'whisper'"), ("decode.modes=[live]", "decode.modes"),
                             ("tokenizer.type=bytes", "tokenizer.type 'bytes'")):
        bad = run_sh("--config", "conf/recipe_debug.yaml", "--workdir", str(work), override)
        assert bad.returncode == 2, bad.stdout
        assert bad.stderr.strip().count("\n") == 0 and needle in bad.stderr, bad.stderr
        assert "Traceback" not in bad.stderr
    # a look-ahead the model was not built with fails the decode stage with one clear line
    bad = run_sh("--config", "conf/recipe_debug.yaml", "--workdir", str(work), "decode.lookaheads_ms=[100]",
                 "--stages", "decode")
    assert bad.returncode == 2 and "100 ms is not a look-ahead of this model (choose from 0, 240)" in bad.stderr
    assert bad.stderr.strip().count("\n") == 0 and "Traceback" not in bad.stderr


def test_default_config_dry_run(tmp_path):
    res = run_sh("--dry-run", "--workdir", str(tmp_path))
    assert res.returncode == 0, res.stderr
    assert "tag asr_mini" in res.stdout
    for number, name in enumerate(STAGES, 1):
        assert f"{number} {name}" in " ".join(res.stdout.split())
    assert list(tmp_path.iterdir()) == []


def test_numbers_in_prepare_args_are_accepted(tmp_path):
    """`prepare_args=[--size,large,--seed,0]` on the command line reads 0 as a number."""
    res = run_sh("--dry-run", "--workdir", str(tmp_path), "prepare_args=[--size,large,--seed,0]")
    assert res.returncode == 0, res.stderr
    bad = run_sh("--dry-run", "--workdir", str(tmp_path), "prepare_args=[--size,[1]]")
    assert bad.returncode == 2 and "prepare_args: a list of strings" in bad.stderr
