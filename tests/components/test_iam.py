"""The roles components make: what their policies allow, as planned on the sandbox."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlform.api import Workspace

KEY = "arn:aws:kms:us-east-1:123456789012:key/1111-2222"
PLATFORM = """project: k{uid}
components:
  features: {{type: dataset_store{kms}}}
  plain: {{type: dataset_store}}
  registry: {{type: container_registry}}
  transactions:
    type: feature_store
    offline_store: ${{features.uri}}/feature-store
    record_identifier: id
    event_time: t
    features: {{id: String, t: Fractional}}
  tracking: {{type: experiment_tracker, artifact_store: "${{features.uri}}/mlflow"}}
  train:
    type: training_pipeline
    data: ["${{features.uri}}", "${{plain.uri}}"]
    steps: [{{Name: Train, Type: Training, Arguments: {{}}}}]
  lab: {{type: notebook, data: ["${{features.uri}}/lab"]}}
  fraud-api:
    type: model_endpoint
    image: ${{registry.url}}:v1
    model_data: ${{features.uri}}/models/v1/model.tar.gz
    instance_type: ml.m5.large
"""
ROLES = {  # role -> the Sid prefix of its statements on the store
    "module.transactions.aws_iam_role.this": "FeatureStore",
    "module.tracking.aws_iam_role.task": "Artifacts",
    "module.train.aws_iam_role.this": "Data",
    "module.lab.aws_iam_role.this": "Data",
    "module.fraud-api.aws_iam_role.this": "Model",
}


KEY_REF = ("${module.features.aws_s3_bucket_server_side_encryption_configuration.this.rule[0]"
           ".apply_server_side_encryption_by_default.kms_master_key_id}")


def _statements(policy: str) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in json.loads(policy)["Statement"]}


def _roles(tmp_path: Path, uid: str, kms: str) -> dict[str, dict[str, dict[str, Any]]]:
    """Each role's statements by Sid, as the config makes them (references still open)."""
    path = tmp_path / "mlform.yaml"
    path.write_text(PLATFORM.format(uid=uid, kms=kms))
    resources = Workspace(path, offline=True).stack.resources
    return {role: _statements(_policy_of(resources, role)) for role in ROLES}


def _policy_of(resources: dict[str, Any], role: str) -> str:
    """The one inline policy of `role`: an `aws_iam_role_policy` naming it (components no
    longer use the role's own `inline_policy`)."""
    (policy,) = [r.template["policy"] for r in resources.values()
                 if r.type == "aws_iam_role_policy" and r.template["role"] == "${" + role
                 + ".name}"]
    assert "inline_policy" not in resources[role].template
    return str(policy)


def test_every_reader_and_writer_of_an_encrypted_store_may_use_its_key(
        tmp_path: Path, uid: str) -> None:
    writers = {"FeatureStore", "Artifacts", "Data"}
    for role, statements in _roles(tmp_path, uid, f", kms_key_arn: '{KEY}'").items():
        sid = ROLES[role]
        key = statements.get(f"{'OfflineStore' if sid == 'FeatureStore' else sid}Key")
        assert key is not None, f"{role} may not use the store's KMS key"
        assert key["Resource"] == KEY_REF, role  # that store's key, and only it
        assert key["Action"] == (["kms:Decrypt", "kms:GenerateDataKey"] if sid in writers
                                 else ["kms:Decrypt"]), role


def test_stores_without_a_key_give_no_kms_permission(tmp_path: Path, uid: str) -> None:
    for role, statements in _roles(tmp_path, uid, "").items():
        actions = [a for s in statements.values()
                   for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])]
        assert not [a for a in actions if a.startswith("kms:")], role


def test_the_roles_get_the_key_itself(tmp_path: Path, uid: str, sandbox: Any,
                                      boto: Any) -> None:
    path = tmp_path / "mlform.yaml"
    path.write_text(f"project: k{uid}\ncomponents:\n"
                    f"  features: {{type: dataset_store, kms_key_arn: '{KEY}', "
                    "force_destroy: true}\n"
                    "  lab: {type: notebook, data: ['${features.uri}/lab']}\n")
    ws = Workspace(path)
    outcome = ws.apply(ws.plan())
    assert outcome.result is not None and outcome.result.ok, outcome.result.failed
    role = next(c for c in ws.state().resources.values()
                if c.type == "aws_iam_role")
    policy = boto("iam").get_role_policy(RoleName=role.id, PolicyName="notebook")
    statements = _statements(json.dumps(policy["PolicyDocument"]))
    assert statements["DataKey"] == {"Sid": "DataKey", "Effect": "Allow",
                                     "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                                     "Resource": KEY}
    assert statements["DataObjects"]["Resource"] == [
        f"arn:aws:s3:::k{uid}-default-features/lab/*"]
    assert not ws.plan().has_changes
    assert ws.apply(destroy=True).result.ok  # type: ignore[union-attr]


def test_a_stack_in_china_builds_arns_in_its_partition(tmp_path: Path, uid: str) -> None:
    path = tmp_path / "mlform.yaml"
    path.write_text(PLATFORM.format(uid=uid, kms="")
                    + "environments:\n  dev: {target: aws, region: cn-north-1}\n")
    resources = Workspace(path, offline=True).stack.resources
    lab = _statements(_policy_of(resources, "module.lab.aws_iam_role.this"))
    assert lab["DataObjects"]["Resource"][0].startswith("arn:aws-cn:s3:::")
    api = _statements(_policy_of(resources, "module.fraud-api.aws_iam_role.this"))
    assert api["ReadModel"]["Resource"].startswith("arn:aws-cn:s3:::")
    attachments = {r.template["policy_arn"] for r in resources.values()
                   if r.type == "aws_iam_role_policy_attachment"}
    assert attachments == {
        "arn:aws-cn:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"}
    texts = json.dumps({a: r.template for a, r in resources.items()})
    assert '"arn:aws:' not in texts and "arn:aws:" not in texts
