"""The dependency graph between resources: cycle checks, ordering, DOT.

All work here is O(resources + edges): graphlib does the sorting and cycle finding.
"""

from __future__ import annotations

import graphlib
import shutil
import subprocess
from collections.abc import Mapping
from typing import TYPE_CHECKING

from mlform.errors import MlformError

if TYPE_CHECKING:
    from mlform.config.stack import ResourceConfig


def check_acyclic(resources: Mapping[str, ResourceConfig], problems: list[MlformError]) -> None:
    """Append a problem naming the cycle's path if the resources' dependencies form a cycle."""
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


def to_dot(deps: Mapping[str, tuple[str, ...] | list[str]], title: str = "mlform") -> str:
    """The graph as Graphviz DOT; an edge A -> B means A depends on B."""
    lines = [f'digraph "{title}" {{', "  rankdir = RL;",
             '  node [shape = box, fontname = "Helvetica"];']
    for node in deps:
        lines.append(f'  "{node}";')
    for node, ds in deps.items():
        for d in ds:
            lines.append(f'  "{node}" -> "{d}";')
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_svg(dot_source: str) -> bytes:
    """Render DOT to SVG with Graphviz's `dot`; MlformError if Graphviz is not installed."""
    exe = shutil.which("dot")
    if exe is None:
        raise MlformError(
            "SVG output needs Graphviz's `dot` command, which is not installed "
            "(Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz); "
            "use --format dot to get the graph without it"
        )
    proc = subprocess.run([exe, "-Tsvg"], input=dot_source.encode(), capture_output=True,
                          check=False, timeout=120)
    if proc.returncode != 0:
        raise MlformError(f"Graphviz failed: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout
