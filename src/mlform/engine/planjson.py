"""A plan in Terraform's machine-readable plan format (format_version 1.2).

Tools written for `terraform show -json` read it unchanged: conftest policies read
`resource_changes[]`, checkov reads `planned_values.root_module.resources[]`. Values are in
Terraform's shape (a single nested block is a one-item list), unknown values are left out of
`after` and flagged in `after_unknown`, and sensitive ones are flagged in `*_sensitive`.

Terraform's optional `timestamp` is left out: the same config, lock and state give the same
bytes on any machine, at any time, which a reviewer or a CI cache can compare.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from mlform import __version__
from mlform.config.refs import iter_refs, split_address
from mlform.engine.plan import Action, Plan, ResourceChange
from mlform.providers.registry import Registry, provider_name_of
from mlform.providers.schema import nested_model, sensitive_fields, terraform_shape
from mlform.state.models import State
from mlform.values import UNKNOWN, strip_unknown, unknown_mask

FORMAT_VERSION = "1.2"
# Tools check that the document came from a Terraform 1.x-compatible producer.
COMPATIBLE_TERRAFORM = "1.9.0"


def _actions(c: ResourceChange) -> list[str]:
    if c.action is Action.REPLACE:
        return ["create", "delete"] if c.create_before_destroy else ["delete", "create"]
    return [c.action.value]


class _Shaper:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def provider(self, type_name: str) -> str:
        if not self.registry.knows(type_name):
            return "unknown"
        spec = self.registry.provider_for(type_name)
        return spec.terraform_provider or spec.name

    def values(self, type_name: str, attrs: dict[str, Any] | None) -> dict[str, Any] | None:
        if attrs is None:
            return None
        if not self.registry.knows(type_name):
            return attrs
        args_model = self.registry.get(type_name).Args
        hidden = sensitive_fields(args_model)
        # Secrets never reach a plan file: sensitive values are flagged, not written.
        shown = {k: (None if k in hidden and v is not None else v) for k, v in attrs.items()}
        return terraform_shape(args_model, shown)

    def sensitive(self, type_name: str, attrs: dict[str, Any] | None) -> Any:
        if attrs is None or not self.registry.knows(type_name):
            return False
        return {f: True for f in sensitive_fields(self.registry.get(type_name).Args)
                if f in attrs}

    def resource(self, address: str, type_name: str, values: dict[str, Any]) -> dict[str, Any]:
        return {
            "address": address, "mode": "managed", "type": type_name,
            "name": split_address(address)[2], "provider_name": self.provider(type_name),
            "schema_version": 0, "values": values,
            "sensitive_values": self.sensitive(type_name, values),
        }


def _module(resources: list[dict[str, Any]]) -> dict[str, Any]:
    """A module tree as Terraform writes it: the config's own resources in the root, each
    component's in a child module `module.<component>`."""
    root: list[dict[str, Any]] = []
    children: dict[str, list[dict[str, Any]]] = {}
    for r in resources:
        component = split_address(r["address"])[0]
        if component is None:
            root.append(r)
        else:
            children.setdefault(f"module.{component}", []).append(r)
    tree: dict[str, Any] = {"resources": root}
    if children:
        tree["child_modules"] = [{"address": a, "resources": rs} for a, rs in children.items()]
    return tree


def plan_to_terraform_json(plan: Plan, registry: Registry, prior: State | None) -> dict[str, Any]:
    """The Terraform-shaped JSON document of `plan`; `prior` is the state it was made against."""
    s = _Shaper(registry)
    changes = []
    planned = []
    for c in plan.changes:
        before = s.values(c.type, c.before)
        after = s.values(c.type, c.after) if c.action is not Action.DELETE else None
        entry: dict[str, Any] = {
            "address": c.address, "mode": "managed", "type": c.type, "name": c.name,
            "provider_name": s.provider(c.type),
            "change": {
                "actions": _actions(c),
                "before": before,
                "after": strip_unknown(after) if after is not None else None,
                "after_unknown": (unknown_mask(after) or {}) if after is not None else {},
                "before_sensitive": s.sensitive(c.type, before),
                "after_sensitive": s.sensitive(c.type, after),
            },
        }
        if c.component is not None:
            entry["module_address"] = f"module.{c.component}"
        if c.deposed:
            entry["deposed"] = c.deposed
        if c.previous_address is not None:
            entry["previous_address"] = c.previous_address
        if c.importing is not None:
            entry["change"]["importing"] = {"id": c.importing}
        if c.action is Action.REPLACE:
            entry["change"]["replace_paths"] = [
                [int(p) if p.isdigit() else p for p in f.split(".")] for f in c.replace_because]
            entry["action_reason"] = (
                "replace_because_cannot_update" if c.replace_because
                else "replace_by_triggers" if c.triggered_by else "replace_because_tainted")
        elif c.action is Action.DELETE and not c.deposed:
            entry["action_reason"] = "delete_because_no_resource_config"
        changes.append(entry)
        if after is not None and not c.deposed:
            planned.append(s.resource(c.address, c.type, strip_unknown(after)))
    doc: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "terraform_version": COMPATIBLE_TERRAFORM,
        "mlform_version": __version__,
        "planned_values": {
            "outputs": {
                n: {"sensitive": o.sensitive, **({"value": strip_unknown(o.after)}
                                                 if o.after is not None and not o.sensitive
                                                 and o.after is not UNKNOWN else {})}
                for n, o in plan.outputs.items() if o.template is not None
            },
            "root_module": _module(planned),
        },
        "resource_changes": changes,
        "output_changes": {n: _output_change(o.before, o.after, o.template, o.sensitive)
                           for n, o in plan.outputs.items()},
        "configuration": {
            "provider_config": {
                name: {"name": name, "full_name": spec.terraform_provider or name}
                for name, spec in registry.providers.items()
            },
            "root_module": _configuration_module(plan, registry),
        },
        "applyable": plan.has_changes,
        "complete": True,
        "errored": False,
    }
    if prior is not None and prior.serial > 0:
        doc["prior_state"] = {
            "format_version": "1.0", "terraform_version": COMPATIBLE_TERRAFORM,
            "values": terraform_values(prior, registry),
        }
    return doc


def terraform_values(state: State, registry: Registry) -> dict[str, Any]:
    """A state's `values` block as Terraform's JSON writes it (sensitive values hidden)."""
    s = _Shaper(registry)
    return {
        "outputs": {n: {"sensitive": bool(o.get("sensitive")),
                        "value": None if o.get("sensitive") else o.get("value")}
                    for n, o in state.outputs.items()},
        "root_module": _module([
            s.resource(a, r.type, s.values(r.type, r.attributes) or {})
            for a, r in state.resources.items()]),
    }


def _configuration_module(plan: Plan, registry: Registry) -> dict[str, Any]:
    """`configuration.root_module`: the config's resources, and a module call per component."""
    root: list[dict[str, Any]] = []
    calls: dict[str, dict[str, Any]] = {}
    for c in plan.changes:
        if c.template is None or c.deposed:
            continue
        entry = _configuration(c, registry)
        if c.component is None:
            root.append(entry)
        else:
            call = calls.setdefault(c.component, {
                "source": f"mlform/{plan.components.get(c.component, 'component')}",
                "module": {"resources": []}})
            entry["address"] = f"{c.type}.{c.name}"  # relative to the module, as Terraform has
            call["module"]["resources"].append(entry)
    out: dict[str, Any] = {"resources": root}
    if calls:
        out["module_calls"] = calls
    return out


def _configuration(c: ResourceChange, registry: Registry) -> dict[str, Any]:
    """A resource's `configuration` entry: which arguments refer to which resources. Graph
    checks (checkov's CKV2_*) link a bucket to its public access block through these."""
    model = registry.get(c.type).Args if registry.knows(c.type) else None
    # Inside a module, Terraform writes references relative to it (aws_s3_bucket.this.id).
    local = f"module.{c.component}." if c.component else ""
    return {"address": c.address, "mode": "managed", "type": c.type, "name": c.name,
            "provider_config_key": provider_name_of(c.type), "schema_version": 0,
            "expressions": _expressions(model, c.template or {}, local),
            "depends_on": [d.removeprefix(local) for d in c.dependencies]}


def _expressions(model: type[BaseModel] | None, template: dict[str, Any],
                 local: str = "") -> dict[str, Any]:
    """Terraform's expression shape: nested blocks as lists of expression maps, attributes as
    `references` (when they hold ${...}) or `constant_value`."""
    out: dict[str, Any] = {}
    for key, value in template.items():
        info = model.model_fields.get(key) if model is not None else None
        nested = nested_model(info.annotation) if info is not None else None
        if nested is not None and nested[0] == "model" and isinstance(value, dict):
            out[key] = [_expressions(nested[1], value, local)]
        elif (nested is not None and nested[0] == "list" and isinstance(value, list)
              and all(isinstance(v, dict) for v in value)):
            out[key] = [_expressions(nested[1], v, local) for v in value]
        else:
            out[key] = _expression(value, local)
    return out


def _expression(value: Any, local: str = "") -> dict[str, Any]:
    refs: list[str] = []
    for _, ref in iter_refs(value):
        names = [p for p in ref.parts if isinstance(p, str)]
        shortest = 4 if names[0] == "module" else 2
        for n in range(len(names), shortest - 1, -1):  # type.name.attr, then type.name
            dotted = ".".join(names[:n]).removeprefix(local)
            if dotted not in refs:
                refs.append(dotted)
    return {"references": refs} if refs else {"constant_value": value}


def _output_change(before: Any, after: Any, template: Any, sensitive: bool) -> dict[str, Any]:
    if template is None:
        actions = ["delete"]
    elif before is None:
        actions = ["create"]
    elif before == after:
        actions = ["no-op"]
    else:
        actions = ["update"]
    unknown = unknown_mask(after)
    if sensitive:  # flagged, never written
        before = after = None
    return {"actions": actions, "before": before,
            "after": strip_unknown(after) if after is not None else None,
            "after_unknown": unknown, "before_sensitive": sensitive,
            "after_sensitive": sensitive}
