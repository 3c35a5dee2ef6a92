"""A bucket's configuration, one type per aspect as in Terraform: `aws_s3_bucket_versioning`,
`aws_s3_bucket_server_side_encryption_configuration`, `aws_s3_bucket_public_access_block` and
`aws_s3_bucket_lifecycle_configuration`. Each has its bucket's name as id, and no tags."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator, Mapping
from functools import partial
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import Field, ValidationError, field_validator, model_validator

from mlform.errors import NotReady, ProviderError
from mlform.providers.aws.base import AwsResource
from mlform.providers.aws.errors import error_code, translate
from mlform.providers.aws.s3 import (
    BucketMissing,
    bucket_names,
    drop_none,
    get_config,
    unmodelled,
)
from mlform.providers.aws.s3_rules import lifecycle_problems
from mlform.providers.base import (
    ArgsModel,
    AttrsModel,
    Discovered,
    ForceNew,
    ResourceMeta,
    Timeouts,
)


class BucketConfigurationArgs(ArgsModel):
    bucket: Annotated[str, ForceNew()] = Field(description="Name of the bucket to configure.")


C = TypeVar("C", bound=BucketConfigurationArgs)


class BucketConfiguration(AwsResource[C]):
    """What the four configuration types share: one Put, one Get and one Delete per bucket."""

    service: ClassVar[str] = "s3"
    name_arg: ClassVar[str] = "bucket"  # the id is the bucket's name
    configures: ClassVar[str | None] = "aws_s3_bucket"
    tagged_at_create: ClassVar[bool] = False  # no tags at all: a bucket's configuration is ours
    Attrs = AttrsModel
    what: ClassVar[str]  # for messages: "public access block"
    put_operation: ClassVar[str]
    delete_operation: ClassVar[str]
    # Waits for a bucket made a moment ago; as Terraform, not longer: it may just be misspelt.
    timeouts: ClassVar[Timeouts] = Timeouts(create=120.0, update=120.0, delete=120.0)

    # _put and _remove make the botocore call; callers translate its errors.
    @abstractmethod
    def _put(self, args: C) -> None: ...

    @abstractmethod
    def _remove(self, bucket: str, prior: Mapping[str, Any]) -> None: ...

    @abstractmethod
    def _live(self, bucket: str, prior: Mapping[str, Any]) -> dict[str, Any] | None:
        """The arguments other than `bucket` as the bucket has them now, or None if it has no
        such configuration. Raises BucketMissing (via get_config) if there is no bucket."""

    def _listed(self, live: Mapping[str, Any]) -> bool:
        return True  # whether a bucket with this live configuration counts as having one

    def create(self, args: C, meta: ResourceMeta) -> dict[str, Any]:
        return self._apply(args)

    def update(self, id: str, prior: Mapping[str, Any], args: C,
               meta: ResourceMeta) -> dict[str, Any]:
        return self._apply(args)

    def _apply(self, args: C) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        try:
            self._put(args)
        except (ClientError, BucketMissing) as exc:
            if isinstance(exc, BucketMissing) or error_code(exc) == "NoSuchBucket":
                raise NotReady(f"bucket {args.bucket} does not exist (yet)") from exc
            raise translate(exc, self.put_operation) from exc
        wanted = args.model_dump(mode="json")
        attrs = self.read(args.bucket, wanted)
        if attrs is None or any(attrs[k] != v for k, v in wanted.items()):
            # S3 propagates bucket configuration changes with a delay.
            raise NotReady(f"the new {self.what} of bucket {args.bucket} is not visible yet")
        return attrs

    def read(self, id: str, prior: Mapping[str, Any]) -> dict[str, Any] | None:
        try:
            live = self._live(id, prior)
        except BucketMissing:
            return None
        if live is None:
            return None
        try:
            args = self.Args.model_validate({"bucket": id, **live})
        except ValidationError as exc:  # set outside mlform, with features it does not model
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                                 for e in exc.errors())
            raise ProviderError(f"the {self.what} of bucket {id} uses settings mlform does not "
                                f"support ({problems})") from None
        return self.attributes(args, id=id)

    def delete(self, id: str, prior: Mapping[str, Any]) -> None:
        from botocore.exceptions import ClientError

        try:
            self._remove(id, prior)
        except BucketMissing:
            return
        except ClientError as exc:
            if error_code(exc) != "NoSuchBucket":
                raise translate(exc, self.delete_operation) from exc

    def list(self) -> Iterator[Discovered]:
        for name in bucket_names(self.client, self.aws.region):
            try:
                live = self._live(name, {})
            except BucketMissing:  # deleted while listing
                continue
            if live is not None and self._listed(live):
                yield Discovered(id=name)


class VersioningConfiguration(ArgsModel):
    status: Literal["Enabled", "Suspended", "Disabled"] = Field(
        description="Enabled or Suspended. Disabled only describes a bucket that has never "
                    "been versioned: a versioned bucket cannot go back to it.")
    mfa_delete: Literal["Enabled", "Disabled"] | None = Field(
        None, description="Whether deleting object versions needs MFA (unset: not managed).")


class S3BucketVersioningArgs(BucketConfigurationArgs):
    versioning_configuration: VersioningConfiguration = Field(
        description="The bucket's versioning state.")


class S3BucketVersioning(BucketConfiguration[S3BucketVersioningArgs]):
    """Deleting it suspends versioning, as S3 cannot unversion a bucket (and as Terraform does).

    Enabled versioning that is now Suspended reads as Suspended, an update of
    `versioning_configuration.status` that the plan puts back, as Terraform plans it: reading
    it as deleted would plan a create and, in plan JSON, a resource that vanished. Only
    versioning that reads Disabled after it was on (a new bucket of the same name) is gone."""

    type_name: ClassVar[str] = "aws_s3_bucket_versioning"
    gone: ClassVar[str] = ("versioning never enabled on this bucket: a new bucket of the same "
                           "name, made outside mlform")

    @classmethod
    def check_change(cls, before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
        was = (before.get("versioning_configuration") or {}).get("status")
        now = after.get("versioning_configuration")
        if was in ("Enabled", "Suspended") and isinstance(now, dict) and (
                now.get("status") == "Disabled"):
            return [f"versioning_configuration.status cannot go from {was} to Disabled: S3 "
                    "cannot unversion a bucket; Suspended stops keeping new versions"]
        return []
    Args = S3BucketVersioningArgs
    what: ClassVar[str] = "versioning configuration"
    put_operation: ClassVar[str] = "PutBucketVersioning"
    delete_operation: ClassVar[str] = "PutBucketVersioning"

    def _status(self, bucket: str) -> dict[str, Any]:
        got = get_config(partial(self.client.get_bucket_versioning, Bucket=bucket),
                         "GetBucketVersioning")
        return got or {}

    def _put(self, args: S3BucketVersioningArgs) -> None:
        config = args.versioning_configuration
        if config.status == "Disabled":  # nothing to set, only something to check
            current = self._status(args.bucket).get("Status")
            if current:
                raise ProviderError(
                    f"bucket {args.bucket} has versioning {current}: it cannot be Disabled "
                    "again, only Suspended")
            return
        wanted: dict[str, str] = {"Status": config.status}
        if config.mfa_delete is not None:
            wanted["MFADelete"] = config.mfa_delete
        self.client.put_bucket_versioning(Bucket=args.bucket, VersioningConfiguration=wanted)

    def _live(self, bucket: str, prior: Mapping[str, Any]) -> dict[str, Any] | None:
        got = self._status(bucket)
        status = got.get("Status") or "Disabled"  # never versioned: no Status at all
        was = prior.get("versioning_configuration") or {}
        if was.get("status") in ("Enabled", "Suspended") and status == "Disabled":
            return None  # a new bucket of the same name
        # S3 only reports MFADelete once it has been set; absent and Disabled are the same
        # state, reported as the configuration wrote it.
        mfa: str | None = got.get("MFADelete") or "Disabled"
        if mfa == "Disabled" and was.get("mfa_delete") is None:
            mfa = None
        return {"versioning_configuration": {"status": status, "mfa_delete": mfa}}

    def _remove(self, bucket: str, prior: Mapping[str, Any]) -> None:
        from botocore.exceptions import ClientError

        if self._status(bucket).get("Status") != "Enabled":
            return
        try:
            self.client.put_bucket_versioning(Bucket=bucket,
                                              VersioningConfiguration={"Status": "Suspended"})
        except ClientError as exc:
            # Object Lock keeps versioning on for good; there is nothing to undo (Terraform too).
            if error_code(exc) != "InvalidBucketState":
                raise

    def _listed(self, live: Mapping[str, Any]) -> bool:
        return bool(live["versioning_configuration"]["status"] != "Disabled")


class ApplyServerSideEncryptionByDefault(ArgsModel):
    sse_algorithm: Literal["AES256", "aws:kms", "aws:kms:dsse"] = Field(
        description="AES256 (S3-managed keys), aws:kms or aws:kms:dsse (KMS keys).")
    kms_master_key_id: str | None = Field(
        None, description="KMS key id or ARN for aws:kms / aws:kms:dsse "
                          "(default: the AWS-managed aws/s3 key).")


class ServerSideEncryptionRule(ArgsModel):
    apply_server_side_encryption_by_default: ApplyServerSideEncryptionByDefault = Field(
        description="How objects written without encryption headers are encrypted.")
    # S3 always reports a value (false when never set), so unset is false, not null.
    bucket_key_enabled: bool = Field(
        False, description="Use an S3 Bucket Key for SSE-KMS (fewer KMS requests).")


class S3BucketServerSideEncryptionConfigurationArgs(BucketConfigurationArgs):
    rule: list[ServerSideEncryptionRule] = Field(
        min_length=1, description="The default encryption rule (S3 accepts one).")


class S3BucketServerSideEncryptionConfiguration(
        BucketConfiguration[S3BucketServerSideEncryptionConfigurationArgs]):
    """Deleting it removes the bucket's own default encryption; AWS then applies its default
    (SSE-S3 on every bucket since 2023), which reads back as a configuration."""

    type_name: ClassVar[str] = "aws_s3_bucket_server_side_encryption_configuration"
    Args = S3BucketServerSideEncryptionConfigurationArgs
    what: ClassVar[str] = "server-side encryption configuration"
    put_operation: ClassVar[str] = "PutBucketEncryption"
    delete_operation: ClassVar[str] = "DeleteBucketEncryption"

    def _put(self, args: S3BucketServerSideEncryptionConfigurationArgs) -> None:
        defaults = [r.apply_server_side_encryption_by_default for r in args.rule]
        rules = [{"ApplyServerSideEncryptionByDefault": drop_none(
                      {"SSEAlgorithm": d.sse_algorithm, "KMSMasterKeyID": d.kms_master_key_id}),
                  "BucketKeyEnabled": r.bucket_key_enabled}
                 for r, d in zip(args.rule, defaults, strict=True)]
        self.client.put_bucket_encryption(
            Bucket=args.bucket, ServerSideEncryptionConfiguration={"Rules": rules})

    def _live(self, bucket: str, prior: Mapping[str, Any]) -> dict[str, Any] | None:
        got = get_config(partial(self.client.get_bucket_encryption, Bucket=bucket),
                         "GetBucketEncryption", "ServerSideEncryptionConfigurationNotFoundError")
        if got is None:
            return None
        rules = got.get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
        defaults = [r.get("ApplyServerSideEncryptionByDefault", {}) for r in rules]
        return {"rule": [{"apply_server_side_encryption_by_default": {
                              "sse_algorithm": d.get("SSEAlgorithm"),
                              "kms_master_key_id": d.get("KMSMasterKeyID")},
                          "bucket_key_enabled": bool(r.get("BucketKeyEnabled", False))}
                         for r, d in zip(rules, defaults, strict=True)]}

    def _remove(self, bucket: str, prior: Mapping[str, Any]) -> None:
        self.client.delete_bucket_encryption(Bucket=bucket)


_PUBLIC_ACCESS_BLOCK = {n: n.title().replace("_", "") for n in (  # BlockPublicAcls, ...
    "block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")}


class S3BucketPublicAccessBlockArgs(BucketConfigurationArgs):
    block_public_acls: bool = Field(False, description="Reject requests setting public ACLs.")
    block_public_policy: bool = Field(False, description="Reject public bucket policies.")
    ignore_public_acls: bool = Field(False, description="Ignore public ACLs already set.")
    restrict_public_buckets: bool = Field(
        False, description="Only AWS services and this account may use a bucket whose policy "
                           "is public.")


class S3BucketPublicAccessBlock(BucketConfiguration[S3BucketPublicAccessBlockArgs]):
    type_name: ClassVar[str] = "aws_s3_bucket_public_access_block"
    Args = S3BucketPublicAccessBlockArgs
    what: ClassVar[str] = "public access block"
    put_operation: ClassVar[str] = "PutPublicAccessBlock"
    delete_operation: ClassVar[str] = "DeletePublicAccessBlock"

    def _put(self, args: S3BucketPublicAccessBlockArgs) -> None:
        self.client.put_public_access_block(
            Bucket=args.bucket,
            PublicAccessBlockConfiguration={
                api: getattr(args, name) for name, api in _PUBLIC_ACCESS_BLOCK.items()})

    def _live(self, bucket: str, prior: Mapping[str, Any]) -> dict[str, Any] | None:
        got = get_config(partial(self.client.get_public_access_block, Bucket=bucket),
                         "GetPublicAccessBlock", "NoSuchPublicAccessBlockConfiguration")
        if got is None:
            return None
        config = got.get("PublicAccessBlockConfiguration", {})
        return {name: bool(config.get(api, False)) for name, api in _PUBLIC_ACCESS_BLOCK.items()}

    def _remove(self, bucket: str, prior: Mapping[str, Any]) -> None:
        self.client.delete_public_access_block(Bucket=bucket)


class LifecycleFilter(ArgsModel):
    prefix: str = Field("", description="Only keys starting with this (default: all).")


class LifecycleExpiration(ArgsModel):
    days: int = Field(ge=1, description="Delete objects this many days after creation.")


StorageClass = Literal["GLACIER", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING",
                       "DEEP_ARCHIVE", "GLACIER_IR"]


class LifecycleTransition(ArgsModel):
    days: int = Field(0, ge=0, description="Days after creation before the move.")
    storage_class: StorageClass = Field(description="The storage class objects move to.")


class NoncurrentVersionExpiration(ArgsModel):
    noncurrent_days: int = Field(
        ge=1, description="Delete object versions this many days after they became noncurrent.")


class AbortIncompleteMultipartUpload(ArgsModel):
    days_after_initiation: int = Field(
        ge=1, description="Abort uploads still incomplete this many days after they started.")


class LifecycleRule(ArgsModel):
    id: str = Field(min_length=1, max_length=255, description="Unique name of the rule.")
    status: Literal["Enabled", "Disabled"] = Field(description="Whether the rule is applied.")
    filter: LifecycleFilter = Field(default_factory=LifecycleFilter,
                                    description="Which objects the rule applies to.")
    expiration: LifecycleExpiration | None = Field(None, description="When objects expire.")
    transition: list[LifecycleTransition] = Field(
        default_factory=list, description="When objects move to cheaper storage classes.")
    noncurrent_version_expiration: NoncurrentVersionExpiration | None = Field(
        None, description="When noncurrent object versions expire (versioned buckets).")
    abort_incomplete_multipart_upload: AbortIncompleteMultipartUpload | None = Field(
        None, description="When incomplete multipart uploads are aborted.")

    @model_validator(mode="after")
    def _s3_accepts(self) -> LifecycleRule:
        problems = lifecycle_problems([(t.days, t.storage_class) for t in self.transition],
                                      self.expiration.days if self.expiration else None)
        if problems:
            raise ValueError("; ".join(problems))
        return self


class S3BucketLifecycleConfigurationArgs(BucketConfigurationArgs):
    rule: list[LifecycleRule] = Field(min_length=1, max_length=1000,
                                      description="The lifecycle rules (at most 1,000).")

    @field_validator("rule")
    @classmethod
    def _unique_ids(cls, value: list[LifecycleRule]) -> list[LifecycleRule]:
        ids = [r.id for r in value]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"rule ids must be unique: {', '.join(twice)} is used twice")
        return value


def _lifecycle_rule_args(rule: Mapping[str, Any]) -> dict[str, Any]:
    api_filter = rule.get("Filter") or {}
    expiration = rule.get("Expiration")
    noncurrent = rule.get("NoncurrentVersionExpiration")
    abort = rule.get("AbortIncompleteMultipartUpload")
    return {
        "id": rule.get("ID"),
        "status": rule.get("Status"),
        # Before filters, a rule's prefix was on the rule itself.
        "filter": {"prefix": api_filter.get("Prefix", rule.get("Prefix", "")),
                   **unmodelled(api_filter, "Prefix")},
        "expiration": None if expiration is None else {
            "days": expiration.get("Days"), **unmodelled(expiration, "Days")},
        "transition": [{"days": t.get("Days", 0), "storage_class": t.get("StorageClass"),
                        **unmodelled(t, "Days", "StorageClass")}
                       for t in rule.get("Transitions", [])],
        "noncurrent_version_expiration": None if noncurrent is None else {
            "noncurrent_days": noncurrent.get("NoncurrentDays"),
            **unmodelled(noncurrent, "NoncurrentDays")},
        "abort_incomplete_multipart_upload": None if abort is None else {
            "days_after_initiation": abort.get("DaysAfterInitiation")},
        **unmodelled(rule, "ID", "Status", "Filter", "Prefix", "Expiration", "Transitions",
                       "NoncurrentVersionExpiration", "AbortIncompleteMultipartUpload"),
    }


def _lifecycle_rule_api(rule: LifecycleRule) -> dict[str, Any]:
    expiration, noncurrent = rule.expiration, rule.noncurrent_version_expiration
    abort = rule.abort_incomplete_multipart_upload
    return drop_none({
        "ID": rule.id, "Status": rule.status,
        # Always a filter: S3 rejects a rule with neither a filter nor a (legacy) prefix.
        "Filter": {"Prefix": rule.filter.prefix},
        "Expiration": None if expiration is None else {"Days": expiration.days},
        "Transitions": [{"Days": t.days, "StorageClass": t.storage_class}
                        for t in rule.transition] or None,
        "NoncurrentVersionExpiration": None if noncurrent is None else {
            "NoncurrentDays": noncurrent.noncurrent_days},
        "AbortIncompleteMultipartUpload": None if abort is None else {
            "DaysAfterInitiation": abort.days_after_initiation},
    })


class S3BucketLifecycleConfiguration(BucketConfiguration[S3BucketLifecycleConfigurationArgs]):
    type_name: ClassVar[str] = "aws_s3_bucket_lifecycle_configuration"
    Args = S3BucketLifecycleConfigurationArgs
    what: ClassVar[str] = "lifecycle configuration"
    put_operation: ClassVar[str] = "PutBucketLifecycleConfiguration"
    delete_operation: ClassVar[str] = "DeleteBucketLifecycle"

    def _put(self, args: S3BucketLifecycleConfigurationArgs) -> None:
        self.client.put_bucket_lifecycle_configuration(
            Bucket=args.bucket,
            LifecycleConfiguration={"Rules": [_lifecycle_rule_api(r) for r in args.rule]})

    def _live(self, bucket: str, prior: Mapping[str, Any]) -> dict[str, Any] | None:
        got = get_config(partial(self.client.get_bucket_lifecycle_configuration, Bucket=bucket),
                         "GetBucketLifecycleConfiguration", "NoSuchLifecycleConfiguration")
        if got is None:
            return None
        return {"rule": [_lifecycle_rule_args(r) for r in got.get("Rules", [])]}

    def _remove(self, bucket: str, prior: Mapping[str, Any]) -> None:
        self.client.delete_bucket_lifecycle(Bucket=bucket)
