"""The command line shared by every recipe (``python -m recipes.<task> ...``).

Options: ``--config FILE``, ``--stage N --stop-stage M`` (numbers or names, inclusive),
``--stages a b``, ``--dry-run``, ``--force``, ``--workdir DIR`` and ``key=value``
overrides (dotted keys). Any mistake gives one line on stderr and exit status 2;
Ctrl-C gives 130.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any, Mapping, Sequence

from audiokit.errors import AudiokitError, ConfigError
from audiokit.recipe.config import apply_overrides, did_you_mean, load_config
from audiokit.recipe.plan import select
from audiokit.recipe.runner import run_recipe
from audiokit.recipe.stage import Recipe, StageContext

_TAG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class _Parser(argparse.ArgumentParser):
    """argparse that raises ConfigError (one line) instead of printing usage and exiting."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(message)


def build_parser(recipe: Recipe) -> argparse.ArgumentParser:
    """The recipe's option parser (overrides are collected separately)."""
    stages = ", ".join(f"{s.number} {s.name}" for s in recipe.stages)
    parser = _Parser(
        prog=f"recipe {recipe.name}", allow_abbrev=False,
        description=f"{recipe.description} Stages: {stages}. "
        "Extra arguments key=value override config keys (dotted for nested keys).",
    )
    parser.add_argument("--config", type=Path, help="YAML config (keys of the recipe defaults)")
    parser.add_argument("--stage", metavar="N", help="first stage to run (number or name)")
    parser.add_argument("--stop-stage", metavar="M", help="last stage to run (inclusive)")
    parser.add_argument("--stages", nargs="+", metavar="NAME", help="run only these stages")
    parser.add_argument("--dry-run", action="store_true", help="print the plan, run nothing")
    parser.add_argument("--force", action="store_true", help="rerun selected stages even if up to date")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where data/ and exp/ are made (default: the current dir)")
    return parser


def _option_strings(parser: argparse.ArgumentParser) -> list[str]:
    return [opt for action in parser._actions for opt in action.option_strings]


def parse_args(recipe: Recipe, argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    """Options and the list of ``key=value`` overrides; ConfigError for anything unknown."""
    parser = build_parser(recipe)
    args, rest = parser.parse_known_args(list(argv))
    overrides: list[str] = []
    if args.stages:
        overrides += [s for s in args.stages if "=" in s]
        args.stages = [s for s in args.stages if "=" not in s]
    for item in rest:
        if item.startswith("-"):
            option = item.split("=", 1)[0]
            if option in recipe.renamed:
                raise ConfigError(f"option {option} was renamed to {recipe.renamed[option]} "
                                  f"(recipe interface version {recipe.interface_version})")
            hint = did_you_mean(option, _option_strings(parser))
            raise ConfigError(f"unknown option {option}{hint}")
        if "=" not in item:
            raise ConfigError(f"unexpected argument '{item}' (config overrides are key=value)")
        overrides.append(item)
    return args, overrides


def _tag(config: Mapping[str, Any], config_path: Path | None, recipe: Recipe) -> str:
    tag = config.get("tag") or (config_path.stem if config_path else recipe.name)
    tag = str(tag)
    if not _TAG.match(tag):
        raise ConfigError(f"tag '{tag}': use letters, digits, '.', '_' and '-' only")
    return tag


def _renamed_hint(recipe: Recipe, err: ConfigError) -> ConfigError:
    for old, new in recipe.renamed.items():
        if f"'{old}'" in str(err):
            return ConfigError(f"{err.one_line()}; '{old}' was renamed to '{new}' "
                               f"(recipe interface version {recipe.interface_version})")
    return err


def make_context(recipe: Recipe, args: argparse.Namespace, overrides: Sequence[str],
                 cwd: Path | None = None) -> StageContext:
    """Load config + overrides and resolve the recipe and work dirs."""
    recipe_dir = (cwd or Path.cwd()).resolve()
    config_path = args.config
    if config_path is not None and not config_path.is_absolute():
        config_path = recipe_dir / config_path
    try:
        config = load_config(config_path, recipe.defaults)
        config = apply_overrides(config, overrides)
        if recipe.check is not None:
            recipe.check(config)
    except ConfigError as err:
        raise _renamed_hint(recipe, err) from None
    workdir = args.workdir if args.workdir is not None else recipe_dir
    workdir = (recipe_dir / workdir).resolve()
    if workdir.exists() and not workdir.is_dir():
        raise ConfigError(f"{workdir}: --workdir is not a directory")
    return StageContext(config=config, workdir=workdir, recipe_dir=recipe_dir,
                        tag=_tag(config, args.config, recipe))


def main(recipe: Recipe, argv: Sequence[str] | None = None) -> int:
    """Run ``recipe`` from the command line; returns the exit status."""
    prog = f"recipe {recipe.name}"
    try:
        args, overrides = parse_args(recipe, sys.argv[1:] if argv is None else argv)
        ctx = make_context(recipe, args, overrides)
        selected = select(recipe, stage=args.stage, stop_stage=args.stop_stage, stages=args.stages)
        run_recipe(recipe, ctx, selected, force=args.force, dry_run=args.dry_run,
                   echo=lambda line: print(line, flush=True))
    except AudiokitError as err:
        print(f"{prog}: error: {err.one_line()}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print(f"{prog}: interrupted (run it again to resume)", file=sys.stderr)
        return 130
    return 0
