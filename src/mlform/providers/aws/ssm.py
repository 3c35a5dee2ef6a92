"""AWS Systems Manager Parameter Store: `aws_ssm_parameter`.

`value` is sensitive, whatever the parameter's type (as in Terraform): it is the same field
type as a secret version's `secret_string` (`secretsmanager.SecretString`), so the config
takes it only from a sensitive variable or `value_from`, and plans, the journal and the state
hold only its keyed hash; the value is revealed in the PutParameter call alone. It is never
read back: the parameter's version number says whether someone put another value since
(the read then reports the value as changed, and the plan puts it back). A value that is no
secret can be written in the config as `insecure_value` (Terraform's name), which is read
back and compared as it is.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, WrapValidator, model_validator

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
from mlform.providers.aws.errors import aws_call, is_not_found, translate
from mlform.providers.aws.secretsmanager import NOT_CURRENT, _keep_secret_value
from mlform.providers.base import (
    ArgsModel,
    AttrsModel,
    Computed,
    Discovered,
    ForceNew,
    ResourceMeta,
    Sensitive,
    StackContext,
)
from mlform.sensitive import SecretValue
from mlform.values import UNKNOWN

NOT_FOUND = "ParameterNotFound"


def _keep_optional(value: Any, handler: Any) -> Any:
    return None if value is None else _keep_secret_value(value, handler)


# A secret version's `secret_string`, but optional (`insecure_value` may stand instead); the
# marker is on the whole field, where the config's checks look for it.
OptionalSecretString = Annotated[str | None, WrapValidator(_keep_optional), Sensitive()]


class SsmParameterArgs(ArgsModel):
    name: Annotated[str, ForceNew()] = Field(
        max_length=2048, description="Parameter name, such as `/ml/prod/db-host` "
                                     "(default: /<project>/<environment>/<resource name>).")
    type: Annotated[Literal["String", "StringList", "SecureString"], ForceNew()] = Field(
        description="String, StringList (comma-separated) or SecureString (encrypted with "
                    "`key_id`).")
    value: OptionalSecretString = Field(
        None, description="The value (sensitive: from a variable with `sensitive: true` or "
                          "`value_from`; plans and state hold only its keyed hash).")
    insecure_value: str | None = Field(
        None, description="A value that is no secret, written in the config and shown in "
                          "plans (not for SecureString).")
    description: str = Field("", max_length=1024, description="Description of the parameter.")
    key_id: Annotated[str | None, Computed()] = Field(
        None, description="KMS key that encrypts a SecureString (default: `alias/aws/ssm`).")
    tier: Literal["Standard", "Advanced", "Intelligent-Tiering"] = Field(
        "Standard", description="Standard (free, up to 4 KB) or Advanced (8 KB, charged).")
    tags: dict[str, str] = tags_field("parameter")

    @model_validator(mode="after")
    def _one_value(self) -> SsmParameterArgs:
        if (self.value is None) == (self.insecure_value is None):
            raise ValueError("give exactly one of value (sensitive) and insecure_value")
        if self.insecure_value is not None and self.type == "SecureString":
            raise ValueError("a SecureString's value is sensitive: use value, from a "
                             "sensitive variable or value_from, not insecure_value")
        if self.key_id is not None and self.type != "SecureString":
            raise ValueError("key_id is for SecureString parameters only")
        return self


class SsmParameterAttrs(AttrsModel):
    arn: str
    version: int = Field(description="Parameter Store's version, one more per value put.")
    tags_all: dict[str, str] = tags_all_field()


class SsmParameter(TaggedResource[SsmParameterArgs]):
    type_name: ClassVar[str] = "aws_ssm_parameter"
    service: ClassVar[str] = "ssm"
    Args = SsmParameterArgs
    Attrs = SsmParameterAttrs
    exists_codes: ClassVar[frozenset[str]] = frozenset({"ParameterAlreadyExists"})
    destroy_loses: ClassVar[str] = "its value"

    @classmethod
    def default_args(cls, ctx: StackContext, name: str) -> dict[str, Any]:
        return {"name": "/" + ctx.default_name(name, sep="/", max_len=1000)}

    @classmethod
    def plan_attributes(cls, args: Mapping[str, Any], prior: Mapping[str, Any] | None
                        ) -> dict[str, Any]:
        attrs = super().plan_attributes(args, prior)
        if prior is not None and any(args.get(k) != prior.get(k) for k in (
                "value", "insecure_value", "description", "key_id", "tier")):
            attrs["version"] = UNKNOWN  # PutParameter makes a new version
        return attrs

    def _put(self, args: SsmParameterArgs, **extra: Any) -> None:
        if args.value is not None and not isinstance(args.value, SecretValue):
            raise ProviderError(f"parameter {args.name}: its value was not read in this run; "
                                "plan again")
        text = args.value.reveal() if isinstance(args.value, SecretValue) else args.insecure_value
        params: dict[str, Any] = {"Name": args.name, "Type": args.type, "Value": text,
                                  "Description": args.description, "Tier": args.tier, **extra}
        if args.key_id:
            params["KeyId"] = args.key_id
        self.client.put_parameter(**params)

    def create(self, args: SsmParameterArgs, meta: ResourceMeta) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        try:
            self._put(args, Tags=tag_list(all_tags(args.tags, meta)))
        except ClientError as exc:
            if not self.already_exists(exc):
                raise translate(exc, "PutParameter") from exc
            have = self.claim(args, meta, "PutParameter", exc)
            return self.update(args.name, {**have, "version": -1}, args, meta)
        return self.read_back(args.name, self._prior(args, version=None))

    @staticmethod
    def _prior(args: SsmParameterArgs, version: int | None) -> dict[str, Any]:
        return {"value": None if args.value is None else str(args.value),
                "version": version}

    def read(self, id: str, prior: Mapping[str, Any]) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        client = self.client
        try:
            param = client.get_parameter(Name=id, WithDecryption=False)["Parameter"]
            meta = client.describe_parameters(ParameterFilters=[
                {"Key": "Name", "Option": "Equals", "Values": [id]}])["Parameters"]
            tags = tag_dict(client.list_tags_for_resource(
                ResourceType="Parameter", ResourceId=id).get("TagList"))
        except ClientError as exc:
            if is_not_found(exc, NOT_FOUND, "InvalidResourceId"):
                return None
            raise translate(exc, exc.operation_name) from exc
        info = meta[0] if meta else {}
        version = int(param["Version"])
        recorded = prior.get("value")
        sensitive = recorded is not None or param["Type"] == "SecureString"
        if sensitive:
            # Never read back: the recorded token stands for the value while no other
            # version was put since (a `version` of None: the one just put by this mlform).
            same = prior.get("version") in (None, version)
            value, insecure = (recorded if same and recorded else NOT_CURRENT), None
        else:
            value, insecure = None, param["Value"]
        args = SsmParameterArgs.model_validate({
            "name": param["Name"], "type": param["Type"], "value": value,
            "insecure_value": insecure, "description": info.get("Description", ""),
            "key_id": info.get("KeyId") if param["Type"] == "SecureString" else None,
            "tier": info.get("Tier", "Standard"), "tags": user_tags(tags)})
        return self.attributes(args, id=param["Name"], arn=param["ARN"], version=version,
                               tags_all=tags)

    def update(self, id: str, prior: Mapping[str, Any], args: SsmParameterArgs,
               meta: ResourceMeta) -> dict[str, Any]:
        have = self.read(id, prior)
        if have is None:
            raise ProviderError(f"parameter {id} no longer exists; refresh and plan again")
        version = have["version"]
        wanted = {"value": None if args.value is None else str(args.value),
                  "insecure_value": args.insecure_value, "description": args.description,
                  "tier": args.tier}
        key_changed = args.key_id is not None and have["key_id"] != args.key_id
        if key_changed or any(have[k] != v for k, v in wanted.items()):
            with aws_call("ssm", "PutParameter"):
                self._put(args, Overwrite=True)
            version = None  # the version just put holds the value the token stands for
        self.sync_tags(id, have["tags_all"], args.tags, meta)
        return self.read_back(id, self._prior(args, version))

    def _tag(self, ref: str, tags: Mapping[str, str]) -> None:
        with aws_call("ssm", "AddTagsToResource"):
            self.client.add_tags_to_resource(ResourceType="Parameter", ResourceId=ref,
                                             Tags=tag_list(tags))

    def _untag(self, ref: str, keys: Sequence[str]) -> None:
        with aws_call("ssm", "RemoveTagsFromResource"):
            self.client.remove_tags_from_resource(ResourceType="Parameter", ResourceId=ref,
                                                  TagKeys=list(keys))

    def delete(self, id: str, prior: Mapping[str, Any]) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.delete_parameter(Name=id)
        except ClientError as exc:
            if not is_not_found(exc, NOT_FOUND):
                raise translate(exc, "DeleteParameter") from exc

    def list(self) -> Iterator[Discovered]:
        client = self.client
        with aws_call("ssm", "DescribeParameters"):
            for page in client.get_paginator("describe_parameters").paginate():
                for param in page["Parameters"]:
                    tags = client.list_tags_for_resource(
                        ResourceType="Parameter", ResourceId=param["Name"]).get("TagList")
                    yield Discovered(id=param["Name"], tags=tag_dict(tags))
