"""A plan in Terraform's machine-readable plan format (format_version 1.2).

Tools written for `terraform show -json` read it unchanged: conftest policies read
`resource_changes[]`, checkov reads `planned_values.root_module.resources[]`. Values are in
Terraform's shape (a single nested block is a one-item list), unknown values are left out of
`after` and flagged in `after_unknown`, and sensitive ones are flagged in `*_sensitive`.
tests/engine/test_terraform_fidelity.py compares it with real Terraform's, field by field.

Two departures, both deliberate: Terraform's optional `timestamp` is left out (the same config,
lock and state give the same bytes on any machine, at any time, which a reviewer or a CI cache
can compare), and a sensitive variable's value is not written under `variables` (Terraform
writes it in plain text; mlform never writes a secret, so its entry has no `value` key).
"""

from __future__ import annotations

from typing import Any

from mlform import __version__
from mlform.config.refs import split_address
from mlform.engine.plan import Action, Plan, ResourceChange
from mlform.engine.planjson_config import configuration, relevant_attributes
from mlform.engine.planjson_values import (
    TERRAFORM_ONLY,
    Shaper,
    terraform_only_at_create,
    unknown_mask,
    with_tags_all,
)
from mlform.providers.registry import Registry
from mlform.state.models import State
from mlform.values import UNKNOWN, strip_unknown
from mlform.values import unknown_mask as output_unknown_mask

FORMAT_VERSION = "1.2"
# The Terraform release whose `terraform show -json` output this document matches, field for
# field (the fidelity test plans the same stack with it). Tools only check that the producer
# is a Terraform 1.x; the README states this version.
TERRAFORM_VERSION = "1.11.4"
STATE_FORMAT_VERSION = "1.0"


def _actions(c: ResourceChange) -> list[str]:
    if c.action is Action.REPLACE:
        return ["create", "delete"] if c.create_before_destroy else ["delete", "create"]
    return [c.action.value]


def _module(resources: list[dict[str, Any]]) -> dict[str, Any]:
    """A module tree as Terraform writes it: the config's own resources in the root, each
    component's in a child module `module.<component>`."""
    root: list[dict[str, Any]] = []
    children: dict[str, list[dict[str, Any]]] = {}
    for r in sorted(resources, key=lambda r: r["address"]):
        component = split_address(r["address"])[0]
        if component is None:
            root.append(r)
        else:
            children.setdefault(f"module.{component}", []).append(r)
    tree: dict[str, Any] = {"resources": root}
    if children:
        tree["child_modules"] = [{"address": a, "resources": rs}
                                 for a, rs in sorted(children.items())]
    return tree


def _after(s: Shaper, plan: Plan, c: ResourceChange,
           before: dict[str, Any] | None) -> dict[str, Any] | None:
    """The change's `after`, unknowns still in: `tags_all` as apply leaves it, and on an
    update the attributes mlform does not model as they were (it never changes them)."""
    if c.action in (Action.DELETE, Action.FORGET) or c.after is None:
        return None
    after = s.values(c.type, with_tags_all(c.after, plan.context.stack, c.address)) or {}
    if before is not None and c.action in (Action.UPDATE, Action.NOOP):
        after = {**{k: before.get(k) for k in TERRAFORM_ONLY.get(c.type, ())}, **after}
    elif c.action in (Action.CREATE, Action.REPLACE):
        after = {**terraform_only_at_create(c.type), **after}
    return after


def _resource_change(s: Shaper, plan: Plan, c: ResourceChange) -> dict[str, Any]:
    before = s.values(c.type, c.before, full=True)
    after = _after(s, plan, c, before)
    known = strip_unknown(after) if after is not None else None
    entry: dict[str, Any] = {
        "address": c.address, "mode": "managed", "type": c.type, "name": c.name,
        "provider_name": s.provider(c.type),
        "change": {
            "actions": _actions(c), "before": before, "after": known,
            "after_unknown": unknown_mask(after) if after is not None else {},
            "before_sensitive": s.sensitive(c.type, before),
            "after_sensitive": s.sensitive(c.type, known),
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
    return entry


def _resource_drift(s: Shaper, plan: Plan) -> list[dict[str, Any]]:
    """Objects the plan's refresh found changed outside mlform, as Terraform reports them: an
    update from what the state recorded to what is live, or a delete of what is gone."""
    out = []
    for address in sorted(plan.drifted_from):
        recorded = plan.drifted_from[address]
        live = plan.refreshed.get(address)
        type_name = split_address(address)[1]
        before = s.values(type_name, recorded, full=True)
        after = s.values(type_name, live.attributes, full=True) if live is not None else None
        if before == after:
            continue
        component = split_address(address)[0]
        out.append({
            "address": address,
            **({"module_address": f"module.{component}"} if component else {}),
            "mode": "managed", "type": type_name, "name": split_address(address)[2],
            "provider_name": s.provider(type_name),
            "change": {"actions": ["update" if after is not None else "delete"],
                       "before": before, "after": after, "after_unknown": {},
                       "before_sensitive": s.sensitive(type_name, before),
                       "after_sensitive": s.sensitive(type_name, after)},
        })
    return out


def _variables(plan: Plan) -> dict[str, Any]:
    """`variables`: each value, except a sensitive one's, which is never written."""
    return {n: ({} if var.get("sensitive") else {"value": var.get("value")})
            for n, var in plan.written.get("variables", {}).items()}


def plan_to_terraform_json(plan: Plan, registry: Registry, prior: State | None) -> dict[str, Any]:
    """The Terraform-shaped JSON document of `plan`; `prior` is the state it was made against."""
    s = Shaper(registry)
    changes = [_resource_change(s, plan, c)
               for c in sorted(plan.changes, key=lambda c: (c.address, c.deposed or ""))]
    planned = [s.resource(e["address"], e["type"], e["change"]["after"]) for e in changes
               if e["change"]["after"] is not None and "deposed" not in e]
    doc: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "terraform_version": TERRAFORM_VERSION,
        "mlform_version": __version__,
    }
    variables = _variables(plan)
    if variables:
        doc["variables"] = variables
    doc["planned_values"] = {
        "outputs": {
            n: {"sensitive": o.sensitive, **({"value": strip_unknown(o.after)}
                                             if o.after is not None and not o.sensitive
                                             and o.after is not UNKNOWN else {})}
            for n, o in plan.outputs.items() if o.template is not None
        },
        "root_module": _module(planned),
    }
    drift = _resource_drift(s, plan)
    if drift:
        doc["resource_drift"] = drift
    doc["resource_changes"] = changes
    doc["output_changes"] = {n: _output_change(o.before, o.after, o.template, o.sensitive)
                             for n, o in plan.outputs.items()}
    if prior is not None and prior.serial > 0:
        doc["prior_state"] = {"format_version": STATE_FORMAT_VERSION,
                              "terraform_version": TERRAFORM_VERSION,
                              "values": terraform_values(prior, registry)}
    doc["configuration"] = configuration(plan, registry)
    doc["relevant_attributes"] = relevant_attributes(plan)
    doc.update({"applyable": plan.has_changes, "complete": True, "errored": False})
    return doc


def terraform_values(state: State, registry: Registry) -> dict[str, Any]:
    """A state's `values` block as Terraform's JSON writes it (sensitive values hidden, and
    Terraform's attributes mlform does not model as null)."""
    s = Shaper(registry)
    return {
        "outputs": {n: {"sensitive": bool(o.get("sensitive")),
                        "value": None if o.get("sensitive") else o.get("value")}
                    for n, o in state.outputs.items()},
        "root_module": _module([
            s.resource(a, r.type, s.values(r.type, r.attributes, full=True) or {})
            for a, r in state.resources.items()]),
    }


def _output_change(before: Any, after: Any, template: Any, sensitive: bool) -> dict[str, Any]:
    if template is None:
        actions = ["delete"]
    elif before is None:
        actions = ["create"]
    elif before == after:
        actions = ["no-op"]
    else:
        actions = ["update"]
    unknown = output_unknown_mask(after)
    if sensitive:  # flagged, never written
        before = after = None
    return {"actions": actions, "before": before,
            "after": strip_unknown(after) if after is not None else None,
            "after_unknown": unknown, "before_sensitive": sensitive,
            "after_sensitive": sensitive}
