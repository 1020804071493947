"""A recipe killed mid-stage (SIGKILL or Ctrl-C) and started again continues where it stopped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

TOY = textwrap.dedent('''
    """Toy recipe: stage 2 sleeps when TOY_SLEEP is set (so the test can kill it there)."""
    import os, sys, time
    from pathlib import Path
    from audiokit.recipe import Recipe, Stage, main

    def count(name):
        p = Path("counts") / name
        p.parent.mkdir(exist_ok=True)
        p.write_text(str(int(p.read_text()) + 1 if p.exists() else 1))

    def one(ctx):
        count("one")
        Path("a.txt").write_text("a\\n")

    SLOW = r"""
    import os, sys, time
    from pathlib import Path
    p = Path("counts") / "two"
    p.parent.mkdir(exist_ok=True)
    p.write_text(str(int(p.read_text()) + 1 if p.exists() else 1))
    Path("child.pid").write_text(str(os.getpid()))
    if os.environ.get("TOY_SLEEP"):
        Path("started").write_text("")
        time.sleep(60)
    Path("b.txt").write_text(Path("a.txt").read_text() + "b\\n")
    """

    def two_func(ctx):
        exec(SLOW, {})

    def three(ctx):
        count("three")
        Path("c.txt").write_text(Path("b.txt").read_text() + "c\\n")

    if os.environ["TOY_KIND"] == "argv":
        two = Stage("two", argv=[sys.executable, "-c", SLOW], inputs=["a.txt"], outputs=["b.txt"])
    else:
        two = Stage("two", func=two_func, inputs=["a.txt"], outputs=["b.txt"])
    RECIPE = Recipe(name="toy", defaults={"tag": "toy"}, stages=[
        Stage("one", func=one, outputs=["a.txt"]),
        two,
        Stage("three", func=three, inputs=["b.txt"], outputs=["c.txt"]),
    ])
    raise SystemExit(main(RECIPE))
''')


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in state


def _start(tmp: Path, kind: str, sleep: bool) -> subprocess.Popen:
    env = {**os.environ, "TOY_KIND": kind}
    env.pop("TOY_SLEEP", None)
    if sleep:
        env["TOY_SLEEP"] = "1"
    # SIGINT at its default in the child: a test run started as a background job (`cmd &` without job
    # control) inherits an ignored SIGINT, and Python then installs no KeyboardInterrupt handler
    return subprocess.Popen([sys.executable, str(tmp / "toy.py"), "--workdir", str(tmp / "w")],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < end, f"{path} never appeared"
        time.sleep(0.05)


@pytest.mark.parametrize("sig, kind", [
    (signal.SIGKILL, "argv"), (signal.SIGINT, "argv"), (signal.SIGINT, "func"), (signal.SIGKILL, "func"),
])
def test_killed_recipe_resumes(tmp_path, sig, kind):
    (tmp_path / "toy.py").write_text(TOY)
    work = tmp_path / "w"
    proc = _start(tmp_path, kind, sleep=True)
    _wait_for(work / "started", proc)
    os.kill(proc.pid, sig)
    _, err = proc.communicate(timeout=60)
    child = int((work / "child.pid").read_text())
    if sig == signal.SIGINT:
        assert proc.returncode == 130
        assert len(err.strip().splitlines()) == 1 and "interrupted" in err and "Traceback" not in err
    else:
        assert proc.returncode == -signal.SIGKILL
    end = time.monotonic() + 10
    while _alive(child) and time.monotonic() < end:  # a stage command dies with the runner
        time.sleep(0.05)
    assert not _alive(child)
    assert not (work / "b.txt").exists()
    assert not (work / "exp/toy/stages/two.json").exists()
    assert (work / "exp/toy/stages/one.json").exists()

    proc = _start(tmp_path, kind, sleep=False)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    counts = {p.name: int(p.read_text()) for p in (work / "counts").iterdir()}
    assert counts == {"one": 1, "two": 2, "three": 1}
    assert (work / "c.txt").read_text() == "a\nb\nc\n"
    assert "stage 1 one: skip (up to date)" in out

    lines = [json.loads(x) for x in (work / "exp/toy/stages.jsonl").read_text().splitlines()]
    runs = list(dict.fromkeys(r["run"] for r in lines))
    assert len(runs) == 2
    first = [(r["stage"], r["status"]) for r in lines if r["run"] == runs[0]]
    second = [(r["stage"], r["status"]) for r in lines if r["run"] == runs[1]]
    if sig == signal.SIGINT:
        assert first == [("one", "run"), ("two", "failed")]
        assert lines[len(first) - 1]["error"] == "interrupted"
    else:
        assert first == [("one", "run")]  # SIGKILL leaves no line for the killed stage
    assert second == [("one", "skipped"), ("two", "run"), ("three", "run")]
