"""`mlform.parity`: environments rendered in each of their regions on the sandbox (the GPU
types are looked up there) and compared; differences classified allowed, region or
unsanctioned."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlform.config.stack import load_stack
from mlform.errors import ConfigError
from mlform.parity import (
    ALLOWED,
    ARGUMENT,
    REGION,
    RESOURCE,
    SETTING,
    UNSANCTIONED,
    Difference,
    ParityReport,
    compare_environments,
)

TRUST = ('{Version: "2012-10-17", Statement: [{Effect: Allow, Action: "sts:AssumeRole", '
         'Principal: {Service: ec2.amazonaws.com}}]}')
# dev and staging in one region, prod in three: the GPU request resolves to p4de.24xlarge in
# ap-southeast-1 and to p4d.24xlarge in the other two (the sandbox answers from AWS's data).
CONFIG = """project: parity
environments:
  dev: {target: sandbox, region: ap-southeast-1}
  staging: {target: sandbox, account: "222222222222", regions: [ap-southeast-1]}
  prod:
    target: sandbox
    account: "333333333333"
    regions: [ap-southeast-1, ap-northeast-1, ap-south-1]
variables:
  team: {default: ml}
components:
  trainer: {type: gpu_cluster, gpu: "A100:8", nodes: {dev: "0..1", default: "0..4"}}
  fraud-api:
    type: model_endpoint
    image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/fraud:v1
    instance_type: {default: ml.m5.large, prod: ml.m5.xlarge}
    replicas: {dev: 1, staging: 2, prod: 3}
  data: {type: dataset_store}
resources:
  aws_s3_bucket.logs:
    tags: {env: "${mlform.environment}", region: "${mlform.region}", team: "${var.team}"}
  aws_iam_role.ci:
    name: "${mlform.environment}-${mlform.region}-ci"
    assume_role_policy: TRUST
parity:
  allow:
    - {path: fraud-api.replicas, reason: prod takes real traffic}
    - {path: "*.nodes", reason: dev runs one GPU node at most}
    - {path: "*.gone", reason: nothing matches this one}
""".replace("TRUST", TRUST)
COLUMNS = ["dev/ap-southeast-1", "staging/ap-southeast-1", "prod/ap-southeast-1",
           "prod/ap-northeast-1", "prod/ap-south-1"]


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("parity") / "mlform.yaml"
    path.write_text(CONFIG)
    return path


@pytest.fixture(scope="module")
def report(config: Path, sandbox: Any) -> ParityReport:
    # Read-only: nothing is made, so one report serves every test of this module.
    return compare_environments(config, ["dev", "staging", "prod"])


def by_path(report: ParityReport) -> dict[str, Difference]:
    return {d.path: d for d in report.differences}


def test_every_environment_is_compared_in_each_of_its_regions(report: ParityReport) -> None:
    assert [c.id for c in report.columns] == COLUMNS
    assert {r.path for r in report.rows} >= {"trainer", "fraud-api", "aws_s3_bucket.logs",
                                             "module.trainer.aws_eks_node_group.gpu"}
    assert all(all(r.present.values()) for r in report.rows)


def test_a_planted_difference_is_unsanctioned_and_named(report: ParityReport) -> None:
    found = by_path(report)["fraud-api.instance_type"]
    assert (found.kind, found.status, found.reason) == (SETTING, UNSANCTIONED, "")
    assert found.values == {c: "ml.m5.xlarge" if c.startswith("prod/") else "ml.m5.large"
                            for c in COLUMNS}
    assert not report.ok and report.with_status(UNSANCTIONED) == [found]
    # The endpoint configuration's instance type follows from the setting: not repeated.
    assert not [d for d in report.differences if d.path.startswith("module.fraud-api.")]


def test_allowed_differences_carry_their_reason(report: ParityReport) -> None:
    found = by_path(report)
    assert (found["fraud-api.replicas"].status, found["fraud-api.replicas"].reason) == (
        ALLOWED, "prod takes real traffic")
    assert found["fraud-api.replicas"].values == dict(zip(COLUMNS, [1, 2, 3, 3, 3],
                                                          strict=True))
    assert (found["trainer.nodes"].status, found["trainer.nodes"].reason) == (
        ALLOWED, "dev runs one GPU node at most")
    used = {a.path: a.matched for a in report.allowances}
    assert used == {"fraud-api.replicas": ["fraud-api.replicas"], "*.nodes": ["trainer.nodes"],
                    "*.gone": []}


def test_a_gpu_type_chosen_per_region_is_explained_by_the_region(
        report: ParityReport) -> None:
    found = by_path(report)["module.trainer.aws_eks_node_group.gpu.instance_types"]
    assert (found.kind, found.status) == (ARGUMENT, REGION)
    assert found.values == {c: ["p4de.24xlarge" if c.endswith("/ap-southeast-1")
                                else "p4d.24xlarge"] for c in COLUMNS}
    assert "p4de.24xlarge in ap-southeast-1" in found.reason
    assert "p4d.24xlarge in ap-northeast-1" in found.reason
    # trainer's nodes differ (allowed), but the instance type does not follow from them.
    assert "the regions of prod" in found.reason


def test_names_derived_from_environment_and_region_are_no_difference(
        report: ParityReport, config: Path) -> None:
    dev = load_stack(config, "dev", offline=True)
    tokyo = load_stack(config, "prod", region="ap-northeast-1", offline=True)
    assert dev.resources["aws_s3_bucket.logs"].template["bucket"] == "parity-dev-logs"
    assert tokyo.resources["aws_s3_bucket.logs"].template["bucket"] == \
        "parity-prod-ap-northeast-1-logs"
    assert tokyo.resources["aws_iam_role.ci"].template["name"] == "prod-ap-northeast-1-ci"
    assert tokyo.resources["aws_s3_bucket.logs"].template["tags"]["region"] == \
        "ap-northeast-1"
    derived = ("aws_s3_bucket.logs", "aws_iam_role.ci", "module.data.", "trainer.",
               "module.trainer.aws_eks_cluster.", "module.trainer.aws_iam_role.")
    assert [d.path for d in report.differences if d.path.startswith(derived)] == \
        ["trainer.nodes"]


def test_the_json_shape(report: ParityReport) -> None:
    doc = report.to_json()
    assert list(doc) == ["columns", "ok", "counts", "differences", "allowances", "resources",
                         "notes"]
    assert doc["columns"][1] == {"id": "staging/ap-southeast-1", "environment": "staging",
                                 "region": "ap-southeast-1"}
    assert doc["ok"] is False
    assert doc["counts"] == {"unsanctioned": 1, "allowed": 2,
                             "region": len(report.with_status(REGION))}
    first = doc["differences"][0]
    assert list(first) == ["path", "kind", "status", "reason", "values", "follows_from"]


MISSING = """project: parity
environments: {dev: {}, prod: {}}
components:
  api:
    type: model_endpoint
    image: img:v1
    instance_type: ml.m5.large
    role_arn: {dev: "arn:aws:iam::123456789012:role/shared", default: null}
"""


def test_a_resource_missing_in_one_environment_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "mlform.yaml"
    path.write_text(MISSING)
    found = by_path(compare_environments(path))  # (no GPU: nothing is looked up)
    role = found["module.api.aws_iam_role.this"]
    assert (role.kind, role.status) == (RESOURCE, UNSANCTIONED)
    assert role.values == {"dev/us-east-1": False, "prod/us-east-1": True}
    assert (role.follows_from, role.reason) == (["api.role_arn"], "follows from api.role_arn")
    assert found["api.role_arn"].status == UNSANCTIONED
    # The model's execution role follows from the setting too: reported once, as the setting.
    # The role's policy resources come and go with it, and follow from the setting as it does.
    policies = {"module.api.aws_iam_role_policy.serve",
                "module.api.aws_iam_role_policies_exclusive.this",
                "module.api.aws_iam_role_policy_attachments_exclusive.this"}
    assert set(found) == {"api.role_arn", "module.api.aws_iam_role.this", *policies}
    assert all(found[p].follows_from == ["api.role_arn"] for p in policies)

    path.write_text(MISSING + "parity:\n  allow:\n    - {path: api.role_arn, reason: dev "
                    "borrows a shared role}\n")
    report = compare_environments(path)
    role = by_path(report)["module.api.aws_iam_role.this"]
    assert report.ok and role.status == ALLOWED
    assert role.reason == "follows from api.role_arn (dev borrows a shared role)"


def test_an_allowance_without_a_reason_is_a_located_config_error(tmp_path: Path) -> None:
    path = tmp_path / "mlform.yaml"
    path.write_text("project: parity\nparity:\n  allow:\n    - path: fraud-api.replicas\n"
                    "    - {path: '*.nodes', reason: ' '}\n")
    with pytest.raises(ConfigError) as err:
        compare_environments(path)
    assert [str(p).replace(str(tmp_path) + "/", "") for p in err.value.problems] == [
        "mlform.yaml:4:7: parity.allow[0]: missing required key 'reason'",
        "mlform.yaml:5:33: parity.allow[1].reason: an allowance needs a reason: say why the "
        "environments may differ here, got a string (' ')",
    ]
