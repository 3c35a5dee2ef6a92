"""A conftest-style Rego policy written for Terraform plans, evaluated in-process (regorus, the
Rust Rego interpreter) on mlform's plan JSON, and on Terraform's plan JSON of the same stack
when Terraform is here: the verdicts must be the same."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlform.api import Workspace
from mlform.engine.planjson import plan_to_terraform_json
from tests.terraform import Terraform, provider_block, require_terraform

regorus = pytest.importorskip("regorus", reason="regorus is in the test extras")

POLICY = Path(__file__).parent / "policies" / "ml_platform.rego"

# One stack written twice; GOOD and BAD differ in versioning, the owner tag and scanning.
ML = """project: rego
resources:
  aws_s3_bucket.data:
    bucket: NAME-data
    tags: {owner: ml-team}
  aws_s3_bucket_versioning.data:
    bucket: ${aws_s3_bucket.data.id}
    versioning_configuration: {status: STATUS}
  aws_iam_role.train:
    name: NAME-train
    assume_role_policy: '{"Version": "2012-10-17", "Statement": []}'
    tags: {TAGKEY: ml-team}
  aws_ecr_repository.images:
    name: NAME-images
    image_scanning_configuration: {scan_on_push: SCAN}
    tags: {owner: ml-team}
"""
TF = """
resource "aws_s3_bucket" "data" {
  bucket = "NAME-data"
  tags   = { owner = "ml-team" }
}
resource "aws_s3_bucket_versioning" "data" {
  bucket = aws_s3_bucket.data.id
  versioning_configuration { status = "STATUS" }
}
resource "aws_iam_role" "train" {
  name               = "NAME-train"
  assume_role_policy = jsonencode({Version = "2012-10-17", Statement = []})
  tags               = { TAGKEY = "ml-team" }
}
resource "aws_ecr_repository" "images" {
  name = "NAME-images"
  image_scanning_configuration { scan_on_push = SCAN }
  tags = { owner = "ml-team" }
}
"""
GOOD = {"STATUS": "Enabled", "TAGKEY": "owner", "SCAN": "true"}
BAD = {"STATUS": "Suspended", "TAGKEY": "team", "SCAN": "false"}
DENIED = {
    "aws_s3_bucket.data: S3 buckets must have versioning enabled",
    "aws_iam_role.train: every tagged resource needs an `owner` tag",
    "aws_ecr_repository.images: ECR repositories must scan images on push",
}


def _fill(text: str, values: dict[str, str], name: str) -> str:
    for key, value in {**values, "NAME": name}.items():
        text = text.replace(key, value)
    return text


def deny(plan: dict[str, Any]) -> set[str]:
    engine = regorus.Engine()
    engine.add_policy_from_file(str(POLICY))
    engine.set_input_json(json.dumps(plan))
    return set(engine.eval_rule("data.main.deny"))


def mlform_plan(folder: Path, values: dict[str, str], name: str) -> dict[str, Any]:
    folder.mkdir()
    (folder / "mlform.yaml").write_text(_fill(ML, values, name))
    ws = Workspace(folder / "mlform.yaml")
    plan = ws.plan()
    return plan_to_terraform_json(plan, ws.registry, plan.prior)


@pytest.mark.parametrize(("case", "denied"), [("good", set()), ("bad", DENIED)])
def test_policy_verdicts_on_mlform_plans(tmp_path: Path, sandbox: Any, uid: str, case: str,
                                         denied: set[str]) -> None:
    values = GOOD if case == "good" else BAD
    assert deny(mlform_plan(tmp_path / "ml", values, f"rg{uid}")) == denied


def test_same_verdicts_on_terraform_plans(tmp_path: Path, sandbox: Any, uid: str) -> None:
    binary = require_terraform()
    for case, values in (("good", GOOD), ("bad", BAD)):
        folder = tmp_path / f"tf-{case}"
        folder.mkdir()
        (folder / "main.tf").write_text(provider_block(sandbox.url)
                                        + _fill(TF, values, f"rg{uid}"))
        tf = Terraform(binary, folder)
        tf.init()
        ours = mlform_plan(tmp_path / f"ml-{case}", values, f"rg{uid}")
        assert deny(tf.plan_json()) == deny(ours) == (set() if case == "good" else DENIED)
