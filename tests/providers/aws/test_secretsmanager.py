from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from mlform.errors import ProviderError
from mlform.providers.aws.secretsmanager import SecretsmanagerSecret
from mlform.providers.base import ResourceMeta, StackContext
from tests.providers.aws.contract import check_contract


@pytest.fixture
def rt(aws_session: Any) -> SecretsmanagerSecret:
    return SecretsmanagerSecret(aws_session)


@pytest.fixture
def meta(stack_context: StackContext) -> ResourceMeta:
    return ResourceMeta("aws_secretsmanager_secret.test", stack_context)


def test_secret_contract(
    aws_session: Any, stack_context: StackContext, uid: str, boto: Any
) -> None:
    name = f"db-{uid}"
    key = boto("kms").create_key()["KeyMetadata"]["Arn"]
    attrs = check_contract(
        SecretsmanagerSecret, aws_session, stack_context,
        create={"name": name, "description": "database password", "kms_key_id": key,
                "recovery_window_in_days": 7, "tags": {"team": "ml"}},
        # Back to the AWS managed key; a window of 0 makes the contract's delete final.
        update={"name": name, "description": "set by hand", "recovery_window_in_days": 0,
                "tags": {"team": "platform", "cost-center": "42"}},
    )
    assert attrs["id"] == attrs["arn"]
    assert attrs["arn"].startswith("arn:aws:secretsmanager:us-east-1:")
    sm = boto("secretsmanager")
    with pytest.raises(sm.exceptions.ResourceNotFoundException):
        sm.describe_secret(SecretId=name)


def test_recovery_window_zero_deletes_at_once(
    rt: SecretsmanagerSecret, meta: ResourceMeta, uid: str, boto: Any
) -> None:
    name = f"now-{uid}"
    sm = boto("secretsmanager")
    args = SecretsmanagerSecret.Args.model_validate({"name": name, "recovery_window_in_days": 0})
    attrs = rt.create(args, meta)
    rt.delete(attrs["id"], attrs)
    with pytest.raises(sm.exceptions.ResourceNotFoundException):
        sm.describe_secret(SecretId=name)
    again = rt.create(args, meta)  # the name is free again right away
    assert again["name"] == name
    assert again["arn"] != attrs["arn"]
    rt.delete(again["id"], again)


@pytest.mark.parametrize("window", [None, 7])
def test_recovery_window_schedules_deletion(
    rt: SecretsmanagerSecret, meta: ResourceMeta, uid: str, boto: Any, window: int | None
) -> None:
    name = f"later-{uid}"
    sm = boto("secretsmanager")
    raw: dict[str, Any] = {"name": name}
    if window is not None:
        raw["recovery_window_in_days"] = window
    args = SecretsmanagerSecret.Args.model_validate(raw)
    attrs = rt.create(args, meta)
    assert attrs["recovery_window_in_days"] == (window or 30)

    rt.delete(attrs["id"], attrs)
    deleted = sm.describe_secret(SecretId=name)["DeletedDate"]
    days = (deleted - datetime.now(UTC)).total_seconds() / 86400
    assert abs(days - (window or 30)) < 0.01
    assert rt.read(attrs["id"], attrs) is None
    assert rt.find(args, meta) is None
    assert attrs["id"] not in {d.id for d in rt.list()}
    rt.delete(attrs["id"], attrs)  # already scheduled: nothing more to do
    with pytest.raises(ProviderError):  # the name stays taken while it is recoverable
        rt.create(args, meta)
    sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)


@pytest.mark.parametrize("window", [0, 7, 30])
def test_valid_recovery_windows(window: int) -> None:
    args = SecretsmanagerSecret.Args.model_validate({"name": "s",
                                                     "recovery_window_in_days": window})
    assert args.recovery_window_in_days == window


@pytest.mark.parametrize("window", [-1, 1, 6, 31])
def test_invalid_recovery_windows_are_rejected(window: int) -> None:
    with pytest.raises(ValidationError, match="or from 7 to 30 days"):
        SecretsmanagerSecret.Args.model_validate({"name": "s", "recovery_window_in_days": window})


def test_out_of_band_changes_show_in_read_and_update_undoes_them(
    rt: SecretsmanagerSecret, meta: ResourceMeta, uid: str, boto: Any
) -> None:
    name = f"drift-{uid}"
    sm = boto("secretsmanager")
    args = SecretsmanagerSecret.Args.model_validate({
        "name": name, "description": "api token", "recovery_window_in_days": 0,
        "tags": {"team": "ml"}})
    attrs = rt.create(args, meta)
    sm.update_secret(SecretId=name, Description="changed by hand")
    sm.tag_resource(SecretId=name, Tags=[{"Key": "owner", "Value": "bob"}])

    live = rt.read(attrs["id"], attrs)
    assert live is not None
    assert live["description"] == "changed by hand"
    assert live["tags"] == {"team": "ml", "owner": "bob"}

    reverted = rt.update(attrs["id"], live, args, meta)
    assert reverted == attrs
    assert sm.describe_secret(SecretId=name)["Description"] == "api token"
    rt.delete(attrs["id"], attrs)


def test_create_again_finishes_its_own_secret_and_refuses_anothers(
    rt: SecretsmanagerSecret, meta: ResourceMeta, stack_context: StackContext, uid: str
) -> None:
    args = SecretsmanagerSecret.Args.model_validate({"name": f"twice-{uid}",
                                                     "recovery_window_in_days": 0})
    attrs = rt.create(args, meta)
    assert rt.create(args, meta) == attrs  # as the engine does after NotReady
    with pytest.raises(ProviderError, match="ResourceExistsException"):
        rt.create(args, ResourceMeta("aws_secretsmanager_secret.other", stack_context))
    rt.delete(attrs["id"], attrs)


def test_read_and_delete_of_a_missing_secret(rt: SecretsmanagerSecret, uid: str) -> None:
    assert rt.read(f"missing-{uid}", {}) is None
    rt.delete(f"missing-{uid}", {"recovery_window_in_days": 0})
    rt.delete(f"missing-{uid}", {})
