"""Every command through the real CLI, in a subprocess, with exact user-visible errors."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import Cli

DATA = """project: clitest
variables:
  size: {default: 1}
resources:
  mlform_data.a: {input: "${var.size}"}
  mlform_data.b: {input: "b-${mlform_data.a.output}"}
outputs:
  b: ${mlform_data.b.output}
  secret_id: {value: "${mlform_data.a.id}", sensitive: true}
"""
WITH_UNKNOWN_OUTPUT = DATA + "  a_id: ${mlform_data.a.id}\n"


def test_validate(cli: Cli) -> None:
    cli.write(DATA)
    r = cli.run("validate")
    assert (r.code, r.out, r.err) == (
        0, "Success! The configuration is valid (2 resources, environment 'default').\n", "")


def test_validate_reports_every_problem_without_traceback(cli: Cli) -> None:
    cli.write("project: clitest\nresources:\n  mlform_data.a: {inptu: 1}\n"
              "  mlform_data.b: {input: '${mlform_data.c.id}'}\n")
    r = cli.run("validate")
    assert r.code == 1 and r.out == ""
    assert r.err == (
        "Error: mlform.yaml:3:19: mlform_data.a.inptu: unknown key 'inptu'; did you mean "
        "'input'?\n"
        "Error: mlform.yaml:4:26: mlform_data.b.input: ${mlform_data.c.id} refers to no resource "
        "'mlform_data.c'; resources: mlform_data.a, mlform_data.b\n")
    debug = cli.run("validate", "--debug")
    assert debug.code == 1 and "Traceback (most recent call last)" in debug.err


def test_broken_yaml_and_missing_config(cli: Cli) -> None:
    cli.write("project: [clitest\n")
    r = cli.run("plan")
    assert r.code == 1
    assert r.err.startswith("Error: mlform.yaml:2:1: invalid YAML: ")
    assert "Traceback" not in r.err and len(r.err.splitlines()) == 1
    r = cli.run("plan", "--config", "nope.yaml")
    assert (r.code, r.err) == (1, "Error: config file not found: nope.yaml (run mlform in the "
                                  "folder that holds mlform.yaml, or pass --config PATH)\n")


def test_plan_exit_codes_saved_plan_and_stale_refusal(cli: Cli) -> None:
    cli.write(DATA)
    r = cli.run("plan", "--detailed-exitcode", "-out", "first.plan")
    assert r.code == 2, r.err
    assert "Plan: 2 to add, 0 to change, 0 to destroy." in r.out
    assert "Saved the plan to: first.plan" in r.out
    r = cli.run("apply", "first.plan")
    assert r.code == 0, r.err
    assert "Apply complete! Resources: 2 added, 0 changed, 0 destroyed." in r.out
    assert 'b = "b-1"' in r.out and "secret_id = (sensitive value)" in r.out
    r = cli.run("apply", "first.plan")
    assert r.code == 1
    assert r.err == ("Error: the saved plan is stale: the state changed after it was made "
                     "(plan made at serial 0, state is now at serial 1). Run `mlform plan` "
                     "again.\n")
    r = cli.run("plan", "--detailed-exitcode")
    assert (r.code, r.out) == (0, "No changes. Your infrastructure matches the configuration.\n")
    r = cli.run("plan", "--detailed-exitcode", "--var", "size=2")
    assert r.code == 2
    assert "~ input  = 1 -> 2" in r.out and "Plan: 0 to add, 2 to change, 0 to destroy." in r.out


def test_plan_json_has_terraform_shape(cli: Cli) -> None:
    cli.write(WITH_UNKNOWN_OUTPUT)
    r = cli.run("plan", "--json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert doc["format_version"] == "1.2"
    change = doc["resource_changes"][0]
    assert change["address"] == "mlform_data.a" and change["type"] == "mlform_data"
    assert change["name"] == "a" and change["change"]["actions"] == ["create"]
    assert change["change"]["before"] is None
    assert change["change"]["after"] == {"input": 1, "output": 1, "triggers_replace": None}
    assert change["change"]["after_unknown"] == {"id": True}
    planned = doc["planned_values"]["root_module"]["resources"]
    assert [p["address"] for p in planned] == ["mlform_data.a", "mlform_data.b"]
    assert doc["planned_values"]["outputs"]["secret_id"] == {"sensitive": True}
    assert doc["planned_values"]["outputs"]["b"] == {"sensitive": False, "value": "b-1"}
    assert doc["output_changes"]["a_id"]["after_unknown"] is True
    assert doc["output_changes"]["a_id"]["after"] is None


def test_apply_asks_and_respects_the_answer(cli: Cli) -> None:
    cli.write(DATA)
    r = cli.run("apply", input="no\n")
    assert r.code == 1 and "Do you want to perform these actions?" in r.out
    assert r.out.rstrip().endswith("Apply cancelled.")
    assert cli.run("state", "list").out == ""
    r = cli.run("apply", input="")
    assert r.code == 1 and "pass --auto-approve" in r.err
    r = cli.run("apply", input="yes\n")
    assert r.code == 0 and "Apply complete! Resources: 2 added" in r.out
    assert "mlform_data.a: Creation complete after 0s [id=" in r.out


def test_show_state_output_and_destroy(cli: Cli) -> None:
    cli.write(DATA)
    assert cli.run("show").out == ("The state is empty: nothing has been applied in this "
                                   "environment yet.\n")
    assert cli.run("apply", "--auto-approve").code == 0
    assert cli.run("state", "list").out == "mlform_data.a\nmlform_data.b\n"
    shown = cli.run("state", "show", "mlform_data.b").out
    assert 'resource "mlform_data" "b" {' in shown and 'input  = "b-1"' in shown
    r = cli.run("state", "show", "mlform_data.bb")
    assert (r.code, r.err) == (1, "Error: no resource 'mlform_data.bb' in the state; did you "
                                  "mean 'mlform_data.b'?\n")
    assert "# mlform_data.a:" in cli.run("show").out
    state_doc = json.loads(cli.run("show", "--json").out)
    assert state_doc["values"]["outputs"]["secret_id"] == {"sensitive": True, "value": None}
    assert cli.run("output").out == 'b = "b-1"\nsecret_id = (sensitive value)\n'
    assert cli.run("output", "b", "--raw").out == "b-1\n"
    assert json.loads(cli.run("output", "--json").out)["b"] == {"value": "b-1",
                                                               "sensitive": False}
    r = cli.run("output", "secret_id")
    assert (r.code, r.err) == (1, "Error: output 'secret_id' is sensitive; add "
                                  "--show-sensitive to print it\n")
    assert len(cli.run("output", "secret_id", "--show-sensitive", "--raw").out.strip()) == 36
    r = cli.run("destroy", "--auto-approve")
    assert r.code == 0 and "Destroy complete! Resources: 0 added, 0 changed, 2 destroyed." in r.out
    assert cli.run("state", "list").out == "" and cli.run("output").out == ""


def test_show_saved_plan(cli: Cli) -> None:
    cli.write(DATA)
    assert cli.run("plan", "-out", "p.plan").code == 0
    r = cli.run("show", "p.plan")
    assert "# mlform_data.a will be created" in r.out
    doc = json.loads(cli.run("show", "--json", "p.plan").out)
    assert [c["change"]["actions"] for c in doc["resource_changes"]] == [["create"], ["create"]]
    r = cli.run("show", "mlform.yaml")
    assert (r.code, r.err) == (1, "Error: mlform.yaml is not an mlform plan file (not JSON)\n")


def test_graph_dot_and_svg(cli: Cli) -> None:
    cli.write(DATA)
    r = cli.run("graph")
    assert r.code == 0
    assert '"mlform_data.b" -> "mlform_data.a";' in r.out and r.out.startswith("digraph")
    no_graphviz = cli.run("graph", "--format", "svg",
                          env={"PATH": str(Path(sys.executable).parent)})
    if shutil.which("dot", path=str(Path(sys.executable).parent)) is None:
        assert no_graphviz.code == 1
        assert "SVG output needs Graphviz's `dot` command" in no_graphviz.err


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is installed by .ci/run")
def test_graph_svg_with_graphviz(cli: Cli) -> None:
    cli.write(DATA)
    r = cli.run("graph", "--format", "svg", "-o", "graph.svg")
    assert r.code == 0
    svg = (cli.cwd / "graph.svg").read_text()
    assert "<svg" in svg and "mlform_data.b" in svg


def test_environment_selection(cli: Cli) -> None:
    cli.write("project: clitest\nenvironments: {dev: {}, prod: {}}\nvariables:\n"
              "  n: {default: 1, prod: 3}\nresources:\n  mlform_data.a: {input: '${var.n}'}\n")
    assert cli.run("apply", "--auto-approve", "-e", "prod").code == 0
    assert cli.run("state", "list", "--env", "dev").out == ""
    assert cli.run("state", "list", env={"MLFORM_ENV": "prod"}).out == "mlform_data.a\n"
    assert (cli.cwd / ".mlform" / "state" / "prod" / "state.json").exists()
    r = cli.run("plan", "-e", "staging")
    assert (r.code, r.err) == (1, "Error: mlform.yaml:2:1: unknown environment 'staging'; "
                                  "environments: dev, prod\n")


def test_version_and_help(cli: Cli) -> None:
    assert cli.run("version").out.startswith("mlform ")
    help_text = cli.run("--help").out
    for command in ("validate", "plan", "apply", "destroy", "show", "output", "graph", "state",
                    "sandbox", "parity", "promote", "lock"):
        assert f"  {command}" in help_text


def test_unexpected_usage_is_a_short_error(cli: Cli) -> None:
    r = cli.run("plan", "--parallelism", "0")
    assert r.code == 1 and "Traceback" not in r.err and "--parallelism" in r.err



def test_aws_target_without_credentials_is_one_clear_error(cli: Cli) -> None:
    cli.write("project: clitest\nenvironments:\n  prod: {target: aws, region: eu-west-1}\n"
              "resources:\n  aws_ecr_repository.r: {}\n  aws_s3_bucket.b: {bucket: x-clitest}\n")
    no_credentials = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""}
    r = cli.run("apply", "--auto-approve", env=no_credentials)
    assert r.code == 1
    assert r.err == ("Error: environment 'prod' targets AWS, but no AWS credentials are "
                     "available (none were found). Set AWS_PROFILE or AWS_ACCESS_KEY_ID and "
                     "AWS_SECRET_ACCESS_KEY, run `aws configure` or `aws sso login`, or set "
                     "`profile:` for this environment in mlform.yaml\n")
    cli.write("project: clitest\nenvironments:\n  prod: {target: aws, profile: nope}\n"
              "resources:\n  aws_ecr_repository.r: {}\n")
    r = cli.run("apply", "--auto-approve", env=no_credentials)
    assert (r.code, r.err) == (1, "Error: environment 'prod': The config profile (nope) could "
                                  "not be found (profiles come from ~/.aws/config and "
                                  "~/.aws/credentials)\n")
    assert cli.run("state", "list").out == ""
