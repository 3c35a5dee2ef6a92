"""AWS Secrets Manager: `aws_secretsmanager_secret` (the secret itself) and
`aws_secretsmanager_secret_version` (a value put in it).

A version's `secret_string` is sensitive: what the engine records, plans and journals is the
value's token (`mlform.sensitive`), and the value itself is read from its `SecretValue` only
in the PutSecretValue call.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Annotated, Any, ClassVar

from pydantic import Field, WrapValidator, field_validator

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
from mlform.providers.base import (
    ArgsModel,
    AttrsModel,
    Discovered,
    ForceNew,
    ResourceMeta,
    Sensitive,
)
from mlform.sensitive import TOKEN_PREFIX, SecretValue
from mlform.values import UNKNOWN

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


def _keep_secret_value(value: Any, handler: Any) -> Any:
    """A SecretValue stays one (its value is revealed only in the cloud call); anything else
    must be a token, as the state and journal record it (a literal is refused at load)."""
    if isinstance(value, SecretValue):
        return value
    text = handler(value)
    if not text.startswith(TOKEN_PREFIX) and text != NOT_CURRENT:
        raise ValueError("a secret value is never written in the config: use a `secret` "
                         "component's value_from, or a variable with sensitive: true")
    return text


# What `read` reports for a version that is no longer the secret's current one (someone put
# another value): it differs from every token, so the plan writes the value again.
NOT_CURRENT = "(not the current version)"
SecretString = Annotated[str, WrapValidator(_keep_secret_value), Sensitive()]
# Versions this mlform writes get ids derived from what they hold and follow, so a create or
# update called again (after a crash, or a lost answer) finds the version it already made.
VERSION_NAMESPACE = uuid.UUID("6f1d7c52-3a49-4f5e-9a43-8f1c2b9d0e11")


class SecretsmanagerSecretVersionArgs(ArgsModel):
    secret_id: Annotated[str, ForceNew()] = Field(
        description="The secret (ARN or name) the value is put in.")
    secret_string: SecretString = Field(
        description="The value: never written in the config, it comes from a `secret` "
                    "component's `value_from` or a variable with `sensitive: true`. Plans, "
                    "the journal and the state hold only its keyed hash.")


class SecretsmanagerSecretVersionAttrs(AttrsModel):
    arn: str
    version_id: str


class SecretsmanagerSecretVersion(AwsResource[SecretsmanagerSecretVersionArgs]):
    """A value of a secret, put as a new version that becomes AWSCURRENT.

    Changing the value puts another version (an update, unlike Terraform, which replaces the
    resource: the result is the same new AWSCURRENT version, and the plan reads as what it
    does). The id is Terraform's, `<secret ARN>|<version id>`. Deleting does nothing: AWS
    cannot delete a single version, and taking AWSCURRENT off the value would leave the
    secret with no value while something may still read it; the versions go with the secret.
    """

    type_name: ClassVar[str] = "aws_secretsmanager_secret_version"
    service: ClassVar[str] = "secretsmanager"
    Args = SecretsmanagerSecretVersionArgs
    Attrs = SecretsmanagerSecretVersionAttrs

    @classmethod
    def plan_attributes(cls, args: Mapping[str, Any], prior: Mapping[str, Any] | None
                        ) -> dict[str, Any]:
        attrs = super().plan_attributes(args, prior)
        if prior is not None and args.get("secret_string") != prior.get("secret_string"):
            attrs.update(id=UNKNOWN, version_id=UNKNOWN)  # a new version is put
        return attrs

    def create(self, args: SecretsmanagerSecretVersionArgs, meta: ResourceMeta) -> dict[str, Any]:
        return self._put(args, meta, prior_version="")

    def update(self, id: str, prior: Mapping[str, Any], args: SecretsmanagerSecretVersionArgs,
               meta: ResourceMeta) -> dict[str, Any]:
        return self._put(args, meta, prior_version=str(prior.get("version_id", "")))

    @staticmethod
    def version_for(address: str, prior_version: str, token: str) -> str:
        """The version id (PutSecretValue's ClientRequestToken) for putting the value whose
        token is `token` after `prior_version`: the same call made again is idempotent, and
        going back to an earlier value still makes a new version (it follows another one)."""
        return str(uuid.uuid5(VERSION_NAMESPACE, f"{address}|{prior_version}|{token}"))

    def _put(self, args: SecretsmanagerSecretVersionArgs, meta: ResourceMeta,
             prior_version: str) -> dict[str, Any]:
        value = args.secret_string
        if not isinstance(value, SecretValue):
            raise ProviderError("the secret's value was not read in this run; plan again")
        version = self.version_for(meta.address, prior_version, str(value))
        with aws_call("secretsmanager", "PutSecretValue"):
            answer = self.client.put_secret_value(
                SecretId=args.secret_id, SecretString=value.reveal(),
                ClientRequestToken=version)
        arn = answer["ARN"]
        return self.attributes(args, id=f"{arn}|{answer['VersionId']}", arn=arn,
                               version_id=answer["VersionId"],
                               secret_string=str(value))

    def read(self, id: str, prior: Mapping[str, Any]) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        secret_id, _, version = id.partition("|")
        try:
            secret = self.client.describe_secret(SecretId=secret_id)
        except ClientError as exc:
            if is_not_found(exc):
                return None
            raise translate(exc, "DescribeSecret") from exc
        stages = (secret.get("VersionIdsToStages") or {}).get(version)
        if secret.get("DeletedDate") or stages is None:
            return None
        # The value is never read back: the recorded token stands for it while this version
        # is the current one.
        current = "AWSCURRENT" in stages
        return {"secret_id": prior.get("secret_id", secret["ARN"]),
                "secret_string": prior.get("secret_string") if current else NOT_CURRENT,
                "id": id, "arn": secret["ARN"], "version_id": version}

    def delete(self, id: str, prior: Mapping[str, Any]) -> None:
        return None  # see the class docstring

    def find(self, args: ArgsModel, meta: ResourceMeta) -> dict[str, Any] | None:
        """The version an interrupted create put: its id is derived from the value's token."""
        assert isinstance(args, SecretsmanagerSecretVersionArgs)
        version = self.version_for(meta.address, "", str(args.secret_string))
        from botocore.exceptions import ClientError

        try:
            secret = self.client.describe_secret(SecretId=args.secret_id)
        except ClientError as exc:
            if is_not_found(exc):
                return None
            raise translate(exc, "DescribeSecret") from exc
        if version not in (secret.get("VersionIdsToStages") or {}):
            return None
        return {"secret_id": args.secret_id, "secret_string": str(args.secret_string),
                "id": f"{secret['ARN']}|{version}", "arn": secret["ARN"], "version_id": version}

    def list(self) -> Iterator[Discovered]:
        """Nothing: a version is part of its secret, which discovery finds."""
        return iter(())
