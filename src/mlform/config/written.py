"""The config as the user wrote it, kept beside the resolved stack for plan JSON.

Loading fills `${var.x}` into every template, which is what planning needs; but Terraform's
plan JSON describes the configuration itself (`configuration`: which expression refers to
which variable or resource) and the variables' values (`variables`), and policy tools read
both (a tag policy that insists `tags.owner` comes from `var.owner`). So the loader keeps this
small, JSON-safe copy of what was written: nothing here is used to plan.

A sensitive variable keeps no value and no default here: only the fact that it is sensitive,
so no plan file, saved plan or JSON document can carry it.
"""

from __future__ import annotations

from typing import Any

from mlform.config.models import META_ARGUMENTS, Config
from mlform.sensitive import holds_sensitive


def written_config(config: Config, values: dict[str, Any],
                   settings: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """`variables` (name -> value, default, description, sensitive), `resources` (address ->
    arguments as written), `components` (name -> settings as written for this environment,
    before variables are filled) and `outputs` (name -> value as written)."""
    variables: dict[str, dict[str, Any]] = {}
    for name, var in config.variables.items():
        secret = var.sensitive or var.value_from is not None or holds_sensitive(values.get(name))
        entry: dict[str, Any] = {"sensitive": secret}
        if not secret:
            entry["value"] = values.get(name)
            if var.default is not None:
                entry["default"] = var.default
        if var.description:
            entry["description"] = var.description
        variables[name] = entry
    return {
        "variables": variables,
        "resources": {a: {k: v for k, v in body.items() if k not in META_ARGUMENTS}
                      for a, body in config.resources.items() if isinstance(body, dict)},
        "components": settings,
        "outputs": {n: {"value": o.value, "sensitive": o.sensitive,
                        **({"description": o.description} if o.description else {})}
                    for n, o in config.outputs.items()},
    }
