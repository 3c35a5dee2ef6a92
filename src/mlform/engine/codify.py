"""Config for objects that exist: what `mlform import --discover --generate-config` writes.

Each discovered object becomes a raw resource whose arguments are its live values (defaults left
out, values equal to another generated object's id or ARN written as references, so the graph
is the real one), or, where an object and the objects that configure it match a component's
shape, that component. A guess at a component is only kept if planning it shows no change: the
caller plans the written config and demotes any component that does not (see `demote`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic_core import to_jsonable_python

from mlform.components.base import ComponentModel
from mlform.config.components import COMPONENT_NAME, check_name
from mlform.config.refs import module_address
from mlform.providers.base import ResourceType, StackContext
from mlform.providers.registry import Registry
from mlform.providers.schema import sensitive_fields

REFERABLE = ("arn", "id")  # attributes whose values other objects use to point at an object


@dataclass
class Live:
    """A discovered object and its live attributes."""

    type: str
    id: str
    attributes: dict[str, Any]
    import_id: str = ""  # what `import:` takes, when it is not the id


@dataclass
class Codified:
    components: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> settings
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)  # address -> arguments
    # state address -> the object recorded there once imported
    imports: dict[str, Live] = field(default_factory=dict)
    anchors: dict[str, tuple[str, str]] = field(default_factory=dict)  # component -> anchor
    left_out: list[str] = field(default_factory=list)  # sensitive values not written


def codify(objects: Iterable[Live], registry: Registry, ctx: StackContext,
           components: Mapping[str, type[ComponentModel]], taken: set[str],
           ungrouped: Collection[tuple[str, str]] = ()) -> Codified:
    """Config for `objects`. `taken`: names and addresses the config already uses;
    `ungrouped`: anchors (type, id) not to make components of (their plan showed a change)."""
    objects = list(objects)
    taken = set(taken)
    out = Codified()
    grouped: set[tuple[str, str]] = set()
    for kind, model in components.items():
        anchor = model.anchor
        for obj in objects:
            if (anchor is None or obj.type != anchor or (obj.type, obj.id) in grouped
                    or (obj.type, obj.id) in ungrouped):
                continue
            members = {o.type: o for o in objects if o.id == obj.id and (
                o.type == anchor or registry.get(o.type).configures == anchor)}
            settings = model.recognize({t: o.attributes for t, o in members.items()})
            if settings is None:
                continue
            name = _unique(_component_name(_label(registry, obj)), taken)
            out.components[name] = {"type": kind, **_without_defaults(model, settings)}
            out.anchors[name] = (obj.type, obj.id)
            for t, o in members.items():
                out.imports[module_address(name, t, "this")] = o
                grouped.add((t, o.id))
    raw: list[tuple[str, Live]] = []
    for obj in objects:
        if (obj.type, obj.id) not in grouped:
            address = _unique(f"{obj.type}.{_resource_name(_label(registry, obj))}", taken)
            raw.append((address, obj))
    refs = _referable([(a, o) for a, o in raw if registry.get(o.type).configures is None])
    refs.update(_component_refs(out, components))
    for address, obj in raw:
        rtype = registry.get(obj.type)
        out.resources[address] = _args(rtype, obj, ctx, refs, address, out.left_out)
        out.imports[address] = obj
    return out


def _label(registry: Registry, obj: Live) -> str:
    """What to name an object's config entry after: its name where it has one (a secret's id
    is its ARN), else its id."""
    name_arg = getattr(registry.get(obj.type), "name_arg", None)
    name = obj.attributes.get(name_arg) if name_arg else None
    return name if isinstance(name, str) and name else obj.id


def _without_defaults(model: type[ComponentModel], settings: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in settings.items():
        info = model.model_fields[key]
        if info.is_required() or to_jsonable_python(
                info.get_default(call_default_factory=True)) != value:
            out[key] = value
    return out


def _referable(raw: list[tuple[str, Live]]) -> dict[str, str]:
    found: dict[str, str] = {}
    for address, obj in raw:
        for attr in REFERABLE:
            value = obj.attributes.get(attr)
            if isinstance(value, str) and value and value not in found:
                found[value] = "${" + f"{address}.{attr}" + "}"
    return found


def _component_refs(out: Codified, components: Mapping[str, type[ComponentModel]],
                    ) -> dict[str, str]:
    """The anchor's ARN and name, as the component's `arn` and `name` outputs where it has
    them: other objects refer to the component, not into it."""
    found: dict[str, str] = {}
    for name, (anchor_type, _) in out.anchors.items():
        outputs = components[out.components[name]["type"]].outputs
        attrs = out.imports[module_address(name, anchor_type, "this")].attributes
        for output, value in (("arn", attrs.get("arn")),
                              ("name", attrs.get("name") or attrs.get("bucket"))):
            if output in outputs and isinstance(value, str) and value:
                found.setdefault(value, "${" + f"{name}.{output}" + "}")
    return found


def _args(rtype: type[ResourceType[Any]], obj: Live, ctx: StackContext, refs: Mapping[str, str],
          address: str, left_out: list[str]) -> dict[str, Any]:
    """The arguments to write: live values, minus defaults, with references."""
    defaulted = set(rtype.default_args(ctx, address.split(".", 1)[1]))
    secret = sensitive_fields(rtype.Args)
    own = {obj.attributes.get(a) for a in REFERABLE}
    args: dict[str, Any] = {}
    for name, info in rtype.Args.model_fields.items():
        if name not in obj.attributes:
            continue
        value = obj.attributes[name]
        if name in secret:
            left_out.append(f"{address}.{name}")
            continue
        if name not in defaulted and not info.is_required():
            default = to_jsonable_python(info.get_default(call_default_factory=True))
            if value == default or value is None:
                continue
        if name != "tags":
            value = _with_refs(value, refs, own)
        args[name] = value
    live = {k: v for k, v in obj.attributes.items() if k in rtype.Args.model_fields}
    written = {k: _readable(rtype, live, k, v) for k, v in args.items()}
    return written if _needs_empties(rtype, {k: live[k] for k in written}) else {
        k: _prune(v) if isinstance(v, dict | list) else v for k, v in written.items()}


def _prune(value: Any) -> Any:
    """`value` without empty entries inside nested blocks (`environment: {}`, `x: null`)."""
    if isinstance(value, dict):
        return {k: _prune(v) for k, v in value.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


def _needs_empties(rtype: type[ResourceType[Any]], args: dict[str, Any]) -> bool:
    """Whether the type reads `args` (live values) differently once the empty entries inside
    nested blocks are pruned; if not, the config is written without them."""
    shorter = {k: _prune(v) if isinstance(v, dict | list) else v for k, v in args.items()}
    if shorter == args:
        return True
    try:
        return bool(rtype.Args.model_validate(shorter).model_dump(mode="json")
                    != rtype.Args.model_validate(args).model_dump(mode="json"))
    except Exception:
        return True


def _with_refs(value: Any, refs: Mapping[str, str], own: set[Any]) -> Any:
    if isinstance(value, str):
        return refs[value] if value in refs and value not in own else value
    if isinstance(value, list):
        return [_with_refs(v, refs, own) for v in value]
    if isinstance(value, dict):
        return {k: _with_refs(v, refs, own) for k, v in value.items()}
    return value


def _readable(rtype: type[ResourceType[Any]], live: dict[str, Any], name: str,
              value: Any) -> Any:
    """A JSON document argument (a policy) as a mapping, where the type accepts one and reads
    it back as the same JSON: easier to review than one long string."""
    if not (isinstance(value, str) and value.startswith("{")):
        return value
    try:
        parsed = json.loads(value)
        again = rtype.Args.model_validate({**live, name: parsed}).model_dump(mode="json")
    except Exception:  # not JSON, or the field wants the string itself
        return value
    return parsed if again[name] == live[name] else value


def _resource_name(id: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", id.rsplit("/", 1)[-1] if id.startswith("arn:") else id)
    name = name.strip("_-") or "imported"
    return name if re.match(r"^[A-Za-z_]", name) else f"r_{name}"


def _component_name(id: str) -> str:
    name = re.sub(r"[^a-z0-9-]+", "-", id.lower()).strip("-")[:40].strip("-")
    if not name or not name[0].isalpha():
        name = f"c-{name}"[:40].strip("-")
    return name if COMPONENT_NAME.match(name) and check_name(name) is None else f"{name}-x"


def _unique(name: str, taken: set[str]) -> str:
    """`name`, or `name-2`, `name-3`... whichever is not taken yet (and take it)."""
    candidate, n = name, 2
    while candidate in taken:
        candidate = f"{name}-{n}"
        n += 1
    taken.add(candidate)
    return candidate
