"""AWS KMS: `aws_kms_key` (a customer managed key) and `aws_kms_alias` (a name for one).

KMS never deletes a key at once: destroying one schedules its deletion after
`deletion_window_in_days` (7 to 30), as Terraform does, and until then it can be cancelled
(`aws kms cancel-key-deletion`) and everything it encrypted can still be read. A key pending
deletion reads as gone. A key has no name, so an interrupted create is found again by the
tags its create call set (`mlform:stack`, `mlform:address`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, field_validator

from mlform.errors import ProviderError
from mlform.providers.aws.base import (
    AwsResource,
    TaggedResource,
    all_tags,
    tag_dict,
    tag_list,
    tags_all_field,
    tags_field,
    user_tags,
)
from mlform.providers.aws.errors import aws_call, error_code, is_not_found, translate
from mlform.providers.aws.iam import _live_policy, policy_json
from mlform.providers.base import (
    ArgsModel,
    AttrsModel,
    Computed,
    Discovered,
    ForceNew,
    JsonDocument,
    ResourceMeta,
    StackContext,
)

GONE_STATES = frozenset({"PendingDeletion", "PendingReplicaDeletion"})


def _kms_tags(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return tag_list(tags, key="TagKey", value="TagValue")


class KmsKeyArgs(ArgsModel):
    description: str = Field("", max_length=8192, description="Description of the key.")
    key_usage: Annotated[Literal["ENCRYPT_DECRYPT", "SIGN_VERIFY", "GENERATE_VERIFY_MAC"],
                         ForceNew()] = Field("ENCRYPT_DECRYPT", description="What the key is for.")
    customer_master_key_spec: Annotated[str, ForceNew()] = Field(
        "SYMMETRIC_DEFAULT", description="Key spec: SYMMETRIC_DEFAULT (AES-256), RSA_2048, "
                                         "ECC_NIST_P256, HMAC_256, ...")
    deletion_window_in_days: int = Field(
        30, ge=7, le=30, description="Days between destroying the key and KMS deleting it "
                                     "(7 to 30); until then the deletion can be cancelled.")
    enable_key_rotation: bool = Field(False, description="Rotate the key material every year.")
    policy: Annotated[str | None, Computed(), JsonDocument()] = Field(
        None, description="Key policy (a mapping or JSON). Unset: KMS's default, which lets "
                          "the account's IAM policies grant use of the key.")
    tags: dict[str, str] = tags_field("key")

    @field_validator("policy", mode="before",
                     json_schema_input_type=str | dict[str, Any] | None)
    @classmethod
    def _canonical_policy(cls, value: Any) -> str | None:
        return None if value is None else policy_json(value)


class KmsKeyAttrs(AttrsModel):
    arn: str
    key_id: str = Field(description="The key's id (a UUID), also its `id`.")
    tags_all: dict[str, str] = tags_all_field()


class KmsKey(TaggedResource[KmsKeyArgs]):
    type_name: ClassVar[str] = "aws_kms_key"
    service: ClassVar[str] = "kms"
    Args = KmsKeyArgs
    Attrs = KmsKeyAttrs
    destroy_loses: ClassVar[str] = ("the key material: what it encrypted cannot be read once "
                                    "KMS deletes it after the deletion window")
    gone: ClassVar[str] = "deleted or scheduled for deletion outside mlform"

    def create(self, args: KmsKeyArgs, meta: ResourceMeta) -> dict[str, Any]:
        found = self.find(args, meta)  # a create called again after a crash or NotReady
        if found is not None:
            return self.update(found["id"], found, args, meta)
        params: dict[str, Any] = {
            "Description": args.description, "KeyUsage": args.key_usage,
            "KeySpec": args.customer_master_key_spec,
            "Tags": _kms_tags(all_tags(args.tags, meta))}
        if args.policy is not None:
            params["Policy"] = args.policy
        with aws_call("kms", "CreateKey"):
            key_id = self.client.create_key(**params)["KeyMetadata"]["KeyId"]
        try:
            if args.enable_key_rotation:
                with aws_call("kms", "EnableKeyRotation"):
                    self.client.enable_key_rotation(KeyId=key_id)
            return self.read_back(key_id, {"deletion_window_in_days":
                                           args.deletion_window_in_days})
        except ProviderError as err:
            err.partial = err.partial or self.attributes(
                args, id=key_id, key_id=key_id, arn="", tags_all=all_tags(args.tags, meta))
            raise

    def find(self, args: ArgsModel, meta: ResourceMeta) -> dict[str, Any] | None:
        wanted = meta.tags
        for found in self.list():
            if all(found.tags.get(k) == v for k, v in wanted.items()):
                assert isinstance(args, KmsKeyArgs)
                return self.read(found.id, {"deletion_window_in_days":
                                            args.deletion_window_in_days})
        return None

    def read(self, id: str, prior: Mapping[str, Any]) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        client = self.client
        try:
            key = client.describe_key(KeyId=id)["KeyMetadata"]
            if key.get("KeyState") in GONE_STATES:
                return None
            rotation = client.get_key_rotation_status(KeyId=id).get("KeyRotationEnabled")
            policy = client.get_key_policy(KeyId=id, PolicyName="default")["Policy"]
            tags = tag_dict(client.list_resource_tags(KeyId=id).get("Tags"),
                            key="TagKey", value="TagValue")
        except ClientError as exc:
            if is_not_found(exc, "NotFoundException"):
                return None
            raise translate(exc, exc.operation_name) from exc
        args = KmsKeyArgs.model_validate({
            "description": key.get("Description", ""), "key_usage": key["KeyUsage"],
            "customer_master_key_spec": key.get("KeySpec") or key.get(
                "CustomerMasterKeySpec", "SYMMETRIC_DEFAULT"),
            # Not stored by AWS: what the config said (30 on import, Terraform's default).
            "deletion_window_in_days": prior.get("deletion_window_in_days", 30),
            "enable_key_rotation": bool(rotation),
            "policy": _live_policy(policy),  # Computed: the live one, always
            "tags": user_tags(tags)})
        return self.attributes(args, id=key["KeyId"], key_id=key["KeyId"], arn=key["Arn"],
                               tags_all=tags)

    def update(self, id: str, prior: Mapping[str, Any], args: KmsKeyArgs,
               meta: ResourceMeta) -> dict[str, Any]:
        have = self.read(id, prior)
        if have is None:
            raise ProviderError(f"KMS key {id} no longer exists or is scheduled for deletion; "
                                "refresh and plan again")
        client = self.client
        if have["description"] != args.description:
            with aws_call("kms", "UpdateKeyDescription"):
                client.update_key_description(KeyId=id, Description=args.description)
        if args.policy is not None and have["policy"] != args.policy:
            with aws_call("kms", "PutKeyPolicy"):
                client.put_key_policy(KeyId=id, PolicyName="default", Policy=args.policy)
        if have["enable_key_rotation"] != args.enable_key_rotation:
            if args.enable_key_rotation:
                with aws_call("kms", "EnableKeyRotation"):
                    client.enable_key_rotation(KeyId=id)
            else:
                with aws_call("kms", "DisableKeyRotation"):
                    client.disable_key_rotation(KeyId=id)
        self.sync_tags(id, have["tags_all"], args.tags, meta)
        return self.read_back(id, {"deletion_window_in_days": args.deletion_window_in_days})

    def _tag(self, ref: str, tags: Mapping[str, str]) -> None:
        with aws_call("kms", "TagResource"):
            self.client.tag_resource(KeyId=ref, Tags=_kms_tags(tags))

    def _untag(self, ref: str, keys: Sequence[str]) -> None:
        with aws_call("kms", "UntagResource"):
            self.client.untag_resource(KeyId=ref, TagKeys=list(keys))

    def delete(self, id: str, prior: Mapping[str, Any]) -> None:
        """Schedule the key's deletion after its window (KMS cannot delete a key at once)."""
        from botocore.exceptions import ClientError

        window = int(prior.get("deletion_window_in_days", 30))
        try:
            self.client.schedule_key_deletion(KeyId=id, PendingWindowInDays=window)
        except ClientError as exc:
            if is_not_found(exc, "NotFoundException"):
                return
            if error_code(exc) == "KMSInvalidStateException" and self.read(id, prior) is None:
                return  # already scheduled
            raise translate(exc, "ScheduleKeyDeletion") from exc

    def list(self) -> Iterator[Discovered]:
        """Customer managed keys not pending deletion (AWS managed keys are AWS's)."""
        client = self.client
        with aws_call("kms", "ListKeys"):
            for page in client.get_paginator("list_keys").paginate():
                for item in page["Keys"]:
                    key = client.describe_key(KeyId=item["KeyId"])["KeyMetadata"]
                    if key.get("KeyManager") == "AWS" or key.get("KeyState") in GONE_STATES:
                        continue
                    tags = client.list_resource_tags(KeyId=item["KeyId"]).get("Tags")
                    yield Discovered(id=item["KeyId"],
                                     tags=tag_dict(tags, key="TagKey", value="TagValue"))


class KmsAliasArgs(ArgsModel):
    name: Annotated[str, ForceNew()] = Field(
        pattern=r"^alias/[A-Za-z0-9/_-]+$", max_length=256,
        description="`alias/...` (default: alias/<project>-<environment>-<resource name>); "
                    "`alias/aws/` is AWS's.")
    target_key_id: str = Field(description="Id or ARN of the key the alias names (moved in "
                                           "place).")

    @field_validator("name")
    @classmethod
    def _not_aws(cls, value: str) -> str:
        if value.startswith("alias/aws/"):
            raise ValueError("alias/aws/ names belong to AWS managed keys: choose another")
        return value


class KmsAliasAttrs(AttrsModel):
    arn: str
    target_key_arn: str = Field(description="ARN of the key the alias names.")


class KmsAlias(AwsResource[KmsAliasArgs]):
    """A name for a key. It has no tags; an interrupted create is found by its name."""

    type_name: ClassVar[str] = "aws_kms_alias"
    service: ClassVar[str] = "kms"
    Args = KmsAliasArgs
    Attrs = KmsAliasAttrs
    exists_codes: ClassVar[frozenset[str]] = frozenset({"AlreadyExistsException"})
    tagged_at_create: ClassVar[bool] = False

    @classmethod
    def default_args(cls, ctx: StackContext, name: str) -> dict[str, Any]:
        return {"name": "alias/" + ctx.default_name(name, max_len=250)}

    def create(self, args: KmsAliasArgs, meta: ResourceMeta) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        try:
            self.client.create_alias(AliasName=args.name, TargetKeyId=args.target_key_id)
        except ClientError as exc:
            if not self.already_exists(exc):
                raise translate(exc, "CreateAlias") from exc
            # An alias has no tags to say whose it is: carry on only if it names our key.
            have = self.read(args.name, {})
            if have is None or args.target_key_id not in (have["target_key_id"],
                                                          have["target_key_arn"]):
                raise ProviderError(
                    f"CreateAlias: {args.name} already exists and names another key: give "
                    f"this alias another name, or `mlform import {meta.address} "
                    f"{args.name}`") from None
        return self.read_back(args.name, {"target_key_id": args.target_key_id})

    def _alias(self, name: str) -> dict[str, Any] | None:
        with aws_call("kms", "ListAliases"):
            for page in self.client.get_paginator("list_aliases").paginate():
                for alias in page["Aliases"]:
                    if alias["AliasName"] == name:
                        return dict(alias)
        return None

    def read(self, id: str, prior: Mapping[str, Any]) -> dict[str, Any] | None:
        alias = self._alias(id)
        if alias is None or not alias.get("TargetKeyId"):
            return None
        with aws_call("kms", "DescribeKey"):
            key = self.client.describe_key(KeyId=alias["TargetKeyId"])["KeyMetadata"]
        # The config may name the key by id or by ARN: keep its spelling when it is the same key.
        target = prior.get("target_key_id")
        if target not in (key["KeyId"], key["Arn"]):
            target = key["KeyId"]
        return {"name": id, "target_key_id": target, "id": id, "arn": alias["AliasArn"],
                "target_key_arn": key["Arn"]}

    def update(self, id: str, prior: Mapping[str, Any], args: KmsAliasArgs,
               meta: ResourceMeta) -> dict[str, Any]:
        with aws_call("kms", "UpdateAlias"):
            self.client.update_alias(AliasName=id, TargetKeyId=args.target_key_id)
        return self.read_back(id, {"target_key_id": args.target_key_id})

    def delete(self, id: str, prior: Mapping[str, Any]) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.delete_alias(AliasName=id)
        except ClientError as exc:
            if not is_not_found(exc, "NotFoundException"):
                raise translate(exc, "DeleteAlias") from exc

    def list(self) -> Iterator[Discovered]:
        with aws_call("kms", "ListAliases"):
            for page in self.client.get_paginator("list_aliases").paginate():
                for alias in page["Aliases"]:
                    if not alias["AliasName"].startswith("alias/aws/"):
                        yield Discovered(id=alias["AliasName"])
