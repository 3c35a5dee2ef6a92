"""Drift: what changed in the cloud since mlform last recorded it, field by field.

Drift is found by a refresh (which reads every managed object) and reported against the state,
not the config: it answers "did someone change this by hand?", while a plan answers "what would
apply do?". Only arguments are compared (what a user configures); computed attributes such as a
status or a timestamp move by themselves and are not drift.

Each change is classified: *benign* (tags, descriptions: nothing behaves differently) or
*risky* (everything else: scaling, instance types, encryption, public access, policies). An
object deleted outside mlform is risky. `lifecycle.ignore_changes` keeps expected drift (a count
that an autoscaler manages) out of the report and out of plans.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from mlform.config.refs import format_path, lookup, parse_path
from mlform.providers.registry import Registry
from mlform.providers.schema import sensitive_fields
from mlform.state.models import ResourceState

BENIGN, RISKY = "benign", "risky"
# Arguments whose change alters nothing a workload depends on.
BENIGN_FIELDS = frozenset({"tags", "description", "display_name"})

Path = tuple[str | int, ...]
Ignore = Sequence[str] | Literal["all"]


@dataclass(frozen=True)
class FieldDrift:
    path: str
    recorded: Any
    live: Any
    risk: str


@dataclass
class ResourceDrift:
    address: str
    type: str
    status: str  # "changed" or "deleted"
    fields: list[FieldDrift] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # changed, but ignore_changes covers them
    note: str = ""  # for a deleted object: what that means for its type

    @property
    def risk(self) -> str:
        if self.status == "deleted" or any(f.risk == RISKY for f in self.fields):
            return RISKY
        return BENIGN


def changed_paths(before: Any, after: Any, prefix: Path = ()) -> Iterator[tuple[Path, Any, Any]]:
    """Paths where `after` differs from `before`: into mappings key by key, into lists of equal
    length item by item, otherwise the whole value."""
    if before == after:
        return
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(set(before) | set(after), key=str):
            yield from changed_paths(before.get(key), after.get(key), (*prefix, key))
    elif isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        for i, (b, a) in enumerate(zip(before, after, strict=True)):
            yield from changed_paths(b, a, (*prefix, i))
    else:
        yield prefix, before, after


def is_ignored(path: Path, ignore: Ignore) -> bool:
    """Whether `ignore_changes` covers `path` (an ignored path covers everything under it)."""
    if ignore == "all":
        return True
    return any(path[: len(p)] == p for p in (parse_path(text) for text in ignore))


def keep_ignored(args: dict[str, Any], prior: Mapping[str, Any], ignore: Ignore,
                 fields: Sequence[str]) -> dict[str, Any]:
    """`args` with every ignored path set to its recorded value, so a plan leaves it alone."""
    if ignore == "all":
        return {**args, **{f: prior[f] for f in fields if f in prior}}
    out = dict(args)
    for text in ignore:
        path = parse_path(text)
        try:
            recorded = lookup(prior, path)
        except (KeyError, IndexError, TypeError):
            continue  # nothing recorded there: the config's value stands
        out = _replaced(out, path, recorded)
    return out


def _replaced(value: Any, path: Path, new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict) and isinstance(head, str):
        return {**value, head: _replaced(value.get(head), rest, new)}
    if isinstance(value, list) and isinstance(head, int) and head < len(value):
        return [_replaced(v, rest, new) if i == head else v for i, v in enumerate(value)]
    return value  # the config has no such path: nothing to keep


def risk_of(path: Path, benign: frozenset[str]) -> str:
    name = str(path[0])
    return BENIGN if name in benign or name.endswith("_description") else RISKY


def find_drift(
    recorded: Mapping[str, ResourceState],
    live: Mapping[str, ResourceState | None],
    registry: Registry,
    ignores: Mapping[str, Ignore] | None = None,
) -> list[ResourceDrift]:
    """Compare what the state recorded with what a refresh read (`live`: the addresses whose
    live object differs; None when it is gone). Sensitive values are masked."""
    out: list[ResourceDrift] = []
    for address in sorted(live):
        before = recorded.get(address)
        if before is None:
            continue  # an interrupted create that refresh settled: not drift
        after = live[address]
        if after is None:
            out.append(ResourceDrift(address, before.type, "deleted",
                                     note=registry.get(before.type).gone))
            continue
        rtype = registry.get(before.type)
        args = rtype.Args.model_fields
        benign = BENIGN_FIELDS | frozenset(rtype.benign_drift)
        secret = sensitive_fields(rtype.Args)
        ignore = (ignores or {}).get(address, [])
        found = ResourceDrift(address, before.type, "changed")
        for path, was, now in changed_paths(
                {k: v for k, v in before.attributes.items() if k in args},
                {k: v for k, v in after.attributes.items() if k in args}):
            text = format_path(path)
            if is_ignored(path, ignore):
                found.ignored.append(text)
            elif path[0] in secret:
                found.fields.append(FieldDrift(text, "(sensitive value)", "(sensitive value)",
                                               RISKY))
            else:
                found.fields.append(FieldDrift(text, was, now, risk_of(path, benign)))
        if found.fields or found.ignored:
            out.append(found)
    return out


def summary(drift: Sequence[ResourceDrift]) -> str:
    """`3 resources drifted (2 risky, 1 benign), 1 of them deleted` or `No drift.`"""
    shown = [d for d in drift if d.fields or d.status == "deleted"]
    if not shown:
        return "No drift: every managed object matches what mlform recorded."
    risky = sum(d.risk == RISKY for d in shown)
    deleted = sum(d.status == "deleted" for d in shown)
    text = (f"{len(shown)} resource{'s' if len(shown) != 1 else ''} changed outside mlform "
            f"({risky} risky, {len(shown) - risky} benign)")
    return text + (f", {deleted} of them deleted." if deleted else ".")


@dataclass
class DriftReport:
    """What `mlform drift` and `mlform refresh` found, and what reading it cost."""

    resources: list[ResourceDrift]
    read: int  # managed objects read
    api_calls: Mapping[str, int]  # per service
    seconds: float

    @property
    def has_drift(self) -> bool:
        return any(d.fields or d.status == "deleted" for d in self.resources)

    def to_json(self) -> dict[str, Any]:
        return {
            "drift": self.has_drift,
            "summary": summary(self.resources),
            "resources": [{
                "address": d.address, "type": d.type, "status": d.status, "risk": d.risk,
                "changes": [{"path": f.path, "recorded": f.recorded, "live": f.live,
                             "risk": f.risk} for f in d.fields],
                "ignored": d.ignored,
                **({"note": d.note} if d.note else {}),
            } for d in self.resources],
            "objects_read": self.read,
            "api_calls": {"total": sum(self.api_calls.values()), **dict(self.api_calls)},
            "seconds": round(self.seconds, 3),
        }
