"""Recipe configuration: a YAML mapping checked against the recipe's defaults.

A recipe declares its defaults (a nested mapping). The config file and the command-line
overrides (``key=value``, dotted keys for nested values, values parsed as YAML scalars)
may only set keys that the defaults know, with a value of the same type, so a typo fails
at once with a "did you mean" hint instead of being silently ignored. YAML is loaded with
``yaml.safe_load``: a config never executes code.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from audiokit.config import (
    hint as did_you_mean,  # the one "did you mean" (recipe.cli, plan use this name)
)
from audiokit.errors import ConfigError


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; leaves are non-mapping values."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def get_key(tree: Mapping[str, Any], dotted: str) -> Any:
    """The value at ``dotted`` (``"a.b"``) in a nested mapping; KeyError if absent."""
    node: Any = tree
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise KeyError(dotted)
        node = node[part]
    return node


def _set_key(tree: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = tree
    for part in parts[:-1]:
        node = node[part]
    node[parts[-1]] = value


def _type_ok(default: Any, value: Any) -> bool:
    if default is None or value is None:
        return True
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)
    if isinstance(default, float) and isinstance(value, int):
        return True
    if isinstance(default, Mapping):
        return isinstance(value, Mapping)
    if isinstance(default, (list, tuple)):
        return isinstance(value, (list, tuple))
    return isinstance(value, type(default))


def _key_lines(text: str) -> dict[str, int]:
    """Dotted key -> 1-based line number where it is written in a YAML mapping text."""
    import yaml

    lines: dict[str, int] = {}

    def walk(node: Any, prefix: str) -> None:
        if not isinstance(node, yaml.MappingNode):
            return
        for key_node, value_node in node.value:
            name = f"{prefix}{key_node.value}"
            lines[name] = key_node.start_mark.line + 1
            walk(value_node, name + ".")

    try:
        walk(yaml.compose(text), "")
    except yaml.YAMLError:
        pass
    return lines


def _merge(
    defaults: Mapping[str, Any], values: Mapping[str, Any], where: str, lines: Mapping[str, int],
    prefix: str = "",
) -> dict[str, Any]:
    """A deep copy of ``defaults`` with ``values`` laid over it; unknown keys are errors."""
    merged = copy.deepcopy(dict(defaults))
    for key, value in values.items():
        name = f"{prefix}{key}"
        loc = f"{where}:{lines[name]}" if name in lines else where
        if key not in defaults:
            known = [f"{prefix}{k}" for k in defaults]
            raise ConfigError(f"{loc}: unknown key '{name}'{did_you_mean(name, known)}")
        default = defaults[key]
        if isinstance(default, Mapping) and default and isinstance(value, Mapping):
            merged[key] = _merge(default, value, where, lines, name + ".")
        elif not _type_ok(default, value):
            raise ConfigError(
                f"{loc}: key '{name}' must be a {type(default).__name__}, got {value!r}"
            )
        else:
            merged[key] = value
    return merged


def load_config(path: str | Path | None, defaults: Mapping[str, Any]) -> dict[str, Any]:
    """Read a YAML config file and lay it over ``defaults`` (``path=None``: defaults only).

    Raises ConfigError naming the file (and line) for unreadable files, YAML syntax
    errors, a top level that is not a mapping, unknown keys and wrongly typed values.
    """
    import yaml

    if path is None:
        return copy.deepcopy(dict(defaults))
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read config ({err})") from None
    try:
        values = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or "invalid YAML"
        raise ConfigError(f"{path}{line}: {problem}") from None
    if values is None:
        values = {}
    if not isinstance(values, Mapping):
        raise ConfigError(f"{path}: the config must be a mapping of keys to values")
    return _merge(defaults, values, str(path), _key_lines(text))


def parse_override(text: str) -> tuple[str, Any]:
    """``"a.b=3"`` -> ``("a.b", 3)``; the value is parsed as a YAML scalar/flow value."""
    import yaml

    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"override '{text}': expected key=value")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        raise ConfigError(f"override '{text}': value is not valid YAML") from None
    return key, value


def apply_overrides(config: Mapping[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """A copy of ``config`` with each ``key=value`` override applied (known keys only)."""
    result = copy.deepcopy(dict(config))
    known = flatten(config)
    for text in overrides:
        key, value = parse_override(text)
        try:
            current = get_key(result, key)
        except KeyError:
            raise ConfigError(
                f"override '{text}': unknown key '{key}'{did_you_mean(key, known)}"
            ) from None
        if isinstance(current, Mapping) and current:
            raise ConfigError(f"override '{text}': '{key}' is a section; set one of its keys")
        if not _type_ok(current, value):
            raise ConfigError(
                f"override '{text}': '{key}' must be a {type(current).__name__}, got {value!r}"
            )
        _set_key(result, key, value)
    return result
