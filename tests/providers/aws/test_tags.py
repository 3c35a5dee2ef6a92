"""Tags are synced against the live object, never against the recorded state.

Someone changes a tag by hand between two applies; the next update must still end with exactly
the wanted tags. Synced against the recorded state instead, it would miss the hand-added tag
(nothing to remove, as far as the state knows) and the hand-removed one (nothing to add).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from mlform.providers.aws.base import tag_dict
from mlform.providers.aws.ecr import EcrRepository
from mlform.providers.aws.sagemaker import SagemakerModel
from mlform.providers.base import TAG_ADDRESS, TAG_STACK, ResourceMeta, StackContext

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/serve"


def _ecr(boto: Any, uid: str) -> tuple[type[Any], dict[str, Any], Any]:
    ecr = boto("ecr")

    class Out:  # out-of-band tag calls on the repository
        @staticmethod
        def tag(arn: str, tags: dict[str, str]) -> None:
            ecr.tag_resource(resourceArn=arn, tags=[{"Key": k, "Value": v}
                                                    for k, v in tags.items()])

        @staticmethod
        def untag(arn: str, keys: list[str]) -> None:
            ecr.untag_resource(resourceArn=arn, tagKeys=keys)

        @staticmethod
        def tags(arn: str) -> dict[str, str]:
            return tag_dict(ecr.list_tags_for_resource(resourceArn=arn)["tags"])

    return EcrRepository, {"name": f"oob-{uid}"}, Out


def _sagemaker(boto: Any, uid: str) -> tuple[type[Any], dict[str, Any], Any]:
    sm = boto("sagemaker")
    policy = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"},
        "Action": "sts:AssumeRole"}]}
    role = boto("iam").create_role(RoleName=f"oob-{uid}",
                                   AssumeRolePolicyDocument=json.dumps(policy))["Role"]["Arn"]

    class Out:
        @staticmethod
        def tag(arn: str, tags: dict[str, str]) -> None:
            sm.add_tags(ResourceArn=arn, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])

        @staticmethod
        def untag(arn: str, keys: list[str]) -> None:
            sm.delete_tags(ResourceArn=arn, TagKeys=keys)

        @staticmethod
        def tags(arn: str) -> dict[str, str]:
            return tag_dict(sm.list_tags(ResourceArn=arn)["Tags"])

    args = SagemakerModel.complete_args({"name_prefix": f"oob-{uid}-", "execution_role_arn": role,
                                         "primary_container": {"image": IMAGE}})
    return SagemakerModel, args, Out


@pytest.mark.parametrize("make", [_ecr, _sagemaker], ids=["ecr", "sagemaker"])
def test_update_syncs_tags_against_the_live_object(
        make: Callable[..., Any], aws_session: Any, stack_context: StackContext, boto: Any,
        uid: str) -> None:
    rtype, base, out = make(boto, uid)
    rt = rtype(aws_session)
    meta = ResourceMeta(f"{rtype.type_name}.oob", stack_context)
    recorded = rt.create(rtype.Args.model_validate({**base, "tags": {"team": "ml"}}), meta)
    arn = recorded["arn"]
    # By hand: a tag added, and one of mlform's removed, since the state was recorded.
    out.tag(arn, {"added-by-hand": "yes"})
    out.untag(arn, ["team"])

    wanted = {"team": "ml", "tier": "gold"}
    updated = rt.update(recorded["id"], recorded, rtype.Args.model_validate(
        {**base, "tags": wanted}), meta)

    expected = {**wanted, TAG_STACK: stack_context.stack, TAG_ADDRESS: meta.address}
    assert out.tags(arn) == expected
    assert updated["tags_all"] == expected
    rt.delete(updated["id"], updated)
