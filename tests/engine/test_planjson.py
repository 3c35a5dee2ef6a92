"""The plan in Terraform's JSON shape, and the policy tools that read it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from mlform.api import Workspace
from mlform.engine.planjson import plan_to_terraform_json


def plan_json(tmp_path: Path, text: str) -> dict[str, Any]:
    (tmp_path / "mlform.yaml").write_text(text)
    ws = Workspace(tmp_path / "mlform.yaml")
    plan = ws.plan()
    return plan_to_terraform_json(plan, ws.registry, plan.prior)


def test_actions_paths_and_prior_state(tmp_path: Path) -> None:
    config = tmp_path / "mlform.yaml"
    config.write_text("""project: pj
resources:
  mlform_data.upd: {input: 1}
  mlform_data.rep: {triggers_replace: a}
  mlform_data.cbd:
    triggers_replace: a
    lifecycle: {create_before_destroy: true}
  mlform_data.gone: {}
""")
    Workspace(config).apply()
    doc = plan_json(tmp_path, """project: pj
resources:
  mlform_data.upd: {input: 2}
  mlform_data.rep: {triggers_replace: b}
  mlform_data.cbd:
    triggers_replace: b
    lifecycle: {create_before_destroy: true}
""")
    changes = {c["address"]: c for c in doc["resource_changes"]}
    assert changes["mlform_data.upd"]["change"]["actions"] == ["update"]
    assert changes["mlform_data.upd"]["change"]["before"]["input"] == 1
    assert changes["mlform_data.upd"]["change"]["after"]["input"] == 2
    assert changes["mlform_data.rep"]["change"]["actions"] == ["delete", "create"]
    assert changes["mlform_data.rep"]["change"]["replace_paths"] == [["triggers_replace"]]
    assert changes["mlform_data.rep"]["change"]["after_unknown"] == {"id": True}
    assert changes["mlform_data.rep"]["action_reason"] == "replace_because_cannot_update"
    assert changes["mlform_data.cbd"]["change"]["actions"] == ["create", "delete"]
    assert changes["mlform_data.gone"]["change"]["actions"] == ["delete"]
    assert changes["mlform_data.gone"]["change"]["after"] is None
    assert changes["mlform_data.gone"]["action_reason"] == "delete_because_no_resource_config"
    prior = {r["address"] for r in doc["prior_state"]["values"]["root_module"]["resources"]}
    assert prior == {"mlform_data.upd", "mlform_data.rep", "mlform_data.cbd", "mlform_data.gone"}
    planned = {r["address"] for r in doc["planned_values"]["root_module"]["resources"]}
    assert planned == {"mlform_data.upd", "mlform_data.rep", "mlform_data.cbd"}


BUCKETS = """project: pj
resources:
  aws_s3_bucket.good: {bucket: pj-good}
  aws_s3_bucket_versioning.good:
    bucket: ${aws_s3_bucket.good.id}
    versioning_configuration: {status: Enabled}
  aws_s3_bucket_public_access_block.good:
    bucket: ${aws_s3_bucket.good.id}
    block_public_acls: true
    block_public_policy: true
    ignore_public_acls: true
    restrict_public_buckets: true
  aws_s3_bucket.bad: {bucket: pj-bad}
"""


def test_blocks_are_lists_and_references_are_configuration(tmp_path: Path) -> None:
    doc = plan_json(tmp_path, BUCKETS)
    values = {r["address"]: r["values"] for r in doc["planned_values"]["root_module"]["resources"]}
    assert values["aws_s3_bucket_versioning.good"]["versioning_configuration"] == [
        {"status": "Enabled", "mfa_delete": None}]
    assert values["aws_s3_bucket.good"]["arn"] == "arn:aws:s3:::pj-good"  # known at plan
    resources = {r["address"]: r for r in doc["configuration"]["root_module"]["resources"]}
    expr = resources["aws_s3_bucket_public_access_block.good"]["expressions"]
    assert expr["bucket"] == {"references": ["aws_s3_bucket.good.id", "aws_s3_bucket.good"]}
    assert expr["block_public_acls"] == {"constant_value": True}
    provider = {r["provider_name"] for r in doc["resource_changes"]}
    assert provider == {"registry.terraform.io/hashicorp/aws"}


def _checkov() -> str | None:
    return os.environ.get("MLFORM_CHECKOV") or shutil.which("checkov")


@pytest.mark.skipif(_checkov() is None,
                    reason="checkov is installed by scripts/test (into .venv-tools)")
def test_checkov_reads_our_plan(tmp_path: Path) -> None:
    doc = plan_json(tmp_path, BUCKETS)
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(doc))
    checkov = _checkov()
    assert checkov is not None
    proc = subprocess.run(
        [checkov, "-f", str(plan_file), "--framework", "terraform_plan", "--skip-download",
         "--output", "json", "--compact",
         "--check", "CKV_AWS_21,CKV2_AWS_6"],
        capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": ""},
    )
    assert proc.returncode in (0, 1), proc.stderr  # 1: some checks failed, as intended
    report = json.loads(proc.stdout)
    results = report["results"]
    outcome = {(c["check_id"], c["resource"]): "passed" for c in results["passed_checks"]}
    outcome.update({(c["check_id"], c["resource"]): "failed" for c in results["failed_checks"]})
    assert outcome == {
        ("CKV_AWS_21", "aws_s3_bucket.good"): "passed",   # versioning, through its resource
        ("CKV_AWS_21", "aws_s3_bucket.bad"): "failed",
        ("CKV2_AWS_6", "aws_s3_bucket.good"): "passed",   # public access block, a graph check
        ("CKV2_AWS_6", "aws_s3_bucket.bad"): "failed",
    }


def test_component_resources_are_terraform_module_resources(tmp_path: Path) -> None:
    doc = plan_json(tmp_path, "project: pj\ncomponents:\n  features: {type: dataset_store}\n")
    change = next(c for c in doc["resource_changes"]
                  if c["address"] == "module.features.aws_s3_bucket.this")
    assert (change["module_address"], change["type"], change["name"]) == (
        "module.features", "aws_s3_bucket", "this")
    (child,) = doc["planned_values"]["root_module"]["child_modules"]
    # The bucket, its four configuration resources and its TLS-only bucket policy.
    assert child["address"] == "module.features" and len(child["resources"]) == 6
    call = doc["configuration"]["root_module"]["module_calls"]["features"]
    assert call["source"] == "mlform/dataset_store"
    block = next(r for r in call["module"]["resources"]
                 if r["type"] == "aws_s3_bucket_public_access_block")
    # Inside a module, references are relative to it, as Terraform writes them.
    assert block["expressions"]["bucket"] == {"references": ["aws_s3_bucket.this.id",
                                                             "aws_s3_bucket.this"]}


@pytest.mark.skipif(_checkov() is None,
                    reason="checkov is installed by scripts/test (into .venv-tools)")
def test_checkov_follows_component_resources(tmp_path: Path) -> None:
    doc = plan_json(tmp_path, "project: pj\ncomponents:\n  features: {type: dataset_store}\n")
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(doc))
    checkov = _checkov()
    assert checkov is not None
    proc = subprocess.run(
        [checkov, "-f", str(plan_file), "--framework", "terraform_plan", "--skip-download",
         "--output", "json", "--compact", "--check", "CKV_AWS_21,CKV2_AWS_6,CKV2_AWS_61"],
        capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr
    passed = {(c["check_id"], c["resource"])
              for c in json.loads(proc.stdout)["results"]["passed_checks"]}
    assert passed == {(check, "module.features.aws_s3_bucket.this")
                      for check in ("CKV_AWS_21", "CKV2_AWS_6", "CKV2_AWS_61")}
