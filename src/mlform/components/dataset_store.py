"""`dataset_store`: an S3 bucket for datasets and model artifacts, secure by default.

Versioned, encrypted (SSE-S3, or SSE-KMS with `kms_key_arn` or a key of its own, `kms: true`),
every kind of public access blocked, requests without TLS refused by its bucket policy,
incomplete uploads cleaned up, old object versions expired, and optionally objects moved to
cheaper storage and expired after N days.

Uploads that do not ask for encryption are not refused by default: the bucket's default
encryption encrypts them anyway, and refusing them (`deny_unencrypted_uploads`) breaks every
client that does not send `x-amz-server-side-encryption`, which SDK uploads do not unless told
to. TLS is what the encryption at rest cannot make up for, so that is what is enforced.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from mlform.components.base import ComponentModel, ExpandContext, Expansion
from mlform.components.iam import document
from mlform.components.kms import customer_key, one_key
from mlform.providers.aws.s3_rules import INFREQUENT, MIN_DAYS

BUCKET = "aws_s3_bucket.this"
POLICY = "aws_s3_bucket_policy.this"
TLS_SID = "DenyInsecureTransport"
SSE_SID = "DenyUnencryptedUploads"


class DatasetStore(ComponentModel):
    type: Literal["dataset_store"]
    bucket: str | None = Field(
        None, description="Bucket name (default: <project>-<environment>-<component>). "
                          "S3 names are global across all accounts: set one on AWS.")
    retention_days: int | None = Field(
        None, ge=1, description="Delete objects this many days after they were written.")
    transition_days: int | None = Field(
        None, ge=1, description="Move objects to `transition_storage_class` after this many "
                                "days.")
    transition_storage_class: Literal[
        "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR", "GLACIER",
        "DEEP_ARCHIVE"] = "INTELLIGENT_TIERING"
    noncurrent_version_days: int = Field(
        30, ge=1, description="Delete replaced or deleted object versions after this many days.")
    versioning: bool = Field(True, description="Keep every version of every object.")
    kms_key_arn: str | None = Field(
        None, description="Encrypt with this KMS key (SSE-KMS) instead of S3-managed keys.")
    kms: bool = Field(
        False, description="Encrypt with a customer-managed KMS key made for this store "
                           "(`aws_kms_key` and `aws_kms_alias`). Not with `kms_key_arn`.")
    force_destroy: bool = Field(
        False, description="Let `mlform destroy` delete the bucket even when it holds data.")
    enforce_tls: bool = Field(
        True, description="Bucket policy: refuse every request to the bucket and its objects "
                          "made without TLS (`aws:SecureTransport` false).")
    deny_unencrypted_uploads: bool = Field(
        False, description="Bucket policy: refuse PutObject without the "
        "`x-amz-server-side-encryption` header. Off by default: default encryption encrypts "
        "such uploads anyway, and SDKs do not send the header unless asked.")

    outputs: ClassVar[dict[str, str]] = {
        "uri": "`s3://<bucket>`: prefix it to object keys",
        "arn": "The bucket's ARN",
        "name": "The bucket's name",
    }

    anchor: ClassVar[str | None] = "aws_s3_bucket"

    @field_validator("transition_days")
    @classmethod
    def _expire_after_moving(cls, value: int | None, info: ValidationInfo) -> int | None:
        retention = info.data.get("retention_days")
        if value is not None and retention is not None and retention <= value:
            raise ValueError(f"objects would expire (retention_days: {retention}) before they "
                             f"move; S3 wants the transition first: make it less than "
                             f"{retention} or drop it")
        return value

    @field_validator("transition_storage_class")
    @classmethod
    def _infrequent_after_30_days(cls, value: str, info: ValidationInfo) -> str:
        days = info.data.get("transition_days")
        if value in INFREQUENT and days is not None and days < MIN_DAYS:
            raise ValueError(f"S3 moves objects to {value} only after {MIN_DAYS} days or more "
                             f"in Standard: set transition_days to {MIN_DAYS} or more (it is "
                             f"{days}), or choose INTELLIGENT_TIERING or GLACIER_IR")
        return value

    @model_validator(mode="after")
    def _one_key(self) -> DatasetStore:
        one_key(self.kms, self.kms_key_arn, "kms_key_arn")
        return self

    @classmethod
    def recognize(cls, found: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
        parts = ("aws_s3_bucket_versioning", "aws_s3_bucket_server_side_encryption_configuration",
                 "aws_s3_bucket_lifecycle_configuration", "aws_s3_bucket_public_access_block")
        if set(found) - {"aws_s3_bucket_policy"} != {"aws_s3_bucket", *parts}:
            return None
        sids = _policy_sids(found.get("aws_s3_bucket_policy"))
        if sids is None:
            return None
        bucket, versioning, sse, lifecycle = (found[t] for t in (
            "aws_s3_bucket", *parts[:3]))
        rules = lifecycle.get("rule") or []
        if len(rules) != 1:
            return None
        rule = rules[0]
        settings: dict[str, Any] = {
            "bucket": bucket["bucket"], "force_destroy": bucket.get("force_destroy", False),
            "versioning": (versioning.get("versioning_configuration") or {}).get("status")
            == "Enabled",
            "noncurrent_version_days": (rule.get("noncurrent_version_expiration") or {}).get(
                "noncurrent_days", 30),
            "enforce_tls": TLS_SID in sids, "deny_unencrypted_uploads": SSE_SID in sids,
        }
        if bucket.get("tags"):
            settings["tags"] = bucket["tags"]
        if (rule.get("expiration") or {}).get("days"):
            settings["retention_days"] = rule["expiration"]["days"]
        transitions = rule.get("transition") or []
        if len(transitions) == 1:
            settings["transition_days"] = transitions[0].get("days")
            settings["transition_storage_class"] = transitions[0].get("storage_class")
        default = ((sse.get("rule") or [{}])[0].get("apply_server_side_encryption_by_default")
                   or {})
        if default.get("kms_master_key_id"):
            settings["kms_key_arn"] = default["kms_master_key_id"]
        return settings

    def expand(self, ctx: ExpandContext) -> Expansion:
        out = Expansion()
        bucket: dict[str, Any] = {"force_destroy": self.force_destroy, "tags": self.tags}
        if self.bucket:
            bucket["bucket"] = self.bucket
        out.add(BUCKET, **bucket)
        name = ctx.ref(BUCKET, "id")
        out.add("aws_s3_bucket_versioning.this", bucket=name, versioning_configuration={
            "status": "Enabled" if self.versioning else "Suspended"})
        key = customer_key(out, ctx, "the objects", self.tags) if self.kms else self.kms_key_arn
        default: dict[str, Any] = {"sse_algorithm": "AES256"}
        if key:
            default = {"sse_algorithm": "aws:kms", "kms_master_key_id": key}
        encryption = "aws_s3_bucket_server_side_encryption_configuration.this"
        out.add(encryption, bucket=name, rule=[{
            "apply_server_side_encryption_by_default": default,
            "bucket_key_enabled": bool(key)}])
        out.add("aws_s3_bucket_public_access_block.this", bucket=name, block_public_acls=True,
                block_public_policy=True, ignore_public_acls=True, restrict_public_buckets=True)
        out.add("aws_s3_bucket_lifecycle_configuration.this", bucket=name, rule=self._rules())
        statements = self._denials(f"arn:{ctx.partition}:s3:::{name}")
        if statements:
            out.add(POLICY, bucket=name, policy=document(statements))
        # With a KMS key the URI names the bucket through its encryption configuration, so
        # that every role given access under it is given the key too (components/iam.py).
        uri = "s3://" + (ctx.ref(encryption, "bucket") if key else name)
        out.outputs = {"uri": uri, "arn": ctx.ref(BUCKET, "arn"), "name": name}
        return out

    def _denials(self, bucket: str) -> list[dict[str, Any]]:
        """The bucket policy's statements. mlform itself only reads and writes the bucket's
        configuration, over TLS on AWS (the sandbox does not evaluate bucket policies, so its
        http:// endpoint is not refused)."""
        statements: list[dict[str, Any]] = []
        if self.enforce_tls:
            statements.append({
                "Sid": TLS_SID, "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                "Resource": [bucket, f"{bucket}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}}})
        if self.deny_unencrypted_uploads:
            # Absent header only: an upload asking for either SSE-S3 or SSE-KMS is let in, and
            # the bucket's default decides which is used when the client asks for nothing.
            statements.append({
                "Sid": SSE_SID, "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
                "Resource": f"{bucket}/*",
                "Condition": {"Null": {"s3:x-amz-server-side-encryption": "true"}}})
        return statements

    def _rules(self) -> list[dict[str, Any]]:
        housekeeping: dict[str, Any] = {
            "id": "housekeeping", "status": "Enabled", "filter": {"prefix": ""},
            "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
            "noncurrent_version_expiration": {"noncurrent_days": self.noncurrent_version_days},
        }
        if self.retention_days:
            housekeeping["expiration"] = {"days": self.retention_days}
        if self.transition_days:
            housekeeping["transition"] = [{"days": self.transition_days,
                                           "storage_class": self.transition_storage_class}]
        return [housekeeping]


def _policy_sids(policy: dict[str, Any] | None) -> set[str] | None:
    """The Sids of a bucket policy this component could have written (set() for none), or
    None when it has statements of someone else's."""
    if policy is None:
        return set()
    try:
        statements = json.loads(policy.get("policy") or "{}").get("Statement") or []
    except (ValueError, AttributeError):
        return None
    sids = {str(s.get("Sid")) for s in statements if isinstance(s, dict)}
    return sids if len(sids) == len(statements) and sids <= {TLS_SID, SSE_SID} else None
