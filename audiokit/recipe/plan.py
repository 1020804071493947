"""Which stages run, and why: stage selection and the skip/run decision.

A selected stage is skipped only when all of these hold: its marker
``exp/<tag>/stages/<name>.json`` exists, the hash of (stage identity, config values,
input fingerprints) equals the marker's, every output exists, and no output changed
since the stage wrote it (so a run of another config that rewrote a shared ``data/``
folder is noticed). Otherwise it runs, and the reason says which of these failed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from audiokit.errors import ConfigError
from audiokit.recipe.config import did_you_mean
from audiokit.recipe.fingerprint import fingerprint_path, fingerprint_paths, stage_hash
from audiokit.recipe.stage import Recipe, Stage, StageContext


@dataclass
class Decision:
    """The plan for one stage: run or skip, and why."""

    stage: Stage
    selected: bool
    run: bool
    reason: str
    hash: str | None = None
    identity: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, str | None] = field(default_factory=dict)
    blocked: str | None = None  # a missing input nothing in this run produces

    @property
    def status(self) -> str:
        """``"run"``, ``"skip"`` or ``"blocked"`` as printed in the plan."""
        if self.blocked:
            return "blocked"
        return "run" if self.run else "skip"


def marker_path(ctx: StageContext, stage: Stage) -> Path:
    """``exp/<tag>/stages/<name>.json``."""
    return ctx.exp_dir / "stages" / f"{stage.name}.json"


def read_marker(path: Path) -> dict[str, Any] | None:
    """The marker's content, or None when absent or unreadable (then the stage reruns)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def resolve_ref(recipe: Recipe, ref: str) -> Stage:
    """A stage by number (``"2"``) or name (``"validate"``); ConfigError with a hint."""
    for stage in recipe.stages:
        if ref == stage.name or (ref.isdigit() and int(ref) == stage.number):
            return stage
    names = [s.name for s in recipe.stages]
    listing = ", ".join(f"{s.number} {s.name}" for s in recipe.stages)
    raise ConfigError(f"unknown stage '{ref}'{did_you_mean(ref, names)}; stages are: {listing}")


def select(recipe: Recipe, *, stage: str | None = None, stop_stage: str | None = None,
           stages: Sequence[str] | None = None) -> list[Stage]:
    """The selected stages, in recipe order.

    ``stages`` names them one by one; otherwise the range ``stage``..``stop_stage``
    (numbers or names, both inclusive, Kaldi style) is taken, defaulting to all.
    """
    if stages:
        if stage is not None or stop_stage is not None:
            raise ConfigError("use either --stages or --stage/--stop-stage, not both")
        chosen = {resolve_ref(recipe, ref).name for ref in stages}
        return [s for s in recipe.stages if s.name in chosen]
    first = resolve_ref(recipe, stage).number if stage is not None else recipe.stages[0].number
    last = resolve_ref(recipe, stop_stage).number if stop_stage is not None else recipe.stages[-1].number
    assert first is not None and last is not None
    if first > last:
        raise ConfigError(f"--stage {stage} comes after --stop-stage {stop_stage}")
    return [s for s in recipe.stages if first <= (s.number or 0) <= last]


def _why_changed(marker: dict[str, Any], identity: dict, config: dict, inputs: dict) -> str:
    old_config = marker.get("config", {})
    for key, value in config.items():
        if old_config.get(key, object()) != value:
            return f"config changed: {key} {old_config.get(key)!r} -> {value!r}"
    old_inputs = marker.get("inputs", {})
    for name, digest in inputs.items():
        if old_inputs.get(name) != digest:
            return f"input changed: {name}"
    if marker.get("identity") != identity:
        return "stage definition changed (command or version)"
    return "inputs or config changed"


def _overlaps(a: Path, b: Path) -> bool:
    return a == b or a in b.parents or b in a.parents


def _rebuilt_by(path: Path, rebuilt: dict[Path, str]) -> str | None:
    """The stage of this run that rewrites ``path`` (or a folder around or inside it)."""
    return next((name for out, name in rebuilt.items() if _overlaps(path, out)), None)


def decide(stage: Stage, ctx: StageContext, *, force: bool = False,
           rebuilt: dict[Path, str] | None = None) -> Decision:
    """Run or skip ``stage`` now.

    ``rebuilt`` maps paths that an earlier stage of this run will rewrite to that stage's
    name (used for planning before anything has run).
    """
    ctx.stage = stage
    identity = stage.identity(ctx)
    config = stage.config_values(ctx)
    input_paths = stage.resolve_paths(stage.inputs, ctx)
    inputs = fingerprint_paths(input_paths, stage.fingerprint)
    digest = stage_hash(identity, config, inputs)
    base = dict(stage=stage, selected=True, hash=digest, identity=identity, config=config,
                inputs=inputs)
    for name, path in input_paths.items():
        producer = _rebuilt_by(path, rebuilt or {})
        if producer:
            return Decision(run=True, reason=f"input {name} is rebuilt by stage '{producer}'",
                            **base)
    for name, fp in inputs.items():
        if fp is None:
            return Decision(run=True, reason=f"input missing: {name}", blocked=name, **base)
    if force:
        return Decision(run=True, reason="forced (--force)", **base)
    marker = read_marker(marker_path(ctx, stage))
    if marker is None:
        return Decision(run=True, reason="not done yet (no marker)", **base)
    if marker.get("hash") != digest:
        return Decision(run=True, reason=_why_changed(marker, identity, config, inputs), **base)
    old_outputs = marker.get("outputs", {})
    for name, path in stage.resolve_paths(stage.outputs, ctx).items():
        current = fingerprint_path(path)
        if current is None:
            return Decision(run=True, reason=f"output missing: {name}", **base)
        if name in old_outputs and old_outputs[name] != current:
            return Decision(run=True, reason=f"output changed since the stage made it: {name}",
                            **base)
    return Decision(run=False, reason="up to date", **base)


def _producer_hint(recipe: Recipe, ctx: StageContext, name: str) -> str:
    for stage in recipe.stages:
        ctx.stage = stage
        if any(_overlaps(ctx.path(name), p) for p in stage.resolve_paths(stage.outputs, ctx).values()):
            return f" (made by stage {stage.number} '{stage.name}')"
    return ""


def make_plan(recipe: Recipe, ctx: StageContext, selected: Sequence[Stage], *,
              force: bool = False) -> list[Decision]:
    """A decision for every stage of the recipe (unselected ones are skipped)."""
    chosen = {s.name for s in selected}
    rebuilt: dict[Path, str] = {}
    plan = []
    for stage in recipe.stages:
        if stage.name not in chosen:
            plan.append(Decision(stage=stage, selected=False, run=False, reason="not selected"))
            continue
        decision = decide(stage, ctx, force=force, rebuilt=rebuilt)
        if decision.blocked:
            decision.reason += _producer_hint(recipe, ctx, decision.blocked)
        plan.append(decision)
        if decision.run:
            for path in stage.resolve_paths(stage.outputs, ctx).values():
                rebuilt[path] = stage.name
    return plan


def describe(plan: Sequence[Decision]) -> str:
    """The plan as a small table, one line per stage."""
    width = max(len(d.stage.name) for d in plan)
    lines = []
    for d in plan:
        status = {"run": "run", "skip": "skip", "blocked": "BLOCKED"}[d.status]
        lines.append(f"  {d.stage.number:>3} {d.stage.name:<{width}}  {status:<7} {d.reason}")
    return "\n".join(lines)
