"""AWS IAM: `aws_iam_role`.

A role's policies can be managed in two ways, as in Terraform's provider: by the role itself
(`managed_policy_arns`, `inline_policy`: exclusive, so anything else is detached or deleted),
or one by one by `aws_iam_role_policy` and `aws_iam_role_policy_attachment` (`iam_policies`).
The rule that keeps them apart: a list the config leaves unset (None) is not managed by the
role. The role then neither reads it (it is recorded as None, so a policy another resource
attaches is no drift of the role) nor changes it. An empty list is managed: it means "none".
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar
from urllib.parse import unquote

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
from mlform.providers.base import (
    ArgsModel,
    AttrsModel,
    Discovered,
    ForceNew,
    JsonDocument,
    Prefetching,
    ResourceMeta,
)


def policy_json(value: Any) -> str:
    """A policy document, written as a mapping or as JSON text, as one canonical JSON string:
    documents that differ only in key order or whitespace compare equal."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not a valid JSON policy document: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError("a policy document must be a mapping (a JSON object)")
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _live_policy(document: Any) -> str:
    # IAM returns documents URL-encoded; boto3 decodes them to dicts, but only when they parse.
    if isinstance(document, str) and document.startswith("%"):
        document = unquote(document)
    return policy_json(document)


def _managed(args: IamRoleArgs) -> dict[str, Any]:
    """What a read needs to know of the config: which policy lists the role manages, and the
    argument AWS does not store."""
    return {"force_detach_policies": args.force_detach_policies,
            "managed_policy_arns": args.managed_policy_arns,
            "inline_policy": args.inline_policy}


def _computed(role: Mapping[str, Any], tags: dict[str, str]) -> dict[str, Any]:
    created = role["CreateDate"]
    if isinstance(created, datetime):  # boto3 gives it in local time
        created = created.astimezone(UTC).isoformat()
    return {"id": role["RoleName"], "arn": role["Arn"], "unique_id": role["RoleId"],
            "create_date": str(created), "tags_all": tags}


class InlinePolicy(ArgsModel):
    name: str = Field(description="Name of the inline policy.")
    policy: Annotated[str, JsonDocument()] = Field(
        description="Policy document, as a mapping or a JSON string.")

    @field_validator("policy", mode="before", json_schema_input_type=str | dict[str, Any])
    @classmethod
    def _canonical_policy(cls, value: Any) -> str:
        return policy_json(value)


class IamRoleArgs(ArgsModel):
    name: Annotated[str, ForceNew()] = Field(
        max_length=64,
        description="Role name (default: <project>-<environment>-<resource name>).")
    path: Annotated[str, ForceNew()] = Field(
        "/", pattern=r"^/(.*/)?$", description="Path of the role, starting and ending with `/`.")
    assume_role_policy: Annotated[str, JsonDocument()] = Field(
        description="Trust policy: who may assume the role. A mapping or a JSON string.")
    description: str = Field("", max_length=1000, description="Description of the role.")
    max_session_duration: int = Field(
        3600, ge=3600, le=43200, description="Maximum session duration in seconds (1 to 12 h).")
    permissions_boundary: str | None = Field(
        None, description="ARN of the policy that sets the role's permissions boundary.")
    managed_policy_arns: list[str] | None = Field(
        None,
        description="Managed policies to attach. Exclusive: any other attached policy is "
                    "detached. Unset: the role leaves its attachments alone (use "
                    "`aws_iam_role_policy_attachment`, which Terraform 5.x prefers).")
    inline_policy: list[InlinePolicy] | None = Field(
        None,
        description="Inline policies of the role. Exclusive: any other inline policy is "
                    "deleted. Unset: the role leaves its inline policies alone (use "
                    "`aws_iam_role_policy`, which Terraform 5.x prefers).")
    force_detach_policies: bool = Field(
        False, description="Accepted for Terraform compatibility: mlform manages every policy "
                           "of the role, so it always detaches them before deleting the role.")
    tags: dict[str, str] = tags_field("role")

    @field_validator("assume_role_policy", mode="before",
                     json_schema_input_type=str | dict[str, Any])
    @classmethod
    def _canonical_policy(cls, value: Any) -> str:
        return policy_json(value)

    @field_validator("managed_policy_arns")
    @classmethod
    def _as_set(cls, value: list[str] | None) -> list[str] | None:
        # A set in Terraform: order and repeats mean nothing.
        return None if value is None else sorted(set(value))

    @field_validator("inline_policy")
    @classmethod
    def _by_name(cls, value: list[InlinePolicy] | None) -> list[InlinePolicy] | None:
        if value is None:
            return None
        names = [p.name for p in value]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"inline policy names must be unique: {', '.join(repeated)} repeated")
        return sorted(value, key=lambda p: p.name)


class IamRoleAttrs(AttrsModel):
    arn: str
    unique_id: str = Field(description="Stable unique id of the role (`AROA...`).")
    create_date: str = Field(description="When the role was created (ISO 8601, UTC).")
    tags_all: dict[str, str] = tags_all_field()


class IamRole(TaggedResource[IamRoleArgs], Prefetching):
    type_name: ClassVar[str] = "aws_iam_role"
    service: ClassVar[str] = "iam"
    Args = IamRoleArgs
    Attrs = IamRoleAttrs

    name_max_len: ClassVar[int] = 64
    exists_codes: ClassVar[frozenset[str]] = frozenset({"EntityAlreadyExists"})

    def create(self, args: IamRoleArgs, meta: ResourceMeta) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        tags = all_tags(args.tags, meta)
        params: dict[str, Any] = {
            "RoleName": args.name, "Path": args.path,
            "AssumeRolePolicyDocument": args.assume_role_policy,
            "Description": args.description, "MaxSessionDuration": args.max_session_duration,
            "Tags": tag_list(tags),
        }
        if args.permissions_boundary:
            params["PermissionsBoundary"] = args.permissions_boundary
        try:
            role = self.client.create_role(**params)["Role"]
        except (ClientError, BotoCoreError) as exc:
            if not self.already_exists(exc):
                raise translate(exc, "CreateRole") from exc
            have = self.claim(args, meta, "CreateRole", exc)
        else:
            # Made from `args` just now, without policies: no read, which could still miss it.
            bare = args.model_copy(update={
                "managed_policy_arns": None if args.managed_policy_arns is None else [],
                "inline_policy": None if args.inline_policy is None else []})
            have = self.attributes(bare, **_computed(role, tags))
        try:
            self._converge(args.name, have, args, meta)
        except ProviderError as exc:
            cause = exc.__cause__
            if cause is not None and is_not_found(cause) and not self._visible(args.name):
                raise NotReady(f"role {args.name} is not visible to IAM yet") from None
            exc.partial = have  # the role exists: the engine records it (tainted)
            raise
        return self.read_back(args.name, _managed(args))

    def _visible(self, name: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.get_role(RoleName=name)
        except ClientError as exc:
            return not is_not_found(exc)
        return True

    prefetch_min: ClassVar[int] = 3

    def prefetch(self, items: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        """Every role's policies and tags from GetAccountAuthorizationDetails (pages of up to
        1,000 roles), instead of three or more calls per role. It lacks a role's description
        and session duration, so `read` still calls GetRole."""
        wanted = {id for id, _ in items}
        pages = self.client.get_paginator("get_account_authorization_details").paginate(
            Filter=["Role"], PaginationConfig={"PageSize": 1000})
        for page in pages:
            for detail in page.get("RoleDetailList", []):
                if detail["RoleName"] in wanted:
                    self._prefetched[detail["RoleName"]] = detail

    def read(self, id: str, prior: Mapping[str, Any]) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        detail = self._take(id)
        # Only the lists the role manages are read (see the module docstring); an import
        # (no prior) reads neither, so the config decides whether the role manages them.
        want_managed = prior.get("managed_policy_arns") is not None
        want_inline = prior.get("inline_policy") is not None
        managed: list[str] | None = None
        inline: list[dict[str, str]] | None = None
        try:
            role = self.client.get_role(RoleName=id)["Role"]
            if detail is not None:
                if want_managed:
                    managed = sorted(p["PolicyArn"] for p in detail["AttachedManagedPolicies"])
                if want_inline:
                    inline = [{"name": p["PolicyName"],
                               "policy": _live_policy(p["PolicyDocument"])}
                              for p in detail["RolePolicyList"]]
                role = {**role, "Tags": detail.get("Tags") or role.get("Tags")}
            else:
                managed = self._managed_arns(id) if want_managed else None
                inline = self._inline_policies(id) if want_inline else None
        except ClientError as exc:
            if is_not_found(exc):
                return None
            raise translate(exc, exc.operation_name) from exc
        return self._attributes(role, managed, inline, tag_dict(role.get("Tags")),
                                bool(prior.get("force_detach_policies", False)))

    def _attributes(self, role: Mapping[str, Any], managed: list[str] | None,
                    inline: list[dict[str, str]] | None, tags: dict[str, str],
                    force_detach: bool) -> dict[str, Any]:
        boundary = role.get("PermissionsBoundary") or {}
        args = IamRoleArgs.model_validate({
            "name": role["RoleName"],
            "path": role.get("Path", "/"),
            "assume_role_policy": _live_policy(role["AssumeRolePolicyDocument"]),
            "description": role.get("Description", ""),
            "max_session_duration": role.get("MaxSessionDuration", 3600),
            "permissions_boundary": boundary.get("PermissionsBoundaryArn"),
            "managed_policy_arns": managed,
            "inline_policy": inline,
            "force_detach_policies": force_detach,  # not stored by AWS
            "tags": user_tags(tags),
        })
        return self.attributes(args, **_computed(role, tags))

    def _managed_arns(self, name: str) -> list[str]:
        pages = self.client.get_paginator("list_attached_role_policies").paginate(RoleName=name)
        return [p["PolicyArn"] for page in pages for p in page["AttachedPolicies"]]

    def _inline_names(self, name: str) -> list[str]:
        pages = self.client.get_paginator("list_role_policies").paginate(RoleName=name)
        return [n for page in pages for n in page["PolicyNames"]]

    def _inline_policies(self, name: str) -> list[dict[str, str]]:
        from botocore.exceptions import ClientError

        policies = []
        for policy_name in self._inline_names(name):
            try:
                doc = self.client.get_role_policy(RoleName=name, PolicyName=policy_name)
            except ClientError as exc:
                if is_not_found(exc):
                    continue  # deleted since it was listed
                raise
            policies.append({"name": policy_name, "policy": _live_policy(doc["PolicyDocument"])})
        return policies

    def update(self, id: str, prior: Mapping[str, Any], args: IamRoleArgs,
               meta: ResourceMeta) -> dict[str, Any]:
        # Compare with the live role, not `prior`: policies are managed exclusively, and
        # detaching one that is already gone would fail.
        have = self.read(id, _managed(args))
        if have is None:
            raise ProviderError(f"role {id} no longer exists; refresh and plan again")
        self._converge(id, have, args, meta)
        return self.read_back(id, _managed(args))

    def _converge(self, name: str, have: Mapping[str, Any], args: IamRoleArgs,
                  meta: ResourceMeta) -> None:
        """Change the role from `have` (its attributes) to `args`, touching only what differs."""
        client = self.client
        if have["assume_role_policy"] != args.assume_role_policy:
            with aws_call("iam", "UpdateAssumeRolePolicy"):
                client.update_assume_role_policy(RoleName=name,
                                                 PolicyDocument=args.assume_role_policy)
        if (have["description"], have["max_session_duration"]) != (
                args.description, args.max_session_duration):
            with aws_call("iam", "UpdateRole"):
                client.update_role(RoleName=name, Description=args.description,
                                   MaxSessionDuration=args.max_session_duration)
        if have["permissions_boundary"] != args.permissions_boundary:
            if args.permissions_boundary:
                with aws_call("iam", "PutRolePermissionsBoundary"):
                    client.put_role_permissions_boundary(
                        RoleName=name, PermissionsBoundary=args.permissions_boundary)
            else:
                with aws_call("iam", "DeleteRolePermissionsBoundary"):
                    client.delete_role_permissions_boundary(RoleName=name)
        self._converge_policies(name, have, args)
        self.sync_tags(name, have["tags_all"], args.tags, meta)

    def _tag(self, ref: str, tags: Mapping[str, str]) -> None:
        with aws_call("iam", "TagRole"):
            self.client.tag_role(RoleName=ref, Tags=tag_list(tags))

    def _untag(self, ref: str, keys: Sequence[str]) -> None:
        with aws_call("iam", "UntagRole"):
            self.client.untag_role(RoleName=ref, TagKeys=list(keys))

    def _converge_policies(self, name: str, have: Mapping[str, Any], args: IamRoleArgs) -> None:
        """Make the lists the role manages exactly what `args` say; leave the others alone."""
        client = self.client
        managed, inline = args.managed_policy_arns, args.inline_policy
        have_arns = set(have["managed_policy_arns"] or ()) if managed is not None else set()
        want_arns = set(managed) if managed is not None else set()
        have_inline = ({p["name"]: p["policy"] for p in have["inline_policy"] or ()}
                       if inline is not None else {})
        want_inline = {p.name: p.policy for p in inline} if inline is not None else {}
        # Grant before revoking, so that a permission kept across the change never lapses.
        for arn in sorted(want_arns - have_arns):
            with aws_call("iam", "AttachRolePolicy"):
                client.attach_role_policy(RoleName=name, PolicyArn=arn)
        for policy_name, document in want_inline.items():
            if have_inline.get(policy_name) != document:
                with aws_call("iam", "PutRolePolicy"):
                    client.put_role_policy(RoleName=name, PolicyName=policy_name,
                                           PolicyDocument=document)
        for arn in sorted(have_arns - want_arns):
            with aws_call("iam", "DetachRolePolicy"):
                client.detach_role_policy(RoleName=name, PolicyArn=arn)
        for policy_name in sorted(have_inline.keys() - want_inline.keys()):
            with aws_call("iam", "DeleteRolePolicy"):
                client.delete_role_policy(RoleName=name, PolicyName=policy_name)

    def delete(self, id: str, prior: Mapping[str, Any]) -> None:
        from botocore.exceptions import ClientError

        client = self.client
        try:
            managed = self._managed_arns(id)
            inline = self._inline_names(id)
            pages = client.get_paginator("list_instance_profiles_for_role").paginate(RoleName=id)
            profiles = [p["InstanceProfileName"]
                        for page in pages for p in page["InstanceProfiles"]]
        except ClientError as exc:
            if is_not_found(exc):
                return
            raise translate(exc, exc.operation_name) from exc
        # IAM refuses to delete a role that still has policies or instance profiles.
        for arn in managed:
            self._gone_ok("DetachRolePolicy", client.detach_role_policy, RoleName=id,
                          PolicyArn=arn)
        for policy_name in inline:
            self._gone_ok("DeleteRolePolicy", client.delete_role_policy, RoleName=id,
                          PolicyName=policy_name)
        for profile in profiles:
            self._gone_ok("RemoveRoleFromInstanceProfile",
                          client.remove_role_from_instance_profile, RoleName=id,
                          InstanceProfileName=profile)
        try:
            client.delete_role(RoleName=id)
        except ClientError as exc:
            if is_not_found(exc):
                return
            if error_code(exc) == "DeleteConflict":
                # Detachments propagate asynchronously, or something attached a policy
                # meanwhile: the engine calls delete again, which lists and detaches again.
                raise NotReady(f"role {id}: {error_message(exc)}") from None
            raise translate(exc, "DeleteRole") from exc

    @staticmethod
    def _gone_ok(operation: str, call: Any, **params: Any) -> None:
        """Make `call`; what it would remove being gone already is success."""
        from botocore.exceptions import ClientError

        try:
            call(**params)
        except ClientError as exc:
            if not is_not_found(exc):
                raise translate(exc, operation) from exc

    def list(self) -> Iterator[Discovered]:
        from botocore.exceptions import ClientError

        with aws_call("iam", "ListRoles"):
            for page in self.client.get_paginator("list_roles").paginate():
                for role in page["Roles"]:
                    name = role["RoleName"]
                    try:
                        tags = self.client.list_role_tags(RoleName=name).get("Tags")
                    except ClientError as exc:
                        if is_not_found(exc):
                            continue  # deleted since it was listed
                        raise
                    yield Discovered(id=name, tags=tag_dict(tags))
