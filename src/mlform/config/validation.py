"""pydantic validation errors -> messages that name the file, line, config path and fix."""

from __future__ import annotations

import difflib
import re
import types
import typing
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


# What a type mismatch expected, in the words the config uses (pydantic says "a valid
# dictionary or instance of Autoscale" where YAML has a mapping).
_EXPECTED = {
    "string_type": "a string", "int_type": "an integer", "int_parsing": "an integer",
    "float_type": "a number", "float_parsing": "a number", "bool_type": "true or false",
    "bool_parsing": "true or false", "dict_type": "a mapping", "model_type": "a mapping",
    "model_attributes_type": "a mapping", "list_type": "a list",
}


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
    if kind in ("dict_type", "model_type", "model_attributes_type", "list_type"):
        msg = f"expected {_EXPECTED[kind]}"
    elif msg.startswith("Input should be "):
        msg = "expected " + msg[len("Input should be ") :]
    elif msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    else:
        msg = msg[0].lower() + msg[1:]
    return msg + _got(err)


def _got(err: Any) -> str:
    """`, got a list` for the end of a message, where saying what was given helps."""
    kind = err["type"]
    if "input" not in err:
        return ""
    if kind == "string_pattern_mismatch":
        return f", got {err['input']!r}"
    # A check of our own on a mapping (a whole component, `gpu: {count: x}`) is about what is
    # inside it, and its message says what; one that already says what it got needs no more.
    if kind == "value_error" and (isinstance(err["input"], dict) or "got " in err["msg"]):
        return ""
    return f", got {_describe(err['input'])}"


def _union_members(model: type[BaseModel], loc: tuple[str | int, ...]) -> set[int]:
    """The positions in `loc` that name a member of a union (`gpu: str | dict` puts `str` or
    `dict[str,any]` after `gpu`), which are not part of the config path."""
    tags: set[int] = set()
    current: Any = model
    i = 0
    while i < len(loc) and isinstance(current, type) and issubclass(current, BaseModel):
        part = loc[i]
        fields = {info.alias or name: info for name, info in current.model_fields.items()}
        if not isinstance(part, str) or part not in fields:
            break
        annotation = _strip_annotated(fields[part].annotation)
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        i += 1
        if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(members) > 1:
            if i < len(loc):
                tags.add(i)
                current = next((m for m in members if getattr(m, "__name__", None) == loc[i]),
                               None)
                i += 1
            continue
        nested = nested_model(annotation)
        if nested is None:
            break
        kind, current = nested
        if kind in ("list", "dict"):
            i += 1  # (past the index or map key)
    return tags


def _strip_annotated(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _merge_unions(model: type[BaseModel], errors: list[Any]) -> list[dict[str, Any]]:
    """pydantic reports a value that fits no member of a union once per member, under the
    member's name. One error instead: the deeper problems of a member the value had the shape
    of (a mapping with a bad key), or else `expected a string or a mapping, got a list`."""
    stripped: list[tuple[dict[str, Any], tuple[str | int, ...] | None]] = []
    deeper: set[tuple[str | int, ...]] = set()  # unions with problems inside a member
    for err in errors:
        loc = tuple(p for p in err["loc"]
                    if not (isinstance(p, str) and p.startswith("function-")))
        tags = _union_members(model, loc)
        # The config path of the innermost union: what comes before its member's name.
        union_loc = tuple(p for i, p in enumerate(loc[: max(tags)]) if i not in tags) \
            if tags else None
        loc = tuple(p for i, p in enumerate(loc) if i not in tags)
        stripped.append((dict(err, loc=loc), union_loc))
        if union_loc is not None and len(loc) > len(union_loc):
            deeper.add(union_loc)
    out: list[dict[str, Any]] = []
    merged: dict[tuple[str | int, ...], dict[str, Any]] = {}
    for err, union_loc in stripped:
        if union_loc is None or err["loc"] != union_loc:
            out.append(err)
        elif union_loc in deeper:
            continue
        elif union_loc in merged:
            merged[union_loc]["expected"].append(_expected(err))
        else:
            merged[union_loc] = dict(err, expected=[_expected(err)])
            out.append(merged[union_loc])
    return out


def _expected(err: Any) -> str:
    if err["type"] in _EXPECTED:
        return _EXPECTED[err["type"]]
    msg: str = err["msg"]
    return msg[len("Input should be "):] if msg.startswith("Input should be ") else msg


def _leading_field(model: type[BaseModel], message: str,
                   given: Any) -> tuple[tuple[str, ...], bool, tuple[str, ...]] | None:
    """The field a model-wide check's message is about, when it starts with it:
    `nodes: expected MIN..MAX` -> (nodes,) as a label to take off the message;
    `gpu.count must be ...` -> (gpu, count), part of the sentence. With the part of that path
    the user wrote (in `given`, the checked mapping), where the message belongs."""
    m = re.match(r"([A-Za-z_]\w*(?:\.\w+)*)(:?) ", message)
    if m is None:
        return None
    path = tuple(m.group(1).split("."))
    fields = {info.alias or name for name, info in model.model_fields.items()}
    if path[0] not in fields:
        return None
    written: list[str] = []
    for part in path:
        if not isinstance(given, dict) or part not in given:
            break
        written.append(part)
        given = given[part]
    return path, bool(m.group(2)), tuple(written)


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
    for err in _merge_unions(model, exc.errors()):
        loc = err["loc"]
        if ignore is not None and ignore(loc):
            continue
        kind = err["type"]
        text_at = getattr(positions, "text", None)
        text = text_at((*prefix, *loc)) if text_at is not None else None
        message = _message(err, model, loc, text)
        if len(err.get("expected", ())) > 1:
            message = f"expected {' or '.join(err['expected'])}{_got(err)}"
        shown = loc[:-1] if kind == "missing" else loc
        full = (*prefix, *shown)
        named = _leading_field(model, message, err.get("input")) \
            if not loc and kind == "value_error" else None
        if named is not None:  # a check of the whole model about one field: point at it
            path, is_label, written = named
            full = (*prefix, *written)
            if is_label:
                shown, message = path, message[len(".".join(path)) + 2:]
        # A problem with a key, or with a whole mapping (a key missing from it, a check of the
        # whole model), is at the key; a problem with a value at the value.
        at_key = kind in ("extra_forbidden", "missing") or not loc
        pos = positions.key(full) if at_key else positions.of(full)
        if label:
            where = f"{label}.{dotted(shown)}" if shown else label
        else:
            where = dotted((*prefix, *shown)) or "(top level)"
        problems.append(MlformError(f"{where}: {message}", pos=pos))
    return problems
