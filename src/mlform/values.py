"""Values that flow between config, plan and providers: plain JSON data plus one sentinel.

`UNKNOWN` stands for a value that is only "known after apply" (an ARN of a resource not yet
created). It survives deep copies and pickling as the same singleton.
"""

from __future__ import annotations

from typing import Any, Final

from mlform.errors import SourcePos
from mlform.sensitive import SecretRef, SecretValue


class _Unknown:
    __slots__ = ()
    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "(known after apply)"

    def __reduce__(self) -> str:
        return "UNKNOWN"

    def __deepcopy__(self, memo: dict[int, Any]) -> _Unknown:
        return self

    def __bool__(self) -> bool:
        raise TypeError("an unknown value has no truth value")


UNKNOWN: Final = _Unknown()


def contains_unknown(value: Any) -> bool:
    """True if `value` is UNKNOWN or holds it anywhere inside."""
    if value is UNKNOWN:
        return True
    if isinstance(value, dict):
        return any(contains_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_unknown(v) for v in value)
    return False


def unknown_mask(value: Any) -> Any:
    """Terraform's `after_unknown` shape: True where unknown, nested like the value, else False."""
    if value is UNKNOWN:
        return True
    if isinstance(value, dict):
        inner = {k: unknown_mask(v) for k, v in value.items()}
        return {k: v for k, v in inner.items() if v is not False} or False
    if isinstance(value, list):
        items = [unknown_mask(v) for v in value]
        return items if any(i is not False for i in items) else False
    return False


def strip_unknown(value: Any) -> Any:
    """`value` without its UNKNOWN parts (map keys dropped, list items and itself null)."""
    if value is UNKNOWN:
        return None
    if isinstance(value, dict):
        return {k: strip_unknown(v) for k, v in value.items() if v is not UNKNOWN}
    if isinstance(value, list):
        return [None if v is UNKNOWN else strip_unknown(v) for v in value]
    return value


def to_json_data(value: Any) -> Any:
    """Encode UNKNOWN as a tagged map so plans with unknowns survive a JSON round trip, and a
    sensitive value as its token and where to read it again (never the value)."""
    if value is UNKNOWN:
        return {"__mlform_unknown__": True}
    if isinstance(value, SecretValue):
        ref = value.ref
        return {"__mlform_sensitive__": str(value), "source": ref.source if ref else None,
                "label": ref.label if ref else "", "base_dir": ref.base_dir if ref else ".",
                "pos": [ref.pos.file, ref.pos.line, ref.pos.column] if ref and ref.pos
                else None}
    if isinstance(value, dict):
        return {k: to_json_data(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_json_data(v) for v in value]
    return value


def from_json_data(value: Any) -> Any:
    """Inverse of `to_json_data`."""
    if isinstance(value, dict):
        if value.get("__mlform_unknown__") is True and len(value) == 1:
            return UNKNOWN
        if isinstance(value.get("__mlform_sensitive__"), str):
            pos = value.get("pos")
            ref = (SecretRef(value["source"], value.get("label", ""),
                             SourcePos(*pos) if pos else None, value.get("base_dir", "."))
                   if value.get("source") else None)
            return SecretValue(value["__mlform_sensitive__"], ref)
        return {k: from_json_data(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_json_data(v) for v in value]
    return value
