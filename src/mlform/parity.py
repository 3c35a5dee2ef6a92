"""How alike environments are: each one rendered in each of its regions and compared.

Every (environment, region) is a column, loaded with `load_stack` as `plan` loads it, with the
components' read-only cloud lookups, so choices resolved per region (a GPU instance type) are
the real ones; no state is read. Compared across columns: which components and resources
exist, each component's settings, each raw resource's arguments, and the arguments of the
resources components make (top-level keys: a changed tag reports `tags`).

Values are compared with the column's region and environment names replaced by placeholders at
token boundaries (`proj-dev-data`, `proj-prod-ap-south-1-data` and a tag set to
`${mlform.region}` are alike), so what derives from them is no difference. A cloud name cut to
its limit and given a digest no longer contains the names, and would be one.

Each difference is
- allowed: its path matches one of `parity.allow` (fnmatch), which gives the reason;
- region: driven by the region, not by the config: the value is the same within each region,
  and either it comes from a component whose settings are alike everywhere (a GPU type chosen
  per region) or it differs between the regions of one environment (which per-environment
  values cannot do);
- unsanctioned: anything else.
A component's differing setting is reported once, not again through each argument of its
resources that follows from it; a resource it makes in some columns only is reported as
following from the setting, and allowed when the setting is.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from mlform.config.models import ParityAllowance
from mlform.config.stack import DEFAULT_CONFIG, Stack, load_stack
from mlform.providers.registry import Registry, default_registry

ALLOWED, REGION, UNSANCTIONED = "allowed", "region", "unsanctioned"
STATUSES = (UNSANCTIONED, ALLOWED, REGION)
COMPONENT, RESOURCE, SETTING, ARGUMENT = "component", "resource", "setting", "argument"

# Placeholders without letters or digits, so that no name can match inside them.
_REGION, _ENV = "\x00\x01", "\x00\x02"
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Column:
    """One environment in one of its regions."""

    environment: str
    region: str

    @property
    def id(self) -> str:
        return f"{self.environment}/{self.region}"


@dataclass
class Difference:
    """Something not alike in every column, and whether that is sanctioned."""

    path: str  # `fraud-api.replicas`, `aws_s3_bucket.logs.tags`, `module.x.TYPE.NAME`
    kind: str  # COMPONENT or RESOURCE (present in some columns only), SETTING or ARGUMENT
    # column id -> value (presence: True/False; an argument not set: None); a setting or
    # argument leaves out the columns its component or resource is not in
    values: dict[str, Any]
    status: str = UNSANCTIONED
    reason: str = ""
    follows_from: list[str] = field(default_factory=list)  # the settings it follows from


@dataclass
class Row:
    """A line of the presence matrix: a component or a resource, and where it exists."""

    path: str
    kind: str  # COMPONENT or RESOURCE
    component: str | None  # the component that makes the resource
    present: dict[str, bool]


@dataclass
class AllowanceUse:
    """An allowance of the config and the differences it sanctioned (none: it is stale)."""

    path: str
    reason: str
    matched: list[str] = field(default_factory=list)


@dataclass
class ParityReport:
    columns: list[Column]
    rows: list[Row]
    differences: list[Difference]
    allowances: list[AllowanceUse]
    notes: dict[str, list[str]]  # column id -> the choices components made there

    def with_status(self, status: str) -> list[Difference]:
        return [d for d in self.differences if d.status == status]

    @property
    def ok(self) -> bool:
        """Nothing unsanctioned."""
        return not self.with_status(UNSANCTIONED)

    def to_json(self) -> dict[str, Any]:
        """The documented JSON shape (README, `mlform parity --json`)."""
        doc: dict[str, Any] = _plain({
            "columns": [{"id": c.id, "environment": c.environment, "region": c.region}
                        for c in self.columns],
            "ok": self.ok,
            "counts": {s: len(self.with_status(s)) for s in STATUSES},
            "differences": [{"path": d.path, "kind": d.kind, "status": d.status,
                             "reason": d.reason, "values": d.values,
                             "follows_from": d.follows_from} for d in self.differences],
            "allowances": [{"path": a.path, "reason": a.reason, "matched": a.matched}
                           for a in self.allowances],
            "resources": [{"path": r.path, "kind": r.kind, "component": r.component,
                           "present": r.present} for r in self.rows],
            "notes": self.notes,
        })
        return doc


def compare_environments(
    config: str | os.PathLike[str] = DEFAULT_CONFIG,
    environments: Sequence[str] = (),
    *,
    variables: Mapping[str, Any] | None = None,
    var_files: Sequence[str | os.PathLike[str]] = (),
    registry: Registry | None = None,
    home: str | None = None,
    offline: bool = False,
) -> ParityReport:
    """Load `environments` (default: every one in the config) in each of their regions and
    compare them. `offline` skips the components' cloud lookups (unresolved choices then
    look alike)."""
    registry = registry or default_registry()

    def load(environment: str | None, region: str | None = None) -> Stack:
        return load_stack(config, environment, variables, var_files=var_files,
                          registry=registry, home=home, offline=offline, region=region)

    # One load alone first: it lists the environments (and each one's regions).
    first = load(environments[0] if environments else None)
    names = list(dict.fromkeys(environments or first.environments))
    firsts = {first.context.environment: first}
    firsts.update(zip(names[1:], _parallel(load, names[1:]), strict=True))
    wanted = [(e, r) for e in names for r in firsts[e].env.region_names]
    rest = [(e, r) for e, r in wanted if r != firsts[e].context.region]
    loaded = dict(zip(rest, _parallel(lambda er: load(*er), rest), strict=True))
    loaded.update({(e, s.context.region): s for e, s in firsts.items()})
    return compare({Column(e, r): loaded[(e, r)] for e, r in wanted})


def _parallel(fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """`fn` of every item at once (loads wait on the cloud); the first error is raised."""
    if len(items) < 2:
        return [fn(i) for i in items]
    with ThreadPoolExecutor(max_workers=min(8, len(items))) as pool:
        return list(pool.map(fn, items))


def compare(stacks: Mapping[Column, Stack]) -> ParityReport:
    """Compare loaded stacks, one per column; allowances come from the first one's config."""
    columns = list(stacks)
    views = {c: _View(c, s) for c, s in stacks.items()}
    first = next(iter(stacks.values()))
    cmp = _Comparison(views)
    for name in _union(v.components for v in views.values()):
        cmp.component(name)
    for address in _union(v.raw for v in views.values()):
        cmp.resource(address, None)
    for address in _union(v.made for v in views.values()):
        cmp.resource(address, next(v.made[address] for v in views.values()
                                   if address in v.made))
    uses = _allow(cmp.differences, first.parity.allow)
    notes = {c.id: list(s.notes) for c, s in stacks.items()}
    return ParityReport(columns, cmp.rows, cmp.differences, uses, notes)


class _View:
    """One column's stack, as the comparison reads it."""

    def __init__(self, column: Column, stack: Stack) -> None:
        self.settings = stack.settings
        self.components = stack.components
        self.raw = {a: r.template for a, r in stack.resources.items() if r.component is None}
        self.made = {a: r.component for a, r in stack.resources.items()
                     if r.component is not None}
        self.templates = {a: r.template for a, r in stack.resources.items()}
        self.notes = stack.notes
        self._subs = [
            (re.compile(rf"(?<![A-Za-z0-9]){re.escape(column.region)}(?![0-9])"), _REGION),
            (re.compile(rf"(?<![A-Za-z0-9]){re.escape(column.environment)}(?![A-Za-z0-9])"),
             _ENV),
        ]

    def key(self, value: Any) -> str:
        """`value` with this column's names as placeholders, as comparable text."""
        return json.dumps(self._normalise(value), sort_keys=True, default=str)

    def _normalise(self, value: Any) -> Any:
        if isinstance(value, str):
            for pattern, placeholder in self._subs:
                value = pattern.sub(placeholder, value)
            # Default names carry the region only in an environment of several regions.
            return value.replace(f"{_ENV}-{_REGION}", _ENV)
        if isinstance(value, dict):
            return {self._normalise(k): self._normalise(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self._normalise(v) for v in value]
        return value


class _Comparison:
    """The differences and matrix rows, found one component or resource at a time."""

    def __init__(self, views: dict[Column, _View]) -> None:
        self.views = views
        self.rows: list[Row] = []
        self.differences: list[Difference] = []
        self.differing: dict[str, list[str]] = {}  # component -> its differing settings

    def component(self, name: str) -> None:
        present = {c: name in v.components for c, v in self.views.items()}
        self.rows.append(Row(name, COMPONENT, None, {c.id: p for c, p in present.items()}))
        self._keep(self._diff(name, COMPONENT, {c: (p, p) for c, p in present.items()}))
        inside = [c for c, p in present.items() if p]
        for key in _union(self.views[c].settings[name] for c in inside):
            values = {c: self.views[c].settings[name].get(key) for c in inside}
            if self._keep(self._diff(f"{name}.{key}", SETTING, self._keyed(values))):
                self.differing.setdefault(name, []).append(f"{name}.{key}")

    def resource(self, address: str, component: str | None) -> None:
        table = "raw" if component is None else "made"
        present = {c: address in getattr(v, table) for c, v in self.views.items()}
        self.rows.append(Row(address, RESOURCE, component,
                             {c.id: p for c, p in present.items()}))
        causes = self.differing.get(component, []) if component else []
        # Where its component is missing, that is the difference.
        owned = {c: p for c, p in present.items()
                 if component is None or component in self.views[c].components}
        found = self._diff(address, RESOURCE, {c: (p, p) for c, p in owned.items()},
                           component, causes)
        if found is not None and found.status == UNSANCTIONED:
            found.follows_from = list(causes)
        self._keep(found)
        inside = [c for c, p in present.items() if p]
        templates = {c: self.views[c].templates[address] for c in inside}
        for key in _union(templates.values()):
            values = {c: t.get(key) for c, t in templates.items()}
            found = self._diff(f"{address}.{key}", ARGUMENT, self._keyed(values), component,
                               causes)
            # Not driven by the region, it follows from the settings reported.
            if not (found is not None and found.status == UNSANCTIONED and causes):
                self._keep(found)

    def _keep(self, found: Difference | None) -> bool:
        if found is not None:
            self.differences.append(found)
        return found is not None

    def _keyed(self, values: dict[Column, Any]) -> dict[Column, tuple[Any, str]]:
        return {c: (v, self.views[c].key(v)) for c, v in values.items()}

    def _diff(self, path: str, kind: str, values: dict[Column, tuple[Any, Any]],
              component: str | None = None, causes: Sequence[str] = ()) -> Difference | None:
        """A difference if the values' keys are not all alike, classified by region: a
        setting never is (settings are per environment); a resource's value is when it is
        the same within each region and its component's settings are alike, or it differs
        between the regions of one environment."""
        keys = {c: k for c, (_, k) in values.items()}
        if len(set(keys.values())) < 2:
            return None
        found = Difference(path, kind, {c.id: v for c, (v, _) in values.items()})
        if kind != SETTING and _same_within_regions(keys) and (
                (component is not None and not causes) or _varies_within_environment(keys)):
            found.status = REGION
            found.reason = self._region_reason(component, {c: v for c, (v, _) in values.items()},
                                               keys)
        return found

    def _region_reason(self, component: str | None, values: dict[Column, Any],
                       keys: Mapping[Column, str]) -> str:
        """Why a difference is the region's doing, with the choices that made the values
        (the notes of the component naming them)."""
        if component is not None and component not in self.differing:
            why = f"{component}'s settings are alike everywhere"
        else:
            envs = [e for e in dict.fromkeys(c.environment for c in keys)
                    if len({k for c, k in keys.items() if c.environment == e}) > 1]
            why = f"it differs between the regions of {', '.join(envs)}"
        chosen: dict[str, None] = {}
        for c, value in values.items():
            for note in self.views[c].notes:
                if component is not None and note.startswith(f"{component}: ") and \
                        set(_strings(value)) & set(note.split()):
                    chosen[note.split(": ", 1)[1].split(" (also possible", 1)[0]] = None
        return (f"{why}, and it is the same within each region"
                + (f"; chosen per region: {'; '.join(chosen)}" if chosen else ""))


def _same_within_regions(keys: Mapping[Column, str]) -> bool:
    seen: dict[str, str] = {}
    return all(seen.setdefault(c.region, k) == k for c, k in keys.items())


def _varies_within_environment(keys: Mapping[Column, str]) -> bool:
    seen: dict[str, set[str]] = {}
    for c, k in keys.items():
        seen.setdefault(c.environment, set()).add(k)
    return any(len(ks) > 1 for ks in seen.values())


def _allow(differences: list[Difference],
           allowances: Iterable[ParityAllowance]) -> list[AllowanceUse]:
    """Mark what an allowance matches as allowed (over `region`); then what follows from
    allowed settings only."""
    uses = [AllowanceUse(a.path, a.reason) for a in allowances]
    for d in differences:
        use = next((u for u in uses if fnmatch.fnmatchcase(d.path, u.path)), None)
        if use is not None:
            d.status, d.reason = ALLOWED, use.reason
            use.matched.append(d.path)
    by_path = {d.path: d for d in differences}
    for d in differences:
        if d.follows_from and d.status == UNSANCTIONED:
            causes = [by_path[p] for p in d.follows_from if p in by_path]
            if causes and all(c.status == ALLOWED for c in causes):
                d.status = ALLOWED
            d.reason = "follows from " + ", ".join(
                f"{c.path}" + (f" ({c.reason})" if c.status == ALLOWED else "")
                for c in causes)
    return uses


def _union(tables: Iterable[Iterable[str]]) -> list[str]:
    """Every key of `tables`, in the order first seen."""
    out: dict[str, None] = {}
    for table in tables:
        out.update(dict.fromkeys(table))
    return list(out)


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _strings(v)


def _plain(value: Any) -> Any:
    """`value` as JSON types (anything else as its text)."""
    return json.loads(json.dumps(value, default=str))
