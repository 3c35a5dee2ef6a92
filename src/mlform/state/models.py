"""What mlform remembers about the objects it manages, and how journal records change it.

A state is one JSON document per environment: `lineage` (a UUID fixed when the state is first
written, so two unrelated states are never confused) and `serial` (incremented on every write).
During an apply, changes go to an append-only journal first; `apply_record` is the one function
that turns a journal record into a state change, used both live and when replaying a journal
left behind by a crash, so both paths always agree.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mlform import __version__
from mlform.errors import StateError

STATE_VERSION = 1


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class ResourceState:
    """One managed object: its type, cloud id, attributes and what it depended on."""

    type: str
    id: str
    attributes: dict[str, Any]
    dependencies: list[str] = field(default_factory=list)
    # "tainted": created, but its create did not finish cleanly; the next plan replaces it.
    status: str = "ok"
    create_before_destroy: bool = False
    # `lifecycle.prevent_destroy` as of the last apply: kept here so that deleting the resource
    # from the config does not delete a protected object (Terraform forgets the flag with the
    # block). Only a `removed:` entry with `destroy: true`, or an apply with the flag off, lifts it.
    prevent_destroy: bool = False
    # Recorded by an import that no apply has confirmed yet: the config that was meant to hold it
    # may not be the one read (a generated file not included), so no plan may destroy it because
    # it is missing from the config.
    imported: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": self.type, "id": self.id, "attributes": self.attributes,
            "dependencies": self.dependencies,
        }
        if self.status != "ok":
            out["status"] = self.status
        for flag in ("create_before_destroy", "prevent_destroy", "imported"):
            if getattr(self, flag):
                out[flag] = True
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ResourceState:
        return cls(
            type=data["type"], id=data["id"], attributes=data.get("attributes", {}),
            dependencies=list(data.get("dependencies", [])), status=data.get("status", "ok"),
            create_before_destroy=bool(data.get("create_before_destroy", False)),
            prevent_destroy=bool(data.get("prevent_destroy", False)),
            imported=bool(data.get("imported", False)),
        )


@dataclass
class PendingCreate:
    """A create whose call was started but whose result was never recorded (crash, kill)."""

    type: str
    args: dict[str, Any]
    started_at: str

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "args": self.args, "started_at": self.started_at}


@dataclass
class State:
    project: str
    environment: str
    lineage: str = field(default_factory=lambda: str(uuid.uuid4()))
    serial: int = 0
    resources: dict[str, ResourceState] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    pending: dict[str, PendingCreate] = field(default_factory=dict)
    # Objects replaced create-before-destroy whose delete has not happened yet, by address.
    deposed: dict[str, list[ResourceState]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "mlform_version": __version__,
            "lineage": self.lineage,
            "serial": self.serial,
            "project": self.project,
            "environment": self.environment,
            "resources": {a: r.to_json() for a, r in self.resources.items()},
            "outputs": self.outputs,
            "pending": {a: p.to_json() for a, p in self.pending.items()},
            "deposed": {a: [r.to_json() for r in rs] for a, rs in self.deposed.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], source: str) -> State:
        """Read a state document; tolerant of older versions, strict about corruption."""
        version = data.get("version")
        if not isinstance(version, int) or version > STATE_VERSION:
            raise StateError(
                f"{source}: state format version {version!r} is newer than this mlform "
                f"({__version__}) understands; upgrade mlform"
            )
        try:
            return cls(
                project=data["project"], environment=data["environment"],
                lineage=data["lineage"], serial=int(data["serial"]),
                resources={a: ResourceState.from_json(r) for a, r in data["resources"].items()},
                outputs=dict(data.get("outputs", {})),
                pending={
                    a: PendingCreate(p["type"], p.get("args", {}), p.get("started_at", ""))
                    for a, p in data.get("pending", {}).items()
                },
                deposed={
                    a: [ResourceState.from_json(r) for r in rs]
                    for a, rs in data.get("deposed", {}).items()
                },
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StateError(f"{source}: the state file is damaged ({exc!r})") from None


def apply_record(state: State, record: dict[str, Any]) -> None:
    """Apply one journal record to `state` (see `mlform.state.journal` for the record kinds)."""
    kind = record["t"]
    if kind == "intent":
        if record["op"] == "create":
            state.pending[record["a"]] = PendingCreate(record["type"], record.get("args", {}),
                                                       record.get("at", ""))
    elif kind == "put":
        state.resources[record["a"]] = ResourceState.from_json(record["r"])
        state.pending.pop(record["a"], None)
    elif kind == "del":
        state.resources.pop(record["a"], None)
        state.pending.pop(record["a"], None)
    elif kind == "depose":  # create-before-destroy: the old object waits for its delete
        old = state.resources.pop(record["a"], None)
        if old is not None:
            state.deposed.setdefault(record["a"], []).append(old)
    elif kind == "undepose":  # the replacement could not be created: the old object stays
        objects = state.deposed.get(record["a"], [])
        back = [r for r in objects if r.id == record["id"]]
        if back and record["a"] not in state.resources:
            state.resources[record["a"]] = back[0]
            left = [r for r in objects if r.id != record["id"]]
            if left:
                state.deposed[record["a"]] = left
            else:
                state.deposed.pop(record["a"], None)
    elif kind == "del_deposed":
        left = [r for r in state.deposed.get(record["a"], []) if r.id != record["id"]]
        if left:
            state.deposed[record["a"]] = left
        else:
            state.deposed.pop(record["a"], None)
    elif kind == "abandon":  # a pending create that turned out to have made nothing
        state.pending.pop(record["a"], None)
        set_aside = state.deposed.get(record["a"])
        if set_aside and record["a"] not in state.resources:
            # It was a create-before-destroy replacement: the object it was to replace, still
            # in use by its dependants, is the current one again rather than deleted next.
            state.resources[record["a"]] = set_aside.pop()
            if not set_aside:
                state.deposed.pop(record["a"], None)
    elif kind == "move":
        move_address(state, record["a"], record["to"])
    elif kind == "outputs":
        state.outputs = record["o"]
    elif kind != "begin":
        raise StateError(f"unknown journal record kind {kind!r}")


def move_address(state: State, source: str, target: str) -> None:
    """Re-key what is recorded at `source` (and its set-aside objects) to `target`, and every
    recorded dependency on it. Nothing is moved onto an address that is already in use."""
    if source not in state.resources or target in state.resources:
        return
    state.resources[target] = state.resources.pop(source)
    if source in state.deposed and target not in state.deposed:
        state.deposed[target] = state.deposed.pop(source)
    for res in state.resources.values():
        res.dependencies = [target if d == source else d for d in res.dependencies]
