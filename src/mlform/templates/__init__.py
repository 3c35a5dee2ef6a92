"""Starting configs for `mlform init`: copies of `examples/<name>/mlform.yaml`, shipped as
package data (a test keeps them equal to the examples, which stay the source of truth)."""

from __future__ import annotations

import json
import os
from importlib.resources import files
from pathlib import Path

from mlform.errors import MlformError

TEMPLATES = ("quickstart", "ml-platform", "multi-region")
SCHEMA_FILE = "mlform.schema.json"
# Editors with the YAML language server (VS Code's YAML extension) complete and check the
# file against the schema this comment names, which `init` writes beside it.
SCHEMA_COMMENT = f"# yaml-language-server: $schema={SCHEMA_FILE}\n"


def template_text(name: str) -> str:
    """The example config `name`, as shipped."""
    if name not in TEMPLATES:
        raise MlformError(f"unknown template '{name}'; templates: {', '.join(TEMPLATES)}")
    return files(__package__).joinpath(f"{name}.yaml").read_text(encoding="utf-8")


def init_config(directory: str | os.PathLike[str], template: str = "quickstart", *,
                force: bool = False) -> list[Path]:
    """Write `mlform.yaml` from `template` into `directory`, headed by the schema comment,
    and the JSON Schema it names beside it; the files written. Refuses to replace an existing
    `mlform.yaml` unless `force`."""
    from mlform.config.schema import config_schema
    from mlform.config.stack import DEFAULT_CONFIG
    from mlform.providers.registry import default_registry

    folder = Path(directory)
    config = folder / DEFAULT_CONFIG
    if config.exists() and not force:
        raise MlformError(f"{config} already exists; pass --force to replace it")
    text = SCHEMA_COMMENT + template_text(template)
    schema = json.dumps(config_schema(default_registry()), indent=2) + "\n"
    (folder / SCHEMA_FILE).write_text(schema, encoding="utf-8")
    config.write_text(text, encoding="utf-8")
    return [config, folder / SCHEMA_FILE]
