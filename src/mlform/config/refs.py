"""`${...}` references inside config values, and resource addresses.

A reference names a variable (`${var.model_version}`), a fact about the stack
(`${mlform.project}`, `${mlform.environment}`, `${mlform.region}`), an attribute of a resource
(`${aws_iam_role.sagemaker.arn}`, or deeper:
`${aws_sagemaker_endpoint_configuration.c.production_variants[0].variant_name}`), an output of
a component (`${registry.url}`), or an attribute of a resource a component made
(`${module.registry.aws_ecr_repository.this.arn}`, as Terraform names module resources).

The kinds are told apart by their first part alone: `var` and `mlform` are static, `module`
is a component's resource, a name with an underscore is a resource type (every type has its
provider's prefix, `aws_...`), and any other name is a component (component names have none).
A string that is exactly one reference takes the referenced value with its type; a reference
embedded in text is rendered into the string. `$${` writes a literal `${`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from mlform.values import UNKNOWN

_REF = re.compile(r"\$\$\{|\$\{([^}]*)\}")
_SEGMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*|\[\d+\]")

STATIC_ROOTS = frozenset({"var", "mlform"})
MODULE = "module"
RESERVED_ROOTS = STATIC_ROOTS | {MODULE}


def split_address(address: str) -> tuple[str | None, str, str]:
    """`aws_s3_bucket.b` -> (None, type, name); `module.c.aws_s3_bucket.b` -> ("c", type, name)."""
    parts = address.split(".")
    if parts[0] == MODULE and len(parts) == 4:
        return parts[1], parts[2], parts[3]
    return None, parts[0], parts[1]


def module_address(component: str, type_name: str, name: str) -> str:
    return f"{MODULE}.{component}.{type_name}.{name}"


@dataclass(frozen=True, slots=True)
class Ref:
    """A parsed reference: `parts` are the dotted segments, list indices as ints."""

    text: str
    parts: tuple[str | int, ...]

    @property
    def kind(self) -> str:
        """`static`, `resource` (of the config or of a component) or `output` (a component's)."""
        root = self.parts[0]
        if root in STATIC_ROOTS:
            return "static"
        if root == MODULE or "_" in str(root):
            return "resource"
        return "output"

    @property
    def is_static(self) -> bool:
        """Known from the config alone (variables and stack facts), not from another resource."""
        return self.parts[0] in STATIC_ROOTS

    @property
    def address(self) -> str:
        """The address of the resource a `resource` reference points at."""
        if self.parts[0] == MODULE:
            return ".".join(str(p) for p in self.parts[:4])
        return f"{self.parts[0]}.{self.parts[1]}"

    @property
    def attr_path(self) -> tuple[str | int, ...]:
        return self.parts[4:] if self.parts[0] == MODULE else self.parts[2:]

    @property
    def component(self) -> str:
        """The component an `output` reference reads (its output is `parts[1]`)."""
        return str(self.parts[0])

    def __str__(self) -> str:
        return "${" + self.text + "}"


class RefSyntaxError(ValueError):
    """A `${...}` that is not a valid reference."""


def parse_path(text: str) -> tuple[str | int, ...]:
    """`a.b[0].c` -> ("a", "b", 0, "c"); ValueError if `text` is not such a path."""
    body = text.strip()
    parts: list[str | int] = []
    pos = 0
    while pos < len(body):
        if body[pos] == "." and parts and pos + 1 < len(body) and body[pos + 1] != "[":
            pos += 1
        m = _SEGMENT.match(body, pos)
        if m is None:
            raise ValueError(f"'{text}' is not a path such as name, block.key or list[0].key")
        seg = m.group(0)
        parts.append(int(seg[1:-1]) if seg.startswith("[") else seg)
        pos = m.end()
    if not parts or not isinstance(parts[0], str):
        raise ValueError(f"'{text}' is not a path such as name, block.key or list[0].key")
    return tuple(parts)


def format_path(path: tuple[str | int, ...]) -> str:
    """The inverse of parse_path."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _parse_ref(text: str) -> Ref:
    body = text.strip()
    try:
        parts = list(parse_path(body))
    except ValueError:
        raise RefSyntaxError(
            f"invalid reference '${{{text}}}': expected names separated by dots, such as "
            "${var.name} or ${aws_s3_bucket.data.arn}"
        ) from None
    if len(parts) < 2 or not isinstance(parts[0], str) or not isinstance(parts[1], str):
        raise RefSyntaxError(
            f"invalid reference '${{{text}}}': it needs at least two parts, such as "
            "${var.name} or ${aws_s3_bucket.data.arn}"
        )
    ref = Ref(body, tuple(parts))
    if ref.kind == "resource":
        needed = 5 if parts[0] == MODULE else 3
        if len(parts) < needed or not all(isinstance(p, str) for p in parts[: needed - 1]):
            raise RefSyntaxError(
                f"invalid reference '${{{text}}}': name an attribute of the resource, "
                f"such as ${{{body}.id}}"
            )
    return ref


def trigger_ref(text: str) -> Ref:
    """A `lifecycle.replace_triggered_by` entry, written as Terraform writes it (without
    `${}`), as a reference. Raises ValueError if it is not one reference to a resource."""
    try:
        parts = parse_path(text.strip())
    except ValueError:
        parts = ()
    ref = Ref(text.strip(), parts)
    named = 4 if parts[:1] == (MODULE,) else 2  # the parts that name the resource
    if (len(parts) < named or not all(isinstance(p, str) for p in parts[:named])
            or ref.kind != "resource"):
        raise ValueError(f"'{text}' is not a resource address or a resource's attribute "
                         "(write it as `aws_x.name` or `aws_x.name.attribute`, without ${})")
    return ref


@lru_cache(maxsize=65536)
def parse_template(text: str) -> tuple[str | Ref, ...]:
    """Split a string into literal pieces and references. Raises RefSyntaxError."""
    if "${" not in text:
        return (text,)
    pieces: list[str | Ref] = []
    literal: list[str] = []
    last = 0
    for m in _REF.finditer(text):
        literal.append(text[last : m.start()])
        if m.group(0) == "$${":
            literal.append("${")
        else:
            if literal:
                joined = "".join(literal)
                if joined:
                    pieces.append(joined)
                literal = []
            pieces.append(_parse_ref(m.group(1)))
        last = m.end()
    literal.append(text[last:])
    joined = "".join(literal)
    if joined or not pieces:
        pieces.append(joined)
    return tuple(pieces)


def iter_refs(
    value: Any, path: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], Ref]]:
    """Every reference inside `value`, with the config path of the string holding it."""
    if isinstance(value, str):
        if "${" in value:
            for piece in parse_template(value):
                if isinstance(piece, Ref):
                    yield path, piece
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from iter_refs(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from iter_refs(v, (*path, i))


def render_piece(value: Any) -> str:
    """How a referenced value reads when embedded in a string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    if value is None:
        return ""
    return str(value)


Resolver = Callable[[Ref], Any]


def substitute(value: Any, resolve: Resolver, *, only_static: bool = False) -> Any:
    """Replace references in `value` with what `resolve` returns for them.

    With `only_static`, resource references are left in place (as template text) so the result can
    be resolved again later. UNKNOWN inside an embedded reference makes the whole string UNKNOWN.
    """
    if isinstance(value, str):
        if "${" not in value:
            return value
        pieces = parse_template(value)
        if only_static and not any(isinstance(p, Ref) and p.is_static for p in pieces):
            return value
        if len(pieces) == 1 and isinstance(pieces[0], Ref):
            ref = pieces[0]
            if not only_static:
                return resolve(ref)
            return _escape(resolve(ref)) if ref.is_static else value
        out: list[str] = []
        for piece in pieces:
            if isinstance(piece, str):
                out.append(piece.replace("${", "$${") if only_static else piece)
            elif only_static and not piece.is_static:
                out.append(str(piece))
            else:
                got = resolve(piece)
                if got is UNKNOWN:
                    return UNKNOWN
                text = render_piece(got)
                out.append(text.replace("${", "$${") if only_static else text)
        return "".join(out)
    if isinstance(value, dict):
        return {k: substitute(v, resolve, only_static=only_static) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, resolve, only_static=only_static) for v in value]
    return value


def _escape(value: Any) -> Any:
    """Make a resolved value inert to a later substitution pass."""
    if isinstance(value, str):
        return value.replace("${", "$${")
    if isinstance(value, dict):
        return {k: _escape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_escape(v) for v in value]
    return value


def lookup(value: Any, path: tuple[str | int, ...]) -> Any:
    """Follow `path` into `value`; KeyError/IndexError/TypeError when it does not exist."""
    for part in path:
        if value is UNKNOWN:
            return UNKNOWN
        if isinstance(part, int):
            if not isinstance(value, list):
                raise TypeError(f"[{part}] indexes a list, but the value is not a list")
            value = value[part]
        else:
            if not isinstance(value, dict):
                raise TypeError(f"'.{part}' reads a map key, but the value is not a map")
            value = value[part]
    return value
