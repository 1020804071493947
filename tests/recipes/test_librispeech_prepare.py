"""egs/librispeech/asr1: local/prepare.py on a fake LibriSpeech tree, and the recipe's first stages.

The fake tree has the real layout (``LibriSpeech/<subset>/<speaker>/<chapter>/`` with
``<speaker>-<chapter>.trans.txt`` and one flac per line, ``SPEAKERS.TXT``) with a few short
flac files of noise.
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

from audiokit.data.kaldi import DataDir
from audiokit.data.validate import validate_data_dir

RECIPE = Path(__file__).resolve().parents[2] / "egs" / "librispeech" / "asr1"
SR = 16000
TREE = {  # subset -> speaker -> chapter -> [(utterance number, transcript, seconds)]
    "dev-clean": {"84": {"121123": [(0, "GO DO YOU HEAR", 0.4), (1, "BUT IN LESS THAN FIVE MINUTES", 0.6)]},
                  "1272": {"128104": [(0, "MISTER QUILTER IS THE APOSTLE", 0.5)]}},
    "test-clean": {"1089": {"134686": [(0, "HE HOPED THERE WOULD BE STEW", 0.5), (1, "STUFF IT INTO YOU", 0.3)]},
                   "121": {"121726": [(0, "ALSO A POPULAR CONTRIVANCE", 0.4)]}},
}
SPEAKERS = """; Some comments
;ID  |SEX| SUBSET           |MINUTES| NAME
84   | F | dev-clean        |  8.02 | Christie Nowak
121  | F | test-clean       |  8.02 | Kate
1089 | M | test-clean       |  8.02 | Bill
1272 | M | dev-clean        |  8.02 | John Rose
"""


def make_tree(root: Path) -> Path:
    """``root/LibriSpeech`` as the archives unpack; returns ``root``."""
    rng = np.random.default_rng(0)
    base = root / "LibriSpeech"
    for subset, speakers in TREE.items():
        for spk, chapters in speakers.items():
            for chapter, utts in chapters.items():
                folder = base / subset / spk / chapter
                folder.mkdir(parents=True)
                lines = []
                for n, words, seconds in utts:
                    utt = f"{spk}-{chapter}-{n:04d}"
                    sf.write(folder / f"{utt}.flac", 0.1 * rng.standard_normal(int(seconds * SR)), SR,
                             format="FLAC", subtype="PCM_16")
                    lines.append(f"{utt} {words}")
                (folder / f"{spk}-{chapter}.trans.txt").write_text("\n".join(lines) + "\n")
    (base / "SPEAKERS.TXT").write_text(SPEAKERS)
    return root


def prepare(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k != "LIBRISPEECH"}
    full_env.update(env or {})
    return subprocess.run([sys.executable, str(RECIPE / "local" / "prepare.py"), *args], capture_output=True,
                          text=True, env=full_env, cwd=cwd, timeout=120, check=False)


def assert_one_line_error(res: subprocess.CompletedProcess, *needles: str) -> None:
    assert res.returncode == 2, res.stdout + res.stderr
    assert "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_tree(tmp_path_factory.mktemp("ls"))


def test_prepare_writes_valid_kaldi_dirs(corpus, tmp_path):
    out = tmp_path / "data"
    res = prepare("--corpus", str(corpus), "--out", str(out), "--subsets", "dev-clean", "test-clean")
    assert res.returncode == 0, res.stderr
    assert "dev-clean: 3 utterances, 2 speakers" in res.stdout
    for name in ("dev_clean", "test_clean"):
        problems = validate_data_dir(out / name)
        assert not [p for p in problems if p.severity == "error"], problems
    dd = DataDir.load(out / "dev_clean")
    assert dd.utt_ids == ["1272-128104-0000", "84-121123-0000", "84-121123-0001"]  # C order
    assert dd.text["84-121123-0001"] == "but in less than five minutes"
    assert dd.utt2spk == {"1272-128104-0000": "1272", "84-121123-0000": "84", "84-121123-0001": "84"}
    assert dd.spk2gender == {"1272": "m", "84": "f"}
    assert float(dd.utt2dur["84-121123-0001"]) == pytest.approx(0.6, abs=1e-3)
    flac = Path(dd.wav_scp["84-121123-0000"])
    assert flac.is_absolute() and flac == (corpus / "LibriSpeech/dev-clean/84/121123/84-121123-0000.flac").resolve()
    assert sorted(p.name for p in out.iterdir()) == ["dev_clean", "test_clean"]


def test_environment_variable_keep_case_and_direct_folder(corpus, tmp_path):
    res = prepare("--out", "data", "--subsets", "test-clean", "--keep-case",
                  env={"LIBRISPEECH": str(corpus / "LibriSpeech")}, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    dd = DataDir.load(tmp_path / "data" / "test_clean")
    assert dd.text["1089-134686-0001"] == "STUFF IT INTO YOU"
    assert dd.spk2gender == {"1089": "m", "121": "f"}


def test_bad_corpus_path_is_one_line(tmp_path):
    out = tmp_path / "data"
    assert_one_line_error(prepare("--corpus", str(tmp_path / "nowhere"), "--out", str(out)),
                          "nowhere", "LibriSpeech corpus folder not found")
    assert_one_line_error(prepare("--out", str(out)), "no corpus", "$LIBRISPEECH")
    (tmp_path / "empty").mkdir()
    assert_one_line_error(prepare("--corpus", str(tmp_path / "empty"), "--out", str(out), "--subsets", "dev-other"),
                          "no LibriSpeech subset 'dev-other'")
    assert not out.exists()


def test_missing_flac_names_the_transcript_line_and_writes_nothing(corpus, tmp_path):
    broken = make_tree(tmp_path / "broken")
    (broken / "LibriSpeech/test-clean/1089/134686/1089-134686-0001.flac").unlink()
    out = tmp_path / "data"
    res = prepare("--corpus", str(broken), "--out", str(out), "--subsets", "dev-clean", "test-clean")
    assert_one_line_error(res, "1089-134686.trans.txt:2", "1089-134686-0001.flac is missing")
    assert not out.exists()  # dev-clean was fine, but nothing is written before every subset is read


def run_sh(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k != "LIBRISPEECH"}
    full_env.update({"PYTHON": sys.executable, "OMP_NUM_THREADS": "1", **(env or {})})
    return subprocess.run(["bash", str(RECIPE / "run.sh"), *args], capture_output=True, text=True,
                          env=full_env, timeout=300, check=False)


def test_recipe_prepares_validates_and_trains_a_tokenizer(corpus, tmp_path):
    res = run_sh("--config", "conf/recipe_debug.yaml", "--workdir", str(tmp_path), "--stop-stage", "tokenizer",
                 env={"LIBRISPEECH": str(corpus)})
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    exp = tmp_path / "exp" / "librispeech_debug"
    rows = [json.loads(x) for x in (exp / "stages.jsonl").read_text().splitlines()]
    assert [(r["stage"], r["status"]) for r in rows][:3] == [("prepare", "run"), ("validate", "run"),
                                                             ("tokenizer", "run")]
    assert "0 problem(s)" in (exp / "validate.txt").read_text()
    meta = json.loads((tmp_path / "data" / "lang_char" / "tokenizer.json").read_text())
    words = "go do you hear but in less than five minutes mister quilter is the apostle"
    assert set("".join(meta["tokens"])) == set(words)


def test_recipe_without_corpus_is_one_line(tmp_path):
    res = run_sh("--config", "conf/recipe_debug.yaml", "--workdir", str(tmp_path))
    assert_one_line_error(res, "no corpus", "corpus=", "$LIBRISPEECH")
    assert not (tmp_path / "data").exists()
