"""Config loading: every problem is reported with file:line:column, all at once."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from mlform.config.stack import load_stack
from mlform.errors import ConfigError


def problems(tmp_path: Path, text: str, **kw: object) -> list[str]:
    path = tmp_path / "mlform.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_stack(path, **kw)  # type: ignore[arg-type]
    return [str(p).replace(str(tmp_path) + "/", "") for p in err.value.problems]


def test_valid_config_resolves_variables_per_environment(tmp_path: Path) -> None:
    path = tmp_path / "mlform.yaml"
    path.write_text(
        "project: demo\n"
        "environments:\n  dev: {region: eu-west-1}\n  prod: {target: aws}\n"
        "variables:\n  size: {default: 1, prod: 3}\n"
        "resources:\n"
        "  mlform_data.a:\n    input: ${var.size}\n"
        "  mlform_data.b:\n    input: ${mlform.environment}-${mlform_data.a.output}\n"
        "    depends_on: [mlform_data.a]\n"
    )
    dev = load_stack(path)
    assert dev.context.environment == "dev" and dev.context.region == "eu-west-1"
    assert dev.resources["mlform_data.a"].template == {"input": 1}
    assert dev.resources["mlform_data.b"].template == {"input": "dev-${mlform_data.a.output}"}
    assert dev.resources["mlform_data.b"].depends_on == ("mlform_data.a",)
    prod = load_stack(path, "prod", {"size": 5})
    assert prod.resources["mlform_data.a"].template == {"input": 5}
    assert prod.context.target == "aws"
    assert dev.state_dir == tmp_path / ".mlform" / "state" / "dev"


def test_unknown_key_is_named_with_the_closest_valid_one(tmp_path: Path) -> None:
    assert problems(tmp_path, "project: demo\nresources:\n  aws_ecr_repository.r:\n"
                              "    image_tag_mutabilty: MUTABLE\n") == [
        "mlform.yaml:4:5: aws_ecr_repository.r.image_tag_mutabilty: unknown key "
        "'image_tag_mutabilty'; did you mean 'image_tag_mutability'?"]


def test_nested_unknown_key_and_wrong_type(tmp_path: Path) -> None:
    assert problems(tmp_path, "project: demo\nresources:\n  aws_ecr_repository.r:\n"
                              "    image_scanning_configuration: {scan_on_pus: true}\n"
                              "    force_delete: maybe\n") == [
        "mlform.yaml:4:36: aws_ecr_repository.r.image_scanning_configuration.scan_on_pus: "
        "unknown key 'scan_on_pus'; did you mean 'scan_on_push'?",
        "mlform.yaml:5:19: aws_ecr_repository.r.force_delete: expected a valid boolean, "
        "unable to interpret input, got a string ('maybe')",
    ]


def test_top_level_errors(tmp_path: Path) -> None:
    assert problems(tmp_path, "project: Demo_1\nenvironment: {}\n") == [
        "mlform.yaml:1:10: project: string should match pattern '^[a-z][a-z0-9-]{0,39}$', "
        "got 'Demo_1'",
        "mlform.yaml:2:1: environment: unknown key 'environment'; did you mean 'environments'?",
    ]


def test_references_to_missing_things(tmp_path: Path) -> None:
    text = ("project: demo\nvariables:\n  size: {default: 1}\nresources:\n"
            "  mlform_data.data:\n    input: 1\n"
            "  mlform_data.b:\n"
            "    input: ${var.sise}\n"
            "    triggers_replace: ${mlform_data.dta.output}\n"
            "  mlform_data.c:\n"
            "    input: ${mlform_data.data.outptu}\n"
            "    depends_on: [mlform_data.nope]\n"
            "outputs:\n  o: ${mlform_data.zzz.id}\n")
    assert problems(tmp_path, text) == [
        "mlform.yaml:8:12: mlform_data.b.input: unknown variable 'sise' in ${var.sise}; "
        "did you mean 'size'?",
        "mlform.yaml:9:23: mlform_data.b.triggers_replace: ${mlform_data.dta.output} refers to "
        "no resource 'mlform_data.dta'; did you mean 'mlform_data.data'?",
        "mlform.yaml:11:12: mlform_data.c.input: ${mlform_data.data.outptu}: mlform_data has no "
        "attribute 'outptu'; did you mean 'output'?",
        "mlform.yaml:12:18: mlform_data.c.depends_on[0]: no resource 'mlform_data.nope'; "
        "resources: mlform_data.b, mlform_data.c, mlform_data.data",
        "mlform.yaml:14:6: outputs.o: ${mlform_data.zzz.id} refers to no resource "
        "'mlform_data.zzz'; resources: mlform_data.b, mlform_data.c, mlform_data.data",
    ]


def test_cycle_is_reported_with_its_path(tmp_path: Path) -> None:
    text = ("project: demo\nresources:\n"
            "  mlform_data.a:\n    input: ${mlform_data.b.output}\n"
            "  mlform_data.b:\n    input: ${mlform_data.c.output}\n"
            "  mlform_data.c:\n    input: ${mlform_data.a.output}\n")
    (msg,) = problems(tmp_path, text)
    assert msg.startswith("mlform.yaml:")
    cycle = msg.split("dependency cycle: ")[1].split(" (")[0].split(" -> ")
    assert cycle[0] == cycle[-1] and len(cycle) == 4
    # Each resource in the printed path refers to the next one.
    refers = {"mlform_data.a": "mlform_data.b", "mlform_data.b": "mlform_data.c",
              "mlform_data.c": "mlform_data.a"}
    assert all(refers[x] == y for x, y in itertools.pairwise(cycle))


def test_types_environments_and_vars(tmp_path: Path) -> None:
    assert problems(tmp_path, "project: demo\nresources:\n  aws_s3_buckt.x: {}\n"
                              "  nodot: {}\n") == [
        "mlform.yaml:3:3: aws_s3_buckt.x: unknown resource type 'aws_s3_buckt'; did you mean "
        "'aws_s3_bucket'?",
        "mlform.yaml:4:3: nodot: a resource key is TYPE.NAME, such as aws_s3_bucket.datasets",
    ]
    assert problems(tmp_path, "project: demo\nenvironments: {dev: {}}\n", environment="prod") == [
        "mlform.yaml:2:1: unknown environment 'prod'; environments: dev"]
    assert problems(tmp_path, "project: demo\n", variables={"x": 1}) == [
        "--var x: no variable 'x' is declared"]


def test_missing_file_and_non_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_stack(tmp_path / "nope.yaml")
    assert problems(tmp_path, "- a\n- b\n") == [
        "mlform.yaml:1:1: the config must be a mapping with at least `project:`"]


def test_values_holding_references_are_checked_at_apply_time(tmp_path: Path) -> None:
    path = tmp_path / "mlform.yaml"
    path.write_text("project: demo\nresources:\n  mlform_data.a: {input: 1}\n"
                    "  aws_ecr_repository.r:\n    force_delete: ${mlform_data.a.output}\n")
    stack = load_stack(path)
    assert stack.resources["aws_ecr_repository.r"].template["force_delete"] == (
        "${mlform_data.a.output}")


def test_variable_keys_are_environments(tmp_path: Path) -> None:
    assert problems(tmp_path, "project: demo\nenvironments: {dev: {}, prod: {}}\nvariables:\n"
                              "  size: {default: 1, prd: 3}\n  pw: {sensitive: true}\n") == [
        "mlform.yaml:4:22: variables.size.prd: unknown key 'prd'; a variable takes `default`, "
        "`description` and one value per environment (dev, prod)",
        "mlform.yaml:5:3: variables.pw: a sensitive variable needs a value: value_from: "
        "env:NAME (or file:, aws-secretsmanager:, ssm:), or --var pw=...",
    ]
