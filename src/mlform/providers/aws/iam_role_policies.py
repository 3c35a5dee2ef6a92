"""AWS IAM, a role's policies one by one: `aws_iam_role_policy` (an inline policy) and
`aws_iam_role_policy_attachment` (a managed policy attached to a role).

Terraform 5.x prefers these to a role's own `inline_policy` and `managed_policy_arns`: each
policy is its own resource, so a plan shows which one changes, and a component can add one
without rewriting the role. The role leaves alone the lists it does not set (see `iam`), so
the two never fight over a policy.

Neither has tags: discovery reports each with its role's tags, so the policies of a role an
mlform stack made count as that stack's. Both list through GetAccountAuthorizationDetails,
which gives every role with its policies and tags in pages of up to 1,000 roles.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Annotated, Any, ClassVar

from pydantic import Field, field_validator

from mlform.errors import NotReady, ProviderError
from mlform.providers.aws.base import AwsResource, tag_dict
from mlform.providers.aws.errors import aws_call, is_not_found, translate
from mlform.providers.aws.iam import _live_policy, policy_json
from mlform.providers.base import (
    ArgsModel,
    AttrsModel,
    Discovered,
    ForceNew,
    JsonDocument,
    ResourceMeta,
    Timeouts,
)


def _roles(client: Any) -> Iterator[dict[str, Any]]:
    """Every role with its inline policies, attached policies and tags."""
    with aws_call("iam", "GetAccountAuthorizationDetails"):
        pages = client.get_paginator("get_account_authorization_details").paginate(
            Filter=["Role"], PaginationConfig={"PageSize": 1000})
        for page in pages:
            yield from page.get("RoleDetailList", [])


class _RolePart(AwsResource[Any]):
    """What both share: no tags, and an id that names the role."""

    service: ClassVar[str] = "iam"
    # A role made in the same apply may not be visible to IAM for a few seconds; a role that
    # does not exist at all should not keep an apply waiting ten minutes.
    timeouts: ClassVar[Timeouts] = Timeouts(create=120.0, update=120.0, delete=120.0)

    @classmethod
    def default_args(cls, ctx: Any, name: str) -> dict[str, Any]:
        return {}

    def find(self, args: ArgsModel, meta: ResourceMeta) -> dict[str, Any] | None:
        """The policy an interrupted create put: it has no tags, so whatever is there under
        its id is it (putting it again would make the same object)."""
        return self.read(self.id_for(args), {})

    def _role_missing(self, exc: BaseException, role: str, operation: str) -> Exception:
        if is_not_found(exc):
            return NotReady(f"{operation}: role {role} is not visible to IAM (yet)",
                            retry_after=2.0)
        return translate(exc, operation)


class IamRolePolicyArgs(ArgsModel):
    name: Annotated[str, ForceNew()] = Field(
        max_length=128, description="Name of the inline policy (unique within its role).")
    role: Annotated[str, ForceNew()] = Field(description="Name of the role it belongs to.")
    policy: Annotated[str, JsonDocument()] = Field(
        description="Policy document, as a mapping or a JSON string.")

    @field_validator("policy", mode="before", json_schema_input_type=str | dict[str, Any])
    @classmethod
    def _canonical_policy(cls, value: Any) -> str:
        return policy_json(value)


class IamRolePolicyAttrs(AttrsModel):
    pass


class IamRolePolicy(_RolePart):
    """An inline policy of a role. Its id is Terraform's, `<role>:<name>`."""

    type_name: ClassVar[str] = "aws_iam_role_policy"
    Args = IamRolePolicyArgs
    Attrs = IamRolePolicyAttrs

    def id_for(self, args: Any) -> str:
        return f"{args.role}:{args.name}"

    def create(self, args: Any, meta: ResourceMeta) -> dict[str, Any]:
        return self._put(args)

    def update(self, id: str, prior: Mapping[str, Any], args: Any,
               meta: ResourceMeta) -> dict[str, Any]:
        return self._put(args)

    def _put(self, args: IamRolePolicyArgs) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        try:  # PutRolePolicy makes or replaces: calling it again is harmless
            self.client.put_role_policy(RoleName=args.role, PolicyName=args.name,
                                        PolicyDocument=args.policy)
        except ClientError as exc:
            raise self._role_missing(exc, args.role, "PutRolePolicy") from None
        return self.read_back(self.id_for(args), {})

    def read(self, id: str, prior: Mapping[str, Any]) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        role, sep, name = id.partition(":")
        if not sep:
            raise ProviderError(f"aws_iam_role_policy id {id!r} is not <role>:<policy name>")
        try:
            doc = self.client.get_role_policy(RoleName=role, PolicyName=name)
        except ClientError as exc:
            if is_not_found(exc):
                return None
            raise translate(exc, "GetRolePolicy") from exc
        args = IamRolePolicyArgs(name=name, role=role,
                                 policy=_live_policy(doc["PolicyDocument"]))
        return self.attributes(args, id=id)

    def delete(self, id: str, prior: Mapping[str, Any]) -> None:
        from botocore.exceptions import ClientError

        role, _, name = id.partition(":")
        try:
            self.client.delete_role_policy(RoleName=role, PolicyName=name)
        except ClientError as exc:
            if not is_not_found(exc):
                raise translate(exc, "DeleteRolePolicy") from exc

    def list(self) -> Iterator[Discovered]:
        for role in _roles(self.client):
            tags = tag_dict(role.get("Tags"))
            for policy in role.get("RolePolicyList", []):
                yield Discovered(id=f"{role['RoleName']}:{policy['PolicyName']}", tags=tags)


class IamRolePolicyAttachmentArgs(ArgsModel):
    role: Annotated[str, ForceNew()] = Field(description="Name of the role.")
    policy_arn: Annotated[str, ForceNew()] = Field(
        description="ARN of the managed policy to attach (an AWS managed one, "
                    "`arn:aws:iam::aws:policy/...`, or an `aws_iam_policy`).")


class IamRolePolicyAttachmentAttrs(AttrsModel):
    pass


class IamRolePolicyAttachment(_RolePart):
    """A managed policy attached to a role. Its id is Terraform's import id,
    `<role>/<policy ARN>` (Terraform's own state id is a random one)."""

    type_name: ClassVar[str] = "aws_iam_role_policy_attachment"
    Args = IamRolePolicyAttachmentArgs
    Attrs = IamRolePolicyAttachmentAttrs

    def id_for(self, args: Any) -> str:
        return f"{args.role}/{args.policy_arn}"

    @staticmethod
    def _split(id: str) -> tuple[str, str]:
        role, sep, arn = id.partition("/")
        if not sep or not arn.startswith("arn:"):
            raise ProviderError(f"aws_iam_role_policy_attachment id {id!r} is not "
                                "<role name>/<policy ARN>")
        return role, arn

    def create(self, args: Any, meta: ResourceMeta) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        try:  # attaching what is attached already is no error
            self.client.attach_role_policy(RoleName=args.role, PolicyArn=args.policy_arn)
        except ClientError as exc:
            raise self._role_missing(exc, args.role, "AttachRolePolicy") from None
        return self.read_back(self.id_for(args), {})

    def update(self, id: str, prior: Mapping[str, Any], args: Any,
               meta: ResourceMeta) -> dict[str, Any]:
        return self.create(args, meta)  # every argument forces replacement: nothing to change

    def read(self, id: str, prior: Mapping[str, Any]) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        role, arn = self._split(id)
        try:
            pages = self.client.get_paginator("list_attached_role_policies").paginate(
                RoleName=role)
            attached = {p["PolicyArn"] for page in pages for p in page["AttachedPolicies"]}
        except ClientError as exc:
            if is_not_found(exc):
                return None
            raise translate(exc, "ListAttachedRolePolicies") from exc
        if arn not in attached:
            return None
        return {"role": role, "policy_arn": arn, "id": id}

    def delete(self, id: str, prior: Mapping[str, Any]) -> None:
        from botocore.exceptions import ClientError

        role, arn = self._split(id)
        try:
            self.client.detach_role_policy(RoleName=role, PolicyArn=arn)
        except ClientError as exc:
            if not is_not_found(exc):
                raise translate(exc, "DetachRolePolicy") from exc

    def list(self) -> Iterator[Discovered]:
        for role in _roles(self.client):
            tags = tag_dict(role.get("Tags"))
            for policy in role.get("AttachedManagedPolicies", []):
                yield Discovered(id=f"{role['RoleName']}/{policy['PolicyArn']}", tags=tags)
