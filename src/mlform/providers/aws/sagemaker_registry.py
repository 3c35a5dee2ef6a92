"""The SageMaker model registry: `aws_sagemaker_model_package_group` (a group of versioned
model packages, what a team registers, approves and deploys) and
`aws_sagemaker_model_package_group_policy` (its resource policy: other accounts that may
describe and list its packages, the usual way to share a registry across accounts).

A group is named by its argument and changes in place only in its tags (SageMaker has no call
that changes its description), as in Terraform. The policy has no object of its own: its id is
the group's name, and it is found again after a crash by reading the group's policy.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Annotated, Any, ClassVar

from pydantic import Field, field_validator

from mlform.errors import ProviderError
from mlform.providers.aws.base import AwsResource, all_tags, tag_list, tags_field
from mlform.providers.aws.errors import aws_call, error_code, error_message, translate
from mlform.providers.aws.iam import policy_json
from mlform.providers.aws.sagemaker import MAX_NAME, SagemakerAttrs, _SagemakerResource
from mlform.providers.aws.sagemaker_platform import NAME
from mlform.providers.base import (
    ArgsModel,
    AttrsModel,
    Discovered,
    ForceNew,
    JsonDocument,
    ResourceMeta,
)


def _missing_group(exc: BaseException) -> bool:
    """SageMaker answers a missing group (or a group without a policy) with a
    ValidationException: "ModelPackageGroup <arn> does not exist." / "Cannot find ..."."""
    message = error_message(exc)
    return error_code(exc) == "ValidationException" and (
        "does not exist" in message or message.startswith("Cannot find"))


# -- aws_sagemaker_model_package_group ----------------------------------------------------------

class SagemakerModelPackageGroupArgs(ArgsModel):
    model_package_group_name: Annotated[str, ForceNew()] = Field(
        max_length=MAX_NAME, pattern=NAME,
        description="Name (default: <project>-<environment>-<resource name>).")
    model_package_group_description: Annotated[str | None, ForceNew()] = Field(
        None, max_length=1024, description="Description of the group (SageMaker cannot change "
        "it: a new one replaces the group).")
    tags: dict[str, str] = tags_field("model package group")


class SagemakerModelPackageGroup(_SagemakerResource[SagemakerModelPackageGroupArgs]):
    type_name: ClassVar[str] = "aws_sagemaker_model_package_group"
    destroy_loses: ClassVar[str] = "its registered model packages' grouping and approvals"
    noun: ClassVar[str] = "ModelPackageGroup"
    kind: ClassVar[str] = "model package group"
    Args = SagemakerModelPackageGroupArgs
    Attrs = SagemakerAttrs
    name_arg: ClassVar[str] = "model_package_group_name"
    name_max_len: ClassVar[int] = MAX_NAME
    summaries: ClassVar[str] = "ModelPackageGroupSummaryList"

    def _missing(self, exc: BaseException) -> bool:
        return _missing_group(exc)

    def _send_describe(self, name: str) -> dict[str, Any]:
        return dict(self.client.describe_model_package_group(ModelPackageGroupName=name))

    def _send_delete(self, name: str) -> None:
        self.client.delete_model_package_group(ModelPackageGroupName=name)

    def _list_paginator(self) -> Any:
        return self.client.get_paginator("list_model_package_groups")

    def create(self, args: SagemakerModelPackageGroupArgs,
               meta: ResourceMeta) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        name = args.model_package_group_name
        have = self._mine(args, meta)
        if have is not None:
            return self.update(name, have, args, meta)
        request: dict[str, Any] = {"ModelPackageGroupName": name,
                                   "Tags": tag_list(all_tags(args.tags, meta))}
        if args.model_package_group_description:
            request["ModelPackageGroupDescription"] = args.model_package_group_description
        try:
            created = self.client.create_model_package_group(**request)
        except ClientError as exc:
            if self.already_exists(exc):  # a botocore retry after a lost answer
                return self.adopt(args, meta, "CreateModelPackageGroup", exc)
            raise translate(exc, "CreateModelPackageGroup") from exc
        return self._created(name, created["ModelPackageGroupArn"], args, args.tags, meta)

    def _created(self, name: str, arn: str, args: SagemakerModelPackageGroupArgs,
                 tags: Mapping[str, str], meta: ResourceMeta) -> dict[str, Any]:
        return self.read(name, args.model_dump(mode="json")) or self.attributes(
            args, id=name, arn=arn, tags_all=all_tags(tags, meta))

    def _args_from(self, found: Mapping[str, Any], prior: Mapping[str, Any]) -> dict[str, Any]:
        return {"model_package_group_name": found["ModelPackageGroupName"],
                "model_package_group_description":
                    found.get("ModelPackageGroupDescription") or None}

    def update(self, id: str, prior: Mapping[str, Any], args: SagemakerModelPackageGroupArgs,
               meta: ResourceMeta) -> dict[str, Any]:
        return self._update_tags(id, prior, args, args.tags, meta)  # all else is ForceNew


# -- aws_sagemaker_model_package_group_policy ---------------------------------------------------

class SagemakerModelPackageGroupPolicyArgs(ArgsModel):
    model_package_group_name: Annotated[str, ForceNew()] = Field(
        max_length=MAX_NAME, description="The group the policy applies to.")
    resource_policy: Annotated[str, JsonDocument()] = Field(
        description="The resource policy, as a mapping or a JSON string (compared regardless "
        "of key order and spacing).")

    @field_validator("resource_policy", mode="before",
                     json_schema_input_type=str | dict[str, Any])
    @classmethod
    def _canonical(cls, value: Any) -> str:
        return policy_json(value)


class SagemakerModelPackageGroupPolicyAttrs(AttrsModel):
    pass


class SagemakerModelPackageGroupPolicy(AwsResource[SagemakerModelPackageGroupPolicyArgs]):
    type_name: ClassVar[str] = "aws_sagemaker_model_package_group_policy"
    service: ClassVar[str] = "sagemaker"
    Args = SagemakerModelPackageGroupPolicyArgs
    Attrs = SagemakerModelPackageGroupPolicyAttrs
    name_arg: ClassVar[str] = "model_package_group_name"
    tagged_at_create: ClassVar[bool] = False  # a policy takes no tags

    def read(self, id: str, prior: Mapping[str, Any]) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            found = self.client.get_model_package_group_policy(ModelPackageGroupName=id)
        except ClientError as exc:
            if _missing_group(exc):
                return None
            raise translate(exc, "GetModelPackageGroupPolicy") from exc
        try:
            policy = policy_json(found.get("ResourcePolicy") or "")
        except ValueError:  # shown as it is: a difference the next apply puts right
            policy = str(found.get("ResourcePolicy"))
        return {"id": id, "model_package_group_name": id, "resource_policy": policy}

    def _put(self, args: SagemakerModelPackageGroupPolicyArgs) -> dict[str, Any]:
        name = args.model_package_group_name
        with aws_call("sagemaker", "PutModelPackageGroupPolicy"):
            self.client.put_model_package_group_policy(
                ModelPackageGroupName=name, ResourcePolicy=args.resource_policy)
        return self.read_back(name, args.model_dump(mode="json"))

    def create(self, args: SagemakerModelPackageGroupPolicyArgs,
               meta: ResourceMeta) -> dict[str, Any]:
        return self._put(args)  # putting the same policy again changes nothing

    def update(self, id: str, prior: Mapping[str, Any],
               args: SagemakerModelPackageGroupPolicyArgs,
               meta: ResourceMeta) -> dict[str, Any]:
        if id != args.model_package_group_name:
            raise ProviderError(f"{self.type_name} {id}: the group is fixed; plan again")
        return self._put(args)

    def find(self, args: ArgsModel, meta: ResourceMeta) -> dict[str, Any] | None:
        """A policy carries no tags: the group's policy is ours if it is the one we put."""
        assert isinstance(args, SagemakerModelPackageGroupPolicyArgs)
        found = self.read(args.model_package_group_name, {})
        return found if found and found["resource_policy"] == args.resource_policy else None

    def delete(self, id: str, prior: Mapping[str, Any]) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.delete_model_package_group_policy(ModelPackageGroupName=id)
        except ClientError as exc:
            if not _missing_group(exc):
                raise translate(exc, "DeleteModelPackageGroupPolicy") from exc

    def list(self) -> Iterator[Discovered]:
        """Every group that has a policy (the policy is discovered under the group's name)."""
        with aws_call("sagemaker", "ListModelPackageGroups"):
            names = [g["ModelPackageGroupName"] for page in self.client.get_paginator(
                "list_model_package_groups").paginate()
                for g in page["ModelPackageGroupSummaryList"]]
        for name in names:
            if self.read(name, {}) is not None:
                yield Discovered(id=name)
