"""Adding generated sections to a config file without disturbing what is written there.

The user's file keeps its comments, order and layout: new entries are appended under an existing
block-style `components:` or `resources:` key (at that section's indentation), or as a new
section at the end.
"""

from __future__ import annotations

import fnmatch
import glob
import re
from typing import Any

import yaml

from mlform.errors import MlformError


def dump_entries(entries: dict[str, Any] | list[Any], indent: int) -> list[str]:
    """`entries` as block YAML lines, indented by `indent` spaces (the items of a list each on
    one line)."""
    # A list of mappings is one `- {...}` a line; a list of plain values one `- value` a line.
    flow = isinstance(entries, list) and any(isinstance(e, (dict, list)) for e in entries)
    text = yaml.safe_dump(entries, default_flow_style=None if flow else False,
                          sort_keys=False, width=100, allow_unicode=True)
    return [" " * indent + line if line else line for line in text.splitlines()]


def add_entries(text: str, section: str, entries: dict[str, Any] | list[Any],
                comment: str = "") -> str:
    """`text` (a config) with `entries` added under the top-level key `section` (a mapping, or
    a list such as `import:`)."""
    if not entries:
        return text
    lines = text.splitlines()
    key = re.compile(rf"^{re.escape(section)}:\s*(#.*)?$")
    at = next((i for i, line in enumerate(lines) if key.match(line)), None)
    if at is None:
        if any(re.match(rf"^{re.escape(section)}:", line) for line in lines):
            raise MlformError(f"`{section}:` is written in flow style ({{...}} or [...]); write "
                              "it as a block (one entry per line) so entries can be added to it")
        block = ([f"# {comment}"] if comment else []) + [f"{section}:"]
        body = dump_entries(entries, 2)
        while lines and not lines[-1].strip():
            lines.pop()
        return "\n".join([*lines, "", *block, *body]) + "\n"
    end, indent = at + 1, 2
    for j in range(at + 1, len(lines)):
        stripped = lines[j].strip()
        if not stripped or stripped.startswith("#"):
            continue
        width = len(lines[j]) - len(lines[j].lstrip())
        if width == 0 and not (isinstance(entries, list) and stripped.startswith("- ")):
            break  # (a list's items may sit at the key's own indentation)
        indent = indent if end > at + 1 else width
        end = j + 1
    body = ([" " * indent + f"# {comment}"] if comment else []) + dump_entries(entries, indent)
    return "\n".join([*lines[:end], *body, *lines[end:]]) + "\n"


def add_include(text: str, name: str) -> str:
    """`text` (a config) with `name` added to its `include:` list, unless the list already
    names it or has a pattern matching it. A one-line flow list (`include: [a.yaml]`) gets the
    name added inside its brackets; otherwise it is a block list item."""
    data = yaml.safe_load(text) if text.strip() else None
    listed = data.get("include") if isinstance(data, dict) else None
    if isinstance(listed, list) and any(
            isinstance(p, str) and (p == name or (glob.has_magic(p) and not name.startswith(".")
                                                 and fnmatch.fnmatchcase(name, p)))
            for p in listed):
        return text
    lines = text.splitlines()
    flow = re.compile(r"^(include:\s*\[)(.*?)(\]\s*(#.*)?)$")
    for i, line in enumerate(lines):
        m = flow.match(line)
        if m:
            items = m.group(2).strip()
            lines[i] = f"{m.group(1)}{items + ', ' if items else ''}{name}{m.group(3)}"
            return "\n".join(lines) + "\n"
    return add_entries(text, "include", [name])


def set_environment_value(text: str, path: tuple[str, ...], environment: str,
                          value: Any) -> str:
    """`text` (a config) with the mapping at `path` (a variable, `("variables", "v")`, or a
    per-environment setting, `("components", "api", "replicas")`) giving `environment` the
    value `value`: the entry is replaced where it is written, or added to the mapping (inside
    its braces for a flow mapping, as a line like its others for a block one). Everything
    else, comments included, stays as it is."""
    node = yaml.compose(text)
    for key in path:
        found = None
        if isinstance(node, yaml.MappingNode):
            found = next((v for k, v in node.value if k.value == key), None)
        if found is None:
            raise MlformError(f"{'.'.join(path)} is not written in the config")
        node = found
    if not isinstance(node, yaml.MappingNode):
        raise MlformError(f"{'.'.join(path)} is not a mapping of values per environment")
    scalar = flow_value(value)
    for key, item in node.value:
        if key.value == environment:
            start, end = item.start_mark.index, item.end_mark.index
            return text[:start] + scalar + text[end:]
    if node.flow_style:
        end = node.end_mark.index - 1  # the closing brace
        inner = text[node.start_mark.index + 1:end].strip()
        sep = ", " if inner else ""
        return text[:end].rstrip() + f"{sep}{environment}: {scalar}" + text[end:]
    last = node.value[-1][1]
    column: int = node.value[0][0].start_mark.column
    at = text.find("\n", last.end_mark.index - 1)
    at = len(text) if at < 0 else at
    return text[:at] + "\n" + " " * column + f"{environment}: {scalar}" + text[at:]


def flow_value(value: Any) -> str:
    """`value` as YAML on one line (`v2`, `"1.10"`, `[a, b]`)."""
    dumped = str(yaml.safe_dump(value, default_flow_style=True, width=10_000)).strip()
    return dumped[: -len("...")].strip() if dumped.endswith("...") else dumped
