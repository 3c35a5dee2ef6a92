"""Bucket policies on the sandbox: the provider contract, and a policy changed by hand."""

from __future__ import annotations

import json
from typing import Any

from mlform.providers.aws.s3_policy import S3BucketPolicy
from mlform.providers.base import StackContext
from tests.providers.aws.contract import check_contract


def _deny_http(bucket: str) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}


def test_bucket_policy_contract(aws_session: Any, stack_context: StackContext, uid: str,
                                boto: Any) -> None:
    bucket = f"pol-{uid}"
    boto("s3").create_bucket(Bucket=bucket)
    wider = _deny_http(bucket)
    wider["Statement"].append({"Sid": "DenyDelete", "Effect": "Deny", "Principal": "*",
                               "Action": "s3:DeleteBucket", "Resource": f"arn:aws:s3:::{bucket}"})
    attrs = check_contract(S3BucketPolicy, aws_session, stack_context, taggable=False,
                           create={"bucket": bucket, "policy": _deny_http(bucket)},
                           update={"bucket": bucket, "policy": json.dumps(wider)})
    assert json.loads(attrs["policy"]) == wider
    rt = S3BucketPolicy(aws_session)
    assert rt.read("no-such-bucket-" + uid, {}) is None
    boto("s3").delete_bucket(Bucket=bucket)
