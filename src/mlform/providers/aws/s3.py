"""Amazon S3: `aws_s3_bucket`. Its configuration resources live in `s3_configuration.py`."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from typing import Annotated, Any, ClassVar

from pydantic import Field, field_validator

from mlform.errors import NotReady, ProviderError
from mlform.providers.aws.base import (
    AwsResource,
    all_tags,
    tag_dict,
    tag_list,
    tags_all_field,
    tags_field,
    user_tags,
)
from mlform.providers.aws.errors import aws_call, error_code, translate
from mlform.providers.base import (
    ArgsModel,
    AttrsModel,
    Discovered,
    ForceNew,
    ResourceMeta,
    StackContext,
)
from mlform.values import UNKNOWN

_NAME_CHARS = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
# S3 deletes at most this many keys per DeleteObjects call.
_DELETE_BATCH = 1000


def bucket_name_problem(name: str) -> str | None:
    """Why `name` is not a valid general purpose bucket name, or None if it is."""
    if not _NAME_CHARS.match(name):
        return ("must be 3 to 63 characters of lower-case letters, digits, '.' and '-', "
                "beginning and ending with a letter or digit")
    if ".." in name:
        return "must not contain two adjacent periods"
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        pass
    else:
        return "must not be formatted as an IP address"
    if name.startswith(_RESERVED_PREFIXES) or name.endswith(_RESERVED_SUFFIXES):
        return (f"must not begin with {', '.join(_RESERVED_PREFIXES)} "
                f"or end with {', '.join(_RESERVED_SUFFIXES)} (reserved by S3)")
    return None


def bucket_arn(name: str, partition: str = "aws") -> str:
    return f"arn:{partition}:s3:::{name}"


class BucketMissing(Exception):
    """The bucket does not exist: raised by `get_config`, turned into None (read) or nothing
    (delete) before it can leave this package."""


def get_config(call: Callable[[], dict[str, Any]], operation: str,
               *absent: str) -> dict[str, Any] | None:
    """The result of one of S3's per-bucket Get calls; None if it answers with one of the
    `absent` codes (the bucket has no such configuration). Raises BucketMissing for NoSuchBucket:
    is_not_found() cannot tell the two apart, both are 404s."""
    from botocore.exceptions import ClientError

    try:
        return call()
    except ClientError as exc:
        code = error_code(exc)
        if code == "NoSuchBucket":
            raise BucketMissing(code) from exc
        if code in absent:
            return None
        raise translate(exc, operation) from exc


def drop_none(api: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in api.items() if v is not None}


def unmodelled(api: Mapping[str, Any], *known: str) -> dict[str, Any]:
    """API fields that are set but that mlform does not model, under snake_case names that
    argument validation rejects: a read fails loudly rather than misreport the live object."""
    return {re.sub(r"(?<!^)(?=[A-Z])", "_", k).lower(): v for k, v in api.items()
            if k not in known and v not in (None, False, [], {})}


def bucket_names(client: Any, region: str) -> Iterator[str]:
    """The account's buckets in `region` (ListBuckets lists every region's)."""
    from botocore.exceptions import ParamValidationError

    with aws_call("s3", "ListBuckets"):
        try:
            for page in client.get_paginator("list_buckets").paginate(BucketRegion=region):
                yield from (b["Name"] for b in page.get("Buckets", []))
            return
        except ParamValidationError:  # botocore before ListBuckets could filter by region
            pass
        for page in client.get_paginator("list_buckets").paginate():
            for b in page.get("Buckets", []):
                try:
                    where = get_config(partial(client.get_bucket_location, Bucket=b["Name"]),
                                       "GetBucketLocation")
                except BucketMissing:
                    continue
                if _location_region(where) == region:
                    yield b["Name"]


def _location_region(location: Mapping[str, Any] | None) -> str:
    constraint = (location or {}).get("LocationConstraint")
    if not constraint:  # us-east-1 answers with no constraint at all
        return "us-east-1"
    return "eu-west-1" if constraint == "EU" else str(constraint)


class S3BucketArgs(ArgsModel):
    bucket: Annotated[str, ForceNew()] = Field(
        description="Bucket name, unique across all of S3 "
                    "(default: <project>-<environment>-<resource name>, lower-cased).")
    force_destroy: bool = Field(
        False, description="On delete, first delete every object and object version in the "
                           "bucket. They cannot be recovered.")
    object_lock_enabled: Annotated[bool, ForceNew()] = Field(
        False, description="Enable S3 Object Lock (which also enables versioning for good).")
    tags: dict[str, str] = tags_field("bucket")

    @field_validator("bucket")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        problem = bucket_name_problem(value)
        if problem:
            raise ValueError(f"bucket name '{value}' {problem}")
        return value


class S3BucketAttrs(AttrsModel):
    arn: str = Field(description="`arn:aws:s3:::<bucket>`.")
    bucket_domain_name: str = Field(description="`<bucket>.s3.amazonaws.com`.")
    bucket_regional_domain_name: str = Field(
        description="`<bucket>.s3.<region>.amazonaws.com`.")
    region: str = Field(description="The region the bucket lives in.")
    tags_all: dict[str, str] = tags_all_field()


class S3Bucket(AwsResource[S3BucketArgs]):
    type_name: ClassVar[str] = "aws_s3_bucket"
    destroy_loses: ClassVar[str] = "the objects it holds"
    service: ClassVar[str] = "s3"
    name_arg: ClassVar[str] = "bucket"
    tagged_at_create: ClassVar[bool] = False  # tags come after CreateBucket (PutBucketTagging)
    Args = S3BucketArgs
    Attrs = S3BucketAttrs

    def __init__(self, session: Any) -> None:
        super().__init__(session)
        # Buckets this instance created whose create has not returned yet: a retry after
        # NotReady must carry on with them, not refuse them as somebody else's bucket.
        self._creating: set[str] = set()

    @classmethod
    def default_args(cls, ctx: StackContext, name: str) -> dict[str, Any]:
        raw = ctx.default_name(name, max_len=63).lower()
        cleaned = re.sub(r"\.{2,}", ".", re.sub(r"[^a-z0-9.-]+", "-", raw)).strip(".-")
        return {"bucket": cleaned}

    @classmethod
    def plan_attributes(cls, args: Mapping[str, Any],
                        prior: Mapping[str, Any] | None) -> dict[str, Any]:
        planned = super().plan_attributes(args, prior)
        name = args.get("bucket", UNKNOWN)
        if prior is None and isinstance(name, str):
            # The ARN only depends on the name, so references to it need not wait for apply.
            planned.update(id=name, arn=bucket_arn(name))
        return planned

    def create(self, args: S3BucketArgs, meta: ResourceMeta) -> dict[str, Any]:
        name = args.bucket
        if name not in self._creating:
            self._refuse_foreign(name, meta)
            self._create_bucket(args)
            self._creating.add(name)
        tags = all_tags(args.tags, meta)
        tagged: Mapping[str, str] = {}
        try:
            self._put_tags(name, tags)
            tagged = tags
            attrs = self.read_back(name, {"force_destroy": args.force_destroy})
        except ProviderError as exc:
            # The bucket exists: let the engine record it (tainted) rather than lose track of it.
            self._creating.discard(name)
            exc.partial = self.attributes(args, **self._computed(name, self.aws.region, tagged))
            raise
        self._creating.discard(name)
        return attrs

    def _refuse_foreign(self, name: str, meta: ResourceMeta) -> None:
        """Fail if `name` is an existing bucket of this account that is not this resource's.

        In us-east-1, CreateBucket on a bucket the account already owns succeeds, so without
        this check create would silently take over (and retag) another stack's bucket.
        """
        from botocore.exceptions import ClientError

        try:
            live = tag_dict(self.client.get_bucket_tagging(Bucket=name).get("TagSet"))
        except ClientError as exc:
            if error_code(exc) != "NoSuchTagSet":
                return  # no such bucket, or not ours to read: CreateBucket says which
            live = {}
        if not self.owns({"tags_all": live}, meta):
            raise self.taken(name, live, meta, "CreateBucket")

    def _create_bucket(self, args: S3BucketArgs) -> None:
        from botocore.exceptions import ClientError

        params: dict[str, Any] = {"Bucket": args.bucket}
        if self.aws.region != "us-east-1":  # us-east-1 rejects its own name as a constraint
            params["CreateBucketConfiguration"] = {"LocationConstraint": self.aws.region}
        if args.object_lock_enabled:
            params["ObjectLockEnabledForBucket"] = True
        try:
            self.client.create_bucket(**params)
        except ClientError as exc:
            # Ours already (checked by _refuse_foreign): a retry after a lost response.
            if error_code(exc) != "BucketAlreadyOwnedByYou":
                raise translate(exc, "CreateBucket") from exc

    def _put_tags(self, name: str, tags: Mapping[str, str]) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tag_list(tags)})
        except ClientError as exc:
            if error_code(exc) == "NoSuchBucket":  # created a moment ago, not visible yet
                raise NotReady(f"bucket {name} is not visible yet", retry_after=1.0) from exc
            raise translate(exc, "PutBucketTagging") from exc

    def _computed(self, name: str, region: str, tags: Mapping[str, str]) -> dict[str, Any]:
        suffix = "amazonaws.com.cn" if self.aws.partition == "aws-cn" else "amazonaws.com"
        return {
            "id": name,
            "arn": bucket_arn(name, self.aws.partition),
            "bucket_domain_name": f"{name}.s3.{suffix}",
            "bucket_regional_domain_name": f"{name}.s3.{region}.{suffix}",
            "region": region,
            "tags_all": dict(tags),
        }

    def read(self, id: str, prior: Mapping[str, Any]) -> dict[str, Any] | None:
        s3 = self.client
        try:
            location = get_config(partial(s3.get_bucket_location, Bucket=id),
                                  "GetBucketLocation")
            tagging = get_config(partial(s3.get_bucket_tagging, Bucket=id), "GetBucketTagging",
                                 "NoSuchTagSet")
            lock = get_config(partial(s3.get_object_lock_configuration, Bucket=id),
                              "GetObjectLockConfiguration", "ObjectLockConfigurationNotFoundError")
        except BucketMissing:
            return None
        tags = tag_dict((tagging or {}).get("TagSet"))
        locked = (lock or {}).get("ObjectLockConfiguration", {}).get("ObjectLockEnabled")
        return {
            "bucket": id,
            "force_destroy": bool(prior.get("force_destroy", False)),  # not stored by AWS
            "object_lock_enabled": locked == "Enabled",
            "tags": user_tags(tags),
            **self._computed(id, _location_region(location), tags),
        }

    def update(self, id: str, prior: Mapping[str, Any], args: S3BucketArgs,
               meta: ResourceMeta) -> dict[str, Any]:
        # S3 has no tag and untag calls (see TaggedResource): PutBucketTagging replaces the
        # whole set, so it is compared with the live set, as every type's tags are.
        have = self.read(id, prior)
        if have is None:
            raise ProviderError(f"bucket {id} no longer exists; refresh and plan again")
        wanted = all_tags(args.tags, meta)
        if wanted != have["tags_all"]:
            self._put_tags(id, wanted)
        return self.read_back(id, {"force_destroy": args.force_destroy})

    def delete(self, id: str, prior: Mapping[str, Any]) -> None:
        from botocore.exceptions import ClientError

        force = bool(prior.get("force_destroy", False))
        if force:
            try:
                self._empty(id, bypass_retention=bool(prior.get("object_lock_enabled")))
            except BucketMissing:
                return
        try:
            self.client.delete_bucket(Bucket=id)
        except ClientError as exc:
            code = error_code(exc)
            if code == "NoSuchBucket":
                return
            if code == "BucketNotEmpty" and force:  # written to while it was being emptied
                raise NotReady(f"bucket {id} got new objects while being emptied") from exc
            error = translate(exc, "DeleteBucket")
            if code == "BucketNotEmpty":
                raise ProviderError(f"{error.message}; set force_destroy: true (and apply it) "
                                    "to delete its objects with it") from exc
            raise error from exc

    def _empty(self, name: str, *, bypass_retention: bool) -> None:
        """Delete every object version and delete marker (an unversioned object is version
        "null"), so that DeleteBucket can succeed."""
        from botocore.exceptions import ClientError

        try:
            for page in self.client.get_paginator("list_object_versions").paginate(Bucket=name):
                keys = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                        for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
                for start in range(0, len(keys), _DELETE_BATCH):
                    self._delete_objects(name, keys[start:start + _DELETE_BATCH],
                                         bypass_retention)
        except ClientError as exc:
            if error_code(exc) == "NoSuchBucket":
                raise BucketMissing(name) from exc
            raise translate(exc, "ListObjectVersions") from exc

    def _delete_objects(self, name: str, keys: list[dict[str, str]],
                        bypass_retention: bool) -> None:
        params: dict[str, Any] = {"Bucket": name, "Delete": {"Objects": keys, "Quiet": True}}
        if bypass_retention:  # objects under governance-mode Object Lock retention
            params["BypassGovernanceRetention"] = True
        with aws_call("s3", "DeleteObjects"):
            failed = self.client.delete_objects(**params).get("Errors", [])
        if failed:
            first = failed[0]
            raise ProviderError(
                f"DeleteObjects: {len(failed)} object versions of bucket {name} could not be "
                f"deleted, e.g. {first.get('Key')} (version {first.get('VersionId')}): "
                f"{first.get('Code')}: {first.get('Message')}")

    def list(self) -> Iterator[Discovered]:
        s3 = self.client
        for name in bucket_names(s3, self.aws.region):
            try:
                tagging = get_config(partial(s3.get_bucket_tagging, Bucket=name),
                                     "GetBucketTagging", "NoSuchTagSet")
            except BucketMissing:  # deleted while listing
                continue
            yield Discovered(id=name, tags=tag_dict((tagging or {}).get("TagSet")))

