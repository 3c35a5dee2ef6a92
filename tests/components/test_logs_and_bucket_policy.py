"""Log groups with a retention for what components run (model endpoints, the tracker's
server, EKS's control plane), and the dataset store's bucket policy; on the sandbox too."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from mlform.api import Workspace
from mlform.config.stack import load_stack
from tests.components.test_on_sandbox import applied
from tests.config.test_stack import problems

CONFIG = """project: demo
environments: {dev: {region: eu-west-1}}
components:
  api: {type: model_endpoint, image: img:1, model_data: s3://b/m.tar.gz,
        instance_type: ml.m5.large, log_retention_days: 90}
  tracking: {type: experiment_tracker}
  trainer: {type: gpu_cluster, gpu: T4, subnet_ids: [s-1, s-2]}
"""


def test_components_make_their_log_groups_first(tmp_path: Path) -> None:
    path = tmp_path / "mlform.yaml"
    path.write_text(CONFIG)
    res = load_stack(path, offline=True).resources

    group = res["module.api.aws_cloudwatch_log_group.this"].template
    assert (group["name"], group["retention_in_days"]) == (
        "/aws/sagemaker/Endpoints/demo-dev-api", 90)
    endpoint = res["module.api.aws_sagemaker_endpoint.this"]
    assert endpoint.template["name"] == "demo-dev-api"
    assert "module.api.aws_cloudwatch_log_group.this" in endpoint.depends_on
    serve = json.loads(res["module.api.aws_iam_role_policy.serve"].template["policy"])
    logs = next(s for s in serve["Statement"] if s["Sid"] == "Logs")
    assert logs["Resource"] == "${module.api.aws_cloudwatch_log_group.this.arn}:*"
    assert "logs:CreateLogGroup" not in logs["Action"]

    group = res["module.tracking.aws_cloudwatch_log_group.this"].template
    assert (group["name"], group["retention_in_days"]) == ("/ecs/demo-dev-tracking", 30)
    task = res["module.tracking.aws_ecs_task_definition.this"]
    (container,) = json.loads(task.template["container_definitions"])
    assert container["logConfiguration"] == {"logDriver": "awslogs", "options": {
        "awslogs-group": "${module.tracking.aws_cloudwatch_log_group.this.name}",
        "awslogs-region": "eu-west-1", "awslogs-stream-prefix": "mlflow"}}
    assert "module.tracking.aws_cloudwatch_log_group.this" in task.depends_on

    group = res["module.trainer.aws_cloudwatch_log_group.this"].template
    assert group["name"] == "/aws/eks/demo-dev-trainer/cluster"
    cluster = res["module.trainer.aws_eks_cluster.this"]
    assert cluster.template["name"] == "demo-dev-trainer"
    assert cluster.template["enabled_cluster_log_types"] == ["api", "audit", "authenticator"]
    assert "module.trainer.aws_cloudwatch_log_group.this" in cluster.depends_on


def test_a_retention_cloudwatch_refuses_is_one_located_line(tmp_path: Path) -> None:
    text = CONFIG.replace("log_retention_days: 90", "log_retention_days: 31")
    assert problems(tmp_path, text, offline=True) == [
        "mlform.yaml:5:57: api.log_retention_days: CloudWatch Logs keeps events 1, 3, 5, 7, "
        "14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, "
        "3288 or 3653 days, got an integer (31)"]


def test_the_dataset_store_refuses_requests_without_tls(tmp_path: Path) -> None:
    path = tmp_path / "mlform.yaml"
    path.write_text("project: demo\nenvironments: {dev: {region: cn-north-1}}\ncomponents:\n"
                    "  data: {type: dataset_store}\n"
                    "  strict: {type: dataset_store, deny_unencrypted_uploads: true}\n"
                    "  open: {type: dataset_store, enforce_tls: false}\n")
    res = load_stack(path, offline=True).resources
    policy = res["module.data.aws_s3_bucket_policy.this"].template
    assert policy["bucket"] == "${module.data.aws_s3_bucket.this.id}"
    bucket = "arn:aws-cn:s3:::${module.data.aws_s3_bucket.this.id}"
    assert json.loads(policy["policy"])["Statement"] == [{
        "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [bucket, f"{bucket}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]
    strict = json.loads(res["module.strict.aws_s3_bucket_policy.this"].template["policy"])
    assert [s["Sid"] for s in strict["Statement"]] == [
        "DenyInsecureTransport", "DenyUnencryptedUploads"]
    assert strict["Statement"][1]["Action"] == "s3:PutObject"
    assert strict["Statement"][1]["Condition"] == {
        "Null": {"s3:x-amz-server-side-encryption": "true"}}
    assert "module.open.aws_s3_bucket_policy.this" not in res


def test_on_the_sandbox(tmp_path: Path, uid: str, boto: Any, sandbox: Any) -> None:
    """The sandbox keeps the bucket policy without refusing its own http:// requests (it does
    not evaluate aws:SecureTransport or upload headers), and the groups with their
    retention."""
    path = tmp_path / "mlform.yaml"
    path.write_text(
        f"project: c{uid}\nenvironments: {{dev: {{}}}}\ncomponents:\n"
        "  models: {type: dataset_store, force_destroy: true, deny_unencrypted_uploads: true}\n"
        "  registry: {type: container_registry, force_delete: true}\n"
        "  api: {type: model_endpoint, image: '${registry.url}:v1', "
        "model_data: '${models.uri}/m.tar.gz', instance_type: ml.m5.large, "
        "log_retention_days: 7}\n")
    ws = Workspace(path)
    applied(ws)
    s3, bucket = boto("s3"), f"c{uid}-dev-models"
    sids = [s["Sid"] for s in json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])[
        "Statement"]]
    assert sids == ["DenyInsecureTransport", "DenyUnencryptedUploads"]
    # The sandbox stands in for AWS's HTTPS endpoint: its http:// is not refused.
    s3.put_object(Bucket=bucket, Key="m.tar.gz", Body=b"model")
    name = f"/aws/sagemaker/Endpoints/c{uid}-dev-api"
    (group,) = boto("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    assert group["retentionInDays"] == 7
    assert boto("sagemaker").describe_endpoint(EndpointName=f"c{uid}-dev-api")[
        "EndpointStatus"] == "InService"

    path.write_text(path.read_text().replace("deny_unencrypted_uploads: true",
                                             "enforce_tls: false"))
    ws = Workspace(path)
    applied(ws)
    with pytest.raises(ClientError, match="NoSuchBucketPolicy"):
        s3.get_bucket_policy(Bucket=bucket)
    assert ws.state().resources.get("module.models.aws_s3_bucket_policy.this") is None
    assert ws.apply(destroy=True).result.ok  # type: ignore[union-attr]
    assert not boto("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
