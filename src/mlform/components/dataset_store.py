"""`dataset_store`: an S3 bucket for datasets and model artifacts, secure by default.

Versioned, encrypted (SSE-S3, or SSE-KMS with `kms_key_arn` or a key of its own, `kms: true`),
every kind of public access blocked, incomplete uploads cleaned up, old object versions expired,
and optionally objects moved to cheaper storage and expired after N days.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from mlform.components.base import ComponentModel, ExpandContext, Expansion
from mlform.components.kms import customer_key, one_key
from mlform.providers.aws.s3_rules import INFREQUENT, MIN_DAYS

BUCKET = "aws_s3_bucket.this"


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
        if set(found) != {"aws_s3_bucket", *parts}:
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
        # With a KMS key the URI names the bucket through its encryption configuration, so
        # that every role given access under it is given the key too (components/iam.py).
        uri = "s3://" + (ctx.ref(encryption, "bucket") if key else name)
        out.outputs = {"uri": uri, "arn": ctx.ref(BUCKET, "arn"), "name": name}
        return out

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
