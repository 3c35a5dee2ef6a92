"""Saved plans (`mlform plan -out FILE`): everything apply needs, in one JSON document.

A saved plan holds the resolved changes, the argument templates still to be resolved at apply
time, the refresh results to record, and the lineage and serial of the state it was made
against; apply refuses it if the state has moved on since.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from mlform import __version__
from mlform.engine.plan import Action, OutputChange, Plan, ResourceChange
from mlform.engine.renames import Rename
from mlform.errors import MlformError, SourcePos
from mlform.providers.base import StackContext
from mlform.state.models import ResourceState, now_iso
from mlform.values import UNKNOWN, from_json_data, to_json_data

PLAN_FORMAT = 1


def _change_json(c: ResourceChange) -> dict[str, Any]:
    # Field by field rather than dataclasses.asdict, which deep-copies every value (slow at
    # thousands of resources, and nothing here is mutated).
    return {
        "address": c.address, "type": c.type, "action": c.action.value,
        "before": c.before, "after": c.after, "template": to_json_data(c.template),
        "changed": c.changed,
        "replace_because": c.replace_because, "triggered_by": c.triggered_by,
        "dependencies": c.dependencies,
        "prior_dependencies": c.prior_dependencies,
        "create_before_destroy": c.create_before_destroy, "deposed": c.deposed,
        "reason": c.reason, "pos": asdict(c.pos) if c.pos else None,
        "previous_address": c.previous_address, "importing": c.importing,
        "prevent_destroy": c.prevent_destroy, "ignore_changes": c.ignore_changes,
    }


def plan_to_json(plan: Plan) -> dict[str, Any]:
    return {
        "mlform_plan": PLAN_FORMAT,
        "mlform_version": __version__,
        "created_at": now_iso(),
        "context": asdict(plan.context),
        "lineage": plan.lineage,
        "serial": plan.serial,
        "config_path": plan.config_path,
        "state_dir": plan.state_dir,
        "state_config": plan.state_config,
        "destroy": plan.destroy,
        "changes": [_change_json(c) for c in plan.changes],
        "outputs": {
            n: {"template": to_json_data(o.template), "before": o.before, "after": o.after,
                "sensitive": o.sensitive}
            for n, o in plan.outputs.items()
        },
        "refreshed": {a: (r.to_json() if r else None) for a, r in plan.refreshed.items()},
        "abandoned": plan.abandoned,
        "notes": plan.notes,
        "components": plan.components,
        "choices": plan.choices,
        "lock_notes": plan.lock_notes,
        "budget_usd": plan.budget_usd,
        "moved": plan.moved,
        "written": plan.written,
        "drifted_from": plan.drifted_from,
        "renames": [{"source": r.source, "target": r.target, "loses": r.loses}
                    for r in plan.renames],
        "policy": plan.policy,
        "binding": plan.binding,
    }


def plan_from_json(data: dict[str, Any], source: str) -> Plan:
    if data.get("mlform_plan") != PLAN_FORMAT:
        raise MlformError(f"{source} is not an mlform plan file (or was written by an "
                          "incompatible mlform version)")
    try:
        changes = []
        for raw in data["changes"]:
            c = dict(raw)
            c["action"] = Action(c["action"])
            c["pos"] = SourcePos(**c["pos"]) if c["pos"] else None
            for key in ("before", "after", "template"):
                c[key] = from_json_data(c[key])
            changes.append(ResourceChange(**c))
        return Plan(
            context=StackContext(**data["context"]),
            lineage=data["lineage"], serial=data["serial"], changes=changes,
            outputs={
                n: OutputChange(n, from_json_data(o["template"]), from_json_data(o["before"]),
                                from_json_data(o["after"]), o["sensitive"])
                for n, o in data["outputs"].items()
            },
            config_path=data["config_path"], destroy=data["destroy"],
            refreshed={a: ResourceState.from_json(r) if r else None
                       for a, r in data["refreshed"].items()},
            abandoned=list(data["abandoned"]), notes=list(data["notes"]),
            state_dir=data["state_dir"], state_config=dict(data.get("state_config", {})),
            components=dict(data.get("components", {})),
            choices=list(data.get("choices", [])), budget_usd=data.get("budget_usd"),
            lock_notes=list(data.get("lock_notes", [])),
            moved=[(a, b) for a, b in data.get("moved", [])],
            written=dict(data.get("written", {})),
            drifted_from=dict(data.get("drifted_from", {})),
            renames=[Rename(r["source"], r["target"], [(a, w) for a, w in r["loses"]])
                     for r in data.get("renames", [])],
            policy=dict(data.get("policy", {})), binding=dict(data.get("binding", {})),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise MlformError(f"{source}: the plan file is damaged ({exc!r})") from None


def _encode_unknown(value: Any) -> Any:
    if value is UNKNOWN:
        return to_json_data(value)
    raise TypeError(f"cannot save {type(value).__name__} in a plan file")


def plan_hash(plan: Plan) -> str:
    """sha256 of the plan's canonical JSON (sorted keys, no whitespace), without the time it
    was written: what approvals sign and the audit trail records."""
    import hashlib

    doc = plan_to_json(plan)
    doc.pop("created_at", None)
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), default=_encode_unknown)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def save_plan(plan: Plan, path: str | os.PathLike[str]) -> None:
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    text = json.dumps(plan_to_json(plan), separators=(",", ":"), default=_encode_unknown)
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)


def load_plan(path: str | os.PathLike[str]) -> Plan:
    try:
        raw = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise MlformError(f"cannot read plan file {path}: {exc.strerror}") from None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError:
        raise MlformError(f"{path} is not an mlform plan file (not JSON)") from None
    if not isinstance(data, dict):
        raise MlformError(f"{path} is not an mlform plan file")
    return plan_from_json(data, str(path))
