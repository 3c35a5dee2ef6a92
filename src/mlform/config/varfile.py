"""`--var-file FILE`: variable values from a YAML mapping, as Terraform's `-var-file`.

Precedence, lowest first: a variable's `default`, its value for the environment in the config,
each var file in the order given (a later file wins), then `--var` (last wins).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlform.config.validation import suggest
from mlform.config.yamlpos import Positions, decode, load_yaml
from mlform.errors import ConfigError, MlformError, SourcePos


@dataclass
class VarFile:
    """One var file, read: its values and where each is written."""

    path: str
    values: dict[str, Any]
    positions: Positions


def read_var_file(path: str | os.PathLike[str]) -> VarFile:
    """Read one var file; ConfigError (located where there is a place to point at) if it is
    missing, not YAML, or not a mapping."""
    name = os.fspath(path)
    try:
        data = Path(name).read_bytes()
    except FileNotFoundError:
        raise ConfigError.single(f"--var-file {name}: file not found") from None
    except OSError as exc:
        raise ConfigError.single(f"--var-file {name}: cannot read it ({exc.strerror})") from None
    raw, positions = load_yaml(decode(data, name), name)
    if raw is None:  # an empty file sets nothing
        return VarFile(name, {}, positions)
    if not isinstance(raw, dict):
        raise ConfigError.single(
            f"a var file is a mapping of variable name -> value, got {_kind(raw)}",
            positions.of(()) or SourcePos(name, 1, 1))
    return VarFile(name, raw, positions)


def merge_var_files(files: Sequence[VarFile], declared: Mapping[str, Any],
                    config_path: Path) -> tuple[dict[str, Any], list[MlformError]]:
    """The values the files set, later files winning, and one located problem per name that
    no variable of the config declares."""
    values: dict[str, Any] = {}
    problems: list[MlformError] = []
    for vf in files:
        for name, value in vf.values.items():
            if name in declared:
                values[name] = value
                continue
            problems.append(MlformError(
                f"{name}: no variable '{name}' is declared in {config_path}"
                f"{suggest(name, declared, 'declared')}", pos=vf.positions.key((name,))))
    return values, problems


def _kind(value: Any) -> str:
    return "a list" if isinstance(value, list) else repr(value)
