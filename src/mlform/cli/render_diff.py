"""Values and their differences as a plan prints them, Terraform's way: nested blocks and maps
key by key, lists element by element, and JSON documents (policies, pipeline definitions)
inside `jsonencode(...)`, key by key too."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from mlform.cli.style import SENSITIVE, Style
from mlform.providers.schema import map_documents
from mlform.values import UNKNOWN

_COLOR = {"+": "green", "~": "yellow", "-": "red", "-/+": "red", "+/-": "green"}
# Fields that name a list's elements (a pipeline step's `Name`, a feature's `feature_name`),
# most telling first: a changed element is matched and labelled by it.
_IDENTITY = ("name", "Name", "Sid", "id", "Id")


@dataclass(frozen=True)
class Document:
    """A JSON document held in a string argument, decoded to be shown key by key."""

    value: Any


def documents(model: type[BaseModel], attrs: dict[str, Any]) -> dict[str, Any]:
    """`attrs` with the values of `model`'s `JsonDocument` fields decoded to `Document`s
    (a value that is not JSON stays the text it is)."""
    def decode(value: Any) -> Any:
        if isinstance(value, str):
            try:
                return Document(json.loads(value))
            except ValueError:
                return value
        # Before apply a document that refers to unknown values is still a structure.
        return Document(value) if isinstance(value, (dict, list)) else value

    return map_documents(model, attrs, decode)  # type: ignore[no-any-return]


def fmt(value: Any) -> str:
    """One value as it reads in a plan (strings quoted, unknown spelled out)."""
    if value is UNKNOWN:
        return "(known after apply)"
    if value is SENSITIVE:  # the mask itself, unquoted as Terraform shows it
        return str(SENSITIVE)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (dict, list)) and not value:
        return "{}" if isinstance(value, dict) else "[]"
    if isinstance(value, Document):
        return f"jsonencode({_compact(value.value)})"
    return str(value)


def _key(k: Any) -> str:
    k = str(k)
    return k if k.isidentifier() else json.dumps(k)


def _compact(value: Any) -> str:
    if isinstance(value, (dict, list)) and value:
        return json.dumps(value, sort_keys=True, default=fmt)
    return fmt(value)


def _hidden(count: int, noun: str) -> str:
    return f"# ({count} unchanged {noun}{'s' if count != 1 else ''} hidden)"


def _identity(before: list[Any], after: list[Any]) -> str | None:
    """The field that names every element of both lists, uniquely in each, if there is one."""
    items = before + after
    if not items or not all(isinstance(x, dict) for x in items):
        return None
    common = set.intersection(*(set(x) for x in items))
    candidates = [k for k in _IDENTITY if k in common]
    candidates += sorted(k for k in common if k.lower().endswith("name") and k not in _IDENTITY)
    for k in candidates:
        if all(isinstance(x[k], (str, int)) and not isinstance(x[k], bool) for x in items) and all(
                len({x[k] for x in side}) == len(side) for side in (before, after)):
            return k
    return None


class Lines:
    """Builds the indented body of one resource block."""

    def __init__(self, style: Style) -> None:
        self.style = style
        self.out: list[str] = []

    def sym(self, symbol: str) -> str:
        color = _COLOR.get(symbol)
        return self.style.paint(symbol, color) if color else symbol

    def add(self, indent: int, symbol: str, text: str) -> None:
        self.out.append(" " * indent + self.sym(symbol) + " " + text)

    def close(self, indent: int, text: str) -> None:
        self.out.append(" " * (indent + 2) + text)

    def note(self, indent: int, text: str) -> None:
        self.out.append(" " * (indent + 4) + self.style.dim(text))

    # whole values (create: all "+", delete: all "-") ------------------------------------

    def value(self, indent: int, symbol: str, key: str, width: int, value: Any,
              suffix: str = "", comma: str = "") -> None:
        """`key = value` (just `value` without a key), every line marked `symbol`."""
        label = f"{key.ljust(width)} = " if key else ""
        if isinstance(value, Document):
            self.add(indent, symbol, f"{label}jsonencode({suffix}")
            self.value(indent + 4, symbol, "", 0, value.value)
            self.close(indent, f"){comma}")
        elif isinstance(value, dict) and value:
            self.add(indent, symbol, f"{label}{{{suffix}")
            shown = {k: v for k, v in value.items() if v is not None}
            inner = max((len(_key(k)) for k in shown), default=0)
            for k, v in sorted(shown.items()):
                self.value(indent + 4, symbol, _key(k), inner, v)
            self.close(indent, f"}}{comma}")
        elif isinstance(value, list) and value:
            self.add(indent, symbol, f"{label}[{suffix}")
            for item in value:
                self.value(indent + 4, symbol, "", 0, item, comma=",")
            self.close(indent, f"]{comma}")
        else:
            tail = " -> null" if symbol == "-" and key else ""
            self.add(indent, symbol, f"{label}{fmt(value)}{tail}{comma}{suffix}")

    # differences (update / replace) ----------------------------------------------------

    def diff(self, indent: int, key: str, width: int, before: Any, after: Any,
             suffix: str = "") -> None:
        """How `key` changes from `before` to `after` (just the value's change without a
        key: a document's body)."""
        label = f"{key.ljust(width)} = " if key else ""
        if before is SENSITIVE and after is SENSITIVE:  # changed, but neither value is shown
            self.add(indent, "~", f"{label}{SENSITIVE}{suffix}")
        elif before is None and after is not None:
            self.value(indent, "+", key, width, after, suffix)
        elif after is None and before is not None:
            self.value(indent, "-", key, width, before, suffix)
        elif isinstance(before, Document) and isinstance(after, Document):
            self.add(indent, "~", f"{label}jsonencode({suffix}")
            self.diff(indent + 4, "", 0, before.value, after.value)
            self.close(indent, ")")
        elif isinstance(before, dict) and isinstance(after, dict):
            self.add(indent, "~", f"{label}{{{suffix}")
            keys = sorted(set(before) | set(after))
            changed = [k for k in keys if before.get(k) != after.get(k)
                       or after.get(k) is UNKNOWN]
            inner = max((len(_key(k)) for k in changed), default=0)
            for k in changed:
                self.diff(indent + 4, _key(k), inner, before.get(k), after.get(k))
            if len(keys) > len(changed):
                self.note(indent + 2, _hidden(len(keys) - len(changed), "element"))
            self.close(indent, "}")
        elif isinstance(before, list) and isinstance(after, list) and not any(
                isinstance(x, (dict, list)) for x in before + after):
            self.add(indent, "~", f"{label}[{suffix}")
            for item in before:
                if item not in after:
                    self.add(indent + 4, "-", f"{fmt(item)},")
            for item in after:
                if item not in before:
                    self.add(indent + 4, "+", f"{fmt(item)},")
            kept = sum(1 for item in after if item in before)
            if kept:
                self.note(indent + 2, _hidden(kept, "element"))
            self.close(indent, "]")
        elif isinstance(before, list) and isinstance(after, list):
            self.add(indent, "~", f"{label}[{suffix}")
            self._elements(indent + 4, before, after)
            self.close(indent, "]")
        else:
            self.add(indent, "~", f"{label}{_compact(before)} -> {_compact(after)}{suffix}")

    def _elements(self, indent: int, before: list[Any], after: list[Any]) -> None:
        """A list of blocks, element by element: matched and labelled by the field that names
        them (`"train" = {`) where there is one, else by position (`[0] = {`)."""
        pairs: list[tuple[str, Any, Any]]
        ident = _identity(before, after)
        if ident is not None:
            old = {x[ident]: x for x in before}
            new = {x[ident]: x for x in after}
            order = [x[ident] for x in after] + [k for k in old if k not in new]
            pairs = [(fmt(k), old.get(k), new.get(k)) for k in order]
        else:
            pairs = [(f"[{i}]", before[i] if i < len(before) else None,
                      after[i] if i < len(after) else None)
                     for i in range(max(len(before), len(after)))]
        changed = [(k, b, a) for k, b, a in pairs if b != a]
        width = max((len(k) for k, _, _ in changed), default=0)
        for k, b, a in changed:
            self.diff(indent, k, width, b, a)
        if len(pairs) > len(changed):
            self.note(indent - 2, _hidden(len(pairs) - len(changed), "element"))


def lines_sym(style: Style, symbol: str) -> str:
    return style.paint(symbol, _COLOR[symbol]) if symbol in _COLOR else symbol
