"""AWS Secrets Manager: `aws_secretsmanager_secret` (the secret itself; values come separately)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Annotated, Any, ClassVar

from pydantic import Field, field_validator

from mlform.errors import ProviderError
from mlform.providers.aws.base import (
    TaggedResource,
    all_tags,
    tag_dict,
    tag_list,
    tags_all_field,
    tags_field,
    user_tags,
)
from mlform.providers.aws.errors import aws_call, error_code, is_not_found, translate
from mlform.providers.base import (
    ArgsModel,
    AttrsModel,
    Discovered,
    ForceNew,
    ResourceMeta,
)

# Secrets Manager cannot unset a secret's key; pointing it back at the AWS managed key is the
# same thing, and DescribeSecret then omits KmsKeyId, as for a secret that never had one.
AWS_MANAGED_KEY = "alias/aws/secretsmanager"


class SecretsmanagerSecretArgs(ArgsModel):
    name: Annotated[str, ForceNew()] = Field(
        max_length=512,
        description="Secret name (default: <project>-<environment>-<resource name>).")
    description: str = Field("", max_length=2048, description="Description of the secret.")
    kms_key_id: str | None = Field(
        None, description="ARN or id of the KMS key that encrypts the secret's values "
                          "(default: the AWS managed key `aws/secretsmanager`).")
    recovery_window_in_days: int = Field(
        30, description="Days AWS keeps a deleted secret recoverable: 0 deletes it at once, "
                        "otherwise 7 to 30. While recoverable, its name cannot be reused.")
    tags: dict[str, str] = tags_field("secret")

    @field_validator("recovery_window_in_days")
    @classmethod
    def _valid_window(cls, value: int) -> int:
        if value != 0 and not 7 <= value <= 30:
            raise ValueError("must be 0 (delete at once) or from 7 to 30 days")
        return value


class SecretsmanagerSecretAttrs(AttrsModel):
    arn: str
    tags_all: dict[str, str] = tags_all_field()


class SecretsmanagerSecret(TaggedResource[SecretsmanagerSecretArgs]):
    type_name: ClassVar[str] = "aws_secretsmanager_secret"
    destroy_loses: ClassVar[str] = "the secret's value"
    service: ClassVar[str] = "secretsmanager"
    Args = SecretsmanagerSecretArgs
    Attrs = SecretsmanagerSecretAttrs
    name_max_len: ClassVar[int] = 256  # and the id is the ARN: DescribeSecret takes either
    exists_codes: ClassVar[frozenset[str]] = frozenset({"ResourceExistsException"})

    def create(self, args: SecretsmanagerSecretArgs, meta: ResourceMeta) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        tags = all_tags(args.tags, meta)
        params: dict[str, Any] = {"Name": args.name, "Description": args.description,
                                  "Tags": tag_list(tags)}
        if args.kms_key_id:
            params["KmsKeyId"] = args.kms_key_id
        try:
            arn = self.client.create_secret(**params)["ARN"]
        except (ClientError, BotoCoreError) as exc:
            # Also a botocore retry after a lost answer: CreateSecret with no value makes no
            # version, so its client token does not make the retry succeed.
            if not self.already_exists(exc):
                raise translate(exc, "CreateSecret") from exc
            return self.adopt(args, meta, "CreateSecret", exc)
        try:
            return self.read_back(arn, {"recovery_window_in_days": args.recovery_window_in_days})
        except ProviderError as err:
            err.partial = self.attributes(args, id=arn, arn=arn, tags_all=tags)
            raise

    def existing(self, args: SecretsmanagerSecretArgs) -> dict[str, Any] | None:
        have = self.read(args.name, args.model_dump(mode="json"))
        if have is None:  # read hides a secret scheduled for deletion, whose name is taken
            raise ProviderError(
                f"CreateSecret: secret {args.name} is scheduled for deletion, and its name is "
                "taken until it is deleted: restore it (aws secretsmanager restore-secret) "
                "and import it, or give this resource another name")
        return have

    def read(self, id: str, prior: Mapping[str, Any]) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            secret = self.client.describe_secret(SecretId=id)
        except ClientError as exc:
            if is_not_found(exc):
                return None
            raise translate(exc, "DescribeSecret") from exc
        if secret.get("DeletedDate"):
            return None  # scheduled for deletion: unusable, and gone for good unless restored
        tags = tag_dict(secret.get("Tags"))
        live: dict[str, Any] = {
            "name": secret["Name"],
            "description": secret.get("Description", ""),
            "kms_key_id": secret.get("KmsKeyId"),
            "tags": user_tags(tags),
        }
        if "recovery_window_in_days" in prior:  # not stored by AWS
            live["recovery_window_in_days"] = prior["recovery_window_in_days"]
        args = SecretsmanagerSecretArgs.model_validate(live)
        return self.attributes(args, id=secret["ARN"], arn=secret["ARN"], tags_all=tags)

    def update(self, id: str, prior: Mapping[str, Any], args: SecretsmanagerSecretArgs,
               meta: ResourceMeta) -> dict[str, Any]:
        have = self.read(id, prior)
        if have is None:
            raise ProviderError(f"secret {args.name} no longer exists (or is scheduled for "
                                "deletion); refresh and plan again")
        changes: dict[str, str] = {}
        if have["description"] != args.description:
            changes["Description"] = args.description
        if have["kms_key_id"] != args.kms_key_id:
            changes["KmsKeyId"] = args.kms_key_id or AWS_MANAGED_KEY
        if changes:
            with aws_call("secretsmanager", "UpdateSecret"):
                self.client.update_secret(SecretId=id, **changes)
        self.sync_tags(id, have["tags_all"], args.tags, meta)
        return self.read_back(id, {"recovery_window_in_days": args.recovery_window_in_days})

    def _tag(self, ref: str, tags: Mapping[str, str]) -> None:
        with aws_call("secretsmanager", "TagResource"):
            self.client.tag_resource(SecretId=ref, Tags=tag_list(tags))

    def _untag(self, ref: str, keys: Sequence[str]) -> None:
        with aws_call("secretsmanager", "UntagResource"):
            self.client.untag_resource(SecretId=ref, TagKeys=list(keys))

    def delete(self, id: str, prior: Mapping[str, Any]) -> None:
        from botocore.exceptions import ClientError

        window = int(prior.get("recovery_window_in_days", 30))
        how: dict[str, Any] = ({"ForceDeleteWithoutRecovery": True} if window == 0
                               else {"RecoveryWindowInDays": window})
        try:
            self.client.delete_secret(SecretId=id, **how)
        except ClientError as exc:
            if is_not_found(exc):
                return
            # Deleting a secret already scheduled for deletion is refused: it is deleted.
            if error_code(exc) == "InvalidRequestException" and self.read(id, prior) is None:
                return
            raise translate(exc, "DeleteSecret") from exc

    def list(self) -> Iterator[Discovered]:
        # ListSecrets leaves out secrets scheduled for deletion, as `read` does.
        with aws_call("secretsmanager", "ListSecrets"):
            for page in self.client.get_paginator("list_secrets").paginate():
                for secret in page["SecretList"]:
                    yield Discovered(id=secret["ARN"], tags=tag_dict(secret.get("Tags")))
