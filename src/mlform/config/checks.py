"""The checks every part of mlform.yaml goes through: references (syntax, variables, targets,
attributes) and arguments against their resource type's schema. Shared by resources,
components and outputs; problems are collected on the builder and reported all at once."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from mlform.config.models import LifecycleConfig
from mlform.config.refs import (
    Ref,
    RefSyntaxError,
    lookup,
    parse_path,
    parse_template,
    render_piece,
    substitute,
    trigger_ref,
)
from mlform.config.validation import dotted, quote_hint, suggest, validation_problems
from mlform.config.yamlpos import Positions
from mlform.errors import MlformError
from mlform.providers.base import ResourceType
from mlform.providers.registry import Registry
from mlform.sensitive import SecretRef
from mlform.values import UNKNOWN

if TYPE_CHECKING:
    from mlform.config.resources import ResourceConfig

@dataclass
class Builder:
    path: Path
    data: dict[str, Any]
    positions: Positions
    registry: Registry
    problems: list[MlformError] = field(default_factory=list)
    # Where each variable's value for this environment is written (its default, or its own).
    var_at: dict[str, tuple[str | int, ...]] = field(default_factory=dict)
    # Each component's settings for this environment as written, before variables are filled
    # (for plan JSON's `module_calls`, see config/written.py).
    written_settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    _misread: set[str] = field(default_factory=set)  # variables reported as YAML-misread

    def error(self, message: str, at: tuple[str | int, ...], *, key: bool = False) -> None:
        pos = self.positions.key(at) if key else self.positions.of(at)
        self.problems.append(MlformError(message, pos=pos))


def label(path: tuple[str | int, ...]) -> str:
    """How messages name a config path: resources and components by their own name
    (`aws_s3_bucket.x.bucket`, `features.retention_days`)."""
    return dotted(path[1:]) if path and path[0] in ("resources", "components") else dotted(path)


RefAt = tuple[tuple[str | int, ...], Ref]


def fill_static(b: Builder, value: Any, at: tuple[str | int, ...], values: dict[str, Any],
            static: dict[str, str]) -> tuple[Any, list[RefAt] | None]:
    """Fill in variables and stack facts; also return the references to resources left (None
    if a reference has bad syntax, reported). An unknown variable is reported and becomes
    UNKNOWN, so the resource's other checks still run."""
    before = len(b.problems)
    refs = find_refs(b, value, at)
    if len(b.problems) > before:
        return value, None
    if all(not ref.is_static for _, ref in refs):
        return value, refs
    missing: set[str] = set()
    for path, ref in refs:
        if not ref.is_static:
            continue
        table: Mapping[str, Any] = values if ref.parts[0] == "var" else static
        key = str(ref.parts[1])
        if key not in table:
            kind = "variable" if ref.parts[0] == "var" else "stack fact"
            b.error(f"{label(path)}: unknown {kind} '{key}' in {ref}"
                    f"{suggest(key, table, 'declared' if kind == 'variable' else 'known')}", path)
            missing.add(ref.text)
            continue
        try:
            lookup(table[key], ref.parts[2:])
        except (KeyError, IndexError, TypeError) as exc:
            b.error(f"{label(path)}: {ref} does not exist ({exc})", path)
            missing.add(ref.text)

    for path, ref in refs:
        if ref.parts[0] == "var" and ref.text not in missing:
            if isinstance(values.get(str(ref.parts[1])), SecretRef):
                if not _whole(value, at, path) or len(ref.parts) != 2:
                    b.error(f"{label(path)}: {ref} is sensitive and can only be used whole "
                            f"(a value that is exactly {ref}), never inside other text", path)
                    missing.add(ref.text)
                continue
            _check_embedded_text(b, value, at, path, ref, values)

    def resolve(ref: Ref) -> Any:
        if ref.text in missing:
            return UNKNOWN  # reported above; keeps its value out of the schema check
        return lookup((values if ref.parts[0] == "var" else static)[str(ref.parts[1])],
                      ref.parts[2:])

    return (substitute(value, resolve, only_static=True),
            [(path, ref) for path, ref in refs if not ref.is_static])


def _whole(value: Any, at: tuple[str | int, ...], path: tuple[str | int, ...]) -> bool:
    """True if the string at `path` is exactly one reference."""
    try:
        text = lookup(value, path[len(at):])
    except (KeyError, IndexError, TypeError):
        return False
    return isinstance(text, str) and len(parse_template(text)) == 1


def _check_embedded_text(b: Builder, value: Any, at: tuple[str | int, ...],
                         path: tuple[str | int, ...], ref: Ref, values: dict[str, Any]) -> None:
    """A variable YAML read as a boolean or number (`yes`, `1.10`) but written into text
    (`v${var.version}`) would read differently there (`true`, `1.1`): ask to quote it."""
    name = str(ref.parts[1])
    where = b.var_at.get(name)
    if where is None or name in b._misread or len(ref.parts) != 2:
        return
    hint = quote_hint(values[name], b.positions.text(where))
    if hint is None or render_piece(values[name]) == b.positions.text(where):
        return
    try:
        text = lookup(value, path[len(at):])
    except (KeyError, IndexError, TypeError):
        return
    if not isinstance(text, str) or len(parse_template(text)) == 1:
        return  # the whole value: its type is checked where it is used
    b._misread.add(name)
    b.error(f"{dotted(where)}: expected a string, got {hint}", where)


def find_refs(b: Builder, value: Any, at: tuple[str | int, ...]) -> list[RefAt]:
    refs: list[RefAt] = []
    stack: list[tuple[tuple[str | int, ...], Any]] = [(at, value)]
    while stack:
        path, v = stack.pop()
        if isinstance(v, str):
            if "${" in v:
                try:
                    refs.extend((path, p) for p in parse_template(v) if isinstance(p, Ref))
                except RefSyntaxError as exc:
                    b.error(f"{label(path)}: {exc}", path)
        elif isinstance(v, dict):
            stack.extend(((*path, k), x) for k, x in v.items())
        elif isinstance(v, list):
            stack.extend(((*path, i), x) for i, x in enumerate(v))
    return refs


def leaves(value: Any, at: tuple[str | int, ...]) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from leaves(v, (*at, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from leaves(v, (*at, i))
    else:
        yield at, value


def parse_lifecycle(b: Builder, raw: Any, at: tuple[str | int, ...]) -> LifecycleConfig:
    if raw is None:
        return LifecycleConfig()
    try:
        return LifecycleConfig.model_validate(raw)
    except ValidationError as exc:
        b.problems.extend(validation_problems(exc, LifecycleConfig, b.positions, (*at, "lifecycle"),
                                              label=f"{at[1]}.lifecycle"))
        return LifecycleConfig()


def check_resource(
    b: Builder,
    res: ResourceConfig,
    rtype: type[ResourceType[Any]],
    resources: dict[str, ResourceConfig],
    types: dict[str, type[ResourceType[Any]]],
    refs: list[RefAt],
    at: tuple[str | int, ...],
) -> None:
    """Check `res`'s references and arguments; set its dependencies. `at` is where it is in
    the config (a component's resources point at the component)."""
    deps: list[str] = []
    for path, ref in refs:
        if check_ref(b, ref, path, resources, types, res.address):
            deps.append(ref.address)
    for i, dep in enumerate(res.depends_on):
        if dep not in resources:
            b.error(f"{res.address}.depends_on[{i}]: no resource '{dep}'"
                    f"{suggest(dep, resources, 'resources')}",
                    (*at, "depends_on", i))
        else:
            deps.append(dep)
    deps.extend(_replace_triggers(b, res, resources, types, at))
    res.depends_on = tuple(dict.fromkeys(deps))
    _check_ignore_changes(b, res, rtype, at)
    try:
        rtype.Args.model_validate(res.template)
    except ValidationError as exc:
        # Values that hold a resource reference are known only after apply: check them then.
        open_paths = {p[len(at):] for p, _ in refs}
        open_paths |= {p[len(at):] for p, v in leaves(res.template, at)
                       if v is UNKNOWN or isinstance(v, SecretRef)}
        b.problems.extend(validation_problems(
            exc, rtype.Args, b.positions, at, label=res.address,
            ignore=lambda loc: any(loc[: len(p)] == p for p in open_paths),
        ))


def _check_ignore_changes(b: Builder, res: ResourceConfig, rtype: type[ResourceType[Any]],
                          at: tuple[str | int, ...]) -> None:
    ignored = res.lifecycle.ignore_changes
    if ignored == "all":
        return
    for i, text in enumerate(ignored):
        where = (*at, "lifecycle", "ignore_changes", i)
        try:
            first = parse_path(text)[0]
        except ValueError as exc:
            b.error(f"{res.address}.lifecycle.ignore_changes[{i}]: {exc}", where)
            continue
        names = list(rtype.Args.model_fields)
        if first not in names:
            b.error(f"{res.address}.lifecycle.ignore_changes[{i}]: '{first}' is not an "
                    f"argument of {res.type}{suggest(str(first), names, 'arguments')}", where)


def _replace_triggers(b: Builder, res: ResourceConfig, resources: dict[str, ResourceConfig],
                      types: dict[str, type[ResourceType[Any]]],
                      at: tuple[str | int, ...]) -> list[str]:
    """The addresses `lifecycle.replace_triggered_by` names, checked (they are dependencies)."""
    found: list[str] = []
    for i, text in enumerate(res.lifecycle.replace_triggered_by):
        where = (*at, "lifecycle", "replace_triggered_by", i)
        try:
            ref = trigger_ref(text)
        except ValueError as exc:
            b.error(f"{res.address}.lifecycle.replace_triggered_by[{i}]: {exc}", where)
            continue
        if ref.address == res.address:
            b.error(f"{res.address}.lifecycle.replace_triggered_by[{i}]: '{text}' refers to "
                    "the resource itself", where)
        elif ref.attr_path:
            if check_ref(b, ref, where, resources, types, res.address):
                found.append(ref.address)
        elif ref.address not in resources:
            b.error(f"{res.address}.lifecycle.replace_triggered_by[{i}]: no resource "
                    f"'{ref.address}'{suggest(ref.address, resources, 'resources')}", where)
        else:
            found.append(ref.address)
    return found


def check_ref(
    b: Builder,
    ref: Ref,
    path: tuple[str | int, ...],
    resources: dict[str, ResourceConfig],
    types: dict[str, type[ResourceType[Any]]],
    owner: str | None,
) -> bool:
    """Report a reference to a missing resource or attribute; True if it is a valid resource ref."""
    if ref.is_static:
        return False
    target = ref.address
    if target not in resources:
        hint = suggest(target, resources, "resources")
        b.error(f"{label(path)}: {ref} refers to no resource '{target}'{hint}", path)
        return False
    if target == owner:
        b.error(f"{label(path)}: {ref} refers to the resource itself", path)
        return False
    ttype = types[target]
    attr = ref.attr_path[0]
    valid = set(ttype.Args.model_fields) | set(ttype.Attrs.model_fields)
    if attr not in valid:
        hint = suggest(str(attr), valid, "attributes")
        b.error(f"{label(path)}: {ref}: {ttype.type_name} has no attribute '{attr}'{hint}", path)
        return False
    return True


