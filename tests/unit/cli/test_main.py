"""The package and the CLI entry points: cheap import, every verb registered, both entry points work."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from audiokit.cli.main import VERBS, build_parser


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=120)


def test_import_is_light():
    code = (
        "import sys, audiokit, audiokit.cli.main as m; m.build_parser();"
        "heavy=[x for x in ('torch','lightning','torchaudio','librosa') if x in sys.modules];"
        "print(','.join(heavy))"
    )
    out = _run("-c", code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"importing audiokit / building the CLI imported {out.stdout}"


def test_every_verb_is_registered():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "verb")
    assert set(sub.choices) == set(VERBS)


def test_python_m_help_lists_verbs():
    out = _run("-m", "audiokit", "--help")
    assert out.returncode == 0
    for verb in VERBS:
        assert verb in out.stdout


def test_console_script_installed():
    script = Path(sys.executable).parent / "audiokit"
    exe = str(script) if script.exists() else shutil.which("audiokit")
    assert exe, "the audiokit console script is not installed"
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("audiokit ")


def test_doctor_runs_and_reports_engines():
    out = _run("-m", "audiokit", "doctor", "--json")
    assert out.returncode == 0, out.stderr
    import json

    report = json.loads(out.stdout)
    assert report["core"]["torch"]["ok"]
    assert "espeak-ng" in report["programs"]
    assert report["programs"]["espeak-ng"]["version"], "espeak-ng should be installed by .ci/setup.sh"
    assert "audio_devices" in report


def test_unknown_verb_fails_cleanly():
    out = _run("-m", "audiokit", "no-such-verb")
    assert out.returncode != 0
    assert "Traceback" not in out.stderr
