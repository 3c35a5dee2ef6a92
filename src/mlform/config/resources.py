"""What a loaded config is made of, as everything after `config/` sees it: desired resources,
outputs, and the check that their dependencies form no cycle.

These types live here, not in `engine/`, because dependencies point down: the engine plans
`ResourceConfig`s, and `config/` must never import the engine to build them.
"""

from __future__ import annotations

import graphlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlform.config.models import LifecycleConfig
from mlform.errors import MlformError, SourcePos


@dataclass
class ResourceConfig:
    """One desired resource: its arguments with variables filled in, references still open."""

    address: str
    type: str
    name: str
    template: dict[str, Any]
    depends_on: tuple[str, ...]
    lifecycle: LifecycleConfig
    pos: SourcePos | None = None
    component: str | None = None  # the component that made it


@dataclass
class OutputSpec:
    name: str
    template: Any
    sensitive: bool = False
    description: str | None = None
    depends_on: tuple[str, ...] = ()


def check_acyclic(resources: Mapping[str, ResourceConfig], problems: list[MlformError]) -> None:
    """Append a problem naming the cycle's path if the resources' dependencies form a cycle.

    O(resources + edges): graphlib does the cycle finding."""
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter(
        {a: r.depends_on for a, r in resources.items()}
    )
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        cycle: list[str] = list(reversed(exc.args[1]))
        first = resources[cycle[0]]
        problems.append(MlformError(
            f"{first.address}: dependency cycle: {' -> '.join(cycle)} "
            "(each resource refers to the next; break the cycle by removing one reference)",
            pos=first.pos,
        ))
