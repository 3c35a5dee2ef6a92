from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from mlform.errors import ProviderError
from mlform.providers.aws.iam import IamRole
from mlform.providers.base import ResourceMeta, StackContext
from tests.providers.aws.contract import check_contract

S3_READ = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
SAGEMAKER = "arn:aws:iam::aws:policy/AmazonSageMakerFullAccess"


def trust(*services: str) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": list(services)}, "Action": "sts:AssumeRole"}]}


def allow(*actions: str) -> dict[str, Any]:
    return {"Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}]}


def attached(iam: Any, name: str) -> set[str]:
    return {p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=name)
            ["AttachedPolicies"]}


def inline_names(iam: Any, name: str) -> list[str]:
    return sorted(iam.list_role_policies(RoleName=name)["PolicyNames"])


@pytest.fixture
def rt(aws_session: Any) -> IamRole:
    return IamRole(aws_session)


@pytest.fixture
def meta(stack_context: StackContext) -> ResourceMeta:
    return ResourceMeta("aws_iam_role.test", stack_context)


def test_iam_role_contract(aws_session: Any, stack_context: StackContext, uid: str) -> None:
    name = f"role-{uid}"
    check_contract(
        IamRole, aws_session, stack_context,
        create={"name": name, "assume_role_policy": trust("sagemaker.amazonaws.com"),
                "description": "training jobs", "managed_policy_arns": [S3_READ],
                "inline_policy": [{"name": "logs", "policy": allow("logs:PutLogEvents")}],
                "force_detach_policies": True, "tags": {"team": "ml"}},
        update={"name": name,
                "assume_role_policy": json.dumps(trust("sagemaker.amazonaws.com",
                                                       "ec2.amazonaws.com")),
                "max_session_duration": 7200, "permissions_boundary": SAGEMAKER,
                "managed_policy_arns": [SAGEMAKER, S3_READ],
                "inline_policy": [{"name": "ecr", "policy": allow("ecr:BatchGetImage")}],
                "tags": {"team": "platform", "cost-center": "42"}},
    )


def test_iam_role_update_attaches_detaches_and_rewrites_policies(
    rt: IamRole, meta: ResourceMeta, uid: str, boto: Any
) -> None:
    name = f"sync-{uid}"
    iam = boto("iam")
    attrs = rt.create(IamRole.Args.model_validate({
        "name": name, "assume_role_policy": trust("sagemaker.amazonaws.com"),
        "managed_policy_arns": [S3_READ],
        "inline_policy": [{"name": "read", "policy": allow("s3:GetObject")},
                          {"name": "logs", "policy": allow("logs:PutLogEvents")}],
    }), meta)
    assert attached(iam, name) == {S3_READ}
    assert inline_names(iam, name) == ["logs", "read"]

    updated = rt.update(name, attrs, IamRole.Args.model_validate({
        "name": name, "assume_role_policy": trust("sagemaker.amazonaws.com"),
        "managed_policy_arns": [SAGEMAKER],
        "inline_policy": [{"name": "read", "policy": allow("s3:GetObject", "s3:ListBucket")},
                          {"name": "ecr", "policy": allow("ecr:BatchGetImage")}],
    }), meta)
    assert attached(iam, name) == {SAGEMAKER}
    assert inline_names(iam, name) == ["ecr", "read"]
    live = iam.get_role_policy(RoleName=name, PolicyName="read")["PolicyDocument"]
    assert live == allow("s3:GetObject", "s3:ListBucket")
    assert updated["managed_policy_arns"] == [SAGEMAKER]
    assert [p["name"] for p in updated["inline_policy"]] == ["ecr", "read"]
    rt.delete(name, updated)


def test_policy_as_mapping_or_json_string_compares_equal(
    rt: IamRole, meta: ResourceMeta, uid: str
) -> None:
    name = f"same-{uid}"
    as_mapping = IamRole.Args.model_validate({
        "name": name, "assume_role_policy": trust("sagemaker.amazonaws.com"),
        "inline_policy": [{"name": "p", "policy": allow("s3:GetObject")}]})
    text = ('{\n  "Statement": [{"Action": "sts:AssumeRole", "Effect": "Allow",\n'
            '     "Principal": {"Service": ["sagemaker.amazonaws.com"]}}],\n'
            '  "Version": "2012-10-17"\n}')
    as_text = IamRole.Args.model_validate({
        "name": name, "assume_role_policy": text,
        "inline_policy": [{"name": "p", "policy": json.dumps(allow("s3:GetObject"), indent=4)}]})
    assert as_text.model_dump(mode="json") == as_mapping.model_dump(mode="json")
    other = IamRole.Args.model_validate({"name": name,
                                         "assume_role_policy": trust("ec2.amazonaws.com")})
    assert other.assume_role_policy != as_mapping.assume_role_policy

    # What IAM hands back normalises the same way: no change shows after creating from text.
    attrs = rt.create(as_text, meta)
    live = rt.read(name, attrs)
    assert live is not None
    assert {k: live[k] for k in IamRole.Args.model_fields} == as_mapping.model_dump(mode="json")
    rt.delete(name, attrs)


def test_policy_lists_are_order_insensitive() -> None:
    def args(arns: list[str], inline: list[str]) -> dict[str, Any]:
        return IamRole.Args.model_validate({
            "name": "r", "assume_role_policy": trust("ec2.amazonaws.com"),
            "managed_policy_arns": arns,
            "inline_policy": [{"name": n, "policy": allow("s3:GetObject")} for n in inline],
        }).model_dump(mode="json")

    assert args([SAGEMAKER, S3_READ, S3_READ], ["b", "a"]) == args([S3_READ, SAGEMAKER], ["a", "b"])
    assert args([S3_READ], ["a"]) != args([SAGEMAKER], ["a"])


@pytest.mark.parametrize("change", [
    {"assume_role_policy": "{not json"},
    {"assume_role_policy": "[1, 2]"},
    {"inline_policy": [{"name": "p", "policy": "nope"}]},
    {"inline_policy": [{"name": "p", "policy": {}}, {"name": "p", "policy": {}}]},
    {"max_session_duration": 60},
    {"path": "no-slashes"},
])
def test_invalid_role_arguments_are_rejected(change: dict[str, Any]) -> None:
    valid = {"name": "r", "assume_role_policy": trust("ec2.amazonaws.com")}
    IamRole.Args.model_validate(valid)
    with pytest.raises(ValidationError):
        IamRole.Args.model_validate({**valid, **change})


def test_out_of_band_changes_show_in_read_and_update_undoes_them(
    rt: IamRole, meta: ResourceMeta, uid: str, boto: Any
) -> None:
    name = f"drift-{uid}"
    iam = boto("iam")
    args = IamRole.Args.model_validate({
        "name": name, "assume_role_policy": trust("sagemaker.amazonaws.com"),
        # An empty list is managed (exclusive): unset would leave inline policies alone.
        "managed_policy_arns": [S3_READ], "inline_policy": [], "tags": {"team": "ml"}})
    attrs = rt.create(args, meta)
    iam.attach_role_policy(RoleName=name, PolicyArn=SAGEMAKER)
    iam.put_role_policy(RoleName=name, PolicyName="extra",
                        PolicyDocument=json.dumps(allow("s3:*")))
    iam.tag_role(RoleName=name, Tags=[{"Key": "owner", "Value": "bob"}])

    live = rt.read(name, attrs)
    assert live is not None
    assert live["managed_policy_arns"] == sorted([S3_READ, SAGEMAKER])
    assert [p["name"] for p in live["inline_policy"]] == ["extra"]
    assert live["tags"] == {"team": "ml", "owner": "bob"}

    reverted = rt.update(name, live, args, meta)
    assert attached(iam, name) == {S3_READ}
    assert inline_names(iam, name) == []
    assert reverted == attrs
    rt.delete(name, reverted)


def test_delete_role_with_policies_and_instance_profile(
    rt: IamRole, meta: ResourceMeta, uid: str, boto: Any
) -> None:
    name = f"busy-{uid}"
    iam = boto("iam")
    attrs = rt.create(IamRole.Args.model_validate({
        "name": name, "assume_role_policy": trust("ec2.amazonaws.com"),
        "managed_policy_arns": [S3_READ, SAGEMAKER],
        "inline_policy": [{"name": "p", "policy": allow("s3:GetObject")}]}), meta)
    iam.create_instance_profile(InstanceProfileName=f"profile-{uid}")
    iam.add_role_to_instance_profile(InstanceProfileName=f"profile-{uid}", RoleName=name)

    rt.delete(name, attrs)
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_role(RoleName=name)
    profile = iam.get_instance_profile(InstanceProfileName=f"profile-{uid}")["InstanceProfile"]
    assert profile["Roles"] == []
    assert rt.read(name, attrs) is None
    rt.delete(name, attrs)  # deleting what is gone succeeds
    iam.delete_instance_profile(InstanceProfileName=f"profile-{uid}")


def test_failed_attachment_hands_the_created_role_to_the_engine(
    rt: IamRole, meta: ResourceMeta, uid: str, boto: Any
) -> None:
    name = f"half-{uid}"
    args = IamRole.Args.model_validate({
        "name": name, "assume_role_policy": trust("ec2.amazonaws.com"),
        "managed_policy_arns": ["arn:aws:iam::aws:policy/NoSuchPolicy"]})
    with pytest.raises(ProviderError, match="NoSuchEntity") as info:
        rt.create(args, meta)
    partial = info.value.partial
    assert partial is not None
    assert partial["id"] == name
    assert partial["arn"] == boto("iam").get_role(RoleName=name)["Role"]["Arn"]
    rt.delete(name, partial)
    assert rt.read(name, partial) is None


def test_create_again_finishes_its_own_role_and_refuses_anothers(
    rt: IamRole, meta: ResourceMeta, stack_context: StackContext, uid: str, boto: Any
) -> None:
    name = f"twice-{uid}"
    args = IamRole.Args.model_validate({
        "name": name, "assume_role_policy": trust("ec2.amazonaws.com"),
        "managed_policy_arns": [S3_READ]})
    attrs = rt.create(args, meta)
    boto("iam").detach_role_policy(RoleName=name, PolicyArn=S3_READ)  # as if cut short
    assert rt.create(args, meta) == attrs  # as the engine does after NotReady
    with pytest.raises(ProviderError, match="EntityAlreadyExists"):
        rt.create(args, ResourceMeta("aws_iam_role.other", stack_context))
    rt.delete(name, attrs)


def test_read_and_delete_of_a_missing_role(rt: IamRole, uid: str) -> None:
    assert rt.read(f"missing-{uid}", {}) is None
    rt.delete(f"missing-{uid}", {})


def test_default_name_fits_iam_limit(stack_context: StackContext) -> None:
    name = IamRole.default_args(stack_context, "x" * 100)["name"]
    assert len(name) == 64
    assert name.startswith(f"{stack_context.project}-{stack_context.environment}-")
