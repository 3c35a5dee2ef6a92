"""Resource values in Terraform's plan JSON shape: blocks as lists, masks, `tags_all`, and the
attributes Terraform's schema has that mlform's types do not model.

Policy tools index into these values by Terraform's attribute names and structure, so each
rule here mirrors what `terraform show -json` writes for the same object (checked against
real Terraform in tests/engine/test_terraform_fidelity.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mlform.config.refs import split_address
from mlform.providers.base import TAG_ADDRESS, TAG_STACK
from mlform.providers.registry import Registry
from mlform.providers.schema import sensitive_fields, terraform_shape
from mlform.values import UNKNOWN, contains_unknown

# Attributes of Terraform's AWS provider schema (5.x) that mlform's types do not model. They
# are written as null in `prior_state` and in each change's `before`, carried over to `after`
# of an update (mlform never changes them), and on a create are unknown (the cloud picks
# them) except those in NULL_AT_CREATE, which Terraform plans as null; so a document has
# Terraform's full key set. Null means "mlform does not know", never "unset": the S3 bucket's
# inline `versioning` and `server_side_encryption_configuration` blocks are deprecated in
# Terraform too, and a policy should read `aws_s3_bucket_versioning` and friends. Types not
# listed here carry exactly the attributes mlform models.
TERRAFORM_ONLY: dict[str, tuple[str, ...]] = {
    "aws_s3_bucket": (
        "acceleration_status", "acl", "bucket_prefix", "cors_rule", "grant", "hosted_zone_id",
        "lifecycle_rule", "logging", "object_lock_configuration", "policy",
        "replication_configuration", "request_payer", "server_side_encryption_configuration",
        "timeouts", "versioning", "website", "website_domain", "website_endpoint"),
    "aws_s3_bucket_versioning": ("expected_bucket_owner", "mfa"),
    "aws_s3_bucket_server_side_encryption_configuration": ("expected_bucket_owner",),
    "aws_s3_bucket_lifecycle_configuration": ("expected_bucket_owner", "timeouts"),
    "aws_iam_role": ("name_prefix",),
    "aws_ecr_repository": ("timeouts",),
}
NULL_AT_CREATE = frozenset({"timeouts", "expected_bucket_owner", "mfa"})


def terraform_only_at_create(type_name: str) -> dict[str, Any]:
    """The attributes mlform does not model, as a create plans them (see TERRAFORM_ONLY)."""
    return {a: None if a in NULL_AT_CREATE else UNKNOWN for a in TERRAFORM_ONLY.get(type_name, ())}


def tf_mask(value: Any, marked: Callable[[Any], bool]) -> Any:
    """Terraform's mask of `value` (`after_unknown`, `*_sensitive`): True where `marked`,
    objects and maps mirrored with unmarked leaves left out, lists mirrored element by element
    (an unmarked element is False, since positions matter), any other unmarked leaf False."""
    if marked(value):
        return True
    if isinstance(value, dict):
        return {k: m for k, v in value.items() if (m := tf_mask(v, marked)) is not False}
    if isinstance(value, list):
        return [tf_mask(v, marked) for v in value]
    return False


def _is_unknown(value: Any) -> bool:
    return value is UNKNOWN


def unknown_mask(values: dict[str, Any]) -> dict[str, Any]:
    mask = tf_mask(values, _is_unknown)
    return mask if isinstance(mask, dict) else {}


def with_tags_all(values: dict[str, Any], stack: str, address: str) -> dict[str, Any]:
    """`tags_all` as apply will leave it, when the tags are known: the resource's tags plus
    mlform's own (`mlform:stack`, `mlform:address`), which play Terraform's provider
    `default_tags` and win over the resource's, as `TaggedResource.sync_tags` makes them."""
    if "tags_all" not in values:
        return values
    tags = values.get("tags") or {}
    if not isinstance(tags, dict) or contains_unknown(tags):
        return values
    return {**values, "tags_all": {**tags, TAG_STACK: stack, TAG_ADDRESS: address}}


class Shaper:
    """A type's values in Terraform's shape, through the registry's schemas."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def provider(self, type_name: str) -> str:
        if not self.registry.knows(type_name):
            return "unknown"
        spec = self.registry.provider_for(type_name)
        return spec.terraform_provider or spec.name

    def values(self, type_name: str, attrs: dict[str, Any] | None,
               full: bool = False) -> dict[str, Any] | None:
        """`attrs` shaped; sensitive values written as null (they are flagged, not written);
        with `full`, Terraform's attributes mlform does not model are added as null."""
        if attrs is None:
            return None
        if not self.registry.knows(type_name):
            return attrs
        args_model = self.registry.get(type_name).Args
        hidden = sensitive_fields(args_model)
        shown = {k: (None if k in hidden and v is not None else v) for k, v in attrs.items()}
        out = terraform_shape(args_model, shown)
        if full:
            out = {**dict.fromkeys(TERRAFORM_ONLY.get(type_name, ())), **out}
        return out

    def sensitive(self, type_name: str, values: dict[str, Any] | None) -> Any:
        """`before_sensitive`/`after_sensitive`: False for no object, else the values' mask
        with True at each sensitive argument."""
        if values is None:
            return False
        hidden = (sensitive_fields(self.registry.get(type_name).Args)
                  if self.registry.knows(type_name) else frozenset())
        mask = tf_mask({k: v for k, v in values.items() if k not in hidden}, lambda _: False)
        return {**mask, **{f: True for f in hidden if f in values}}

    def resource(self, address: str, type_name: str, values: dict[str, Any]) -> dict[str, Any]:
        """An entry of `planned_values` or `prior_state`."""
        return {
            "address": address, "mode": "managed", "type": type_name,
            "name": split_address(address)[2], "provider_name": self.provider(type_name),
            "schema_version": 0, "values": values,
            "sensitive_values": self.sensitive(type_name, values),
        }
