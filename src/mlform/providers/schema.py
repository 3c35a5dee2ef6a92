"""Introspection of resource schemas: markers, nested blocks, defaults, Terraform's JSON shape."""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, TypeAdapter
from pydantic.fields import FieldInfo

from mlform.providers.base import AddOnly, Computed, ForceNew, JsonDocument, Sensitive
from mlform.values import UNKNOWN, contains_unknown

Nesting = Literal["model", "list", "dict"]


def _unwrap(annotation: Any) -> Any:
    """Strip Optional[...] and Annotated[...] down to the interesting type."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        else:
            return annotation


def nested_model(annotation: Any) -> tuple[Nesting, type[BaseModel]] | None:
    """If a field holds a block (a model, a list of models or a map of models), say which."""
    ann = _unwrap(annotation)
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return "model", ann
    origin = typing.get_origin(ann)
    args = typing.get_args(ann)
    if origin is list and args:
        inner = _unwrap(args[0])
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            return "list", inner
    if origin is dict and len(args) == 2:
        inner = _unwrap(args[1])
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            return "dict", inner
    return None


def _has_marker(info: FieldInfo, marker: type) -> bool:
    return any(isinstance(m, marker) for m in info.metadata)


_MARKED: dict[tuple[type, type], frozenset[str]] = {}


def _marked(model: type[BaseModel], marker: type) -> frozenset[str]:
    key = (model, marker)
    found = _MARKED.get(key)
    if found is None:
        found = _MARKED[key] = frozenset(
            n for n, f in model.model_fields.items() if _has_marker(f, marker))
    return found


def force_new_fields(model: type[BaseModel]) -> frozenset[str]:
    """Top-level arguments whose change forces replacement."""
    return _marked(model, ForceNew)


def sensitive_fields(model: type[BaseModel]) -> frozenset[str]:
    """Top-level arguments never shown in plans, logs or errors."""
    return _marked(model, Sensitive)


def computed_fields(model: type[BaseModel]) -> frozenset[str]:
    """Top-level arguments the cloud picks when they are unset (see `Computed`)."""
    return _marked(model, Computed)


def keep_computed(model: type[BaseModel], args: dict[str, Any],
                  prior: Mapping[str, Any] | None) -> dict[str, Any]:
    """`args` with each unset `Computed` argument set to what `prior` records, or UNKNOWN when
    there is no prior object (the cloud picks it at create)."""
    fields = [f for f in computed_fields(model) if args.get(f) is None]
    if not fields:
        return args
    return {**args, **{f: UNKNOWN if prior is None else prior.get(f) for f in fields}}


def map_documents(model: type[BaseModel], data: Any, convert: Callable[[Any], Any]) -> Any:
    """`data` with `convert` applied to the value of every `JsonDocument` field, at any depth
    (an inline policy inside a role's `inline_policy` list too)."""
    if not isinstance(data, dict):
        return data
    out = dict(data)
    for name, info in model.model_fields.items():
        value = data.get(name)
        if value is None or value is UNKNOWN:
            continue
        if _has_marker(info, JsonDocument):
            out[name] = convert(value)
            continue
        nested = nested_model(info.annotation)
        if nested is None:
            continue
        kind, sub = nested
        if kind == "model":
            out[name] = map_documents(sub, value, convert)
        elif kind == "list" and isinstance(value, list):
            out[name] = [map_documents(sub, v, convert) for v in value]
        elif kind == "dict" and isinstance(value, dict):
            out[name] = {k: map_documents(sub, v, convert) for k, v in value.items()}
    return out


def forced_paths(model: type[BaseModel], before: Any, after: Any,
                 prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """The paths of ForceNew fields, at any depth, whose value differs between `before` and
    `after` (an UNKNOWN after-value differs). Empty: the change can be made in place."""
    out: list[tuple[str | int, ...]] = []
    for name, info in model.model_fields.items():
        b = before.get(name) if isinstance(before, dict) else None
        a = after.get(name) if isinstance(after, dict) else None
        if a is not UNKNOWN and a == b:
            continue
        path = (*prefix, name)
        if _has_marker(info, ForceNew):
            if not (_has_marker(info, AddOnly) and _only_added(b, a)):
                out.append(path)
            continue
        nested = nested_model(info.annotation)
        if nested is None:
            continue
        kind, sub = nested
        if a is UNKNOWN:
            if _any_forced(sub):
                out.append(path)
        elif kind == "model":
            out.extend(forced_paths(sub, b, a, path))
        elif kind == "list":
            bs = b if isinstance(b, list) else []
            as_ = a if isinstance(a, list) else []
            if len(bs) != len(as_) and _any_forced(sub):
                out.append(path)
                continue
            for i, (bi, ai) in enumerate(zip(bs, as_, strict=False)):
                out.extend(forced_paths(sub, bi, ai, (*path, i)))
    return out


def _only_added(before: Any, after: Any) -> bool:
    """Every item of `before` is still in `after`, unchanged (items were added, or reordered)."""
    if not isinstance(before, list) or not isinstance(after, list) or contains_unknown(after):
        return False
    return all(item in after for item in before)


def _any_forced(model: type[BaseModel]) -> bool:
    for info in model.model_fields.values():
        if _has_marker(info, ForceNew):
            return True
        nested = nested_model(info.annotation)
        if nested is not None and _any_forced(nested[1]):
            return True
    return False


def fill_defaults(model: type[BaseModel], data: dict[str, Any]) -> dict[str, Any]:
    """`data` normalised as far as it is known: the partial counterpart of
    `model.model_validate(data).model_dump(mode="json")` for arguments that hold UNKNOWN.

    Every field whose value is fully known goes through the model's own validation for that
    field (field validators included, so a policy given as a mapping becomes the same JSON
    string it will be at apply time); missing fields get their defaults; UNKNOWN stays.
    """
    out: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if name in data:
            value = data[name]
            if contains_unknown(value):
                out[name] = _fill_value(info.annotation, value)
            else:
                out[name] = _validate_field(model, name, value)
        elif not info.is_required():
            default = info.get_default(call_default_factory=True)
            if isinstance(default, BaseModel):
                default = default.model_dump(mode="json")
            out[name] = default
    for name, value in data.items():  # unknown keys are reported by validation, keep them visible
        out.setdefault(name, value)
    return out


def _validate_field(model: type[BaseModel], name: str, value: Any) -> Any:
    """One field validated as the model validates it, or `value` as given if that fails (the
    error is reported at apply time, when the whole model can be validated).

    Assignment validation runs the field's validators, but also the model's own validators,
    which may need fields that are still unknown; then the field's type alone (with its
    Annotated validators, where normalisations belong) is the next best thing."""
    try:
        holder = model.model_construct()
        model.__pydantic_validator__.validate_assignment(holder, name, value)
        return holder.model_dump(mode="json", include={name})[name]
    except Exception:  # best effort at plan time; apply validates in full
        pass
    try:
        adapter = _field_adapter(model, name)
        return adapter.dump_python(adapter.validate_python(value), mode="json")
    except Exception:
        return value


_ADAPTERS: dict[tuple[type[BaseModel], str], TypeAdapter[Any]] = {}


def _field_adapter(model: type[BaseModel], name: str) -> TypeAdapter[Any]:
    key = (model, name)
    if key not in _ADAPTERS:
        info = model.model_fields[name]
        annotation: Any = info.annotation
        if info.metadata:
            annotation = typing.Annotated[(annotation, *info.metadata)]
        _ADAPTERS[key] = TypeAdapter(annotation)
    return _ADAPTERS[key]


def _fill_value(annotation: Any, value: Any) -> Any:
    if value is UNKNOWN or value is None:
        return value
    nested = nested_model(annotation)
    if nested is None:
        return value
    kind, sub = nested
    if kind == "model" and isinstance(value, dict):
        return fill_defaults(sub, value)
    if kind == "list" and isinstance(value, list):
        return [fill_defaults(sub, v) if isinstance(v, dict) else v for v in value]
    if kind == "dict" and isinstance(value, dict):
        return {k: fill_defaults(sub, v) if isinstance(v, dict) else v for k, v in value.items()}
    return value


def terraform_shape(model: type[BaseModel], data: dict[str, Any]) -> dict[str, Any]:
    """Values as Terraform's plan JSON writes them: a single nested block is a one-item list.

    Users write `versioning_configuration: {status: Enabled}`; Terraform (and so checkov and
    conftest policies) expect `"versioning_configuration": [{"status": "Enabled"}]`.
    """
    out: dict[str, Any] = dict(data)
    for name, info in model.model_fields.items():
        if name not in data:
            continue
        value = data[name]
        nested = nested_model(info.annotation)
        if nested is None or value is None or value is UNKNOWN:
            continue
        kind, sub = nested
        if kind == "model" and isinstance(value, dict):
            out[name] = [terraform_shape(sub, value)]
        elif kind == "list" and isinstance(value, list):
            out[name] = [terraform_shape(sub, v) if isinstance(v, dict) else v for v in value]
    return out


def field_names_at(model: type[BaseModel], loc: tuple[str | int, ...]) -> list[str] | None:
    """The valid keys of the mapping at `loc` inside `model`, or None if `loc` is not a block."""
    current: type[BaseModel] = model
    i = 0
    while i < len(loc):
        part = loc[i]
        if not isinstance(part, str) or part not in current.model_fields:
            return None
        nested = nested_model(current.model_fields[part].annotation)
        if nested is None:
            return None
        kind, current = nested
        i += 1
        if kind in ("list", "dict"):
            i += 1  # skip the index or map key
    return list(current.model_fields)
