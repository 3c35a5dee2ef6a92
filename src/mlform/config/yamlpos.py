"""YAML -> plain Python data, remembering where every key and value came from.

Errors later in the pipeline (schema, references, cycles) need `file:line:column`; PyYAML's node
tree has the marks, so we build the data from nodes ourselves and keep a path -> position index.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from mlform.errors import ConfigError, MlformError, SourcePos

try:  # libyaml's parser is ~10x faster; fall back to pure Python where it is not compiled in.
    _Loader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader

Path = tuple[str | int, ...]

_STR = "tag:yaml.org,2002:str"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
# Plain scalars YAML 1.1 reads as something other than text (`yes`, `off`, `1.10`, `0123`).
_NOT_TEXT = ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
_NULL = "tag:yaml.org,2002:null"
# Aliases let a small file stand for a huge document (each alias is built again where it is
# used, so positions stay right): past this many values, it is refused.
MAX_VALUES = 1_000_000


@dataclass
class Positions:
    """Source positions of a loaded document, keyed by config path.

    Marks are kept as PyYAML left them (0-based line, column) and become SourcePos only when an
    error needs one: a config of thousands of resources has tens of thousands of them."""

    file: str
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    # The text of each plain scalar read as a boolean or number, to say how to quote it.
    texts: dict[Path, str] = field(default_factory=dict)
    # Entries (`("resources", "aws_s3_bucket.x")`, `("import", 3)`) written in another file
    # (`include:`), by the file they come from.
    origins: dict[Path, str] = field(default_factory=dict)

    def of(self, path: Path) -> SourcePos | None:
        """The position of the value at `path`, or of its nearest ancestor that has one."""
        p = tuple(path)
        while True:
            mark = self.values.get(p) or self.keys.get(p)
            if mark is not None:
                return SourcePos(self._file(p), mark[0] + 1, mark[1] + 1)
            if not p:
                return None
            p = p[:-1]

    def key(self, path: Path) -> SourcePos | None:
        """The position of the key naming `path` (falls back to the value, then ancestors)."""
        p = tuple(path)
        mark = self.keys.get(p)
        if mark is not None:
            return SourcePos(self._file(p), mark[0] + 1, mark[1] + 1)
        return self.of(path)

    def _file(self, path: Path) -> str:
        return self.origins.get(path[:2], self.file) if len(path) >= 2 else self.file

    def text(self, path: Path) -> str | None:
        """What the user wrote for the boolean or number at `path` (`yes`, `1.10`), or None."""
        return self.texts.get(tuple(path))


def _pos(file: str, mark: Any) -> SourcePos:
    return SourcePos(file, mark.line + 1, mark.column + 1)


class _Builder:
    def __init__(self, file: str) -> None:
        self.file = file
        self.positions = Positions(file)
        self.problems: list[MlformError] = []
        self._scalar = yaml.constructor.SafeConstructor()
        self._open: set[int] = set()  # the collections being built: an alias to one is a loop
        self._count = 0

    def build(self, node: yaml.Node, path: Path) -> Any:
        mark = node.start_mark
        self.positions.values[path] = (mark.line, mark.column)
        self._count += 1
        if self._count > MAX_VALUES:
            raise ConfigError.single(f"the document expands to more than {MAX_VALUES:,} values "
                                     "(through aliases); write it out plainly",
                                     _pos(self.file, mark))
        if isinstance(node, yaml.CollectionNode):
            if id(node) in self._open:
                self.problems.append(MlformError("an alias refers to a mapping or list that "
                                                 "contains it", pos=_pos(self.file, mark)))
                return None
            self._open.add(id(node))
            try:
                if isinstance(node, yaml.MappingNode):
                    return self._mapping(node, path)
                return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
            finally:
                self._open.discard(id(node))
        if node.tag in (_STR, _TIMESTAMP):  # dates stay the text the user wrote
            return node.value
        if node.tag not in (*_NOT_TEXT, _NULL):
            self.problems.append(MlformError(
                f"the tag {node.tag.replace('tag:yaml.org,2002:', '!!')} is not supported "
                "here; write a plain value", pos=_pos(self.file, mark)))
            return None
        if node.tag in _NOT_TEXT:
            self.positions.texts[path] = node.value
        try:
            return self._scalar.construct_object(node)
        except (yaml.YAMLError, ValueError):  # `!!int x`
            kind = node.tag.rsplit(":", 1)[-1]
            self.problems.append(MlformError(f"cannot read {node.value!r} as {kind}",
                                             pos=_pos(self.file, mark)))
            return None

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[str, Any]:
        try:
            self._scalar.flatten_mapping(node)  # resolves `<<: *anchor` merge keys
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or node.start_mark
            self.problems.append(MlformError(f"{exc.problem or 'invalid merge key'}",
                                             pos=_pos(self.file, mark)))
            return {}
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            kmark = key_node.start_mark
            if not isinstance(key_node, yaml.ScalarNode):
                self.problems.append(MlformError("mapping keys must be plain strings",
                                                 pos=_pos(self.file, kmark)))
                continue
            key = key_node.value if key_node.tag == _STR else str(key_node.value)
            if key in out:
                first = self.positions.keys[(*path, key)][0] + 1
                self.problems.append(MlformError(
                    f"duplicate key '{key}' (first defined at line {first})",
                    pos=_pos(self.file, kmark)))
                continue
            self.positions.keys[(*path, key)] = (kmark.line, kmark.column)
            out[key] = self.build(value_node, (*path, key))
        return out


def _tab_indent(lines: list[str], near: int | None) -> tuple[int, int] | None:
    """(line, column), 0-based, of a tab in the indentation of the line PyYAML stopped at or
    of one just before it (its messages for tabs do not say "tab", or point past the line)."""
    if near is None:
        return None
    for i in range(min(near, len(lines) - 1), max(near - 2, 0) - 1, -1):
        line = lines[i]
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        if "\t" in indent and line.strip():
            return i, indent.index("\t")
    return None


def decode(data: bytes, file: str) -> str:
    """`data` as UTF-8; ConfigError at the first byte that is not."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError.single(
            f"the file is not UTF-8 text: byte 0x{data[exc.start]:02x} cannot start a "
            "character here (save the file as UTF-8)", SourcePos(file, line, column)) from None


def load_yaml(text: str, file: str) -> tuple[Any, Positions]:
    """Parse one YAML document; raise ConfigError with positions on any syntax problem."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or "invalid YAML"
        if exc.context and exc.context_mark and exc.context_mark is not mark:
            problem = f"{problem} ({exc.context} at line {exc.context_mark.line + 1})"
        lines = text.splitlines()
        tab = _tab_indent(lines, mark.line if mark is not None else None)
        if tab is not None:
            raise ConfigError.single("a tab character is used for indentation; YAML allows only "
                                     "spaces", SourcePos(file, tab[0] + 1, tab[1] + 1)) from None
        if mark is not None and mark.line < len(lines) and "${" in lines[mark.line]:
            problem += "; inside { } or [ ], put quotes around a value that holds ${...}"
        raise ConfigError.single(
            f"invalid YAML: {problem}", _pos(file, mark) if mark else SourcePos(file, 1, 1)
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError.single(f"invalid YAML: {exc}", SourcePos(file, 1, 1)) from None
    builder = _Builder(file)
    if node is None:
        return None, builder.positions
    data = builder.build(node, ())
    if builder.problems:
        raise ConfigError(builder.problems)
    return data, builder.positions
