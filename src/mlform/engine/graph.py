"""The dependency graph between resources, drawn: DOT and SVG.

(The cycle check is `mlform.config.resources.check_acyclic`: loading a config needs it.)
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping

from mlform.errors import MlformError


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
