"""CloudWatch log groups on the sandbox: the provider contract, retention and a KMS key
changed in place (AssociateKmsKey, which the sandbox adds to moto)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from mlform.providers.aws.logs import CloudwatchLogGroup
from mlform.providers.base import StackContext
from tests.providers.aws.contract import check_contract


def test_log_group_contract(aws_session: Any, stack_context: StackContext, uid: str,
                            boto: Any) -> None:
    key = boto("kms").create_key()["KeyMetadata"]["Arn"]
    name = f"/aws/sagemaker/Endpoints/e-{uid}"
    attrs = check_contract(
        CloudwatchLogGroup, aws_session, stack_context,
        create={"name": name, "retention_in_days": 30, "tags": {"team": "ml"}},
        update={"name": name, "retention_in_days": 0, "kms_key_id": key,
                "tags": {"team": "x"}})
    assert attrs["arn"].endswith(f":log-group:{name}") and attrs["kms_key_id"] == key


def test_retention_and_key_go_back_to_none(aws_session: Any, stack_context: StackContext,
                                           uid: str, boto: Any) -> None:
    key = boto("kms").create_key()["KeyMetadata"]["Arn"]
    name = f"g-{uid}"
    attrs = check_contract(
        CloudwatchLogGroup, aws_session, stack_context,
        create={"name": name, "retention_in_days": 7, "kms_key_id": key},
        update={"name": name})
    assert attrs["retention_in_days"] == 0 and attrs["kms_key_id"] is None


@pytest.mark.parametrize("days", [2, 31, -1])
def test_only_retentions_cloudwatch_accepts(days: int) -> None:
    with pytest.raises(ValidationError, match="not a retention CloudWatch Logs accepts"):
        CloudwatchLogGroup.Args.model_validate({"name": "g", "retention_in_days": days})
