"""Discovery: objects of the supported types that exist in the account and region but belong
to no mlform state.

An object belongs to a state if one of this config's environments records it, or if its tags
say an mlform stack made it (`mlform:stack`, which every object mlform creates carries where the
type has tags). An untaggable object that configures another (a bucket's versioning, a
repository's lifecycle policy) belongs wherever the object it configures belongs.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from mlform.engine.calls import provider_error
from mlform.engine.providers import ProviderPool
from mlform.errors import MlformError
from mlform.providers.base import Discoverable, ResourceType
from mlform.providers.registry import Registry
from mlform.state.models import State


@dataclass(frozen=True)
class Found:
    type: str
    id: str
    tags: dict[str, str] = field(default_factory=dict)
    import_id: str | None = None  # what `mlform import` takes, when it is not the id


def discoverable_types(registry: Registry, wanted: Collection[str] = ()) -> list[str]:
    """The cloud types discovery can list (all of them, or those `wanted`, checked)."""
    from mlform.config.validation import suggest

    known = sorted(
        name for name in registry.all_types()
        if _cloud_type(registry.get(name)))
    for name in wanted:
        if name not in known:
            raise MlformError(f"--type {name}: not a type discovery can list"
                              f"{suggest(name, known, 'types')}")
    return [t for t in known if t in wanted] if wanted else known


def _cloud_type(rtype: type[ResourceType[Any]]) -> bool:
    # A type whose objects are parts of another discovered object (a security group's rules,
    # which the group's own `ingress`/`egress` hold) is not listed again on its own.
    return (rtype.reads_remote and issubclass(rtype, Discoverable)
            and not getattr(rtype, "discovered_with", None))


def discover(pool: ProviderPool, types: Iterable[str], states: Iterable[State],
             parallelism: int = 10) -> list[Found]:
    """Every object of `types` in the pool's account and region that no state in `states`
    records and no mlform stack's tags claim, sorted by type and id."""
    types = list(types)
    registry = pool.registry
    recorded = {(r.type, r.id) for s in states for r in s.resources.values()}
    recorded |= {(r.type, r.id) for s in states for rs in s.deposed.values() for r in rs}
    listed: dict[str, list[Found]] = {}
    errors: list[str] = []

    def scan(type_name: str) -> None:
        rt = pool.resource(type_name)
        assert isinstance(rt, Discoverable)
        try:
            listed[type_name] = [Found(type_name, d.id, dict(d.tags), d.import_id)
                                 for d in rt.list()]
        except Exception as exc:
            errors.append(f"  {type_name}: {provider_error(exc, type_name).message}")

    # Parents first: what an untaggable object configures decides whether it is claimed.
    parents = {registry.get(t).configures for t in types} - {None}
    scanned = sorted(set(types) | {p for p in parents if p is not None})
    with ThreadPoolExecutor(max_workers=max(1, min(parallelism, len(scanned) or 1)),
                            thread_name_prefix="mlform-discover") as ex:
        list(ex.map(scan, scanned))
    if errors:
        raise MlformError("discovery failed:\n" + "\n".join(sorted(errors)))
    claimed = {(f.type, f.id) for fs in listed.values() for f in fs
               if f.tags.get("mlform:stack")} | recorded
    out = []
    for type_name in types:
        parent = registry.get(type_name).configures
        for f in listed.get(type_name, []):
            if (type_name, f.id) in claimed:
                continue
            if parent is not None and (parent, f.id) in claimed:
                continue
            out.append(f)
    return sorted(out, key=lambda f: (f.type, f.id))
