"""Reading kpi.yaml: its YAML (UTF-8, dates that are no dates kept as text), the keys a mapping
repeats, and ``${NAME}`` references filled from the environment. Every problem is a
:class:`ConfigError` naming where it is."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ConfigError(ValueError):
    """kpi.yaml is invalid; ``problems`` holds (yaml path, message) pairs."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {path}: {msg}" for path, msg in problems)
        super().__init__(f"{source} is invalid ({len(problems)} problem(s)):\n{lines}")


class _Loader(yaml.SafeLoader):
    """YAML's safe loader, except that a date-like scalar that is no date (2025-13-01) stays a
    string, so validation names its path instead of the parser raising."""


def _timestamp_or_text(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError:
        return loader.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_or_text)


def duplicate_keys(node: yaml.Node | None, path: str = "") -> list[tuple[str, str]]:
    """(yaml path, message) of every key a mapping repeats: YAML keeps the last silently, so
    ``currency: EUR`` then ``currency: USD`` would mean USD without a word."""
    out: list[tuple[str, str]] = []
    if isinstance(node, yaml.MappingNode):
        first: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            where = f"{path}.{key}" if path else str(key)
            if key is not None and key != "<<":  # a merge key (<<: *base) may repeat by design
                line = key_node.start_mark.line + 1
                if key in first:
                    out.append(
                        (where, f"duplicate key {key!r} (line {line}; first on line {first[key]})")
                    )
                else:
                    first[key] = line
            out.extend(duplicate_keys(value_node, where))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out.extend(duplicate_keys(item, f"{path}.{i}" if path else str(i)))
    return out


def read_yaml(config_path: Path) -> tuple[Any, list[tuple[str, str]]]:
    """The parsed file and its duplicate keys as (yaml path, message)."""
    data = config_path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise ConfigError(
            str(config_path),
            [
                (
                    f"line {line}",
                    f"not UTF-8 text (byte 0x{data[err.start]:02x}); "
                    "save the file as UTF-8 (in most editors: Save as > Encoding)",
                )
            ],
        ) from None
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        return (
            loader.construct_document(node) if node is not None else None
        ) or {}, duplicate_keys(node)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "(file)"
        raise ConfigError(
            str(config_path), [(where, f"not valid YAML: {getattr(err, 'problem', err)}")]
        ) from None
    finally:
        loader.dispose()


def interpolate(node: Any, path: str, env: dict[str, str], missing: list[tuple[str, str]]) -> Any:
    if isinstance(node, dict):
        return {
            k: interpolate(v, f"{path}.{k}" if path else str(k), env, missing)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [interpolate(v, f"{path}.{i}", env, missing) for i, v in enumerate(node)]
    if isinstance(node, str) and _ENV_REF.search(node):
        names = _ENV_REF.findall(node)
        absent = [n for n in names if not env.get(n)]
        if absent:
            missing.extend((path, n) for n in absent)
            return None
        return _ENV_REF.sub(lambda m: env[m.group(1)], node)
    return node
