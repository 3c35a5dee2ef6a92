"""A bucket's policy: `aws_s3_bucket_policy`, one more aspect of a bucket as Terraform splits
them (see `s3_configuration`): its id is the bucket's name, and it has no tags.

A policy is where a bucket refuses what no IAM permission should allow: requests without TLS,
objects put without encryption (the `dataset_store` component's default).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Annotated, Any, ClassVar

from pydantic import Field, field_validator

from mlform.providers.aws.iam import _live_policy, policy_json
from mlform.providers.aws.s3 import get_config
from mlform.providers.aws.s3_configuration import BucketConfiguration, BucketConfigurationArgs
from mlform.providers.base import JsonDocument


class S3BucketPolicyArgs(BucketConfigurationArgs):
    policy: Annotated[str, JsonDocument()] = Field(
        description="Bucket policy document, as a mapping or a JSON string.")

    @field_validator("policy", mode="before", json_schema_input_type=str | dict[str, Any])
    @classmethod
    def _canonical_policy(cls, value: Any) -> str:
        return policy_json(value)


class S3BucketPolicy(BucketConfiguration[S3BucketPolicyArgs]):
    type_name: ClassVar[str] = "aws_s3_bucket_policy"
    Args = S3BucketPolicyArgs
    what: ClassVar[str] = "policy"
    put_operation: ClassVar[str] = "PutBucketPolicy"
    delete_operation: ClassVar[str] = "DeleteBucketPolicy"

    def _put(self, args: S3BucketPolicyArgs) -> None:
        self.client.put_bucket_policy(Bucket=args.bucket, Policy=args.policy)

    def _live(self, bucket: str, prior: Mapping[str, Any]) -> dict[str, Any] | None:
        got = get_config(partial(self.client.get_bucket_policy, Bucket=bucket),
                         "GetBucketPolicy", "NoSuchBucketPolicy")
        return None if got is None else {"policy": _live_policy(got["Policy"])}

    def _remove(self, bucket: str, prior: Mapping[str, Any]) -> None:
        self.client.delete_bucket_policy(Bucket=bucket)
