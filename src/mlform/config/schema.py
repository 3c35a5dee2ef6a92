"""The JSON Schema of mlform.yaml, for editors (`mlform schema > mlform.schema.json`).

Built from the same pydantic models that validate the file: the top level, every component
type (discriminated by `type:`), and every resource type's arguments (keyed `TYPE.NAME`, with
`depends_on` and `lifecycle`). Nothing here is written twice.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel, Field, create_model
from pydantic.json_schema import models_json_schema

from mlform.config.models import Config, LifecycleConfig
from mlform.providers.base import ResourceType, StackContext
from mlform.providers.registry import Registry

SCHEMA_ID = "https://mlform.dev/schema/mlform.yaml.json"
NAME = r"[A-Za-z_][A-Za-z0-9_-]*"


def _with_meta_arguments(rtype: type[ResourceType[Any]]) -> type[BaseModel]:
    """The resource's arguments as users write them: plus the meta-arguments every resource
    takes, and with the arguments mlform defaults (names) optional."""
    args = rtype.Args
    defaulted = rtype.default_args(StackContext(project="p", environment="e"), "n")
    optional = {
        name: (args.model_fields[name].annotation | None,
               Field(None, description=args.model_fields[name].description))
        for name in defaulted if name in args.model_fields
    }
    return create_model(  # type: ignore[call-overload, no-any-return]
        args.__name__.removesuffix("Args") + "Resource", __base__=args,
        depends_on=(list[str], Field(default_factory=list, description="Addresses this "
                                     "resource must come after, besides its references.")),
        lifecycle=(LifecycleConfig | None, None),
        **optional,
    )


REFERENCE = {"type": "string", "pattern": r"\$\{",
             "description": "A reference, such as ${var.name} or ${aws_s3_bucket.x.arn}."}


def _references_allowed(node: Any) -> None:
    """Any value may be written as a `${...}` reference: accept one wherever a property is."""
    if isinstance(node, dict):
        for key, value in list(node.items()):
            if key == "properties" and isinstance(value, dict):
                for name, prop in list(value.items()):
                    _references_allowed(prop)
                    if name != "type":
                        value[name] = {"anyOf": [prop, REFERENCE]}
            else:
                _references_allowed(value)
    elif isinstance(node, list):
        for item in node:
            _references_allowed(item)


def _per_environment(schema: dict[str, Any]) -> None:
    """Let every setting of a component be written per environment (`{dev: 1, prod: 3}`)."""
    for name, prop in list(schema.get("properties", {}).items()):
        if name == "type":
            continue
        schema["properties"][name] = {"anyOf": [prop, {
            "type": "object", "additionalProperties": prop,
            "description": "One value per environment (or `default`)."}]}


def config_schema(registry: Registry) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of mlform.yaml with every installed type."""
    from mlform.components import component_types

    components = component_types()
    resources = {name: _with_meta_arguments(t)
                 for name, t in sorted(registry.all_types().items())}
    models: list[type[BaseModel]] = [Config, *components.values(), *resources.values()]
    refs, defs = models_json_schema([(m, "validation") for m in models],
                                    ref_template="#/$defs/{model}")
    all_defs = copy.deepcopy(defs.get("$defs", {}))
    literal_only = {"Config", "EnvironmentConfig", "StateConfig", "VariableConfig"}
    for name, definition in all_defs.items():
        if name not in literal_only:
            _references_allowed(definition)
    for model in components.values():
        _per_environment(all_defs[refs[(model, "validation")]["$ref"].rsplit("/", 1)[1]])
    root = all_defs.pop("Config")
    # `name: ${x.y}` is shorthand for `name: {value: ${x.y}}`.
    root["properties"]["outputs"]["additionalProperties"] = {
        "anyOf": [root["properties"]["outputs"]["additionalProperties"], {}]}
    root["properties"]["components"] = {
        "type": "object",
        "description": root["properties"]["components"].get("description", ""),
        "propertyNames": {"pattern": "^[a-z][a-z0-9-]{0,39}$"},
        "additionalProperties": {
            "oneOf": [refs[(m, "validation")] for m in components.values()],
            "discriminator": {"propertyName": "type", "mapping": {
                kind: refs[(m, "validation")]["$ref"] for kind, m in components.items()}},
        },
    }
    root["properties"]["resources"] = {
        "type": "object",
        "description": root["properties"]["resources"].get("description", ""),
        "patternProperties": {
            f"^{name}\\.{NAME}$": refs[(model, "validation")]
            for name, model in resources.items()
        },
        "additionalProperties": False,
    }
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID,
            "title": "mlform.yaml", **root, "$defs": all_defs}
