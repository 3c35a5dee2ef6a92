"""KMS keys and aliases on the sandbox: the provider contract, and destroy scheduling
deletion after the key's window as Terraform does."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from mlform.providers.aws.kms import KmsAlias, KmsKey
from mlform.providers.base import ResourceMeta, StackContext
from tests.providers.aws.contract import check_contract


def _policy(account: str = "123456789012") -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "Root", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
        "Action": "kms:*", "Resource": "*"}]}


def test_kms_key_contract(aws_session: Any, stack_context: StackContext, boto: Any) -> None:
    attrs = check_contract(
        KmsKey, aws_session, stack_context,
        create={"description": "datasets", "deletion_window_in_days": 7,
                "tags": {"team": "ml"}},
        update={"description": "datasets (rotated)", "deletion_window_in_days": 7,
                "enable_key_rotation": True, "policy": _policy(), "tags": {"team": "x"}})
    assert attrs["id"] == attrs["key_id"] and attrs["arn"].endswith(f":key/{attrs['key_id']}")
    assert json.loads(attrs["policy"]) == _policy()


def test_destroy_schedules_deletion_after_the_window(
        aws_session: Any, stack_context: StackContext, boto: Any) -> None:
    rt = KmsKey(aws_session)
    meta = ResourceMeta("aws_kms_key.k", stack_context)
    args = KmsKey.Args.model_validate({"deletion_window_in_days": 9})
    attrs = rt.create(args, meta)
    assert rt.create(args, meta) == attrs  # called again (after a crash): the same key
    rt.delete(attrs["id"], attrs)
    key = boto("kms").describe_key(KeyId=attrs["id"])["KeyMetadata"]
    assert key["KeyState"] == "PendingDeletion"
    days = (key["DeletionDate"] - datetime.now(UTC)).total_seconds() / 86400
    assert abs(days - 9) < 0.01
    assert rt.read(attrs["id"], attrs) is None  # pending deletion: gone for mlform
    assert rt.find(args, meta) is None
    rt.delete(attrs["id"], attrs)  # already scheduled: nothing more to do


@pytest.mark.parametrize("window", [6, 31])
def test_deletion_window_is_7_to_30_days(window: int) -> None:
    with pytest.raises(ValidationError):
        KmsKey.Args.model_validate({"deletion_window_in_days": window})


def test_kms_alias_contract(aws_session: Any, stack_context: StackContext, uid: str) -> None:
    keys = KmsKey(aws_session)
    meta = ResourceMeta("aws_kms_key.k", stack_context)
    first = keys.create(KmsKey.Args.model_validate({"deletion_window_in_days": 7}), meta)
    second = keys.create(KmsKey.Args.model_validate({"deletion_window_in_days": 7}),
                         ResourceMeta("aws_kms_key.k2", stack_context))
    attrs = check_contract(
        KmsAlias, aws_session, stack_context, taggable=False,
        create={"name": f"alias/ml-{uid}", "target_key_id": first["key_id"]},
        update={"name": f"alias/ml-{uid}", "target_key_id": second["arn"]})
    assert attrs["target_key_arn"] == second["arn"]
    for key in (first, second):
        keys.delete(key["id"], key)


def test_an_alias_of_aws_is_refused() -> None:
    with pytest.raises(ValidationError, match="AWS managed keys"):
        KmsAlias.Args.model_validate({"name": "alias/aws/s3", "target_key_id": "k"})
