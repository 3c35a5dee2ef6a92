"""AWS IAM, the objects a role is used through: `aws_iam_policy` (a customer managed policy)
and `aws_iam_instance_profile` (what puts a role on an EC2 instance).

A managed policy's document is versioned by IAM: a change creates a new default version, and
IAM keeps at most five, so the oldest non-default version is deleted first when five exist
(as Terraform does). The policy's id is its ARN, which is also Terraform's import id.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar

from pydantic import Field, field_validator

from mlform.errors import NotReady, ProviderError
from mlform.providers.aws.base import (
    TaggedResource,
    all_tags,
    tag_dict,
    tag_list,
    tags_all_field,
    tags_field,
    user_tags,
)
from mlform.providers.aws.errors import aws_call, error_code, error_message, is_not_found, translate
from mlform.providers.aws.iam import _live_policy, policy_json
from mlform.providers.base import (
    ArgsModel,
    AttrsModel,
    Discovered,
    ForceNew,
    JsonDocument,
    ResourceMeta,
)

MAX_VERSIONS = 5  # IAM's limit of versions per managed policy


def _iso(value: Any) -> str:
    return value.astimezone(UTC).isoformat() if isinstance(value, datetime) else str(value)


class IamPolicyArgs(ArgsModel):
    name: Annotated[str, ForceNew()] = Field(
        max_length=128,
        description="Policy name (default: <project>-<environment>-<resource name>).")
    path: Annotated[str, ForceNew()] = Field(
        "/", pattern=r"^/(.*/)?$", description="Path of the policy, starting and ending with `/`.")
    description: Annotated[str, ForceNew()] = Field(
        "", max_length=1000, description="Description of the policy (IAM cannot change it).")
    policy: Annotated[str, JsonDocument()] = Field(
        description="Policy document, as a mapping or a JSON string.")
    tags: dict[str, str] = tags_field("policy")

    @field_validator("policy", mode="before", json_schema_input_type=str | dict[str, Any])
    @classmethod
    def _canonical_policy(cls, value: Any) -> str:
        return policy_json(value)


class IamPolicyAttrs(AttrsModel):
    arn: str
    policy_id: str = Field(description="Stable unique id of the policy (`ANPA...`).")
    attachment_count: int = Field(description="How many users, groups and roles it is on.")
    tags_all: dict[str, str] = tags_all_field()


class IamPolicy(TaggedResource[IamPolicyArgs]):
    type_name: ClassVar[str] = "aws_iam_policy"
    service: ClassVar[str] = "iam"
    Args = IamPolicyArgs
    Attrs = IamPolicyAttrs
    name_max_len: ClassVar[int] = 128
    exists_codes: ClassVar[frozenset[str]] = frozenset({"EntityAlreadyExists"})
    # Which users, groups and roles it is on comes and goes with other resources.
    benign_drift: ClassVar[tuple[str, ...]] = ("attachment_count",)

    def create(self, args: IamPolicyArgs, meta: ResourceMeta) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        try:
            with_tags = tag_list(all_tags(args.tags, meta))
            arn = self.client.create_policy(
                PolicyName=args.name, Path=args.path, Description=args.description,
                PolicyDocument=args.policy, Tags=with_tags)["Policy"]["Arn"]
        except ClientError as exc:
            if not self.already_exists(exc):
                raise translate(exc, "CreatePolicy") from exc
            return self.adopt(args, meta, "CreatePolicy", exc)
        return self.read_back(arn, {})

    def _arn_of(self, name: str, path: str) -> str | None:
        """The ARN of the local policy `name` under `path` (IAM looks policies up by ARN only,
        and building one would need the account id)."""
        with aws_call("iam", "ListPolicies"):
            for page in self.client.get_paginator("list_policies").paginate(
                    Scope="Local", PathPrefix=path):
                for policy in page["Policies"]:
                    if policy["PolicyName"] == name and policy["Path"] == path:
                        return str(policy["Arn"])
        return None

    def find(self, args: ArgsModel, meta: ResourceMeta) -> dict[str, Any] | None:
        assert isinstance(args, IamPolicyArgs)
        attrs = self.existing(args)
        return attrs if attrs is not None and self.owns(attrs, meta) else None

    def existing(self, args: IamPolicyArgs) -> dict[str, Any] | None:
        arn = self._arn_of(args.name, args.path)
        return self.read(arn, {}) if arn else None

    def read(self, id: str, prior: Mapping[str, Any]) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            policy = self.client.get_policy(PolicyArn=id)["Policy"]
            version = self.client.get_policy_version(
                PolicyArn=id, VersionId=policy["DefaultVersionId"])["PolicyVersion"]
        except ClientError as exc:
            if is_not_found(exc):
                return None
            raise translate(exc, exc.operation_name) from exc
        tags = tag_dict(policy.get("Tags"))
        args = IamPolicyArgs.model_validate({
            "name": policy["PolicyName"], "path": policy.get("Path", "/"),
            "description": policy.get("Description", ""),
            "policy": _live_policy(version["Document"]), "tags": user_tags(tags)})
        return self.attributes(args, id=policy["Arn"], arn=policy["Arn"],
                               policy_id=policy["PolicyId"],
                               attachment_count=int(policy.get("AttachmentCount", 0)),
                               tags_all=tags)

    def update(self, id: str, prior: Mapping[str, Any], args: IamPolicyArgs,
               meta: ResourceMeta) -> dict[str, Any]:
        have = self.read(id, prior)
        if have is None:
            raise ProviderError(f"policy {id} no longer exists; refresh and plan again")
        if have["policy"] != args.policy:
            self._make_room(id)
            with aws_call("iam", "CreatePolicyVersion"):
                self.client.create_policy_version(PolicyArn=id, PolicyDocument=args.policy,
                                                  SetAsDefault=True)
        self.sync_tags(id, have["tags_all"], args.tags, meta)
        return self.read_back(id, {})

    def _versions(self, arn: str) -> list[dict[str, Any]]:
        with aws_call("iam", "ListPolicyVersions"):
            pages = self.client.get_paginator("list_policy_versions").paginate(PolicyArn=arn)
            return [v for page in pages for v in page["Versions"]]

    def _make_room(self, arn: str) -> None:
        """Delete the oldest non-default version if IAM's five are taken."""
        versions = self._versions(arn)
        if len(versions) < MAX_VERSIONS:
            return
        oldest = min((v for v in versions if not v["IsDefaultVersion"]),
                     key=lambda v: _iso(v["CreateDate"]))
        with aws_call("iam", "DeletePolicyVersion"):
            self.client.delete_policy_version(PolicyArn=arn, VersionId=oldest["VersionId"])

    def _tag(self, ref: str, tags: Mapping[str, str]) -> None:
        with aws_call("iam", "TagPolicy"):
            self.client.tag_policy(PolicyArn=ref, Tags=tag_list(tags))

    def _untag(self, ref: str, keys: Sequence[str]) -> None:
        with aws_call("iam", "UntagPolicy"):
            self.client.untag_policy(PolicyArn=ref, TagKeys=list(keys))

    def delete(self, id: str, prior: Mapping[str, Any]) -> None:
        from botocore.exceptions import ClientError

        try:
            versions = self._versions(id)
        except ProviderError as exc:
            if exc.__cause__ is not None and is_not_found(exc.__cause__):
                return
            raise
        for version in versions:  # IAM deletes a policy only with its default version alone
            if not version["IsDefaultVersion"]:
                try:
                    self.client.delete_policy_version(PolicyArn=id,
                                                      VersionId=version["VersionId"])
                except ClientError as exc:
                    if not is_not_found(exc):
                        raise translate(exc, "DeletePolicyVersion") from exc
        try:
            self.client.delete_policy(PolicyArn=id)
        except ClientError as exc:
            if is_not_found(exc):
                return
            if error_code(exc) == "DeleteConflict":
                # Its attachments are deleted first, and detaching propagates slowly.
                raise NotReady(f"policy {id}: {error_message(exc)}") from None
            raise translate(exc, "DeletePolicy") from exc

    def list(self) -> Iterator[Discovered]:
        with aws_call("iam", "ListPolicies"):
            for page in self.client.get_paginator("list_policies").paginate(Scope="Local"):
                for policy in page["Policies"]:
                    tags = self.client.list_policy_tags(PolicyArn=policy["Arn"]).get("Tags")
                    yield Discovered(id=policy["Arn"], tags=tag_dict(tags))


class IamInstanceProfileArgs(ArgsModel):
    name: Annotated[str, ForceNew()] = Field(
        max_length=128,
        description="Instance profile name (default: <project>-<environment>-<resource name>).")
    path: Annotated[str, ForceNew()] = Field(
        "/", pattern=r"^/(.*/)?$", description="Path of the profile, starting and ending "
                                               "with `/`.")
    role: str | None = Field(None, description="Name of the role the profile carries "
                                               "(one at most, as IAM allows).")
    tags: dict[str, str] = tags_field("instance profile")


class IamInstanceProfileAttrs(AttrsModel):
    arn: str
    unique_id: str = Field(description="Stable unique id of the profile (`AIPA...`).")
    create_date: str = Field(description="When the profile was created (ISO 8601, UTC).")
    tags_all: dict[str, str] = tags_all_field()


class IamInstanceProfile(TaggedResource[IamInstanceProfileArgs]):
    type_name: ClassVar[str] = "aws_iam_instance_profile"
    service: ClassVar[str] = "iam"
    Args = IamInstanceProfileArgs
    Attrs = IamInstanceProfileAttrs
    name_max_len: ClassVar[int] = 128
    exists_codes: ClassVar[frozenset[str]] = frozenset({"EntityAlreadyExists"})

    def create(self, args: IamInstanceProfileArgs, meta: ResourceMeta) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        try:
            self.client.create_instance_profile(
                InstanceProfileName=args.name, Path=args.path,
                Tags=tag_list(all_tags(args.tags, meta)))
        except ClientError as exc:
            if not self.already_exists(exc):
                raise translate(exc, "CreateInstanceProfile") from exc
            return self.adopt(args, meta, "CreateInstanceProfile", exc)
        have = self.read(args.name, {})
        if have is None:
            raise NotReady(f"instance profile {args.name} is not visible to IAM yet")
        return self.update(args.name, have, args, meta)

    def read(self, id: str, prior: Mapping[str, Any]) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            profile = self.client.get_instance_profile(InstanceProfileName=id)["InstanceProfile"]
        except ClientError as exc:
            if is_not_found(exc):
                return None
            raise translate(exc, "GetInstanceProfile") from exc
        tags = tag_dict(profile.get("Tags"))
        roles = profile.get("Roles") or []
        args = IamInstanceProfileArgs.model_validate({
            "name": profile["InstanceProfileName"], "path": profile.get("Path", "/"),
            "role": roles[0]["RoleName"] if roles else None, "tags": user_tags(tags)})
        return self.attributes(args, id=args.name, arn=profile["Arn"],
                               unique_id=profile["InstanceProfileId"],
                               create_date=_iso(profile["CreateDate"]), tags_all=tags)

    def update(self, id: str, prior: Mapping[str, Any], args: IamInstanceProfileArgs,
               meta: ResourceMeta) -> dict[str, Any]:
        have = self.read(id, prior)
        if have is None:
            raise ProviderError(f"instance profile {id} no longer exists; refresh and plan again")
        if have["role"] != args.role:
            if have["role"]:
                self._remove_role(id, have["role"])
            if args.role:
                with aws_call("iam", "AddRoleToInstanceProfile"):
                    self.client.add_role_to_instance_profile(InstanceProfileName=id,
                                                             RoleName=args.role)
        self.sync_tags(id, have["tags_all"], args.tags, meta)
        return self.read_back(id, {})

    def _remove_role(self, profile: str, role: str) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.remove_role_from_instance_profile(InstanceProfileName=profile,
                                                          RoleName=role)
        except ClientError as exc:
            if not is_not_found(exc):  # gone already: what the call was for
                raise translate(exc, "RemoveRoleFromInstanceProfile") from exc

    def _tag(self, ref: str, tags: Mapping[str, str]) -> None:
        with aws_call("iam", "TagInstanceProfile"):
            self.client.tag_instance_profile(InstanceProfileName=ref, Tags=tag_list(tags))

    def _untag(self, ref: str, keys: Sequence[str]) -> None:
        with aws_call("iam", "UntagInstanceProfile"):
            self.client.untag_instance_profile(InstanceProfileName=ref, TagKeys=list(keys))

    def delete(self, id: str, prior: Mapping[str, Any]) -> None:
        from botocore.exceptions import ClientError

        have = self.read(id, prior)
        if have is None:
            return
        if have["role"]:  # IAM refuses to delete a profile that still carries a role
            self._remove_role(id, have["role"])
        try:
            self.client.delete_instance_profile(InstanceProfileName=id)
        except ClientError as exc:
            if not is_not_found(exc):
                raise translate(exc, "DeleteInstanceProfile") from exc

    def list(self) -> Iterator[Discovered]:
        with aws_call("iam", "ListInstanceProfiles"):
            for page in self.client.get_paginator("list_instance_profiles").paginate():
                for profile in page["InstanceProfiles"]:
                    name = profile["InstanceProfileName"]
                    tags = self.client.list_instance_profile_tags(
                        InstanceProfileName=name).get("Tags")
                    yield Discovered(id=name, tags=tag_dict(tags))
