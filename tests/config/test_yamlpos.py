from __future__ import annotations

import pytest

from mlform.config.yamlpos import load_yaml
from mlform.errors import ConfigError, SourcePos


def test_positions_of_keys_and_values() -> None:
    data, pos = load_yaml("a:\n  b: 1\n  c: [x, y]\n", "f.yaml")
    assert data == {"a": {"b": 1, "c": ["x", "y"]}}
    assert pos.key(("a", "b")) == SourcePos("f.yaml", 2, 3)
    assert pos.of(("a", "b")) == SourcePos("f.yaml", 2, 6)
    assert pos.of(("a", "c", 1)) == SourcePos("f.yaml", 3, 10)
    # A path below a scalar falls back to the nearest ancestor that has a position.
    assert pos.of(("a", "b", "deeper")) == SourcePos("f.yaml", 2, 6)


def test_syntax_error_names_line_and_column() -> None:
    with pytest.raises(ConfigError) as err:
        load_yaml("a: 1\nb: [1, 2\nc: 3\n", "bad.yaml")
    (problem,) = err.value.problems
    assert problem.pos is not None and problem.pos.file == "bad.yaml"
    assert problem.pos.line == 3
    assert problem.message.startswith("invalid YAML:")


def test_unquoted_reference_in_flow_mapping_gets_a_hint() -> None:
    with pytest.raises(ConfigError) as err:
        load_yaml("out: {value: ${a.b.c}}\n", "f.yaml")
    assert "put quotes around a value that holds ${...}" in str(err.value)


def test_duplicate_keys_are_errors() -> None:
    with pytest.raises(ConfigError) as err:
        load_yaml("a: 1\nb: 2\na: 3\n", "f.yaml")
    assert str(err.value) == "f.yaml:3:1: duplicate key 'a' (first defined at line 1)"


def test_dates_stay_text_and_merge_keys_work() -> None:
    data, _ = load_yaml("base: &b {x: 1}\nd: 2024-01-01\nm:\n  <<: *b\n  y: 2\n", "f.yaml")
    assert data["d"] == "2024-01-01"
    assert data["m"] == {"x": 1, "y": 2}
