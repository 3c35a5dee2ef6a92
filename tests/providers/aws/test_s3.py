from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mlform.errors import NotReady, ProviderError
from mlform.providers.aws.s3 import S3Bucket
from mlform.providers.aws.s3_configuration import (
    S3BucketLifecycleConfiguration,
    S3BucketPublicAccessBlock,
    S3BucketServerSideEncryptionConfiguration,
    S3BucketVersioning,
)
from mlform.providers.base import TAG_ADDRESS, TAG_STACK, ResourceMeta, StackContext
from mlform.values import UNKNOWN
from tests.providers.aws.contract import check_contract


def _remove_bucket(s3: Any, name: str) -> None:
    """Delete a test bucket and everything in it; nothing if it is already gone."""
    try:
        versions = s3.list_object_versions(Bucket=name)
    except s3.exceptions.NoSuchBucket:
        return
    keys = [{"Key": v["Key"], "VersionId": v["VersionId"]}
            for v in versions.get("Versions", []) + versions.get("DeleteMarkers", [])]
    if keys:
        s3.delete_objects(Bucket=name, Delete={"Objects": keys})
    s3.delete_bucket(Bucket=name)


@pytest.fixture
def make_bucket(boto: Any) -> Iterator[Callable[..., str]]:
    """`make_bucket(name)`: a bucket made out of band (boto), removed after the test."""
    made: list[tuple[Any, str]] = []

    def make(name: str, region: str = "us-east-1", **extra: Any) -> str:
        s3 = boto("s3", region)
        if region != "us-east-1":
            extra["CreateBucketConfiguration"] = {"LocationConstraint": region}
        s3.create_bucket(Bucket=name, **extra)
        made.append((s3, name))
        return name

    yield make
    for s3, name in made:
        _remove_bucket(s3, name)


@pytest.fixture
def cleanup(boto: Any) -> Iterator[list[str]]:
    """Names appended here are removed (with their objects) after the test."""
    names: list[str] = []
    yield names
    for name in names:
        _remove_bucket(boto("s3"), name)


# -- aws_s3_bucket ---------------------------------------------------------------------------


def test_bucket_contract(aws_session: Any, stack_context: StackContext, uid: str) -> None:
    name = f"mlform-contract-{uid}"
    attrs = check_contract(
        S3Bucket, aws_session, stack_context,
        create={"bucket": name, "tags": {"team": "ml"}},
        update={"bucket": name, "force_destroy": True,
                "tags": {"team": "platform", "cost-center": "42"}},
    )
    assert attrs["id"] == name
    assert attrs["arn"] == f"arn:aws:s3:::{name}"
    assert attrs["bucket_domain_name"] == f"{name}.s3.amazonaws.com"
    assert attrs["bucket_regional_domain_name"] == f"{name}.s3.us-east-1.amazonaws.com"
    assert attrs["region"] == "us-east-1"
    assert attrs["tags"] == {"team": "platform", "cost-center": "42"}
    assert set(attrs["tags_all"]) == {"team", "cost-center", TAG_STACK, TAG_ADDRESS}


def test_bucket_create_sets_tags_and_object_lock(
    aws_session: Any, stack_context: StackContext, uid: str, boto: Any, cleanup: list[str]
) -> None:
    name = f"mlform-lock-{uid}"
    cleanup.append(name)
    rt = S3Bucket(aws_session)
    args = S3Bucket.Args.model_validate({"bucket": name, "object_lock_enabled": True,
                                         "tags": {"team": "ml"}})
    attrs = rt.create(args, ResourceMeta("aws_s3_bucket.locked", stack_context))
    assert attrs["object_lock_enabled"] is True
    lock = boto("s3").get_object_lock_configuration(Bucket=name)["ObjectLockConfiguration"]
    assert lock["ObjectLockEnabled"] == "Enabled"
    tags = {t["Key"]: t["Value"] for t in boto("s3").get_bucket_tagging(Bucket=name)["TagSet"]}
    assert tags == {"team": "ml", TAG_STACK: stack_context.stack,
                    TAG_ADDRESS: "aws_s3_bucket.locked"}


def test_bucket_in_another_region(sandbox: Any, aws_session: Any, uid: str, boto: Any,
                                  cleanup: list[str], stack_context: StackContext) -> None:
    from mlform.providers.aws.session import AwsSession

    ctx = StackContext(project="test", environment=f"t{uid}", target="sandbox",
                       region="eu-west-1", home=stack_context.home)
    name = f"mlform-eu-{uid}"
    cleanup.append(name)
    rt = S3Bucket(AwsSession(ctx, endpoint_url=sandbox.url))
    attrs = rt.create(S3Bucket.Args.model_validate({"bucket": name}),
                      ResourceMeta("aws_s3_bucket.eu", ctx))
    assert boto("s3").get_bucket_location(Bucket=name)["LocationConstraint"] == "eu-west-1"
    assert attrs["region"] == "eu-west-1"
    assert attrs["bucket_regional_domain_name"] == f"{name}.s3.eu-west-1.amazonaws.com"
    assert name in {d.id for d in rt.list()}
    us_east_1 = {d.id for d in S3Bucket(aws_session).list()}
    assert name not in us_east_1, "list must only show the session's region"


def test_bucket_force_destroy_deletes_objects_and_versions(
    aws_session: Any, stack_context: StackContext, uid: str, boto: Any, cleanup: list[str]
) -> None:
    name = f"mlform-full-{uid}"
    cleanup.append(name)
    s3 = boto("s3")
    rt = S3Bucket(aws_session)
    attrs = rt.create(S3Bucket.Args.model_validate({"bucket": name}),
                      ResourceMeta("aws_s3_bucket.full", stack_context))
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    for body in (b"v1", b"v2"):
        s3.put_object(Bucket=name, Key="model.bin", Body=body)
    s3.delete_object(Bucket=name, Key="model.bin")  # a delete marker on top of two versions
    s3.put_object(Bucket=name, Key="other/data.csv", Body=b"x")
    with pytest.raises(ProviderError) as info:
        rt.delete(attrs["id"], attrs)
    assert "BucketNotEmpty" in info.value.message
    assert "force_destroy" in info.value.message
    assert rt.read(attrs["id"], attrs) is not None

    rt.delete(attrs["id"], {**attrs, "force_destroy": True})
    assert rt.read(attrs["id"], attrs) is None
    assert name not in {b["Name"] for b in s3.list_buckets()["Buckets"]}


def test_bucket_read_none_after_out_of_band_delete(
    aws_session: Any, stack_context: StackContext, uid: str, boto: Any
) -> None:
    rt = S3Bucket(aws_session)
    attrs = rt.create(S3Bucket.Args.model_validate({"bucket": f"mlform-gone-{uid}"}),
                      ResourceMeta("aws_s3_bucket.gone", stack_context))
    assert rt.read(attrs["id"], attrs) == attrs
    boto("s3").delete_bucket(Bucket=attrs["id"])
    assert rt.read(attrs["id"], attrs) is None
    rt.delete(attrs["id"], attrs)  # gone already: no error


def test_bucket_tagging_failure_reports_the_created_bucket(
    aws_session: Any, stack_context: StackContext, uid: str, boto: Any, cleanup: list[str]
) -> None:
    name = f"mlform-badtag-{uid}"
    cleanup.append(name)
    args = S3Bucket.Args.model_validate({"bucket": name, "tags": {"aws:reserved": "x"}})
    with pytest.raises(ProviderError) as info:
        S3Bucket(aws_session).create(args, ResourceMeta("aws_s3_bucket.bad", stack_context))
    assert "PutBucketTagging" in info.value.message
    partial = info.value.partial
    assert partial is not None and partial["id"] == name
    assert partial["arn"] == f"arn:aws:s3:::{name}"
    assert boto("s3").head_bucket(Bucket=name)  # it exists, and the engine can record it


def test_bucket_create_refuses_another_stacks_bucket(
    aws_session: Any, stack_context: StackContext, uid: str, boto: Any, make_bucket: Any
) -> None:
    # us-east-1 answers CreateBucket on an owned bucket with success: create must check first.
    name = make_bucket(f"mlform-taken-{uid}")
    theirs = [{"Key": TAG_STACK, "Value": "other/prod"},
              {"Key": TAG_ADDRESS, "Value": "aws_s3_bucket.data"}]
    boto("s3").put_bucket_tagging(Bucket=name, Tagging={"TagSet": theirs})
    args = S3Bucket.Args.model_validate({"bucket": name})
    with pytest.raises(ProviderError) as info:
        S3Bucket(aws_session).create(args, ResourceMeta("aws_s3_bucket.mine", stack_context))
    assert "already exists" in info.value.message and "other/prod" in info.value.message
    assert boto("s3").get_bucket_tagging(Bucket=name)["TagSet"] == theirs


def test_bucket_create_is_idempotent_for_its_own_bucket(
    aws_session: Any, stack_context: StackContext, uid: str, cleanup: list[str]
) -> None:
    name = f"mlform-twice-{uid}"
    cleanup.append(name)
    rt = S3Bucket(aws_session)
    args = S3Bucket.Args.model_validate({"bucket": name})
    meta = ResourceMeta("aws_s3_bucket.twice", stack_context)
    first = rt.create(args, meta)
    assert rt.create(args, meta) == first


def test_bucket_plan_attributes_know_the_arn() -> None:
    planned = S3Bucket.plan_attributes({"bucket": "my-data"}, None)
    assert planned["id"] == "my-data"
    assert planned["arn"] == "arn:aws:s3:::my-data"
    assert planned["region"] is UNKNOWN
    unknown = S3Bucket.plan_attributes({"bucket": UNKNOWN}, None)
    assert unknown["id"] is UNKNOWN and unknown["arn"] is UNKNOWN
    prior = {"id": "old", "arn": "arn:aws:s3:::old", "region": "eu-west-1"}
    assert S3Bucket.plan_attributes({"bucket": "old"}, prior)["region"] == "eu-west-1"


def test_bucket_default_name_is_a_valid_bucket_name() -> None:
    ctx = StackContext(project="My_Project", environment="Prod")
    name = S3Bucket.default_args(ctx, "training_data")["bucket"]
    assert name == "my-project-prod-training-data"
    long = S3Bucket.default_args(ctx, "x" * 80)["bucket"]
    assert len(long) <= 63
    for value in (name, long):
        assert S3Bucket.Args.model_validate({"bucket": value}).bucket == value


@pytest.mark.parametrize("bad", ["UPPER", "ab", "a" * 64, "-dash", "dots..twice",
                                 "192.168.1.1", "under_score", "xn--punycode", "x-s3alias"])
def test_bucket_name_validation(bad: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        S3Bucket.Args.model_validate({"bucket": bad})


# -- configuration resources -------------------------------------------------------------------


def test_versioning_contract(aws_session: Any, stack_context: StackContext, uid: str,
                             boto: Any, make_bucket: Any) -> None:
    name = make_bucket(f"mlform-ver-{uid}")
    attrs = check_contract(
        S3BucketVersioning, aws_session, stack_context, taggable=False,
        create={"bucket": name, "versioning_configuration": {"status": "Suspended"}},
        update={"bucket": name, "versioning_configuration": {"status": "Enabled"}},
        # Delete suspends versioning (a bucket is never unversioned again), which reads as
        # Suspended, as out-of-band suspension does; the object is gone with its bucket.
        leaves=lambda a: {**a, "versioning_configuration": {"status": "Suspended",
                                                            "mfa_delete": None}},
        detached=lambda: boto("s3").delete_bucket(Bucket=name),
    )
    assert attrs["id"] == name
    assert attrs["versioning_configuration"] == {"status": "Enabled", "mfa_delete": None}


def test_versioning_delete_suspends(aws_session: Any, stack_context: StackContext, uid: str,
                                    boto: Any, make_bucket: Any) -> None:
    name = make_bucket(f"mlform-susp-{uid}")
    rt = S3BucketVersioning(aws_session)
    args = S3BucketVersioning.Args.model_validate(
        {"bucket": name, "versioning_configuration": {"status": "Enabled"}})
    attrs = rt.create(args, ResourceMeta("aws_s3_bucket_versioning.v", stack_context))
    assert boto("s3").get_bucket_versioning(Bucket=name)["Status"] == "Enabled"
    rt.delete(attrs["id"], attrs)
    assert boto("s3").get_bucket_versioning(Bucket=name)["Status"] == "Suspended"
    # What is left reads as suspended (Terraform's view too): a plan of a config that still
    # has the resource puts it back to Enabled; with the resource gone, nothing reads it.
    assert rt.read(attrs["id"], attrs)["versioning_configuration"]["status"] == "Suspended"


def test_versioning_of_a_never_versioned_bucket_is_disabled(
    aws_session: Any, stack_context: StackContext, uid: str, boto: Any, make_bucket: Any
) -> None:
    name = make_bucket(f"mlform-nover-{uid}")
    rt = S3BucketVersioning(aws_session)
    meta = ResourceMeta("aws_s3_bucket_versioning.v", stack_context)
    assert rt.read(name, {}) == {"bucket": name, "id": name, "versioning_configuration": {
        "status": "Disabled", "mfa_delete": None}}
    assert name not in {d.id for d in rt.list()}, "a never-versioned bucket has no versioning"
    disabled = S3BucketVersioning.Args.model_validate(
        {"bucket": name, "versioning_configuration": {"status": "Disabled"}})
    attrs = rt.create(disabled, meta)
    assert "Status" not in boto("s3").get_bucket_versioning(Bucket=name)
    enabled = S3BucketVersioning.Args.model_validate(
        {"bucket": name, "versioning_configuration": {"status": "Enabled"}})
    attrs = rt.update(name, attrs, enabled, meta)
    with pytest.raises(ProviderError, match="cannot be Disabled again"):
        rt.update(name, attrs, disabled, meta)


def test_server_side_encryption_contract(aws_session: Any, stack_context: StackContext,
                                         uid: str, boto: Any, make_bucket: Any) -> None:
    name = make_bucket(f"mlform-sse-{uid}")
    attrs = check_contract(
        S3BucketServerSideEncryptionConfiguration, aws_session, stack_context, taggable=False,
        create={"bucket": name, "rule": [
            {"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}]},
        update={"bucket": name, "rule": [
            {"apply_server_side_encryption_by_default": {
                "sse_algorithm": "aws:kms", "kms_master_key_id": "alias/models"},
             "bucket_key_enabled": True}]},
    )
    assert attrs["rule"][0]["apply_server_side_encryption_by_default"]["kms_master_key_id"] \
        == "alias/models"
    with pytest.raises(boto("s3").exceptions.ClientError, match="ServerSideEncryption"):
        boto("s3").get_bucket_encryption(Bucket=name)


def test_public_access_block_contract(aws_session: Any, stack_context: StackContext, uid: str,
                                      boto: Any, make_bucket: Any) -> None:
    name = make_bucket(f"mlform-pab-{uid}")
    check_contract(
        S3BucketPublicAccessBlock, aws_session, stack_context, taggable=False,
        create={"bucket": name, "block_public_acls": True, "ignore_public_acls": True},
        update={"bucket": name, "block_public_acls": True, "block_public_policy": True,
                "ignore_public_acls": True, "restrict_public_buckets": True},
    )
    with pytest.raises(boto("s3").exceptions.ClientError, match="PublicAccessBlock"):
        boto("s3").get_public_access_block(Bucket=name)


def test_lifecycle_contract(aws_session: Any, stack_context: StackContext, uid: str,
                            boto: Any, make_bucket: Any) -> None:
    name = make_bucket(f"mlform-lc-{uid}")
    attrs = check_contract(
        S3BucketLifecycleConfiguration, aws_session, stack_context, taggable=False,
        create={"bucket": name, "rule": [
            {"id": "expire-logs", "status": "Enabled", "filter": {"prefix": "logs/"},
             "expiration": {"days": 30}}]},
        update={"bucket": name, "rule": [
            {"id": "expire-logs", "status": "Disabled", "expiration": {"days": 7}},
            {"id": "archive", "status": "Enabled", "filter": {"prefix": "checkpoints/"},
             "transition": [{"days": 30, "storage_class": "STANDARD_IA"},
                            {"days": 90, "storage_class": "GLACIER"}],
             "noncurrent_version_expiration": {"noncurrent_days": 10},
             "abort_incomplete_multipart_upload": {"days_after_initiation": 2}}]},
    )
    assert [r["id"] for r in attrs["rule"]] == ["expire-logs", "archive"]
    assert attrs["rule"][0]["filter"] == {"prefix": ""}


def test_lifecycle_read_refuses_settings_it_cannot_represent(
    aws_session: Any, uid: str, boto: Any, make_bucket: Any
) -> None:
    name = make_bucket(f"mlform-lctag-{uid}")
    boto("s3").put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": [
        {"ID": "by-tag", "Status": "Enabled", "Filter": {"Tag": {"Key": "k", "Value": "v"}},
         "Expiration": {"Days": 3}}]})
    with pytest.raises(ProviderError, match=r"rule\.0\.filter\.tag"):
        S3BucketLifecycleConfiguration(aws_session).read(name, {})


@pytest.mark.parametrize("rtype, args", [
    (S3BucketPublicAccessBlock, {"block_public_acls": True}),
    (S3BucketLifecycleConfiguration, {"rule": [{"id": "r", "status": "Enabled",
                                                "expiration": {"days": 1}}]}),
    (S3BucketServerSideEncryptionConfiguration, {"rule": [
        {"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}]}),
    (S3BucketVersioning, {"versioning_configuration": {"status": "Enabled"}}),
])
def test_configuration_read_none_after_out_of_band_removal(
    rtype: Any, args: dict[str, Any], aws_session: Any, stack_context: StackContext, uid: str,
    boto: Any, make_bucket: Any,
) -> None:
    name = make_bucket(f"mlform-oob-{uid}")
    rt = rtype(aws_session)
    attrs = rt.create(rtype.Args.model_validate({"bucket": name, **args}),
                      ResourceMeta(f"{rtype.type_name}.x", stack_context))
    assert rt.read(name, attrs) == attrs
    assert name in {d.id for d in rt.list()}
    _remove_bucket(boto("s3"), name)
    assert rt.read(name, attrs) is None
    assert name not in {d.id for d in rt.list()}
    rt.delete(name, attrs)  # no bucket: nothing to do, no error


def test_configuration_of_a_missing_bucket_is_not_ready(
    aws_session: Any, stack_context: StackContext, uid: str
) -> None:
    rt = S3BucketPublicAccessBlock(aws_session)
    args = S3BucketPublicAccessBlock.Args.model_validate({"bucket": f"mlform-nobucket-{uid}"})
    with pytest.raises(NotReady, match="does not exist"):
        rt.create(args, ResourceMeta("aws_s3_bucket_public_access_block.x", stack_context))
    assert rt.read(args.bucket, {}) is None
