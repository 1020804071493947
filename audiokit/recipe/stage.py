"""What a recipe is made of: numbered, named stages and the context they run in."""

from __future__ import annotations

import dataclasses
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence, Union

from audiokit.recipe.config import flatten, get_key
from audiokit.recipe.fingerprint import MODES

#: a list of paths (strings may hold ``{key}`` templates), or a function of the context
PathSpec = Union[Sequence[Union[str, Path]], Callable[["StageContext"], Sequence[Union[str, Path]]]]
#: an argument list (strings may hold templates), or a function of the context
ArgvSpec = Union[Sequence[str], Callable[["StageContext"], Sequence[str]]]

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass
class StageContext:
    """Everything a stage needs: the merged config and where things live.

    Relative paths are relative to ``workdir`` (where ``data/`` and ``exp/`` are made);
    the recipe's own files (``local/prepare.py``, ``conf/``) are under ``recipe_dir``.
    """

    config: dict[str, Any]
    workdir: Path
    recipe_dir: Path
    tag: str
    stage: "Stage | None" = None

    @property
    def exp_dir(self) -> Path:
        """``<workdir>/exp/<tag>``: markers, logs and reports of this experiment."""
        return self.workdir / "exp" / self.tag

    def get(self, dotted: str) -> Any:
        """The config value at a dotted key, e.g. ``ctx.get("data.size")``."""
        return get_key(self.config, dotted)

    def path(self, path: str | Path) -> Path:
        """``path`` resolved against the work dir (absolute paths are kept)."""
        path = Path(path)
        return path if path.is_absolute() else self.workdir / path

    def repo_path(self, rel: str | Path) -> Path:
        """``rel`` under the repository root (three levels above ``recipe_dir``: egs/<corpus>/<recipe>)."""
        return self.recipe_dir / ".." / ".." / ".." / rel

    def repo_file(self, key: str) -> Path:
        """The repository file named by config key ``key`` (e.g. ``train_config``); ConfigError if missing."""
        from audiokit.errors import ConfigError

        path = self.repo_path(str(self.get(key)))
        if not path.is_file():
            raise ConfigError(f"{key} '{self.get(key)}': no such file in the repository")
        return path

    def template_vars(self) -> dict[str, Any]:
        """Names usable as ``{name}`` in path and argv templates."""
        names: dict[str, Any] = {k.replace(".", "_"): v for k, v in flatten(self.config).items()}
        names.update(tag=self.tag, exp=f"exp/{self.tag}", recipe=str(self.recipe_dir),
                     python=sys.executable)
        return names

    def format(self, text: str | Path) -> str:
        """Fill ``{name}`` templates of ``text`` from :meth:`template_vars`."""
        try:
            return str(text).format_map(self.template_vars())
        except (KeyError, IndexError, ValueError) as err:
            raise ValueError(f"bad template {str(text)!r}: {err}") from None


@dataclass(frozen=True)
class Stage:
    """One step of a recipe.

    Exactly one of ``func`` (called with the :class:`StageContext`) or ``argv`` (run as a
    subprocess in the work dir, never through a shell) does the work. ``inputs`` and
    ``outputs`` are files or folders; ``config_keys`` are the dotted config keys whose
    values the result depends on. Bump ``version`` when the stage's code changes what it
    produces. ``clean_outputs`` deletes the declared outputs before the stage runs, so a
    stage that was killed half-way starts from nothing. ``fingerprint`` is ``"stat"``
    (size + mtime) or ``"content"`` (SHA-256) for the inputs. ``ignore_args`` names
    options of ``argv`` whose value does not change the result (``--jobs``): changing
    them does not rerun the stage.
    """

    name: str
    func: Callable[[StageContext], Any] | None = None
    argv: ArgvSpec | None = None
    inputs: PathSpec = ()
    outputs: PathSpec = ()
    config_keys: Sequence[str] = ()
    description: str = ""
    version: int | str = 1
    clean_outputs: bool = False
    fingerprint: str = "stat"
    ignore_args: Sequence[str] = ()
    number: int | None = None

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"stage name {self.name!r} must match {_NAME.pattern}")
        if (self.func is None) == (self.argv is None):
            raise ValueError(f"stage {self.name!r}: give exactly one of func or argv")
        if self.fingerprint not in MODES:
            raise ValueError(f"stage {self.name!r}: fingerprint must be one of {MODES}")

    def resolve_paths(self, spec: PathSpec, ctx: StageContext) -> dict[str, Path]:
        """``{declared name: absolute path}`` for ``self.inputs`` or ``self.outputs``."""
        items = spec(ctx) if callable(spec) else spec
        resolved: dict[str, Path] = {}
        for item in items:
            name = ctx.format(item) if isinstance(item, str) else str(item)
            resolved[name] = ctx.path(name)
        return resolved

    def resolve_argv(self, ctx: StageContext) -> list[str]:
        """The subprocess argument list with templates filled in."""
        assert self.argv is not None
        items = self.argv(ctx) if callable(self.argv) else [ctx.format(a) for a in self.argv]
        return [str(a) for a in items]

    def identity(self, ctx: StageContext) -> dict[str, Any]:
        """What defines the stage itself (a change reruns it): name, version, command."""
        ident: dict[str, Any] = {"name": self.name, "version": self.version}
        if self.argv is not None:
            argv = self.resolve_argv(ctx)
            kept = []
            for i, arg in enumerate(argv):
                flag = arg.split("=", 1)[0]
                if flag in self.ignore_args or (i and argv[i - 1] in self.ignore_args):
                    continue
                kept.append(self._portable(arg, ctx))
            ident["argv"] = kept
        return ident

    @staticmethod
    def _portable(arg: str, ctx: StageContext) -> str:
        """``arg`` without this machine's python and recipe location (moving keeps the hash)."""
        if arg == sys.executable:
            return "<python>"
        recipe = str(ctx.recipe_dir)
        return "<recipe>" + arg[len(recipe):] if arg.startswith(recipe + "/") else arg

    def config_values(self, ctx: StageContext) -> dict[str, Any]:
        """``{dotted key: value}`` for every declared config key."""
        values = {}
        for key in self.config_keys:
            try:
                values[key] = ctx.get(key)
            except KeyError:
                raise ValueError(f"stage {self.name!r} declares unknown config key {key!r}") from None
        return values


@dataclass
class Recipe:
    """An ordered list of stages plus the defaults of its configuration.

    Stages are numbered 1, 2, ... in order unless they give a ``number`` (numbers must
    increase). ``renamed`` maps options or config keys of older interface versions to
    their new names so that an old ``run.sh`` gets a migration hint. ``check`` validates
    the merged config before anything runs (raise ConfigError).
    """

    name: str
    stages: Sequence[Stage]
    defaults: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    interface_version: int = 1
    renamed: Mapping[str, str] = field(default_factory=dict)
    check: Callable[[dict[str, Any]], None] | None = None

    def __post_init__(self) -> None:
        numbered: list[Stage] = []
        last = 0
        for stage in self.stages:
            number = stage.number if stage.number is not None else last + 1
            if number <= last:
                raise ValueError(f"recipe {self.name}: stage numbers must increase ({stage.name})")
            numbered.append(dataclasses.replace(stage, number=number))
            last = number
        names = [s.name for s in numbered]
        if len(set(names)) != len(names):
            raise ValueError(f"recipe {self.name}: duplicate stage names {names}")
        self.stages = tuple(numbered)
