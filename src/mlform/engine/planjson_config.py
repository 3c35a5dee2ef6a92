"""Plan JSON's `configuration` and `relevant_attributes`: the config as written, with its
references, in Terraform's shape.

An expression that refers to something keeps `references` (`["var.owner"]`,
`["aws_s3_bucket.data.arn", "aws_s3_bucket.data"]`, as Terraform lists them) instead of the
value it resolved to: policies check where a value comes from (a tag from `var.owner`, a public
access block tied to its bucket), and checkov's graph checks link resources through them.
mlform's stack facts (`${mlform.project}`) have no Terraform counterpart and are written as the
`constant_value` they resolve to.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from mlform.config.refs import MODULE, Ref, iter_refs
from mlform.engine.plan import Plan, ResourceChange
from mlform.providers.registry import Registry, provider_name_of
from mlform.providers.schema import nested_model


def configuration(plan: Plan, registry: Registry) -> dict[str, Any]:
    return {
        "provider_config": {
            name: {"name": name, "full_name": spec.terraform_provider or name}
            for name, spec in registry.providers.items()
        },
        "root_module": _root_module(plan, registry),
    }


def _root_module(plan: Plan, registry: Registry) -> dict[str, Any]:
    """The config's resources, outputs and variables, and a module call per component."""
    written = plan.written
    root: list[dict[str, Any]] = []
    calls: dict[str, dict[str, Any]] = {}
    for c in sorted(plan.changes, key=lambda c: c.address):
        if c.template is None or c.deposed:
            continue
        entry = _resource(c, registry, written.get("resources", {}).get(c.address, {}))
        if c.component is None:
            root.append(entry)
            continue
        call = calls.setdefault(c.component, _module_call(
            plan.components.get(c.component, "component"),
            written.get("components", {}).get(c.component, {})))
        entry["address"] = f"{c.type}.{c.name}"  # relative to the module, as Terraform has
        call["module"]["resources"].append(entry)
    out: dict[str, Any] = {"resources": root}
    outputs = _outputs(plan)
    if outputs:
        out["outputs"] = outputs
    if calls:
        out["module_calls"] = calls
    variables = {n: {k: v for k, v in var.items() if k in ("default", "description")}
                 | ({"sensitive": True} if var.get("sensitive") else {})
                 for n, var in written.get("variables", {}).items()}
    if variables:
        out["variables"] = variables
    return out


def _module_call(kind: str, settings: dict[str, Any]) -> dict[str, Any]:
    """A component as Terraform's module call: its type is the `source`, its settings the
    call's `expressions` (references kept, so `${var.x}` stays `var.x`)."""
    return {"source": f"mlform/{kind}",
            "expressions": {k: _expression(v, v) for k, v in settings.items()},
            "module": {"resources": []}}


def _outputs(plan: Plan) -> dict[str, Any]:
    written = plan.written.get("outputs", {})
    out: dict[str, Any] = {}
    for name, o in plan.outputs.items():
        if o.template is None:
            continue
        spec = written.get(name, {})
        entry: dict[str, Any] = {"expression": _expression(
            spec.get("value", o.template), o.template)}
        if o.sensitive:
            entry["sensitive"] = True
        if spec.get("description"):
            entry["description"] = spec["description"]
        out[name] = entry
    return out


def _resource(c: ResourceChange, registry: Registry, written: dict[str, Any]) -> dict[str, Any]:
    """A resource's `configuration` entry: which arguments refer to what. Graph checks
    (checkov's CKV2_*) link a bucket to its public access block through these."""
    model = registry.get(c.type).Args if registry.knows(c.type) else None
    # Inside a module, Terraform writes references relative to it (aws_s3_bucket.this.id).
    local = f"{MODULE}.{c.component}." if c.component else ""
    return {"address": c.address, "mode": "managed", "type": c.type, "name": c.name,
            "provider_config_key": provider_name_of(c.type), "schema_version": 0,
            "expressions": _expressions(model, c.template or {}, written, local),
            "depends_on": [d.removeprefix(local) for d in c.dependencies]}


def _expressions(model: type[BaseModel] | None, template: dict[str, Any],
                 written: dict[str, Any], local: str = "") -> dict[str, Any]:
    """Terraform's expression shape: nested blocks as lists of expression maps, attributes as
    `references` (what the written value refers to) or `constant_value`. `template` is the
    value with variables filled in, `written` the same arguments as the user wrote them."""
    out: dict[str, Any] = {}
    for key, value in template.items():
        info = model.model_fields.get(key) if model is not None else None
        nested = nested_model(info.annotation) if info is not None else None
        source = written.get(key, value) if isinstance(written, dict) else value
        if nested is not None and nested[0] == "model" and isinstance(value, dict):
            out[key] = [_expressions(nested[1], value, source, local)]
        elif (nested is not None and nested[0] == "list" and isinstance(value, list)
              and all(isinstance(v, dict) for v in value)):
            sources = source if isinstance(source, list) and len(source) == len(value) else value
            out[key] = [_expressions(nested[1], v, s, local) for v, s in zip(value, sources,
                                                                             strict=True)]
        else:
            out[key] = _expression(source, value, local)
    return out


def _expression(written: Any, resolved: Any, local: str = "") -> dict[str, Any]:
    refs: list[str] = []
    for _, ref in iter_refs(written):
        for full in _reference_names(ref):
            name = full.removeprefix(local)
            if name not in refs:
                refs.append(name)
    return {"references": refs} if refs else {"constant_value": resolved}


def _reference_names(ref: Ref) -> list[str]:
    """How Terraform lists one reference: the attribute, then the object it belongs to."""
    names = [p for p in ref.parts if isinstance(p, str)]
    if names[0] == "mlform":
        return []  # a stack fact: a constant in Terraform's terms
    if names[0] == "var":
        return [".".join(names[:2])]
    if ref.kind == "output":  # a component's output: Terraform's module output
        return [f"{MODULE}.{names[0]}.{names[1]}", f"{MODULE}.{names[0]}"]
    shortest = 4 if names[0] == MODULE else 2
    return [".".join(names[:n]) for n in range(len(names), shortest - 1, -1)]


def relevant_attributes(plan: Plan) -> list[dict[str, Any]]:
    """Every resource attribute the config refers to, sorted: Terraform's list of what in a
    drifted object can affect this plan."""
    found: set[tuple[str, tuple[str | int, ...]]] = set()
    templates = [c.template for c in plan.changes if c.template is not None]
    templates += [o.template for o in plan.outputs.values() if o.template is not None]
    for template in templates:
        for _, ref in iter_refs(template):
            if ref.kind == "resource" and ref.attr_path:
                found.add((ref.address, ref.attr_path))
    return [{"resource": a, "attribute": list(path)}
            for a, path in sorted(found, key=lambda f: (f[0], [str(p) for p in f[1]]))]
