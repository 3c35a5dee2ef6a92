"""`include:` in mlform.yaml: more files of entries (`components:`, `resources:`, `outputs:`,
`import:`, `moved:`, `removed:`) read as if they were written in the config itself.

Paths are relative to the including file; glob patterns are allowed (matches sorted, a pattern
matching nothing is fine, a plain path that names no file is an error). Each entry keeps the
position of the file it was written in, so every later error names that file; an entry
defined in two files is an error naming both places.
"""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Any

from mlform.config.yamlpos import Positions, decode, load_yaml
from mlform.errors import ConfigError, MlformError

SECTIONS: dict[str, type] = {"components": dict, "resources": dict, "outputs": dict,
                             "import": list, "moved": list, "removed": list}
_KIND = {"components": "component", "resources": "resource", "outputs": "output"}


def include_files(raw: dict[str, Any], positions: Positions, config_path: Path,
                  problems: list[MlformError]) -> list[Path]:
    """The files `include:` names, in order, each once (the config itself left out of
    patterns); problems with the list are appended to `problems`."""
    spec = raw.get("include")
    if spec is None:
        return []
    if not isinstance(spec, list) or not all(isinstance(p, str) and p for p in spec):
        problems.append(MlformError(
            "include: expected a list of file paths, relative to this file (glob patterns "
            "allowed), such as [generated.yaml]", pos=positions.of(("include",))))
        return []
    base = config_path.parent
    me = config_path.resolve()
    files: dict[Path, Path] = {}
    for i, pattern in enumerate(spec):
        if glob.has_magic(pattern):
            found = [base / m for m in sorted(glob.glob(pattern, root_dir=base))]
            found = [p for p in found if p.is_file() and p.resolve() != me]
        else:
            path = base / pattern
            why = ("a config cannot include itself" if path.resolve() == me else
                   None if path.is_file() else f"no file {path}")
            if why:
                problems.append(MlformError(f"include[{i}]: {why}",
                                            pos=positions.of(("include", i))))
                continue
            found = [path]
        for path in found:
            files.setdefault(path.resolve(), path)
    return list(files.values())


def merge_includes(raw: dict[str, Any], positions: Positions, config_path: Path) -> list[Path]:
    """Add the entries of every included file to `raw` (the config's data) and their positions
    to `positions`; the files read. ConfigError listing every problem found."""
    problems: list[MlformError] = []
    files = include_files(raw, positions, config_path, problems)
    for path in files:
        try:
            data, where = load_yaml(decode(path.read_bytes(), str(path)), str(path))
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        except OSError as exc:
            problems.append(MlformError(f"cannot read included file {path}: {exc}",
                                        pos=positions.of(("include",))))
            continue
        if data is not None:
            _merge(raw, positions, data, where, config_path, problems)
    if problems:
        raise ConfigError(problems)
    return files


def _merge(raw: dict[str, Any], positions: Positions, data: Any, where: Positions,
           config_path: Path, problems: list[MlformError]) -> None:
    if not isinstance(data, dict):
        problems.append(MlformError(
            f"an included file is a mapping of {_sections()}", pos=where.of(())))
        return
    renamed: dict[tuple[str | int, ...], str | int] = {}  # entry -> its key or index in raw
    for section, entries in data.items():
        if section not in SECTIONS:
            why = ("nested includes are not supported: list every file in the `include:` of "
                   f"{config_path.name}" if section == "include" else
                   f"an included file may hold only {_sections()}; `{section}:` belongs in "
                   f"{config_path.name}")
            problems.append(MlformError(f"{section}: {why}", pos=where.key((section,))))
            continue
        kind = SECTIONS[section]
        if entries is None:
            continue
        if not isinstance(entries, kind):
            problems.append(MlformError(
                f"{section}: expected {'a mapping' if kind is dict else 'a list'}",
                pos=where.of((section,))))
            continue
        target = raw.setdefault(section, kind())
        if isinstance(entries, dict) and isinstance(target, dict):
            for name, body in entries.items():
                if name in target:
                    first = positions.key((section, name))
                    problems.append(MlformError(
                        f"{section}.{name}: {_KIND[section]} '{name}' is defined twice: at "
                        f"{first} and here", pos=where.key((section, name))))
                    continue
                target[name] = body
                renamed[(section, name)] = name
        elif isinstance(entries, list) and isinstance(target, list):
            for i, item in enumerate(entries):
                renamed[(section, i)] = len(target)
                target.append(item)
        # (else the config's own section is malformed: reported when it is checked)
    _copy_positions(positions, where, renamed)


def _copy_positions(positions: Positions, where: Positions,
                    renamed: dict[tuple[str | int, ...], str | int]) -> None:
    """The included entries' positions, under the paths they have in the merged config."""
    tables: list[tuple[dict[Any, Any], dict[Any, Any]]] = [
        (positions.keys, where.keys), (positions.values, where.values),
        (positions.texts, where.texts)]
    for mine, theirs in tables:
        for path, mark in theirs.items():
            new = renamed.get(path[:2]) if len(path) >= 2 else None
            if new is not None:
                mine[(path[0], new, *path[2:])] = mark
    for (section, _), new in renamed.items():
        positions.origins[(section, new)] = where.file


def _sections() -> str:
    names = list(SECTIONS)
    return ", ".join(f"`{n}:`" for n in names[:-1]) + f" and `{names[-1]}:`"
