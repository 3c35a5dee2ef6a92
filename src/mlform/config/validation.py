"""pydantic validation errors -> messages that name the file, line, config path and fix."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from typing import Any, Protocol

import yaml
from pydantic import BaseModel, ValidationError

from mlform.config.yamlpos import Path
from mlform.errors import MlformError, SourcePos
from mlform.providers.schema import nested_model


class PositionLookup(Protocol):
    """Where config paths are in the source (`Positions`, or a stand-in)."""

    def of(self, path: Path) -> SourcePos | None: ...

    def key(self, path: Path) -> SourcePos | None: ...


def dotted(path: Iterable[str | int]) -> str:
    """`("resources", "aws_s3_bucket.x", "rule", 0)` -> `resources.aws_s3_bucket.x.rule[0]`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def suggest(word: str, choices: Iterable[str], noun: str = "valid keys") -> str:
    """`; did you mean 'x'?` or the list of choices, for the end of a message."""
    options = sorted(set(choices))
    close = _closest(word, options)
    if close:
        return f"; did you mean '{close}'?"
    if not options:
        return ""
    if len(options) > 12:
        return f"; {noun} include: {', '.join(options[:12])}, ..."
    return f"; {noun}: {', '.join(options)}"


def _closest(word: str, options: list[str]) -> str | None:
    """The option most like `word`, judged on what follows their shared `type.` prefix, so
    that `mlform_data.nope` is not "close" to `mlform_data.c` just for sharing a type."""
    best, best_score = None, 0.0
    for option in options:
        a, b = word, option
        cut = _shared_dotted_prefix(a, b)
        score = difflib.SequenceMatcher(None, a[cut:], b[cut:]).ratio()
        if score > best_score:
            best, best_score = option, score
    return best if best_score >= 0.6 else None


def _shared_dotted_prefix(a: str, b: str) -> int:
    n = 0
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            break
        if x == ".":
            n = i + 1
    return n


_TYPE_NAMES = {
    "str": "a string", "int": "an integer", "float": "a number", "bool": "true or false",
    "dict": "a mapping", "list": "a list", "NoneType": "null",
}


def _describe(value: Any) -> str:
    name = _TYPE_NAMES.get(type(value).__name__, type(value).__name__)
    if isinstance(value, (dict, list)):
        return name
    shown = repr(value)
    return f"{name} ({shown if len(shown) < 40 else shown[:37] + '...'})"


def keys_at(model: type[BaseModel], loc: tuple[str | int, ...]) -> list[str]:
    """The keys a user may write in the mapping at `loc` inside `model`, as written in YAML
    (a field's alias: `import`, not `import_`)."""
    current: type[BaseModel] = model
    i = 0
    while i < len(loc):
        part = loc[i]
        fields = {info.alias or name: info for name, info in current.model_fields.items()}
        if not isinstance(part, str) or part not in fields:
            return []
        nested = nested_model(fields[part].annotation)
        if nested is None:
            return []
        kind, current = nested
        i += 2 if kind in ("list", "dict") else 1  # (past the index or map key)
    return [info.alias or name for name, info in current.model_fields.items()]


def quote_hint(value: Any, text: str | None) -> str | None:
    """`the boolean true (YAML reads yes as a boolean); quote it: "yes"` when `text` is the
    plain scalar YAML read as `value`, else None."""
    if text is None or not isinstance(value, (bool, int, float)):
        return None
    try:
        read = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    if type(read) is not type(value) or read != value:
        return None  # `text` is not where this value came from
    if isinstance(value, bool):
        what, kind = f"the boolean {'true' if value else 'false'}", "a boolean"
    else:
        what, kind = f"the number {value}", "a number"
    return f'{what} (YAML reads {text} as {kind}); quote it: "{text}"'


def _message(err: Any, model: type[BaseModel], loc: tuple[str | int, ...],
             text: str | None = None) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        key = str(loc[-1])
        return f"unknown key '{key}'{suggest(key, keys_at(model, loc[:-1]))}"
    if kind == "missing":
        return f"missing required key '{loc[-1]}'"
    if kind == "string_type":
        hint = quote_hint(err.get("input"), text)
        if hint:
            return f"expected a string, got {hint}"
    msg: str = err["msg"]
    if msg.startswith("Input should be "):
        msg = "expected " + msg[len("Input should be ") :]
    elif msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    else:
        msg = msg[0].lower() + msg[1:]
    if kind == "value_error" and isinstance(err.get("input"), dict):
        return msg  # a check across a mapping's keys: the mapping is the user's own text
    if "input" in err and kind not in ("string_pattern_mismatch",):
        msg += f", got {_describe(err['input'])}"
    elif kind == "string_pattern_mismatch":
        msg += f", got {err['input']!r}"
    return msg


def validation_problems(
    exc: ValidationError,
    model: type[BaseModel],
    positions: PositionLookup,
    prefix: Path = (),
    *,
    ignore: Callable[[tuple[str | int, ...]], bool] | None = None,
    label: str | None = None,
) -> list[MlformError]:
    """One MlformError per pydantic error, positioned at the offending key or value.

    `ignore(loc)` drops errors at locations whose value cannot be checked yet (it holds a
    reference to another resource's attribute, known only after apply).
    """
    problems: list[MlformError] = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        if ignore is not None and ignore(loc):
            continue
        kind = err["type"]
        shown = loc[:-1] if kind == "missing" else loc
        full = (*prefix, *shown)
        pos = positions.key(full) if kind == "extra_forbidden" else positions.of(full)
        if label:
            where = f"{label}.{dotted(shown)}" if shown else label
        else:
            where = dotted(full) or "(top level)"
        text_at = getattr(positions, "text", None)
        text = text_at(full) if text_at is not None else None
        problems.append(MlformError(f"{where}: {_message(err, model, loc, text)}", pos=pos))
    return problems
