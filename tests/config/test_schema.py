"""The JSON Schema editors use agrees with the validation mlform does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from mlform.config.schema import config_schema
from mlform.providers.registry import default_registry

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*/mlform.yaml"))


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = config_schema(default_registry())
    jsonschema.Draft202012Validator.check_schema(schema)
    json.dumps(schema)  # serialisable as it is printed
    return jsonschema.Draft202012Validator(schema)


def errors(validator: jsonschema.Draft202012Validator, doc: dict[str, Any]) -> list[str]:
    return [e.message for e in validator.iter_errors(doc)]


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.parent.name for p in EXAMPLES])
def test_examples_validate(validator: jsonschema.Draft202012Validator, example: Path) -> None:
    assert errors(validator, yaml.safe_load(example.read_text())) == []


def test_typos_and_types_are_flagged(validator: jsonschema.Draft202012Validator) -> None:
    assert errors(validator, {"project": "x", "resources": {"aws_s3_bucket.b": {"buckit": "y"}}})
    assert errors(validator, {"project": "x", "resources": {"aws_s3_buckt.b": {}}})
    assert errors(validator, {"project": "x", "components": {
        "f": {"type": "dataset_store", "retention_dayz": 3}}})
    assert errors(validator, {"project": "x", "components": {"f": {"type": "nope"}}})
    assert errors(validator, {"project": "x", "environments": {"dev": {"target": "gcp"}}})


def test_what_users_write_is_accepted(validator: jsonschema.Draft202012Validator) -> None:
    doc = {
        "project": "x",
        "components": {"api": {"type": "model_endpoint", "image": "${registry.url}:v1",
                               "instance_type": "${var.size}", "replicas": {"dev": 1,
                                                                           "prod": 3}}},
        "resources": {
            "aws_s3_bucket.b": {"force_destroy": "${var.destroy}", "depends_on": ["x.y"],
                                "lifecycle": {"prevent_destroy": True}},
            "aws_iam_role.r": {"assume_role_policy": {"Version": "2012-10-17"}},
        },
        "outputs": {"short": "${aws_s3_bucket.b.arn}", "long": {"value": 1, "sensitive": True}},
    }
    assert errors(validator, doc) == []


def test_removed_entries_are_in_the_schema(validator: jsonschema.Draft202012Validator) -> None:
    assert errors(validator, {"project": "x", "removed": [
        {"from": "aws_s3_bucket.raw", "destroy": False}, {"from": "module.old"}]}) == []
    assert errors(validator, {"project": "x", "removed": [{"from": "a.b", "destroi": True}]})
    assert errors(validator, {"project": "x", "removed": [{"destroy": True}]})


def test_parity_allowances_are_in_the_schema(validator: jsonschema.Draft202012Validator) -> None:
    allow = {"path": "*.nodes", "reason": "dev scales down"}
    assert errors(validator, {"project": "x", "parity": {"allow": [allow]}}) == []
    assert errors(validator, {"project": "x", "parity": {"allow": [{"path": "*.nodes"}]}})
    assert errors(validator, {"project": "x", "parity": {"allow": [{**allow, "reason": " "}]}})
    assert errors(validator, {"project": "x", "parity": {"alow": []}})
