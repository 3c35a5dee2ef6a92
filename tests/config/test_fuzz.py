"""Random and mutated YAML into the config loader: it loads, or it raises a ConfigError whose
every problem names file:line:column. Any other exception (a traceback for the user) fails.

Seeded (`derandomize`), so CI runs the same examples every time; crashes it found are kept as
explicit examples below."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mlform.config.stack import load_stack
from mlform.errors import ConfigError, MlformError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SOURCES = {name: (EXAMPLES / name / "mlform.yaml").read_text(encoding="utf-8")
           for name in ("quickstart", "ml-platform")}

FUZZ = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("fuzz")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def check_loads_or_locates(workdir: Path, content: bytes | str) -> None:
    """The loader's contract: a Stack, or located problems; nothing else escapes."""
    path = workdir / "mlform.yaml"
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    try:
        load_stack(path, offline=True)
    except ConfigError as exc:
        assert exc.problems, "a ConfigError with no problem in it"
        unlocated = [p.message for p in exc.problems if p.pos is None]
        assert not unlocated, f"problems without file:line:column: {unlocated}"
    except MlformError as exc:
        assert exc.pos is not None, f"an error without file:line:column: {exc}"


# -- random documents --------------------------------------------------------------------------

KEYS = ["project", "environments", "variables", "components", "resources", "outputs", "budget",
        "import", "moved", "removed", "include", "dev", "prod", "target", "region", "account",
        "state", "default", "type", "value", "from", "to", "id", "destroy", "lifecycle",
        "depends_on", "ignore_changes", "prevent_destroy", "monthly_usd", "sensitive",
        "aws_s3_bucket.b", "mlform_data.a", "module.x", "features", "dataset_store",
        "model_endpoint", "bucket", "input", "replicas", "tags", "<<"]
SCALARS = st.one_of(
    st.sampled_from(["yes", "no", "on", "1.10", "3.0", "~", "", "sandbox", "aws", "demo",
                     "${var.v}", "${", "${mlform_data.a.output}", "${features.uri}", "$${x}",
                     "${aws_s3_bucket.b.arn}", "${module.x.y.z}", "${var.v[0]}", "a..b",
                     "module.x", "aws_s3_bucket.b", "0..4", "A100:8", "*.yaml", "2024-01-01"]),
    st.integers(-(2**70), 2**70), st.floats(allow_nan=True), st.booleans(), st.none(),
    st.text(max_size=12))
DOCUMENTS = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=8)),
                                            inner, max_size=5)),
    max_leaves=30)
CONFIGS = st.fixed_dictionaries({"project": st.one_of(st.just("demo"), SCALARS)},
                                optional=dict.fromkeys(KEYS[1:11], DOCUMENTS))


@FUZZ
@given(doc=st.one_of(CONFIGS, DOCUMENTS))
def test_random_documents(workdir: Path, doc: Any) -> None:
    check_loads_or_locates(workdir, yaml.safe_dump(doc, allow_unicode=True))


# -- mutations of the real examples ------------------------------------------------------------

REPLACEMENTS = ["yes", "1.10", "null", "[]", "{}", "[a, b]", "{a: 1}", '"${var.nope}"', "${",
                "'${aws_s3_bucket.nope.arn}'", "-1", "99999999999999999999", "*anchor",
                "&a x", "!!binary aGk=", "!!python/object:os.system", "|", ">", "'", '"', "#",
                "? x", "- x", ": x", "\t", "0x1F", "2024-01-01", "~", "@", "`", "%YAML 1.2"]


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    name = draw(st.sampled_from(sorted(SOURCES)))
    lines = SOURCES[name].splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "tab", "indent", "dedent",
                                   "scalar", "key", "insert"]))
        line = lines[i]
        if op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, line)
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "tab":
            lines[i] = "\t" + line.lstrip(" ")
        elif op == "indent":
            lines[i] = "  " + line
        elif op == "dedent":
            lines[i] = line[2:] if line.startswith("  ") else line
        elif op == "scalar" and ": " in line:  # swap the value for another kind of thing
            key = line.split(": ", 1)[0]
            lines[i] = f"{key}: {draw(st.sampled_from(REPLACEMENTS))}\n"
        elif op == "key" and ":" in line:  # rename (or mistype) the key
            indent = line[: len(line) - len(line.lstrip(" "))]
            rest = line.split(":", 1)[1]
            lines[i] = f"{indent}{draw(st.sampled_from(KEYS))}:{rest}"
        elif op == "insert":
            lines.insert(i, draw(st.sampled_from(REPLACEMENTS)) + "\n")
    data = "".join(lines).encode("utf-8")
    cut = draw(st.one_of(st.none(), st.integers(0, len(data))))  # truncate
    if cut is not None:
        data = data[:cut]
    if draw(st.booleans()):  # random bytes somewhere
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=6)) + data[at:]
    return name, data


def _edit(name: str, old: str, new: str) -> tuple[str, bytes]:
    assert old in SOURCES[name]
    return name, SOURCES[name].replace(old, new, 1).encode()


@FUZZ
@given(case=mutated())
# Crashes the fuzzer found, kept: a byte that is not UTF-8; tags PyYAML cannot construct, or
# constructs as bytes; a scalar merged with `<<`; an alias inside itself; an unknown variable
# in a component setting that the component serialises (JSON of UNKNOWN).
@example(case=("ml-platform", b"\x80" + SOURCES["ml-platform"].encode()))
@example(case=_edit("quickstart", "project:", "x: !!python/object:os.system x\nproject:"))
@example(case=_edit("quickstart", "project:", "x: !!binary aGk=\nproject:"))
@example(case=_edit("quickstart", "project:", "x: !!int abc\nproject:"))
@example(case=_edit("quickstart", "project:", "x: {<<: 1}\nproject:"))
@example(case=_edit("quickstart", "project:", "x: &a [*a]\nproject:"))
@example(case=_edit("ml-platform", "{MaxRuntimeInSeconds: 14400}", '"${var.nope}"'))
def test_mutated_examples(workdir: Path, case: tuple[str, bytes]) -> None:
    check_loads_or_locates(workdir, case[1])


# -- structural mutations: delete, duplicate and retype keys -----------------------------------

RETYPED = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.just(1.5), st.just([]),
                    st.just({}), st.just("text"), st.just(["a", 1]), st.just({"x": {"y": 1}}))


def _paths(value: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield (*at, k)
            yield from _paths(v, (*at, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield (*at, i)
            yield from _paths(v, (*at, i))


@st.composite
def restructured(draw: st.DrawFn) -> Any:
    data = yaml.safe_load(SOURCES[draw(st.sampled_from(sorted(SOURCES)))])
    for _ in range(draw(st.integers(1, 3))):
        paths = list(_paths(data))
        if not paths:
            break
        *parent_path, last = draw(st.sampled_from(paths))
        parent = data
        for part in parent_path:
            parent = parent[part]
        op = draw(st.sampled_from(["delete", "duplicate", "retype"]))
        if op == "delete":
            del parent[last]
        elif op == "duplicate" and isinstance(parent, dict):
            parent[f"{last}-copy" if "." not in str(last) else f"{last}_copy"] = parent[last]
        elif op == "duplicate":
            parent.append(parent[last])
        else:
            parent[last] = draw(RETYPED)
    return data


def _restructure(name: str, path: tuple[Any, ...], value: Any) -> Any:
    data = yaml.safe_load(SOURCES[name])
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = value
    return data


@FUZZ
@given(doc=restructured())
# Crashes it found, kept: a component type that is a list (unhashable); no environments.
@example(doc=_restructure("ml-platform", ("components", "features", "type"), []))
@example(doc=_restructure("ml-platform", ("environments",), {}))
def test_restructured_examples(workdir: Path, doc: Any) -> None:
    check_loads_or_locates(workdir, yaml.safe_dump(doc, allow_unicode=True))
