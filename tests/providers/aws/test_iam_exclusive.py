"""A role's whole policy lists as resources, on the sandbox: what is attached or put by hand is
read as drift of `aws_iam_role_policy_attachments_exclusive` / `aws_iam_role_policies_exclusive`,
their create and update remove it, and their delete leaves the role as it is (Terraform's)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlform.errors import NotReady
from mlform.providers.aws.iam import IamRole
from mlform.providers.aws.iam_exclusive import (
    IamRolePoliciesExclusive,
    IamRolePolicyAttachmentsExclusive,
)
from mlform.providers.base import ResourceMeta, StackContext
from tests.providers.aws.contract import check_contract
from tests.providers.aws.test_iam import S3_READ, SAGEMAKER, allow, attached, inline_names
from tests.providers.aws.test_iam_policies import _role


def test_attachments_exclusive_contract(aws_session: Any, stack_context: StackContext,
                                        uid: str) -> None:
    role = f"ax-{uid}"
    _role(aws_session, stack_context, role)
    attrs = check_contract(
        IamRolePolicyAttachmentsExclusive, aws_session, stack_context, taggable=False,
        create={"role_name": role, "policy_arns": [SAGEMAKER, S3_READ, S3_READ]},
        update={"role_name": role, "policy_arns": [SAGEMAKER]},
        detached=lambda: IamRole(aws_session).delete(role, {}))
    assert attrs["id"] == role  # Terraform's import id: the role's name
    assert attrs["policy_arns"] == [SAGEMAKER]


def test_policies_exclusive_contract(aws_session: Any, stack_context: StackContext,
                                     uid: str, boto: Any) -> None:
    role, iam = f"px-{uid}", boto("iam")
    _role(aws_session, stack_context, role)
    for name in ("a", "b"):
        iam.put_role_policy(RoleName=role, PolicyName=name,
                            PolicyDocument=json.dumps(allow("s3:GetObject")))
    attrs = check_contract(
        IamRolePoliciesExclusive, aws_session, stack_context, taggable=False,
        create={"role_name": role, "policy_names": ["b", "a"]},
        update={"role_name": role, "policy_names": ["a"]},
        detached=lambda: IamRole(aws_session).delete(role, {}))
    assert attrs["id"] == role and attrs["policy_names"] == ["a"]


def test_what_is_added_by_hand_is_read_and_removed(
        aws_session: Any, stack_context: StackContext, uid: str, boto: Any) -> None:
    role, iam = f"hx-{uid}", boto("iam")
    meta = ResourceMeta("aws_iam_role_policy_attachments_exclusive.r", stack_context)
    _role(aws_session, stack_context, role)
    iam.put_role_policy(RoleName=role, PolicyName="keep",
                        PolicyDocument=json.dumps(allow("s3:GetObject")))
    att, pol = (IamRolePolicyAttachmentsExclusive(aws_session),
                IamRolePoliciesExclusive(aws_session))
    a = att.create(att.Args.model_validate({"role_name": role, "policy_arns": []}), meta)
    p = pol.create(pol.Args.model_validate({"role_name": role, "policy_names": ["keep"]}), meta)
    iam.attach_role_policy(RoleName=role, PolicyArn=S3_READ)
    iam.put_role_policy(RoleName=role, PolicyName="extra",
                        PolicyDocument=json.dumps(allow("s3:PutObject")))
    assert att.read(role, a)["policy_arns"] == [S3_READ]  # type: ignore[index]
    assert pol.read(role, p)["policy_names"] == ["extra", "keep"]  # type: ignore[index]
    # Batched (a refresh) and one by one read the same.
    att.prefetch([(role, a)])
    pol.prefetch([(role, p)])
    assert att.read(role, a)["policy_arns"] == [S3_READ]  # type: ignore[index]
    assert pol.read(role, p)["policy_names"] == ["extra", "keep"]  # type: ignore[index]
    # Applying the config again removes them.
    att.update(role, a, att.Args.model_validate({"role_name": role, "policy_arns": []}), meta)
    pol.update(role, p, pol.Args.model_validate({"role_name": role, "policy_names": ["keep"]}),
               meta)
    assert attached(iam, role) == set() and inline_names(iam, role) == ["keep"]
    IamRole(aws_session).delete(role, {})


def test_a_role_not_visible_yet_is_waited_for(aws_session: Any, stack_context: StackContext,
                                             uid: str) -> None:
    rt = IamRolePolicyAttachmentsExclusive(aws_session)
    meta = ResourceMeta("aws_iam_role_policy_attachments_exclusive.r", stack_context)
    with pytest.raises(NotReady):
        rt.create(rt.Args.model_validate({"role_name": f"none-{uid}", "policy_arns": [S3_READ]}),
                  meta)
