"""Dependencies point down: `config/` never imports `engine/` (nor anything that does), and the
package is typed and cheap to import."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import mlform

SRC = Path(mlform.__file__).resolve().parent
ROOT = SRC.parent.parent


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every import in `path`, lazy or under TYPE_CHECKING included."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.extend((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)
    return found


def test_config_never_imports_the_engine() -> None:
    offending = [f"{path.relative_to(SRC)}:{line}: imports {module}"
                 for path in sorted((SRC / "config").glob("*.py"))
                 for line, module in imported_modules(path)
                 if module == "mlform.engine" or module.startswith("mlform.engine.")]
    assert offending == []


def test_loading_a_config_loads_no_engine_module(tmp_path: Path) -> None:
    # What config/ imports (providers, components) must not reach the engine either.
    (tmp_path / "mlform.yaml").write_text(
        "project: demo\ncomponents:\n  features: {type: dataset_store}\n"
        "resources:\n  mlform_data.a: {input: 1}\n")
    code = ("import sys; from mlform.config.stack import load_stack; "
            "load_stack('mlform.yaml', offline=True); "
            "print(sorted(m for m in sys.modules if m.startswith('mlform.engine')))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, check=True, timeout=120)
    assert proc.stdout.strip() == "[]"


def test_workspace_is_exported_lazily() -> None:
    code = ("import sys, mlform; before = 'mlform.api' in sys.modules; "
            "from mlform.api import Workspace; "
            "print(before, mlform.Workspace is Workspace, 'Workspace' in mlform.__all__)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=120)
    assert proc.stdout.split() == ["False", "True", "True"]


def test_package_is_marked_typed_and_ships_the_marker() -> None:
    assert (SRC / "py.typed").is_file()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "py.typed" in pyproject["tool"]["setuptools"]["package-data"]["mlform"]
