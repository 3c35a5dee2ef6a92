"""`mlform drift` and `mlform refresh` on the sandbox: changes made out of band with boto3 are
reported field by field and classified, then put back by apply or accepted by refresh."""

from __future__ import annotations

import json
from typing import Any

from mlform.api import Workspace
from tests.cli.conftest import Cli

TRUST = ('{Version: "2012-10-17", Statement: [{Effect: Allow, Action: "sts:AssumeRole", '
         'Principal: {Service: ec2.amazonaws.com}}]}')
CONFIG = """project: drift-UID
environments:
  dev: {target: sandbox, region: us-east-1}
components:
  data: {type: dataset_store, force_destroy: true}
  api:
    type: model_endpoint
    image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/model:v1
    instance_type: ml.m5.large
    replicas: 1
resources:
  aws_iam_role.worker:
    assume_role_policy: TRUST
    tags: {team: ml}
  aws_iam_role.reader:
    assume_role_policy: TRUST
""".replace("TRUST", TRUST)
S3_READ = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"


def _ids(cli: Cli) -> dict[str, str]:
    state = Workspace(cli.cwd / "mlform.yaml", offline=True).state()
    return {a: r.id for a, r in state.resources.items()}


def _meddle(boto: Any, ids: dict[str, str]) -> None:
    """What people do by hand: five changes, through the AWS API, not through mlform."""
    boto("sagemaker").update_endpoint_weights_and_capacities(
        EndpointName=ids["module.api.aws_sagemaker_endpoint.this"],
        DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": 3}])
    boto("s3").put_bucket_versioning(Bucket=ids["module.data.aws_s3_bucket.this"],
                                     VersioningConfiguration={"Status": "Suspended"})
    boto("iam").delete_role(RoleName=ids["aws_iam_role.reader"])
    boto("iam").tag_role(RoleName=ids["aws_iam_role.worker"],
                         Tags=[{"Key": "team", "Value": "research"}])
    boto("iam").attach_role_policy(RoleName=ids["module.api.aws_iam_role.this"],
                                   PolicyArn=S3_READ)


def _report(cli: Cli) -> tuple[int, dict[str, Any]]:
    r = cli.run("drift", "--json")
    assert r.code in (0, 2), r.err
    return r.code, json.loads(r.out)


def test_out_of_band_changes_are_reported_classified_and_put_back(
        cli: Cli, sandbox: Any, boto: Any, uid: str) -> None:
    cli.write(CONFIG.replace("UID", uid))
    assert cli.run("apply", "--auto-approve").code == 0
    r = cli.run("drift")
    assert r.code == 0 and "No drift" in r.out, r.out + r.err
    ids = _ids(cli)
    _meddle(boto, ids)

    code, report = _report(cli)
    assert code == 2 and report["drift"] is True
    found = {d["address"]: d for d in report["resources"]}
    assert set(found) == {
        "module.api.aws_sagemaker_endpoint.this", "module.data.aws_s3_bucket_versioning.this",
        "aws_iam_role.reader", "aws_iam_role.worker",
        "module.api.aws_iam_role_policy_attachments_exclusive.this"}
    endpoint = found["module.api.aws_sagemaker_endpoint.this"]
    assert endpoint["risk"] == "risky" and endpoint["changes"] == [
        {"path": "instance_counts.AllTraffic", "recorded": 1, "live": 3, "risk": "risky"}]
    # Suspending versioning is a change of its status, as Terraform reads it.
    versioning = found["module.data.aws_s3_bucket_versioning.this"]
    assert versioning["risk"] == "risky" and versioning["changes"] == [
        {"path": "versioning_configuration.status", "recorded": "Enabled", "live": "Suspended",
         "risk": "risky"}]
    assert found["aws_iam_role.reader"]["status"] == "deleted"
    assert found["aws_iam_role.reader"]["risk"] == "risky"
    worker = found["aws_iam_role.worker"]
    assert worker["risk"] == "benign" and worker["changes"] == [
        {"path": "tags.team", "recorded": "ml", "live": "research", "risk": "benign"}]
    # The component's role leaves its policy lists to resources of their own; the one that
    # holds the whole list of attachments sees the policy attached by hand.
    attachments = found["module.api.aws_iam_role_policy_attachments_exclusive.this"]
    assert attachments["risk"] == "risky" and attachments["changes"] == [
        {"path": "policy_arns", "recorded": [], "live": [S3_READ], "risk": "risky"}]
    assert report["objects_read"] == 16 and 16 <= report["api_calls"]["total"] < 42

    text = cli.run("drift")
    assert text.code == 2
    assert "5 resources changed outside mlform (4 risky, 1 benign), 1 of them deleted." in text.out
    assert '  ~ tags.team: "ml" -> "research"' in text.out
    assert "`mlform apply` puts them back as configured" in text.out

    # The plan says what drifted, and apply puts the config back.
    plan = cli.run("plan")
    assert "aws_iam_role.worker: tags.team changed outside mlform (benign)" in plan.out
    assert "Plan: 1 to add, 4 to change, 0 to destroy." in plan.out, plan.out
    assert cli.run("apply", "--auto-approve").code == 0
    code, report = _report(cli)
    assert code == 0 and report["drift"] is False, report
    live = boto("sagemaker").describe_endpoint(
        EndpointName=ids["module.api.aws_sagemaker_endpoint.this"])
    assert live["ProductionVariants"][0]["DesiredInstanceCount"] == 1
    assert boto("s3").get_bucket_versioning(
        Bucket=ids["module.data.aws_s3_bucket.this"])["Status"] == "Enabled"
    assert boto("iam").list_attached_role_policies(
        RoleName=ids["module.api.aws_iam_role.this"])["AttachedPolicies"] == []

    # Or: accept what was done by hand into the state.
    _meddle(boto, _ids(cli))
    r = cli.run("refresh")
    assert r.code == 0, r.err
    assert "The state now records these live values" in r.out
    assert _report(cli)[0] == 0
    assert "aws_iam_role.reader" not in _ids(cli)
    state = Workspace(cli.cwd / "mlform.yaml", offline=True).state()
    assert state.resources["aws_iam_role.worker"].attributes["tags"] == {"team": "research"}
    plan = cli.run("plan")  # the config still says otherwise: apply would put it back
    assert "Plan: 1 to add, 4 to change, 0 to destroy." in plan.out, plan.out
    assert cli.run("destroy", "--auto-approve").code == 0


def test_ignore_changes_keeps_expected_drift_out_of_reports_and_plans(
        cli: Cli, sandbox: Any, boto: Any, uid: str) -> None:
    config = CONFIG.replace("UID", uid).replace(
        "    tags: {team: ml}\n",
        "    tags: {team: ml}\n    lifecycle: {ignore_changes: [tags.team]}\n")
    cli.write(config)
    assert cli.run("apply", "--auto-approve").code == 0
    ids = _ids(cli)
    boto("iam").tag_role(RoleName=ids["aws_iam_role.worker"],
                         Tags=[{"Key": "team", "Value": "research"}])
    r = cli.run("drift")
    assert r.code == 0, r.out
    assert "aws_iam_role.worker: only ignored changes (tags.team)" in r.out
    assert cli.run("plan", "--detailed-exitcode").code == 0
    assert cli.run("destroy", "--auto-approve").code == 0


def test_ignore_changes_must_name_an_argument(cli: Cli, uid: str) -> None:
    cli.write(CONFIG.replace("UID", uid).replace(
        "    tags: {team: ml}\n", "    tags: {team: ml}\n    lifecycle: {ignore_changes: [tag]}\n"))
    r = cli.run("validate")
    assert r.code == 1 and "Traceback" not in r.err
    assert "ignore_changes" in r.err and "did you mean 'tags'" in r.err, r.err
