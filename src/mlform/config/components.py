"""`components:` in mlform.yaml: check each component, expand it into resources, and resolve
references to component outputs (`${features.uri}`) into references to those resources.

Components are expanded in the order their references to each other require, so a component
sees the outputs of those it uses already resolved (`${registry.url}:v3` reaches a model
endpoint as a reference to the repository's URL, from which it can derive the repository's ARN
for a least-privilege policy).
"""

from __future__ import annotations

import graphlib
import re
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from mlform.config.refs import (
    MODULE,
    RESERVED_ROOTS,
    Ref,
    lookup,
    module_address,
    parse_template,
)
from mlform.config.validation import suggest, validation_problems
from mlform.errors import MlformError
from mlform.providers.schema import nested_model

if TYPE_CHECKING:
    from mlform.components.base import ComponentModel

COMPONENT_NAME = re.compile(r"^[a-z][a-z0-9-]{0,39}$")


@dataclass
class ExpandedComponent:
    name: str
    type: str
    outputs: dict[str, Any]
    resources: dict[str, tuple[str, dict[str, Any], dict[str, Any], list[str]]]
    notes: list[str] = field(default_factory=list)
    seed: str = ""  # the name cloud names derive from: the old name of a moved component
    settings: dict[str, Any] = field(default_factory=dict)  # as validated, defaults included
    pins: dict[str, Any] = field(default_factory=dict)  # what a lock pins (`Expansion.pins`)
    unlocked: list[str] = field(default_factory=list)  # pins the lock lacked
    images: dict[str, Any] = field(default_factory=dict)  # setting path -> lockfile.ImageUse


def check_name(name: str) -> str | None:
    """Why `name` cannot name a component, or None."""
    if name in RESERVED_ROOTS:
        return f"'{name}' is reserved (it starts references such as ${{{name}.x}})"
    if not COMPONENT_NAME.match(name):
        return ("component names are lower-case letters, digits and dashes, starting with a "
                "letter (no underscores: those mark resource types)")
    return None


def pick_environment(model: type[ComponentModel], data: dict[str, Any], environment: str,
                     environments: tuple[str, ...]) -> tuple[dict[str, Any], list[str]]:
    """Per-environment values (`replicas: {dev: 1, prod: 3}`) replaced by this environment's.

    A mapping stands for per-environment values when its field does not take a mapping and its
    keys are environment names (and `default`). Returns the data and the fields that have no
    value for this environment."""
    out = dict(data)
    missing: list[str] = []
    allowed = set(environments) | {"default"}
    for key, value in data.items():
        info = model.model_fields.get(key)
        if info is None or not isinstance(value, dict) or not value:
            continue
        if _takes_mapping(info.annotation) or not set(value) <= allowed:
            continue
        if environment in value:
            out[key] = value[environment]
        elif "default" in value:
            out[key] = value["default"]
        else:
            missing.append(key)
    return out, missing


def _takes_mapping(annotation: Any) -> bool:
    if nested_model(annotation) is not None:
        return True
    args = typing.get_args(annotation) or (annotation,)
    return any(a is dict or typing.get_origin(a) is dict for a in args)


def output_refs(value: Any) -> list[Ref]:
    """Every reference to a component output inside `value`."""
    found: list[Ref] = []
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            if "${" in v:
                found.extend(p for p in parse_template(v)
                             if isinstance(p, Ref) and p.kind == "output")
        elif isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return found


OutputLookup = Callable[[Ref], Any]


def inline_outputs(value: Any, find: OutputLookup) -> Any:
    """`value` with every `${component.output}` replaced by the output's own template (which
    refers to the component's resources). `find` raises KeyError for an unknown output."""
    if isinstance(value, str):
        if "${" not in value:
            return value
        pieces = parse_template(value)
        if not any(isinstance(p, Ref) and p.kind == "output" for p in pieces):
            return value
        if len(pieces) == 1 and isinstance(pieces[0], Ref):
            return find(pieces[0])
        text: list[str] = []
        for piece in pieces:
            if isinstance(piece, str):
                text.append(piece.replace("${", "$${"))
            elif piece.kind == "output":
                got = find(piece)
                if not isinstance(got, str):
                    raise KeyError(f"{piece} is not text and cannot be part of a string")
                text.append(got)
            else:
                text.append(str(piece))
        return "".join(text)
    if isinstance(value, dict):
        return {k: inline_outputs(v, find) for k, v in value.items()}
    if isinstance(value, list):
        return [inline_outputs(v, find) for v in value]
    return value


def output_finder(outputs: Mapping[str, Mapping[str, Any]],
                  types: Mapping[str, type[ComponentModel]],
                  broken: set[str] | None = None) -> OutputLookup:
    """Looks outputs up; KeyError(message), or KeyError(None) for a component that exists but
    could not be expanded (its own problems are reported already)."""

    def find(ref: Ref) -> Any:
        component = ref.component
        if broken is not None and component in broken:
            raise KeyError(None)
        if component not in outputs:
            raise KeyError(f"{ref} refers to no component '{component}'"
                           f"{suggest(component, outputs, 'components')}")
        name = str(ref.parts[1])
        table = outputs[component]
        if name not in table:
            documented = types[component].outputs if component in types else table
            raise KeyError(f"{ref}: component {component} has no output '{name}'"
                           f"{suggest(name, documented, 'outputs')}")
        try:
            return lookup(table[name], ref.parts[2:])
        except (KeyError, IndexError, TypeError) as exc:
            raise KeyError(f"{ref} cannot be read ({exc})") from None

    return find


def order(deps: Mapping[str, set[str]]) -> tuple[list[str], list[str] | None]:
    """Components in an order that puts each after those it refers to; and a cycle, if any."""
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter(
        {n: {d for d in ds if d in deps} for n, ds in deps.items()})
    try:
        return list(sorter.static_order()), None
    except graphlib.CycleError as exc:
        return list(deps), list(reversed(exc.args[1]))


def validate(model: type[ComponentModel], data: dict[str, Any], name: str, positions: Any,
             at: tuple[str | int, ...]) -> tuple[ComponentModel | None, list[MlformError]]:
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        problems = validation_problems(exc, model, positions, at, label=name)
        for p in problems:
            if "${" in p.message:
                p.message += (" (a component needs this value from the config itself: use a "
                              "variable, not a reference to something known only after apply)")
        return None, problems


def expand(component: ComponentModel, name: str, stack: Any, base_dir: Any = None,
           cloud: Any = None, seed: str | None = None,
           locked: Mapping[str, Any] | None = None) -> ExpandedComponent:
    """Expand `component`; MlformError (or ValueError) for a problem only expansion finds.

    `seed`: the component's old name when it was renamed (`moved:`): it is expanded under that
    name, so every cloud name stays, and its addresses are then moved to `name`. `locked`:
    its pins from mlform.lock (None: no lock for this environment and region)."""
    from mlform.components.base import ExpandContext

    seed = seed or name
    try:
        result = component.expand(ExpandContext(name=seed, stack=stack, base_dir=base_dir,
                                                cloud=cloud, locked=locked))
    except ValueError as exc:
        raise MlformError(str(exc)) from None
    resources = {}
    for local, made in result.resources.items():
        type_name, res_name = local.split(".", 1)
        address = module_address(name, type_name, res_name)
        deps = [module_address(name, *d.split(".", 1)) for d in made.depends_on]
        resources[address] = (type_name, made.args, made.lifecycle, deps)
    expanded = ExpandedComponent(name=name, type=component.type, outputs=result.outputs,
                                 resources=resources, notes=result.notes, seed=seed,
                                 settings=component.model_dump(mode="json", exclude={"type"}),
                                 pins=result.pins, unlocked=result.unlocked)
    if seed != name:
        old, new = "${" + f"{MODULE}.{seed}.", "${" + f"{MODULE}.{name}."
        expanded.resources = {a: (t, _replace(args, old, new), lc, deps)
                              for a, (t, args, lc, deps) in resources.items()}
        expanded.outputs = _replace(result.outputs, old, new)
    return expanded


def _replace(value: Any, old: str, new: str) -> Any:
    """`value` with every `old` in its strings replaced by `new` (references, when moved)."""
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, dict):
        return {k: _replace(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace(v, old, new) for v in value]
    return value
