"""The model registry (model package groups and their policies) and SageMaker Studio (domains
and user profiles) against the sandbox: the provider contract, and what the sandbox patches
make behave as AWS does."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlform.errors import ProviderError
from mlform.providers.aws.sagemaker_registry import (
    SagemakerModelPackageGroup,
    SagemakerModelPackageGroupPolicy,
)
from mlform.providers.aws.sagemaker_studio import SagemakerDomain, SagemakerUserProfile
from mlform.providers.base import ResourceMeta, StackContext
from tests.providers.aws.contract import check_contract


def _share(group_arn: str, account: str) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "Share", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
        "Action": ["sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages"],
        "Resource": group_arn}]}


def test_model_package_group_contract(aws_session: Any, stack_context: StackContext,
                                      uid: str) -> None:
    name = f"mpg-{uid}"
    attrs = check_contract(
        SagemakerModelPackageGroup, aws_session, stack_context,
        create={"model_package_group_name": name, "model_package_group_description": "fraud",
                "tags": {"team": "ml"}},
        update={"model_package_group_name": name, "model_package_group_description": "fraud",
                "tags": {"team": "risk"}})
    assert attrs["arn"].endswith(f":model-package-group/{name}")
    assert attrs["tags"] == {"team": "risk"}


def test_model_package_group_policy_contract(aws_session: Any, stack_context: StackContext,
                                             uid: str) -> None:
    name = f"mpg-{uid}"
    group = SagemakerModelPackageGroup(aws_session)
    made = group.create(SagemakerModelPackageGroup.Args(model_package_group_name=name),
                        ResourceMeta(address="aws_sagemaker_model_package_group.g",
                                     context=stack_context))
    try:
        attrs = check_contract(
            SagemakerModelPackageGroupPolicy, aws_session, stack_context,
            create={"model_package_group_name": name,
                    "resource_policy": _share(made["arn"], "111111111111")},
            update={"model_package_group_name": name,
                    "resource_policy": json.dumps(_share(made["arn"], "222222222222"))},
            taggable=False)
        assert "222222222222" in attrs["resource_policy"]
    finally:
        group.delete(name, made)


def test_a_policy_on_a_missing_group_is_refused(aws_session: Any, uid: str,
                                                stack_context: StackContext) -> None:
    policy = SagemakerModelPackageGroupPolicy(aws_session)
    args = policy.Args(model_package_group_name=f"none-{uid}",
                       resource_policy=_share("arn:aws:sagemaker:::x", "111111111111"))
    assert policy.read(f"none-{uid}", {}) is None
    with pytest.raises(ProviderError, match="does not exist"):
        policy.create(args, ResourceMeta(address="aws_sagemaker_model_package_group_policy.p",
                                         context=stack_context))


@pytest.fixture
def network(boto: Any, uid: str) -> tuple[str, list[str]]:
    ec2 = boto("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{i}.0/24",
                                 AvailabilityZone=f"us-east-1{z}")["Subnet"]["SubnetId"]
               for i, z in ((1, "a"), (2, "b"))]
    return vpc, subnets


def test_domain_and_user_profile_contract(aws_session: Any, stack_context: StackContext,
                                          uid: str, network: tuple[str, list[str]]) -> None:
    vpc, subnets = network
    role = "arn:aws:iam::123456789012:role/studio"
    domain = {"domain_name": f"studio-{uid}", "auth_mode": "IAM", "vpc_id": vpc,
              "subnet_ids": list(reversed(subnets)),
              "default_user_settings": {"execution_role": role}}
    # The domain holds the profile's contract run; the profile's run is inside.
    rt = SagemakerDomain(aws_session)
    meta = ResourceMeta(address="aws_sagemaker_domain.studio", context=stack_context)
    made = rt.create(SagemakerDomain.Args.model_validate(domain), meta)
    try:
        assert made["id"].startswith("d-") and made["home_efs_file_system_id"]
        profile = {"domain_id": made["id"], "user_profile_name": f"alice-{uid}",
                   "user_settings": {"execution_role": role}, "tags": {"who": "alice"}}
        attrs = check_contract(
            SagemakerUserProfile, aws_session, stack_context, create=profile,
            update={**profile, "user_settings": {"execution_role": role + "-2"}})
        assert attrs["arn"].endswith(f":user-profile/{made['id']}/alice-{uid}")
        assert attrs["id"] == attrs["arn"]
    finally:
        rt.delete(made["id"], made)
    other = f"studio2-{uid}"
    attrs = check_contract(
        SagemakerDomain, aws_session, stack_context,
        create={**domain, "domain_name": other},
        update={**domain, "domain_name": other, "app_network_access_type": "VpcOnly",
                "default_user_settings": {"execution_role": role, "security_groups": ["sg-1"]},
                "tags": {"team": "ml"}})
    assert attrs["app_network_access_type"] == "VpcOnly"
    assert attrs["subnet_ids"] == sorted(subnets)


def test_a_domain_with_users_cannot_be_deleted(aws_session: Any, stack_context: StackContext,
                                               uid: str, network: tuple[str, list[str]]) -> None:
    vpc, subnets = network
    rt = SagemakerDomain(aws_session)
    made = rt.create(SagemakerDomain.Args(
        domain_name=f"studio-{uid}", auth_mode="IAM", vpc_id=vpc, subnet_ids=subnets,
        default_user_settings={"execution_role": "arn:aws:iam::123456789012:role/s"}),
        ResourceMeta(address="aws_sagemaker_domain.d", context=stack_context))
    users = SagemakerUserProfile(aws_session)
    user = users.create(SagemakerUserProfile.Args(domain_id=made["id"], user_profile_name="bob"),
                        ResourceMeta(address="aws_sagemaker_user_profile.u",
                                     context=stack_context))
    with pytest.raises(ProviderError, match="has user profiles"):
        rt.delete(made["id"], made)
    users.delete(user["id"], user)
    rt.delete(made["id"], made)
    assert rt.read(made["id"], made) is None
