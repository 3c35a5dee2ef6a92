"""SSM parameters on the sandbox: the provider contract for plain and secure values, and a
value put by hand seen as changed though it is never read back."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from mlform.providers.aws.secretsmanager import NOT_CURRENT
from mlform.providers.aws.ssm import SsmParameter
from mlform.providers.base import ResourceMeta, StackContext
from mlform.sensitive import SecretValue, stack_key, token
from tests.providers.aws.contract import check_contract


def secret(ctx: StackContext, plain: str) -> SecretValue:
    return SecretValue(token(stack_key(ctx.stack, ctx.home), plain), None, plain)


def test_string_parameter_contract(aws_session: Any, stack_context: StackContext,
                                   uid: str) -> None:
    name = f"/ml/{uid}/host"
    attrs = check_contract(
        SsmParameter, aws_session, stack_context,
        create={"name": name, "type": "String", "insecure_value": "db.local",
                "description": "database host", "tags": {"team": "ml"}},
        update={"name": name, "type": "String", "insecure_value": "db2.local",
                "tags": {"team": "x"}})
    assert attrs["version"] == 2 and attrs["arn"].endswith(f":parameter{name}")


def test_secure_string_contract(aws_session: Any, stack_context: StackContext, uid: str,
                                boto: Any) -> None:
    name = f"/ml/{uid}/password"
    first, second = secret(stack_context, f"pw-{uid}-1"), secret(stack_context, f"pw-{uid}-2")
    attrs = check_contract(
        SsmParameter, aws_session, stack_context,
        create={"name": name, "type": "SecureString", "value": first},
        update={"name": name, "type": "SecureString", "value": second,
                "description": "rotated"})
    assert attrs["value"] == str(second) and attrs["key_id"] == "alias/aws/ssm"
    assert f"pw-{uid}" not in repr(attrs)


def test_a_value_put_by_hand_reads_as_changed_and_update_puts_it_back(
        aws_session: Any, stack_context: StackContext, uid: str, boto: Any) -> None:
    rt, ssm, name = SsmParameter(aws_session), boto("ssm"), f"/ml/{uid}/token"
    meta = ResourceMeta("aws_ssm_parameter.t", stack_context)
    args = SsmParameter.Args.model_validate(
        {"name": name, "type": "SecureString", "value": secret(stack_context, f"t-{uid}")})
    attrs = rt.create(args, meta)
    assert rt.read(name, attrs) == attrs
    ssm.put_parameter(Name=name, Value="by hand", Type="SecureString", Overwrite=True)
    live = rt.read(name, attrs)
    assert live is not None and live["value"] == NOT_CURRENT
    again = rt.update(name, live, args, meta)
    assert again["value"] == attrs["value"] and again["version"] == 3
    got = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    assert got == f"t-{uid}"
    rt.delete(name, again)


@pytest.mark.parametrize("args, match", [
    ({"type": "String"}, "exactly one of value"),
    ({"type": "SecureString", "insecure_value": "x"}, "sensitive"),
    ({"type": "String", "insecure_value": "x", "key_id": "k"}, "SecureString parameters"),
    ({"type": "String", "value": "plain text"}, "never written in the config"),
])
def test_values_are_checked(args: dict[str, Any], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        SsmParameter.Args.model_validate({"name": "/p", **args})
