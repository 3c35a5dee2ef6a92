"""AWS CloudWatch Logs: `aws_cloudwatch_log_group`.

Services create their log groups themselves on first use (SageMaker, ECS's awslogs driver,
EKS), and such groups keep logs forever. Making the group first, with a retention, is how a
component bounds what logs cost; the service then writes into it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Annotated, Any, ClassVar

from pydantic import Field, field_validator

from mlform.errors import ProviderError
from mlform.providers.aws.base import (
    TaggedResource,
    all_tags,
    tags_all_field,
    tags_field,
    user_tags,
)
from mlform.providers.aws.errors import aws_call, is_not_found, translate
from mlform.providers.base import ArgsModel, AttrsModel, Discovered, ForceNew, ResourceMeta

# The retentions CloudWatch Logs accepts (0: never expire, as Terraform writes it).
RETENTION_DAYS = (0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096,
                  1827, 2192, 2557, 2922, 3288, 3653)


class LogGroupArgs(ArgsModel):
    name: Annotated[str, ForceNew()] = Field(
        max_length=512, pattern=r"^[\w/.#-]+$",
        description="Log group name (default: <project>-<environment>-<resource name>).")
    retention_in_days: int = Field(0, description="Days to keep events: 0 (never expire), "
                                                  "1, 3, 5, 7, 14, 30, 60, 90, ... 3653.")
    kms_key_id: str | None = Field(None, description="ARN of the KMS key that encrypts the "
                                                     "group's events.")
    tags: dict[str, str] = tags_field("log group")

    @field_validator("retention_in_days")
    @classmethod
    def _allowed(cls, value: int) -> int:
        if value not in RETENTION_DAYS:
            raise ValueError(f"{value} is not a retention CloudWatch Logs accepts: one of "
                             f"{', '.join(map(str, RETENTION_DAYS))} (0: never expire)")
        return value


class LogGroupAttrs(AttrsModel):
    arn: str = Field(description="The group's ARN, without the `:*` DescribeLogGroups adds.")
    tags_all: dict[str, str] = tags_all_field()


class CloudwatchLogGroup(TaggedResource[LogGroupArgs]):
    type_name: ClassVar[str] = "aws_cloudwatch_log_group"
    service: ClassVar[str] = "logs"
    Args = LogGroupArgs
    Attrs = LogGroupAttrs
    name_max_len: ClassVar[int] = 512
    exists_codes: ClassVar[frozenset[str]] = frozenset({"ResourceAlreadyExistsException"})
    destroy_loses: ClassVar[str] = "the log events it holds"

    def create(self, args: LogGroupArgs, meta: ResourceMeta) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        params: dict[str, Any] = {"logGroupName": args.name, "tags": all_tags(args.tags, meta)}
        if args.kms_key_id:
            params["kmsKeyId"] = args.kms_key_id
        try:
            self.client.create_log_group(**params)
        except ClientError as exc:
            if not self.already_exists(exc):
                raise translate(exc, "CreateLogGroup") from exc
            return self.adopt(args, meta, "CreateLogGroup", exc)
        if args.retention_in_days:
            with aws_call("logs", "PutRetentionPolicy"):
                self.client.put_retention_policy(logGroupName=args.name,
                                                 retentionInDays=args.retention_in_days)
        return self.read_back(args.name, {})

    def read(self, id: str, prior: Mapping[str, Any]) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            groups = self.client.describe_log_groups(logGroupNamePrefix=id)["logGroups"]
            group = next((g for g in groups if g["logGroupName"] == id), None)
            if group is None:
                return None
            arn = group.get("logGroupArn") or group["arn"].removesuffix(":*")
            tags = self.client.list_tags_for_resource(resourceArn=arn).get("tags") or {}
        except ClientError as exc:
            if is_not_found(exc):
                return None
            raise translate(exc, exc.operation_name) from exc
        args = LogGroupArgs.model_validate({
            "name": id, "retention_in_days": group.get("retentionInDays") or 0,
            "kms_key_id": group.get("kmsKeyId"), "tags": user_tags(tags)})
        return self.attributes(args, id=id, arn=arn, tags_all=dict(tags))

    def update(self, id: str, prior: Mapping[str, Any], args: LogGroupArgs,
               meta: ResourceMeta) -> dict[str, Any]:
        have = self.read(id, prior)
        if have is None:
            raise ProviderError(f"log group {id} no longer exists; refresh and plan again")
        client = self.client
        if have["retention_in_days"] != args.retention_in_days:
            if args.retention_in_days:
                with aws_call("logs", "PutRetentionPolicy"):
                    client.put_retention_policy(logGroupName=id,
                                                retentionInDays=args.retention_in_days)
            else:
                with aws_call("logs", "DeleteRetentionPolicy"):
                    client.delete_retention_policy(logGroupName=id)
        if have["kms_key_id"] != args.kms_key_id:
            if args.kms_key_id:
                with aws_call("logs", "AssociateKmsKey"):
                    client.associate_kms_key(logGroupName=id, kmsKeyId=args.kms_key_id)
            else:
                with aws_call("logs", "DisassociateKmsKey"):
                    client.disassociate_kms_key(logGroupName=id)
        self.sync_tags(have["arn"], have["tags_all"], args.tags, meta)
        return self.read_back(id, {})

    def _tag(self, ref: str, tags: Mapping[str, str]) -> None:
        with aws_call("logs", "TagResource"):
            self.client.tag_resource(resourceArn=ref, tags=dict(tags))

    def _untag(self, ref: str, keys: Sequence[str]) -> None:
        with aws_call("logs", "UntagResource"):
            self.client.untag_resource(resourceArn=ref, tagKeys=list(keys))

    def delete(self, id: str, prior: Mapping[str, Any]) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.delete_log_group(logGroupName=id)
        except ClientError as exc:
            if not is_not_found(exc):
                raise translate(exc, "DeleteLogGroup") from exc

    def list(self) -> Iterator[Discovered]:
        client = self.client
        with aws_call("logs", "DescribeLogGroups"):
            for page in client.get_paginator("describe_log_groups").paginate():
                for group in page["logGroups"]:
                    arn = group.get("logGroupArn") or group["arn"].removesuffix(":*")
                    tags = client.list_tags_for_resource(resourceArn=arn).get("tags") or {}
                    yield Discovered(id=group["logGroupName"], tags=dict(tags))
