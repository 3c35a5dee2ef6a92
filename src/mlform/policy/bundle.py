"""The policy bundle: which files hold policies, and one hash over them and their settings.

A saved plan records the bundle's hash; applying it refuses when the hash differs, so a plan
is applied only under the policies it was checked against.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mlform.errors import MlformError

POLICY_SUFFIXES = (".rego", ".py")
DEFAULT_DIR = "policies"


def policy_files(config_dir: Path, paths: Sequence[str] = ()) -> list[Path]:
    """`policies/*.rego` and `policies/*.py` beside the config, or the files and folders in
    `policy.paths` (relative to the config); sorted, test files (`*_test.rego`, `test_*.py`)
    left out, since `mlform policy test` runs those."""
    found: set[Path] = set()
    for entry in (list(paths) or [DEFAULT_DIR]):
        path = (config_dir / entry)
        if path.is_dir():
            found.update(p for p in path.iterdir()
                         if p.is_file() and p.suffix in POLICY_SUFFIXES and not is_test(p))
        elif path.is_file():
            found.add(path)
        elif paths:  # the default folder may be absent; a named path may not
            raise MlformError(f"policy path '{entry}' (in policy.paths) does not exist "
                              f"under {config_dir}")
    return sorted(found)


def is_test(path: Path) -> bool:
    return path.name.endswith("_test.rego") or (path.suffix == ".py"
                                                 and path.name.startswith("test_"))


def bundle_hash(config_dir: Path, files: Sequence[Path],
                settings: Mapping[str, Any] | None = None) -> str:
    """sha256 over each policy file (name relative to the config and content) and the
    config's policy settings (`policy:` and `waivers:`), canonically ordered."""
    digest = hashlib.sha256()
    for path in sorted(files):
        try:
            name = str(path.resolve().relative_to(config_dir.resolve()))
        except ValueError:
            name = str(path.resolve())
        digest.update(name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    digest.update(json.dumps(settings or {}, sort_keys=True, default=str).encode())
    return "sha256:" + digest.hexdigest()
