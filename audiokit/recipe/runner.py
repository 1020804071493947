"""Running a plan: execute stages in order, write markers and the run log.

Resumability comes from three rules: a stage's marker is written (atomically) only after
it succeeded; the marker of a stage about to run is deleted first, so a stage that dies
half-way is never taken for done; and ``clean_outputs`` stages start from nothing. Every
run appends one JSON line per stage to ``exp/<tag>/stages.jsonl``. One run at a time may
use a work dir (``exp/.lock``; the lock dies with the process, even on SIGKILL).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from audiokit.errors import AudiokitError
from audiokit.io.atomic import write_text_atomic
from audiokit.recipe.fingerprint import fingerprint_paths
from audiokit.recipe.plan import Decision, decide, describe, make_plan, marker_path
from audiokit.recipe.stage import Recipe, Stage, StageContext


class RecipeError(AudiokitError):
    """A recipe that cannot run, or a stage that failed."""


@contextlib.contextmanager
def workdir_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (``exp/.lock``) or fail at once if it is taken."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: no locking
            yield
            return
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise RecipeError(f"{path}: another recipe run is using this work dir") from None
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Linux: the child gets SIGTERM when the runner dies (even by SIGKILL)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except Exception:
        pass


def run_argv(argv: Sequence[str], cwd: Path) -> None:
    """Run a stage command (no shell); RecipeError when it fails."""
    preexec = _die_with_parent if sys.platform.startswith("linux") else None
    try:
        proc = subprocess.run(list(argv), cwd=cwd, preexec_fn=preexec)
    except FileNotFoundError:
        raise RecipeError(f"command not found: {argv[0]}") from None
    if proc.returncode != 0:
        how = (f"was killed by signal {-proc.returncode}" if proc.returncode < 0
               else f"exited with status {proc.returncode}")
        raise RecipeError(f"`{' '.join(argv)}` {how} (its messages are above)")


def clean_paths(paths: dict[str, Path], workdir: Path) -> None:
    """Delete declared outputs before a stage reruns; only inside the work dir."""
    root = workdir.resolve()
    for name, path in paths.items():
        real = path.resolve()
        if real == root or root not in real.parents:
            raise ValueError(f"refusing to clean {name}: not inside the work dir {root}")
        if real.is_dir() and not real.is_symlink():
            shutil.rmtree(real)
        elif real.exists() or real.is_symlink():
            real.unlink()


class RunLog:
    """Appends one JSON line per stage to ``exp/<tag>/stages.jsonl`` (fsync'ed)."""

    def __init__(self, path: Path, run_id: str) -> None:
        self.path = path
        self.run_id = run_id
        self.records: list[dict[str, Any]] = []

    def add(self, decision: Decision, status: str, start: float, duration: float,
            **extra: Any) -> dict[str, Any]:
        record = {
            "run": self.run_id, "stage": decision.stage.name, "number": decision.stage.number,
            "status": status, "reason": decision.reason, "hash": decision.hash,
            "start": datetime.fromtimestamp(start, timezone.utc).isoformat(timespec="seconds"),
            "duration": round(duration, 3), **extra,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        self.records.append(record)
        return record


def stage_minutes(ctx: StageContext, stage: str) -> str:
    """``"<m> min wall-clock over <n> run(s)"`` of every run (finished or failed) of ``stage``
    in ``exp/<tag>/stages.jsonl``; ``"?"`` when the log is missing or has none."""
    try:
        rows = [json.loads(x) for x in (ctx.exp_dir / "stages.jsonl").read_text().splitlines() if x.strip()]
    except (OSError, ValueError):
        return "?"
    runs = [r for r in rows if r.get("stage") == stage and r.get("status") in ("run", "failed")]
    total = sum(float(r.get("duration", r.get("seconds", 0)) or 0) for r in runs)
    return f"{total / 60:.1f} min wall-clock over {len(runs)} run(s)" if runs else "?"


def _execute(stage: Stage, ctx: StageContext) -> None:
    """Run the stage's command or function; both see the work dir as current dir."""
    ctx.stage = stage
    if stage.argv is not None:
        run_argv(stage.resolve_argv(ctx), ctx.workdir)
    else:
        assert stage.func is not None
        with contextlib.chdir(ctx.workdir):
            stage.func(ctx)


def run_stage(decision: Decision, ctx: StageContext, log: RunLog, echo: Callable[[str], Any]) -> None:
    """Run one stage whose decision is "run": clean, execute, check outputs, mark done."""
    stage = decision.stage
    label = f"stage {stage.number} {stage.name}"
    marker = marker_path(ctx, stage)
    with contextlib.suppress(FileNotFoundError):
        marker.unlink()
    outputs = stage.resolve_paths(stage.outputs, ctx)
    echo(f"{label}: run ({decision.reason})")
    start = time.time()
    try:
        if stage.clean_outputs:
            clean_paths(outputs, ctx.workdir)
        _execute(stage, ctx)
        missing = [name for name, path in outputs.items() if not path.exists()]
        if missing:
            raise RecipeError(f"finished but did not make its output {missing[0]}")
    except KeyboardInterrupt:
        log.add(decision, "failed", start, time.time() - start, error="interrupted")
        echo(f"{label}: interrupted; run the recipe again to resume here")
        raise
    except AudiokitError as err:
        log.add(decision, "failed", start, time.time() - start, error=err.one_line())
        raise RecipeError(f"{label} failed: {err.one_line()}") from err
    except Exception as err:
        log.add(decision, "failed", start, time.time() - start, error=repr(err))
        raise
    duration = time.time() - start
    record = {
        "stage": stage.name, "number": stage.number, "hash": decision.hash,
        "identity": decision.identity, "config": decision.config, "inputs": decision.inputs,
        "outputs": fingerprint_paths(outputs), "finished": time.time(), "duration": duration,
    }
    write_text_atomic(marker, json.dumps(record, indent=2, sort_keys=True, default=str) + "\n")
    log.add(decision, "run", start, duration)
    echo(f"{label}: done in {duration:.1f} s")


def run_recipe(recipe: Recipe, ctx: StageContext, selected: Sequence[Stage], *,
               force: bool = False, dry_run: bool = False,
               echo: Callable[[str], Any] = print) -> list[dict[str, Any]]:
    """Plan, then (unless ``dry_run``) run the selected stages; returns the log records.

    The plan is checked before anything runs: a selected stage whose input is missing and
    not made by an earlier selected stage stops the run at once. Decisions are taken again
    just before each stage runs, since earlier stages may have changed its inputs.
    """
    plan = make_plan(recipe, ctx, selected, force=force)
    if dry_run:
        echo(f"recipe {recipe.name}, tag {ctx.tag}, work dir {ctx.workdir} (dry run: nothing runs)")
        echo(describe(plan))
        return []
    blocked = next((d for d in plan if d.blocked), None)
    if blocked is not None:
        raise RecipeError(f"stage {blocked.stage.number} {blocked.stage.name} cannot run: "
                          f"{blocked.reason}")
    run_id = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + f"-{uuid.uuid4().hex[:6]}"
    log = RunLog(ctx.exp_dir / "stages.jsonl", run_id)
    with workdir_lock(ctx.workdir / "exp" / ".lock"):
        for planned in plan:
            stage = planned.stage
            if not planned.selected:
                log.add(planned, "skipped", time.time(), 0.0)
                continue
            decision = decide(stage, ctx, force=force)
            if decision.blocked:
                log.add(decision, "failed", time.time(), 0.0, error=decision.reason)
                raise RecipeError(f"stage {stage.number} {stage.name} cannot run: {decision.reason}")
            if decision.run:
                run_stage(decision, ctx, log, echo)
            else:
                echo(f"stage {stage.number} {stage.name}: skip ({decision.reason})")
                log.add(decision, "skipped", time.time(), 0.0)
    return log.records
