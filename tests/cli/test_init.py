"""`mlform init`: a starting config from the examples, with its schema, that plans as is."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlform.templates import SCHEMA_COMMENT, TEMPLATES, template_text
from tests.cli.conftest import Cli

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.parametrize("template", TEMPLATES)
def test_shipped_templates_are_the_examples(template: str) -> None:
    assert template_text(template) == (EXAMPLES / template / "mlform.yaml").read_text()


@pytest.mark.parametrize("template", TEMPLATES)
def test_init_writes_a_config_that_validates_and_plans(cli: Cli, sandbox: Any,
                                                       template: str) -> None:
    r = cli.run("init", "--template", template)
    assert r.code == 0, r.err
    assert r.out.startswith(f"Wrote mlform.yaml (the {template} example) and "
                            "mlform.schema.json.\n")
    text = (cli.cwd / "mlform.yaml").read_text()
    assert text == SCHEMA_COMMENT + (EXAMPLES / template / "mlform.yaml").read_text()
    assert text.splitlines()[0] == "# yaml-language-server: $schema=mlform.schema.json"
    schema = json.loads((cli.cwd / "mlform.schema.json").read_text())
    assert schema == json.loads(cli.run("schema").out)
    r = cli.run("validate")
    assert r.code == 0 and r.out.startswith("Success! The configuration is valid"), r.err
    r = cli.run("plan", "--detailed-exitcode")
    assert r.code == 2, r.err
    assert "to add, 0 to change, 0 to destroy." in r.out


def test_init_refuses_to_replace_a_config_without_force(cli: Cli) -> None:
    cli.write("project: mine\n")
    r = cli.run("init")
    assert (r.code, r.out, r.err) == (
        1, "", "Error: mlform.yaml already exists; pass --force to replace it\n")
    assert (cli.cwd / "mlform.yaml").read_text() == "project: mine\n"
    assert not (cli.cwd / "mlform.schema.json").exists()
    r = cli.run("init", "--force")
    assert r.code == 0, r.err
    assert (cli.cwd / "mlform.yaml").read_text().startswith(SCHEMA_COMMENT)


def test_init_knows_only_its_templates(cli: Cli) -> None:
    r = cli.run("init", "--template", "nope")
    assert r.code == 1
    assert r.err.endswith("Error: Invalid value for '--template': 'nope' is not one of "
                          "'quickstart', 'ml-platform', 'multi-region'.\n")
    assert not (cli.cwd / "mlform.yaml").exists()
