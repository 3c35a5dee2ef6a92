"""`model_registry` on the sandbox: the group and its sharing policy, `latest_approved` looked
up at load and pinned by mlform.lock, and a `model_endpoint` serving it (`model_package:`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlform.api import Workspace
from mlform.errors import ConfigError
from mlform.lock import make_lock

REGISTRY = "  models: {type: model_registry, share_with_accounts: ['111122223333']}\n"
ENDPOINT = ("  fraud-api:\n    type: model_endpoint\n    model_package: ${models.latest_approved}\n"
            "    instance_type: ml.m5.large\n")


def workspace(tmp_path: Path, uid: str, components: str) -> Workspace:
    path = tmp_path / "mlform.yaml"
    path.write_text(f"project: r{uid}\nenvironments: {{dev: {{}}}}\ncomponents:\n{components}")
    return Workspace(path)


def _package(sm: Any, group: str, status: str) -> str:
    return str(sm.create_model_package(
        ModelPackageGroupName=group, ModelApprovalStatus=status,
        InferenceSpecification={
            "Containers": [{"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/m:1"}],
            "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]},
    )["ModelPackageArn"])


def test_registry_then_an_endpoint_serving_its_latest_approved_package(
        tmp_path: Path, uid: str, boto: Any, sandbox: Any) -> None:
    sm, group = boto("sagemaker"), f"r{uid}-dev-models"
    # First apply: the group does not exist, so an endpoint cannot be planned from it yet.
    with pytest.raises(ConfigError) as err:
        workspace(tmp_path, uid, REGISTRY + ENDPOINT)
    assert f"model package group {group} does not exist yet" in str(err.value)
    assert "mlform.yaml:" in str(err.value) and "apply the registry 'models' first" in str(
        err.value)

    ws = workspace(tmp_path, uid, REGISTRY)
    assert ws.apply().result.ok  # type: ignore[union-attr]
    policy = json.loads(sm.get_model_package_group_policy(
        ModelPackageGroupName=group)["ResourcePolicy"])
    assert policy["Statement"][0]["Principal"] == {"AWS": ["arn:aws:iam::111122223333:root"]}

    _package(sm, group, "Rejected")
    with pytest.raises(ConfigError, match="has no approved model package yet"):
        workspace(tmp_path, uid, REGISTRY + ENDPOINT)

    approved = _package(sm, group, "Approved")
    _package(sm, group, "PendingManualApproval")  # newer, but not approved
    ws = workspace(tmp_path, uid, REGISTRY + ENDPOINT)
    lock = make_lock(tmp_path / "mlform.yaml")
    assert lock.data.environments["dev"]["us-east-1"].model_packages["models"].arn == approved
    assert ws.apply().result.ok  # type: ignore[union-attr]
    name = f"r{uid}-dev-fraud-api"
    config = sm.describe_endpoint_config(
        EndpointConfigName=sm.describe_endpoint(EndpointName=name)["EndpointConfigName"])
    model = sm.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    assert model["PrimaryContainer"]["ModelPackageName"] == approved
    assert not ws.plan().has_changes

    # A newer approval changes nothing while the lock pins the old one; `lock --update` moves.
    newer = _package(sm, group, "Approved")
    assert not workspace(tmp_path, uid, REGISTRY + ENDPOINT).plan().has_changes
    make_lock(tmp_path / "mlform.yaml", update=True)
    moved = workspace(tmp_path, uid, REGISTRY + ENDPOINT).plan()
    model_change = next(c for c in moved.changes
                        if c.address == "module.fraud-api.aws_sagemaker_model.this")
    assert model_change.after["primary_container"]["model_package_name"] == newer  # type: ignore[index]
    assert ws.apply(destroy=True).result.ok  # type: ignore[union-attr]
