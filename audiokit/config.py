"""YAML configs with ``class_path`` / ``init_args`` nodes, built by a restricted instantiator.

The layout is LightningCLI's (a node ``{class_path: audiokit.x.Y, init_args: {...}}``
builds ``audiokit.x.Y(**init_args)``), but audiokit instantiates configs itself:
a config may only name classes *defined in an audiokit module*, so a downloaded
config can never make audiokit import or call ``subprocess.Popen``, ``os.system``
or ``builtins.eval``. Every class path is checked when the config is loaded,
before anything is built (see docs/design.md, "Configs and training").

Overrides are dotted ``key=value`` strings whose value is parsed with
``yaml.safe_load`` (``trainer.max_steps=8``, ``loggers=[csv]``). On a class node a
key other than ``class_path``/``init_args`` is shorthand for an init argument:
``task.lr=0.1`` sets ``task.init_args.lr``.
"""

from __future__ import annotations

import copy
import difflib
import importlib
import inspect
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from audiokit.errors import ConfigError

#: top-level keys of a training config (audiokit.train.runner documents each)
TRAIN_KEYS: tuple[str, ...] = (
    "seed", "exp_dir", "task", "data", "trainer", "checkpoint", "loggers", "callbacks", "threads",
)

_Key = tuple  # a key path: ("task", "init_args", "lr")


def hint(word: str, choices: Iterable[str]) -> str:
    """``" (did you mean 'x'?)"`` for the closest of ``choices``, else ``""``."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.5)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _dotted(key: _Key) -> str:
    return ".".join(str(k) for k in key) or "<top>"


# --------------------------------------------------------------------------- classes
def _refuse(class_path: Any, where: str) -> ConfigError:
    return ConfigError(
        f"{where}: class '{class_path}' is not an audiokit class; "
        "configs may only name audiokit classes"
    )


def resolve_class(class_path: Any, where: str = "config") -> type:
    """The class named by ``class_path``, which must be defined in an audiokit module.

    Only ``audiokit.<module>.<Class>`` paths are imported; anything else (``os.system``,
    ``subprocess.Popen``, a function, a class re-exported from another package) raises
    :class:`ConfigError` without importing it.
    """
    if not isinstance(class_path, str):
        raise ConfigError(f"{where}: class_path must be a string, got {class_path!r}")
    parts = class_path.split(".")
    if (
        len(parts) < 2
        or parts[0] != "audiokit"
        or not all(p.isidentifier() and not p.startswith("__") for p in parts)
    ):
        raise _refuse(class_path, where)
    module_name, name = ".".join(parts[:-1]), parts[-1]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name and (err.name == module_name or module_name.startswith(err.name + ".")):
            raise ConfigError(f"{where}: class '{class_path}': no module '{module_name}'") from None
        raise ConfigError(f"{where}: class '{class_path}': cannot import {module_name} ({err})") from None
    obj = getattr(module, name, None)
    if obj is None:
        classes = [n for n, v in vars(module).items() if inspect.isclass(v)]
        raise ConfigError(
            f"{where}: class '{class_path}': module '{module_name}' has no class '{name}'"
            f"{hint(name, classes)}"
        )
    owner = getattr(obj, "__module__", "") or ""
    if not inspect.isclass(obj) or not (owner == "audiokit" or owner.startswith("audiokit.")):
        raise _refuse(class_path, where)
    return obj


def is_class_node(node: Any) -> bool:
    """True for a mapping with a ``class_path`` key."""
    return isinstance(node, Mapping) and "class_path" in node


def _check_class_node(node: Mapping, locate: Callable[[_Key], str]) -> type:
    """Check one class node; ``locate(("init_args", "x"))`` gives the location of a sub-key."""
    extra = [k for k in node if k not in ("class_path", "init_args")]
    cls = resolve_class(node["class_path"], locate(("class_path",)))
    if extra:
        raise ConfigError(
            f"{locate((extra[0],))}: unexpected key '{extra[0]}' next to class_path (expected init_args)"
        )
    init_args = node.get("init_args") or {}
    if not isinstance(init_args, Mapping):
        raise ConfigError(f"{locate(('init_args',))}: must be a mapping, got {init_args!r}")
    _check_arguments(cls, node["class_path"], init_args, locate)
    return cls


def _parameters(cls: type) -> tuple[dict[str, inspect.Parameter], bool]:
    """Named constructor parameters and whether it takes ``**kwargs``."""
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return {}, True
    named = {
        n: p for n, p in params.items()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }
    return named, any(p.kind is p.VAR_KEYWORD for p in params.values())


def _check_arguments(cls: type, class_path: str, init_args: Mapping, locate: Callable[[_Key], str]) -> None:
    named, var_kw = _parameters(cls)
    if not var_kw:
        for key in init_args:
            if key not in named:
                raise ConfigError(
                    f"{locate(('init_args', key))}: '{class_path}' has no argument '{key}'{hint(key, named)}"
                )
    for name, p in named.items():
        if p.default is p.empty and name not in init_args:
            raise ConfigError(f"{locate(('init_args',))}: '{class_path}' needs argument '{name}'")


def check_class_paths(node: Any, where: str = "config", origins: Mapping[_Key, str] | None = None,
                      _key: _Key = ()) -> None:
    """Check every class node under ``node`` (class allowed, init args known) without building.

    ``origins`` maps key paths to a location such as ``"conf.yaml:7"`` for messages.
    """
    if is_class_node(node):
        _check_class_node(node, lambda sub: _where(where, origins, _key + sub))
        for k, v in (node.get("init_args") or {}).items():
            check_class_paths(v, where, origins, _key + ("init_args", k))
    elif isinstance(node, Mapping):
        for k, v in node.items():
            check_class_paths(v, where, origins, _key + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            check_class_paths(v, where, origins, _key + (i,))


def _where(where: str, origins: Mapping[_Key, str] | None, key: _Key) -> str:
    """``"<file>:<line>: a.b"`` for the nearest recorded origin of ``key``."""
    if origins is None:
        return f"{where}.{_dotted(key)}" if key else where
    origin = where
    if origins:
        for n in range(len(key), -1, -1):
            if key[:n] in origins:
                origin = origins[key[:n]]
                break
    return f"{origin}: {_dotted(key)}" if key else origin


def instantiate(node: Any, *, where: str = "config") -> Any:
    """Build the objects a config node describes, recursively.

    ``{class_path, init_args}`` mappings become instances (init args are built first);
    other mappings and lists are rebuilt with their items instantiated; scalars are
    returned as they are. Raises :class:`ConfigError` for a class that is not an
    audiokit class, unknown or missing init args, or a constructor that rejects its
    arguments (``TypeError``/``ValueError``).
    """
    check_class_paths(node, where)  # the whole tree is checked before anything is built
    return _build(node, where)


def _build(node: Any, where: str) -> Any:
    if is_class_node(node):
        cls = resolve_class(node["class_path"], f"{where}.class_path")  # checked already
        args = {
            k: _build(v, f"{where}.init_args.{k}") for k, v in (node.get("init_args") or {}).items()
        }
        try:
            return cls(**args)
        except (TypeError, ValueError) as err:
            raise ConfigError(f"{where}: cannot build '{node['class_path']}': {err}") from err
    if isinstance(node, Mapping):
        return {k: _build(v, f"{where}.{k}") for k, v in node.items()}
    if isinstance(node, list):
        return [_build(v, f"{where}.{i}") for i, v in enumerate(node)]
    return node


# --------------------------------------------------------------------------- defaults
def _plain(value: Any) -> bool:
    """True for values YAML can write and read back unchanged."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def complete_defaults(node: Any) -> Any:
    """A copy of ``node`` in which every class node lists all its init args.

    Arguments left out are filled with their defaults when those are plain YAML
    values, so the written config records every setting the run used.
    """
    if is_class_node(node):
        cls = resolve_class(node["class_path"])
        given = dict(node.get("init_args") or {})
        named, _ = _parameters(cls)
        args: dict[str, Any] = {}
        for name, p in named.items():
            if name in given:
                args[name] = complete_defaults(given.pop(name))
            elif p.default is not p.empty and _plain(p.default):
                args[name] = list(p.default) if isinstance(p.default, tuple) else p.default
        args.update({k: complete_defaults(v) for k, v in given.items()})
        return {"class_path": node["class_path"], "init_args": args}
    if isinstance(node, Mapping):
        return {k: complete_defaults(v) for k, v in node.items()}
    if isinstance(node, list):
        return [complete_defaults(v) for v in node]
    return copy.deepcopy(node)


# --------------------------------------------------------------------------- loading
def _line_origins(text: str, source: str) -> dict[_Key, str]:
    """Key path -> ``"<source>:<line>"`` for every mapping key and list item in ``text``."""
    import yaml

    origins: dict[_Key, str] = {}

    def walk(node: Any, key: _Key) -> None:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                origins[key + (k.value,)] = f"{source}:{k.start_mark.line + 1}"
                walk(v, key + (k.value,))
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                origins[key + (i,)] = f"{source}:{v.start_mark.line + 1}"
                walk(v, key + (i,))

    try:
        walk(yaml.compose(text), ())
    except yaml.YAMLError:
        pass
    return origins


def read_yaml(path: str | Path, error: type[ConfigError] | Any = ConfigError) -> tuple[Any, str]:
    """``(data, text)`` of a YAML file read with ``yaml.safe_load``; errors name the file/line."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except IsADirectoryError:
        raise error(f"{path}: is a directory, expected a YAML file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise error(f"{path}: cannot read ({err})") from None
    try:
        return yaml.safe_load(text), text
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or "invalid YAML"
        raise error(f"{path}{line}: invalid YAML: {problem}") from None


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"a.b=3"`` -> ``(["a", "b"], 3)``; the value is parsed with ``yaml.safe_load``."""
    import yaml

    key, sep, raw = text.partition("=")
    parts = key.strip().split(".")
    if not sep or not all(parts):
        raise ConfigError(f"override '{text}': expected key=value with a dotted key (a.b.c=value)")
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        raise ConfigError(f"override '{text}': the value is not valid YAML") from None
    return parts, value


def apply_override(cfg: dict, text: str, known_keys: Sequence[str] | None = None) -> _Key:
    """Apply one ``key=value`` override to ``cfg`` in place; returns the key path it set."""
    parts, value = parse_override(text)
    if known_keys is not None and parts[0] not in known_keys:
        raise ConfigError(f"override '{text}': unknown key '{parts[0]}'{hint(parts[0], known_keys)}")
    node: Any = cfg
    key: _Key = ()
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if is_class_node(node) and part not in ("class_path", "init_args"):
            if node.get("init_args") is None:
                node["init_args"] = {}
            node = node["init_args"]
            key += ("init_args",)
        if isinstance(node, list):
            if not (part.isdigit() and int(part) < len(node)):
                raise ConfigError(f"override '{text}': '{_dotted(key)}' is a list; '{part}' is not an index in it")
            part = int(part)  # type: ignore[assignment]
        elif not isinstance(node, dict):
            raise ConfigError(f"override '{text}': '{_dotted(key)}' is a {type(node).__name__}, not a section")
        key += (part,)
        if last:
            node[part] = value
        else:
            if isinstance(node, dict) and node.get(part) is None:
                node[part] = {}
            node = node[part]
    return key


def load_config(path: str | Path, overrides: Sequence[str] = (), *,
                known_keys: Sequence[str] | None = TRAIN_KEYS) -> dict:
    """Read a YAML config, apply ``key=value`` overrides and check it; nothing is built.

    Raises :class:`ConfigError` (naming the file and line, or the override) for an
    unreadable file, invalid YAML, an unknown top-level key (with a "did you mean"
    hint; ``known_keys=None`` accepts any), and any class node that names a
    non-audiokit class or unknown/missing init args.
    """
    data, text = read_yaml(path)
    source = str(path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: a config must be a mapping of keys to values")
    origins = _line_origins(text, source)
    if known_keys is not None:
        for k in data:
            if k not in known_keys:
                loc = origins.get((k,), source)
                raise ConfigError(f"{loc}: unknown key '{k}'{hint(k, known_keys)}")
    for text_ in overrides:
        key = apply_override(data, text_, known_keys)
        for k in [k for k in origins if k[: len(key)] == key]:
            del origins[k]
        origins[key] = f"override '{text_}'"
    check_class_paths(data, source, origins)
    return data


def dump_config(cfg: Mapping) -> str:
    """The config as YAML text, keys in their given order."""
    import yaml

    return yaml.safe_dump(_to_plain(cfg), sort_keys=False, default_flow_style=False, allow_unicode=True)


def _to_plain(node: Any) -> Any:
    if isinstance(node, Mapping):
        return {str(k): _to_plain(v) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [_to_plain(v) for v in node]
    return node
