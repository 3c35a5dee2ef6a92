"""`kms: true` on `dataset_store`, `secret` and `container_registry`: a customer-managed key
and alias of the component's own, used where a given key would be, refused beside one; and
on the sandbox, the key really encrypts what the component makes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlform.api import Workspace
from mlform.config.stack import load_stack
from tests.config.test_stack import problems

CONFIG = """project: kms-UID
environments:
  dev: {target: sandbox, region: us-east-1}
components:
  data: {type: dataset_store, kms: true, force_destroy: true}
  images: {type: container_registry, kms: true, force_delete: true}
  token: {type: secret, kms: true, recovery_window_in_days: 0}
"""


def test_kms_true_makes_a_key_and_uses_it(tmp_path: Path) -> None:
    path = tmp_path / "mlform.yaml"
    path.write_text("project: demo\ncomponents:\n"
                    "  data: {type: dataset_store, kms: true}\n"
                    "  images: {type: container_registry, kms: true}\n"
                    "  token: {type: secret, kms: true}\n")
    res = load_stack(path).resources
    for name in ("data", "images", "token"):
        key = res[f"module.{name}.aws_kms_key.this"].template
        assert key["enable_key_rotation"] is True
        alias = res[f"module.{name}.aws_kms_alias.this"].template
        assert alias["target_key_id"] == f"${{module.{name}.aws_kms_key.this.key_id}}"
    sse = res["module.data.aws_s3_bucket_server_side_encryption_configuration.this"].template
    assert sse["rule"][0]["apply_server_side_encryption_by_default"] == {
        "sse_algorithm": "aws:kms", "kms_master_key_id": "${module.data.aws_kms_key.this.arn}"}
    assert sse["rule"][0]["bucket_key_enabled"] is True
    repo = res["module.images.aws_ecr_repository.this"].template
    assert repo["encryption_configuration"] == {
        "encryption_type": "KMS", "kms_key": "${module.images.aws_kms_key.this.arn}"}
    secret = res["module.token.aws_secretsmanager_secret.this"].template
    assert secret["kms_key_id"] == "${module.token.aws_kms_key.this.arn}"


def test_without_kms_no_key_is_made(tmp_path: Path) -> None:
    path = tmp_path / "mlform.yaml"
    path.write_text("project: demo\ncomponents:\n  data: {type: dataset_store}\n")
    assert not [a for a in load_stack(path).resources if "aws_kms" in a]


def test_kms_true_beside_a_key_is_one_located_line(tmp_path: Path) -> None:
    text = ("project: demo\ncomponents:\n"
            "  data:\n    type: dataset_store\n    kms: true\n    kms_key_arn: arn:aws:kms:x\n"
            "  token:\n    type: secret\n    kms_key_id: k\n    kms: true\n"
            "  images:\n    type: container_registry\n    kms: true\n    kms_key_arn: a\n")
    assert problems(tmp_path, text) == [
        "mlform.yaml:5:5: data.kms: true makes a new key, but kms_key_arn gives one already: "
        "drop one of the two",
        "mlform.yaml:10:5: token.kms: true makes a new key, but kms_key_id gives one already: "
        "drop one of the two",
        "mlform.yaml:13:5: images.kms: true makes a new key, but kms_key_arn gives one "
        "already: drop one of the two",
    ]


def test_kms_true_on_the_sandbox(tmp_path: Path, sandbox: Any, boto: Any, uid: str) -> None:
    path = tmp_path / "mlform.yaml"
    path.write_text(CONFIG.replace("UID", uid))
    ws = Workspace(path)
    outcome = ws.apply(ws.plan())
    assert outcome.result is not None and outcome.result.ok, outcome.result.failed
    state = ws.state().resources
    keys = {n: state[f"module.{n}.aws_kms_key.this"].attributes["arn"]
            for n in ("data", "images", "token")}
    assert len(set(keys.values())) == 3  # a key each
    bucket = state["module.data.aws_s3_bucket.this"].id
    rule = boto("s3").get_bucket_encryption(Bucket=bucket)[
        "ServerSideEncryptionConfiguration"]["Rules"][0]["ApplyServerSideEncryptionByDefault"]
    assert rule == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": keys["data"]}
    repo = boto("ecr").describe_repositories(
        repositoryNames=[state["module.images.aws_ecr_repository.this"].id])["repositories"][0]
    assert repo["encryptionConfiguration"] == {"encryptionType": "KMS", "kmsKey": keys["images"]}
    secret = boto("secretsmanager").describe_secret(
        SecretId=state["module.token.aws_secretsmanager_secret.this"].id)
    assert secret["KmsKeyId"] == keys["token"]
    aliases = {a["AliasName"]: a.get("TargetKeyId") for a in boto("kms").list_aliases()["Aliases"]}
    assert sum(1 for a in aliases if a.startswith(f"alias/kms-{uid}-")) == 3
    assert not ws.plan().has_changes
    assert ws.apply(destroy=True).result.ok  # type: ignore[union-attr]
