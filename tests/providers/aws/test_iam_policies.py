"""IAM policies as resources of their own, on the sandbox: managed policies, a role's inline
policies and attachments one by one, instance profiles, and how they live beside a role."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlform.api import Workspace
from mlform.engine.plan import Action
from mlform.providers.aws.iam import IamRole
from mlform.providers.aws.iam_policies import IamInstanceProfile, IamPolicy
from mlform.providers.aws.iam_role_policies import IamRolePolicy, IamRolePolicyAttachment
from mlform.providers.base import ResourceMeta, StackContext
from tests.providers.aws.contract import check_contract
from tests.providers.aws.test_iam import S3_READ, SAGEMAKER, allow, attached, inline_names, trust


def _role(aws_session: Any, stack_context: StackContext, name: str, **args: Any) -> IamRole:
    rt = IamRole(aws_session)
    rt.create(IamRole.Args.model_validate(
        {"name": name, "assume_role_policy": trust("ec2.amazonaws.com"), **args}),
        ResourceMeta("aws_iam_role.r", stack_context))
    return rt


def test_iam_policy_contract(aws_session: Any, stack_context: StackContext, uid: str,
                             boto: Any) -> None:
    name = f"pol-{uid}"
    attrs = check_contract(
        IamPolicy, aws_session, stack_context,
        create={"name": name, "path": "/ml/", "description": "read data",
                "policy": allow("s3:GetObject"), "tags": {"team": "ml"}},
        update={"name": name, "path": "/ml/", "description": "read data",
                "policy": allow("s3:GetObject", "s3:ListBucket"), "tags": {"team": "x"}})
    assert attrs["id"] == attrs["arn"] and attrs["arn"].endswith(f":policy/ml/{name}")
    assert attrs["policy_id"]


def test_iam_policy_keeps_within_five_versions(aws_session: Any, stack_context: StackContext,
                                               uid: str, boto: Any) -> None:
    rt = IamPolicy(aws_session)
    meta = ResourceMeta("aws_iam_policy.p", stack_context)
    attrs = rt.create(IamPolicy.Args.model_validate(
        {"name": f"v-{uid}", "policy": allow("s3:GetObject")}), meta)
    for i in range(7):  # IAM refuses a sixth version: the oldest goes first
        attrs = rt.update(attrs["id"], attrs, IamPolicy.Args.model_validate(
            {"name": f"v-{uid}", "policy": allow(f"s3:Get{i}")}), meta)
    assert attrs["policy"] == IamPolicy.Args.model_validate(
        {"name": "x", "policy": allow("s3:Get6")}).policy
    assert len(boto("iam").list_policy_versions(PolicyArn=attrs["id"])["Versions"]) == 5
    rt.delete(attrs["id"], attrs)
    assert rt.read(attrs["id"], attrs) is None


def test_iam_role_policy_contract(aws_session: Any, stack_context: StackContext,
                                  uid: str) -> None:
    role = f"rp-{uid}"
    _role(aws_session, stack_context, role)
    attrs = check_contract(
        IamRolePolicy, aws_session, stack_context, taggable=False,
        create={"name": "read", "role": role, "policy": allow("s3:GetObject")},
        update={"name": "read", "role": role, "policy": allow("s3:GetObject", "s3:PutObject")})
    assert attrs["id"] == f"{role}:read"
    IamRole(aws_session).delete(role, {})


def test_iam_role_policy_attachment_contract(aws_session: Any, stack_context: StackContext,
                                             uid: str) -> None:
    role = f"ra-{uid}"
    _role(aws_session, stack_context, role)
    attrs = check_contract(IamRolePolicyAttachment, aws_session, stack_context, taggable=False,
                           create={"role": role, "policy_arn": S3_READ})
    assert attrs["id"] == f"{role}/{S3_READ}"  # Terraform's import id
    IamRole(aws_session).delete(role, {})


def test_iam_instance_profile_contract(aws_session: Any, stack_context: StackContext,
                                       uid: str) -> None:
    first, second = f"ip1-{uid}", f"ip2-{uid}"
    _role(aws_session, stack_context, first)
    _role(aws_session, stack_context, second)
    attrs = check_contract(
        IamInstanceProfile, aws_session, stack_context,
        create={"name": f"prof-{uid}", "role": first, "tags": {"team": "ml"}},
        update={"name": f"prof-{uid}", "role": second})
    assert attrs["role"] == second and attrs["arn"].endswith(f":instance-profile/prof-{uid}")
    for role in (first, second):
        IamRole(aws_session).delete(role, {})


def test_a_role_leaves_alone_the_lists_it_does_not_set(
        aws_session: Any, stack_context: StackContext, uid: str, boto: Any) -> None:
    """The rule: `managed_policy_arns` / `inline_policy` unset = not managed by the role
    (neither read nor changed); a list that is set, even empty, is exclusive."""
    iam, name = boto("iam"), f"mix-{uid}"
    meta = ResourceMeta("aws_iam_role.r", stack_context)
    rt = _role(aws_session, stack_context, name, managed_policy_arns=[S3_READ],
               inline_policy=[{"name": "old", "policy": allow("s3:GetObject")}])
    iam.attach_role_policy(RoleName=name, PolicyArn=SAGEMAKER)  # as an attachment would
    iam.put_role_policy(RoleName=name, PolicyName="extra",
                        PolicyDocument=json.dumps(allow("s3:ListBucket")))
    unset = IamRole.Args.model_validate({"name": name,
                                         "assume_role_policy": trust("ec2.amazonaws.com")})
    # Moving from the role's own lists to separate resources removes nothing.
    attrs = rt.update(name, rt.read(name, {"managed_policy_arns": [], "inline_policy": []})
                      or {}, unset, meta)
    assert attrs["managed_policy_arns"] is None and attrs["inline_policy"] is None
    assert attached(iam, name) == {S3_READ, SAGEMAKER}
    assert inline_names(iam, name) == ["extra", "old"]
    assert rt.read(name, attrs) == attrs  # what others attach is no drift of the role
    # An empty list is managed: it means none.
    empty = unset.model_copy(update={"managed_policy_arns": []})
    attrs = rt.update(name, attrs, empty, meta)
    assert attached(iam, name) == set() and inline_names(iam, name) == ["extra", "old"]
    rt.delete(name, attrs)


TRUST = ('{Version: "2012-10-17", Statement: [{Effect: Allow, Action: "sts:AssumeRole", '
         'Principal: {Service: ec2.amazonaws.com}}]}')


def test_an_attachment_detached_by_hand_is_drift_that_apply_puts_back(
        tmp_path: Path, sandbox: Any, boto: Any, uid: str) -> None:
    path = tmp_path / "mlform.yaml"
    path.write_text(f"""project: att-{uid}
resources:
  aws_iam_role.worker: {{assume_role_policy: {TRUST}}}
  aws_iam_role_policy_attachment.read:
    role: ${{aws_iam_role.worker.name}}
    policy_arn: {S3_READ}
  aws_iam_role_policy.logs:
    role: ${{aws_iam_role.worker.name}}
    name: logs
    policy: {{Version: "2012-10-17",
             Statement: [{{Effect: Allow, Action: "logs:*", Resource: "*"}}]}}
  aws_iam_instance_profile.worker: {{role: "${{aws_iam_role.worker.name}}"}}
""")
    ws = Workspace(path)
    outcome = ws.apply(ws.plan())
    assert outcome.result is not None and outcome.result.ok, outcome.result.failed
    role = ws.state().resources["aws_iam_role.worker"].id
    assert not ws.plan().has_changes  # the role does not see its attachments as drift
    iam = boto("iam")
    iam.detach_role_policy(RoleName=role, PolicyArn=S3_READ)
    iam.delete_role_policy(RoleName=role, PolicyName="logs")
    plan = ws.plan()
    changed = {c.address for c in plan.changes if c.action is not Action.NOOP}
    assert changed == {"aws_iam_role_policy_attachment.read", "aws_iam_role_policy.logs"}
    assert ws.apply(plan).result.ok  # type: ignore[union-attr]
    assert attached(iam, role) == {S3_READ} and inline_names(iam, role) == ["logs"]
    assert not ws.plan().has_changes
    assert ws.apply(destroy=True).result.ok  # type: ignore[union-attr]
