"""Renames a plan would turn into destroy-and-create: a resource or a component whose address
changed in the config while its settings did not. The plan suggests the `moved:` entry that
keeps the object instead (Terraform leaves the user to notice).

Two objects are the same thing renamed when they have the same type and the same arguments,
except for cloud names derived from the address (`<project>-<environment>-<name>`, also inside
ARNs and policies), and values the plan knows only after apply. A component is renamed when
every resource of the old one matches the resource at the same place in the new one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlform.config.refs import MODULE, split_address
from mlform.providers.base import StackContext
from mlform.providers.registry import Registry
from mlform.values import UNKNOWN

if TYPE_CHECKING:
    from mlform.engine.plan import ResourceChange

# What follows a derived name in a name made from content (a SageMaker model's): its digest.
_DIGESTED = re.compile(r"-[0-9a-f]{8}")


@dataclass(frozen=True)
class Rename:
    """A `moved:` entry that would keep objects this plan destroys and creates again."""

    source: str  # an address, or `module.<component>`
    target: str
    # (address, what destroying it loses) for each object that holds data (a bucket's objects)
    loses: list[tuple[str, str]] = field(default_factory=list)

    @property
    def entry(self) -> str:
        """The entry as it is written in mlform.yaml."""
        return f"{{from: {self.source}, to: {self.target}}}"


def suggest_moves(changes: Sequence[ResourceChange], context: StackContext,
                  registry: Registry) -> list[Rename]:
    """The renames among `changes`: whole components, then single resources."""
    from mlform.engine.plan import Action

    gone = {c.address: c for c in changes
            if c.action is Action.DELETE and not c.deposed and c.before
            and c.reason == "no longer in the configuration" and registry.knows(c.type)}
    new = {c.address: c for c in changes
           if c.action is Action.CREATE and c.importing is None and c.after
           and registry.knows(c.type)}
    kept = {c.address for c in changes if c.address not in gone and c.address not in new}
    components = [(old, target, pairs) for old, target in _component_pairs(gone, new, kept)
                  if (pairs := _pairs(gone, new, old, target)) is not None]
    taken = {g.address for _, _, pairs in components for g, _ in pairs}
    resources = [(g, [n for n in new.values() if n.type == g.type
                      and split_address(n.address)[0] is None])
                 for g in gone.values()
                 if g.address not in taken and split_address(g.address)[0] is None]
    # Renamed things refer to each other (a role's policy names a renamed bucket): every
    # likely rename's names are replaced when comparing any of them.
    likely = [pair for _, _, pairs in components for pair in pairs]
    likely += [(g, ns[0]) for g, ns in resources if len(ns) == 1]
    everywhere = [name for g, n in likely for name in _names(registry, context, g, n)]

    def same(g: ResourceChange, n: ResourceChange) -> bool:
        names = _longest_first(_names(registry, context, g, n) + everywhere)
        return all(_alike(_renamed(g.before.get(f) if g.before else None, names),
                          (n.after or {}).get(f), names)
                   for f in registry.get(n.type).Args.model_fields)

    found: list[Rename] = []
    for old, target, pairs in sorted(components, key=lambda c: c[0]):
        if all(same(g, n) for g, n in pairs):
            found.append(Rename(f"{MODULE}.{old}", f"{MODULE}.{target}",
                                _losses(registry, (g for g, _ in pairs))))
    matched: set[str] = set()
    for g, candidates in sorted(resources, key=lambda r: r[0].address):
        matches = [n for n in candidates if n.address not in matched and same(g, n)]
        if len(matches) == 1:  # (two candidates: which one is the rename is a guess)
            found.append(Rename(g.address, matches[0].address, _losses(registry, [g])))
            matched.add(matches[0].address)
    return found


def _component_pairs(gone: Mapping[str, ResourceChange], new: Mapping[str, ResourceChange],
                     kept: set[str]) -> list[tuple[str, str]]:
    """(old, new) components: every resource of the old one goes, every one of the new one
    is created, and their resources are the same types at the same places."""
    def layout(addresses: Iterable[str]) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for address in addresses:
            component, type_name, name = split_address(address)
            if component is not None:
                out.setdefault(component, set()).add(f"{type_name}.{name}")
        return out

    remaining = layout(kept)
    olds, news = layout(gone), layout(new)
    pairs = []
    for old, shape in olds.items():
        if old in remaining:
            continue  # part of it stays: not a rename of the whole component
        same = [n for n, s in news.items() if s == shape and n not in remaining]
        if len(same) == 1:
            pairs.append((old, same[0]))
            del news[same[0]]
    return pairs


def _pairs(gone: Mapping[str, ResourceChange], new: Mapping[str, ResourceChange],
           old: str, target: str) -> list[tuple[ResourceChange, ResourceChange]] | None:
    prefix, to = f"{MODULE}.{old}.", f"{MODULE}.{target}."
    out = []
    for address, g in gone.items():
        if address.startswith(prefix):
            n = new.get(to + address[len(prefix):])
            if n is None:
                return None
            out.append((g, n))
    return out


def _base(address: str) -> str:
    """The name a resource's cloud names derive from, as the config loader derives them."""
    component, _, name = split_address(address)
    if component is None:
        return name
    return component if name == "this" else f"{component}-{name}"


def _names(registry: Registry, context: StackContext, gone: ResourceChange,
           new: ResourceChange) -> list[tuple[str, str]]:
    """(old, new) cloud names derived from the two addresses."""
    old, target = _base(gone.address), _base(new.address)
    pairs = {context.default_name(old): context.default_name(target)}
    rtype = registry.get(new.type)
    before, after = rtype.default_args(context, old), rtype.default_args(context, target)
    for key, value in before.items():
        if isinstance(value, str) and isinstance(after.get(key), str):
            pairs[value] = after[key]
    for value in list(pairs):
        pairs.setdefault(value.lower(), pairs[value].lower())
    return list(pairs.items())


def _longest_first(names: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return sorted(dict(names).items(), key=lambda p: -len(p[0]))


def _renamed(value: Any, names: list[tuple[str, str]]) -> Any:
    if isinstance(value, str):
        for old, new in names:
            value = value.replace(old, new)
        return value
    if isinstance(value, dict):
        return {k: _renamed(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_renamed(v, names) for v in value]
    return value


def _alike(old: Any, new: Any, names: list[tuple[str, str]]) -> bool:
    """`old` (renamed) is `new`, where an unknown value matches anything and a name made of a
    derived name and a content digest (`<name>-d91289c4`) matches one with another digest."""
    if new is UNKNOWN:
        return True
    if isinstance(old, dict) and isinstance(new, dict):
        return old.keys() == new.keys() and all(_alike(old[k], new[k], names) for k in old)
    if isinstance(old, list) and isinstance(new, list):
        return len(old) == len(new) and all(_alike(o, n, names) for o, n in zip(old, new,
                                                                                 strict=True))
    if isinstance(old, str) and isinstance(new, str) and old != new:
        return any(_DIGESTED.fullmatch(old[len(n):]) and _DIGESTED.fullmatch(new[len(n):])
                   for _, n in names if old.startswith(n) and new.startswith(n))
    return bool(old == new)


def _losses(registry: Registry, changes: Iterable[ResourceChange]) -> list[tuple[str, str]]:
    return [(c.address, registry.get(c.type).destroy_loses) for c in changes
            if registry.get(c.type).destroy_loses]
