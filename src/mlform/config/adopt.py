"""`import:`, `moved:` and `removed:` entries: checked against the config's resources and
components.

A move is of one resource (`aws_iam_role.reader` -> `aws_iam_role.writer`, same type) or of a
whole component (`module.api` -> `module.serving`). The moved thing keeps deriving its cloud
names from its old name, so renaming it in the config changes no object.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlform.config.refs import MODULE
from mlform.config.validation import suggest
from mlform.errors import SourcePos

if TYPE_CHECKING:
    from mlform.config.checks import Builder
    from mlform.config.models import Config
    from mlform.config.resources import ResourceConfig

COMPONENT_ADDRESS = re.compile(rf"^{MODULE}\.([a-z][a-z0-9-]*)$")
RESOURCE_ADDRESS = re.compile(
    rf"^(?:{MODULE}\.[a-z][a-z0-9-]*\.)?([a-z][a-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_-]*)$")


@dataclass(frozen=True)
class Move:
    source: str  # an address, or `module.<component>`
    target: str
    pos: SourcePos | None = None

    @property
    def whole_component(self) -> bool:
        return COMPONENT_ADDRESS.match(self.source) is not None

    def moves(self, address: str) -> str | None:
        """Where `address` (recorded in a state) goes under this move, or None."""
        if address == self.source:
            return self.target
        if self.whole_component and address.startswith(self.source + "."):
            return self.target + address[len(self.source):]
        return None


@dataclass(frozen=True)
class Removal:
    """A `removed:` entry: the object(s) at `source` leave the state on purpose, deleted in
    the cloud (`destroy`) or only forgotten."""

    source: str  # an address, or `module.<component>`
    destroy: bool = True
    pos: SourcePos | None = None

    def matches(self, address: str) -> bool:
        """Whether `address` (recorded in a state) is removed by this entry."""
        return address == self.source or (COMPONENT_ADDRESS.match(self.source) is not None
                                          and address.startswith(self.source + "."))


@dataclass(frozen=True)
class Import:
    address: str
    id: str
    pos: SourcePos | None = None


def parse_moves(b: Builder, config: Config) -> list[Move]:
    """The `moved:` entries, checked for form (their targets are checked after expansion)."""
    out: list[Move] = []
    targets: set[str] = set()
    for i, entry in enumerate(config.moved):
        at = ("moved", i)
        source, target = entry.from_, entry.to
        kinds = [COMPONENT_ADDRESS.match(a) is not None for a in (source, target)]
        resource = [RESOURCE_ADDRESS.match(a) for a in (source, target)]
        if kinds[0] != kinds[1] or not all(kinds[j] or resource[j] for j in (0, 1)):
            b.error(f"moved[{i}]: move a resource to a resource (`aws_iam_role.a` -> "
                    f"`aws_iam_role.b`) or a component to a component (`{MODULE}.api` -> "
                    f"`{MODULE}.serving`), not '{source}' -> '{target}'", at)
            continue
        r0, r1 = resource
        if r0 and r1 and r0.group(1) != r1.group(1):
            b.error(f"moved[{i}]: '{source}' and '{target}' are of different types; a move "
                    "cannot change a resource's type", at)
            continue
        if target in targets:
            b.error(f"moved[{i}]: more than one entry moves to '{target}'", at)
            continue
        targets.add(target)
        out.append(Move(source, target, b.positions.key(at)))
    return out


def name_seeds(moves: list[Move]) -> tuple[dict[str, str], dict[str, str]]:
    """(resource address -> old name, component -> old name): what cloud names derive from."""
    resources, components = {}, {}
    for m in moves:
        if m.whole_component:
            components[m.target.split(".", 1)[1]] = m.source.split(".", 1)[1]
        elif not m.source.startswith(MODULE + ".") and not m.target.startswith(MODULE + "."):
            resources[m.target] = m.source.split(".", 1)[1]
    return resources, components


def check_moves(b: Builder, moves: list[Move], resources: Mapping[str, ResourceConfig],
                components: Collection[str]) -> None:
    """A move's target must be in the config, and its source must not be."""
    for i, m in enumerate(moves):
        at = ("moved", i)
        if m.whole_component:
            source, target = (a.split(".", 1)[1] for a in (m.source, m.target))
            if target not in components:
                b.error(f"moved[{i}].to: no component '{target}' in the config"
                        f"{suggest(target, components, 'components')}", (*at, "to"))
            if source in components:
                b.error(f"moved[{i}].from: component '{source}' is still in the config; "
                        "rename it (the move's `from` is its old name)", (*at, "from"))
            continue
        if m.target not in resources:
            kind = f".{m.target.split('.')[-2]}."
            alike = [a for a in resources if kind in f".{a}"]
            b.error(f"moved[{i}].to: no resource '{m.target}' in the config"
                    f"{suggest(m.target, alike, 'resources of that type')}", (*at, "to"))
        if m.source in resources:
            b.error(f"moved[{i}].from: '{m.source}' is still in the config; a move's `from` "
                    "is the old address", (*at, "from"))


def check_imports(b: Builder, config: Config, resources: Mapping[str, ResourceConfig],
                  ) -> dict[str, Import]:
    """The `import:` entries by address; each must name a resource of the config, once."""
    out: dict[str, Import] = {}
    for i, entry in enumerate(config.import_):
        at = ("import", i)
        if entry.to not in resources:
            hint = suggest(entry.to, resources, "resources")
            b.error(f"import[{i}].to: no resource '{entry.to}' in the config (write the "
                    f"resource first, then import into it){hint}", (*at, "to"))
        elif entry.to in out:
            b.error(f"import[{i}].to: '{entry.to}' is imported twice", (*at, "to"))
        else:
            out[entry.to] = Import(entry.to, entry.id, b.positions.key(at))
    return out


def parse_removals(b: Builder, config: Config, moves: list[Move]) -> list[Removal]:
    """The `removed:` entries, checked for form, repeats and moves (that their addresses are
    gone from the config is checked after expansion)."""
    out: list[Removal] = []
    for i, entry in enumerate(config.removed):
        at = ("removed", i, "from")
        source = entry.from_
        if not (COMPONENT_ADDRESS.match(source) or RESOURCE_ADDRESS.match(source)):
            b.error(f"removed[{i}].from: '{source}' is neither a resource address "
                    f"(`aws_s3_bucket.raw`, `{MODULE}.x.aws_s3_bucket.this`) nor a component "
                    f"(`{MODULE}.x`)", at)
            continue
        earlier = next((j for j, r in enumerate(out) if r.matches(source)
                        or Removal(source).matches(r.source)), None)
        if earlier is not None:
            b.error(f"removed[{i}].from: '{source}' is removed twice (also by an earlier "
                    f"entry, '{out[earlier].source}')", at)
            continue
        removal = Removal(source, entry.destroy, b.positions.key(("removed", i)))
        moved = next((m for m in moves if removal.matches(m.source)
                      or Removal(m.source).matches(source)), None)
        if moved is not None:
            b.error(f"removed[{i}].from: '{source}' is also moved ('{moved.source}' -> "
                    f"'{moved.target}'); an address is either moved or removed", at)
            continue
        out.append(removal)
    return out


def check_removals(b: Builder, removals: list[Removal], resources: Mapping[str, ResourceConfig],
                   components: Collection[str]) -> None:
    """What is removed must be gone from the config."""
    for i, r in enumerate(removals):
        at = ("removed", i, "from")
        whole = COMPONENT_ADDRESS.match(r.source) is not None
        component = r.source.split(".")[1] if r.source.startswith(MODULE + ".") else None
        if whole and component in components:
            b.error(f"removed[{i}].from: component '{component}' is still in the config; "
                    "remove it from `components:` first", at)
        elif component is not None and component in components:
            b.error(f"removed[{i}].from: '{r.source}' is part of component '{component}', "
                    "which is still in the config; remove the component from `components:` "
                    "first (a component's resources are removed with it)", at)
        elif r.source in resources:
            b.error(f"removed[{i}].from: '{r.source}' is still in the config; remove it from "
                    "`resources:` first", at)
