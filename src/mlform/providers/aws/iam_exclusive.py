"""AWS IAM, the whole of a role's policy lists: `aws_iam_role_policy_attachments_exclusive`
(the managed policies attached to a role) and `aws_iam_role_policies_exclusive` (the names of
its inline policies).

`aws_iam_role_policy` and `aws_iam_role_policy_attachment` each manage one policy, and a role
that leaves its lists unset manages none (see `iam`), so without these nothing would read the
lists themselves: a policy attached by hand would be nobody's drift. These read the role's
actual lists, so anything added outside mlform is drift of this resource, and their create and
update detach or delete whatever the list does not name, as Terraform's do.

As in Terraform, the id (and import id) is the role's name, and destroying one only stops the
management: nothing is detached or deleted. The role itself, once gone, reads as gone.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Annotated, Any, ClassVar

from pydantic import Field, field_validator

from mlform.providers.aws.base import tag_dict
from mlform.providers.aws.errors import is_not_found, translate
from mlform.providers.aws.iam_role_policies import _RolePart, _roles
from mlform.providers.base import (
    ArgsModel,
    AttrsModel,
    Discovered,
    ForceNew,
    Prefetching,
    ResourceMeta,
)


def _as_set(value: list[str]) -> list[str]:
    # A set in Terraform: order and repeats mean nothing.
    return sorted(set(value))


class _Exclusive(_RolePart, Prefetching):
    """What both share: the role as id, reads from the role's details (batched for a refresh
    through GetAccountAuthorizationDetails), and a delete that changes nothing."""

    # The `RoleDetailList` entry that holds the list, and how an item of it is named.
    detail_key: ClassVar[str]
    item_key: ClassVar[str]
    list_arg: ClassVar[str]

    def id_for(self, args: Any) -> str:
        return str(args.role_name)

    def prefetch(self, items: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        """Every role's lists in pages of up to 1,000 roles, instead of a call per role."""
        wanted = {id for id, _ in items}
        for detail in _roles(self.client):
            if detail["RoleName"] in wanted:
                self._prefetched[detail["RoleName"]] = detail

    def read(self, id: str, prior: Mapping[str, Any]) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        detail = self._take(id)
        if detail is not None:
            live = [p[self.item_key] for p in detail.get(self.detail_key, [])]
        else:
            try:
                live = self._live(id)
            except ClientError as exc:
                if is_not_found(exc):
                    return None  # the role is gone, and with it what this managed
                raise translate(exc, exc.operation_name) from exc
        args = self.Args.model_validate({"role_name": id, self.list_arg: live})
        return self.attributes(args, id=id)

    def _live(self, role: str) -> list[str]:
        """The role's list as IAM has it now (raises NoSuchEntity if the role is gone)."""
        raise NotImplementedError

    def create(self, args: Any, meta: ResourceMeta) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        try:
            self._converge(args.role_name, set(getattr(args, self.list_arg)))
        except ClientError as exc:
            raise self._role_missing(exc, args.role_name, exc.operation_name) from None
        return self.read_back(self.id_for(args), {})

    def update(self, id: str, prior: Mapping[str, Any], args: Any,
               meta: ResourceMeta) -> dict[str, Any]:
        return self.create(args, meta)  # both compare with the live lists: the same work

    def _converge(self, role: str, wanted: set[str]) -> None:
        raise NotImplementedError

    def delete(self, id: str, prior: Mapping[str, Any]) -> None:
        """Stop managing the role's list; its policies stay as they are (Terraform's rule:
        the policies are the role's, or other resources', to remove)."""

    def list(self) -> Iterator[Discovered]:
        for role in _roles(self.client):
            yield Discovered(id=role["RoleName"], tags=tag_dict(role.get("Tags")))


class IamRolePolicyAttachmentsExclusiveArgs(ArgsModel):
    role_name: Annotated[str, ForceNew()] = Field(description="Name of the role.")
    policy_arns: list[str] = Field(
        description="ARNs of every managed policy the role may have attached: any other is "
                    "detached, and any missing is attached. An empty list means none.")

    _set = field_validator("policy_arns")(_as_set)


class IamRolePolicyAttachmentsExclusiveAttrs(AttrsModel):
    pass


class IamRolePolicyAttachmentsExclusive(_Exclusive):
    """Exactly these managed policies, and no others, attached to a role."""

    type_name: ClassVar[str] = "aws_iam_role_policy_attachments_exclusive"
    Args = IamRolePolicyAttachmentsExclusiveArgs
    Attrs = IamRolePolicyAttachmentsExclusiveAttrs
    detail_key: ClassVar[str] = "AttachedManagedPolicies"
    item_key: ClassVar[str] = "PolicyArn"
    list_arg: ClassVar[str] = "policy_arns"

    def _live(self, role: str) -> list[str]:
        pages = self.client.get_paginator("list_attached_role_policies").paginate(RoleName=role)
        return [p["PolicyArn"] for page in pages for p in page["AttachedPolicies"]]

    def _converge(self, role: str, wanted: set[str]) -> None:
        client = self.client
        have = set(self._live(role))
        # Attach before detaching, so that a permission kept across the change never lapses.
        for arn in sorted(wanted - have):  # a ClientError here: `create` tells a missing role
            client.attach_role_policy(RoleName=role, PolicyArn=arn)
        for arn in sorted(have - wanted):
            self._gone_ok("DetachRolePolicy", client.detach_role_policy, RoleName=role,
                          PolicyArn=arn)

    @staticmethod
    def _gone_ok(operation: str, call: Any, **params: Any) -> None:
        from botocore.exceptions import ClientError

        try:
            call(**params)
        except ClientError as exc:
            if not is_not_found(exc):  # detached meanwhile, by its own resource: done
                raise translate(exc, operation) from exc


class IamRolePoliciesExclusiveArgs(ArgsModel):
    role_name: Annotated[str, ForceNew()] = Field(description="Name of the role.")
    policy_names: list[str] = Field(
        description="Names of every inline policy the role may have: any other is deleted. "
                    "The policies themselves are `aws_iam_role_policy` resources (a name has "
                    "no document to put). An empty list means none.")

    _set = field_validator("policy_names")(_as_set)


class IamRolePoliciesExclusiveAttrs(AttrsModel):
    pass


class IamRolePoliciesExclusive(_Exclusive):
    """Exactly these inline policies, and no others, in a role."""

    type_name: ClassVar[str] = "aws_iam_role_policies_exclusive"
    Args = IamRolePoliciesExclusiveArgs
    Attrs = IamRolePoliciesExclusiveAttrs
    detail_key: ClassVar[str] = "RolePolicyList"
    item_key: ClassVar[str] = "PolicyName"
    list_arg: ClassVar[str] = "policy_names"

    def _live(self, role: str) -> list[str]:
        pages = self.client.get_paginator("list_role_policies").paginate(RoleName=role)
        return [n for page in pages for n in page["PolicyNames"]]

    def _converge(self, role: str, wanted: set[str]) -> None:
        client = self.client
        for name in sorted(set(self._live(role)) - wanted):
            IamRolePolicyAttachmentsExclusive._gone_ok(
                "DeleteRolePolicy", client.delete_role_policy, RoleName=role, PolicyName=name)
