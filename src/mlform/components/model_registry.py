"""`model_registry`: a SageMaker model package group, where training registers model versions
and a reviewer approves them, and, with `share_with_accounts`, the group policy that lets other
accounts describe and list its packages (a registry shared by a central ML account).

`latest_approved` is the newest package in the group whose ModelApprovalStatus is Approved.
Only SageMaker knows it, so it is looked up when the config is loaded (a read-only call), and
`mlform lock` pins it like an image digest: with a lock, plans deploy the pinned package until
`mlform lock --update`, so an approval never changes production by itself. When there is no
approved package yet (or the group does not exist yet, on the first apply), the output carries
why, and a `model_endpoint` that uses it stops the plan with that reason at its
`model_package:` setting: apply the registry first, register and approve a version, then plan
the endpoint. Planning an endpoint without a model would make one that cannot serve.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar, Literal

from pydantic import Field

from mlform.components.base import ComponentModel, ExpandContext, Expansion

GROUP_TYPE = "aws_sagemaker_model_package_group"
POLICY_TYPE = "aws_sagemaker_model_package_group_policy"
GROUP, POLICY = f"{GROUP_TYPE}.this", f"{POLICY_TYPE}.this"


class ModelRegistry(ComponentModel):
    type: Literal["model_registry"]
    name: str | None = Field(
        None, max_length=63, pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$",
        description="Group name (default: <project>-<environment>-<component>).")
    description: str | None = Field(None, max_length=1024,
                                    description="Description of the group.")
    share_with_accounts: list[str] = Field(
        default_factory=list, description="AWS accounts (12 digits) that may describe and "
        "list the group's model packages.")

    outputs: ClassVar[dict[str, str]] = {
        "arn": "The model package group's ARN",
        "name": "The group's name",
        "latest_approved": "ARN of the newest Approved model package (looked up at load, "
                           "pinned by mlform.lock): a model_endpoint's `model_package`",
    }

    anchor: ClassVar[str | None] = GROUP_TYPE

    @classmethod
    def recognize(cls, found: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
        if not set(found) <= {GROUP_TYPE, POLICY_TYPE}:
            return None
        group = found[GROUP_TYPE]
        settings: dict[str, Any] = {"name": group["model_package_group_name"]}
        if group.get("model_package_group_description"):
            settings["description"] = group["model_package_group_description"]
        if group.get("tags"):
            settings["tags"] = group["tags"]
        policy = found.get(POLICY_TYPE)
        if policy is not None:
            try:
                statement = json.loads(policy["resource_policy"])["Statement"][0]
                principals = statement["Principal"]["AWS"]
                principals = [principals] if isinstance(principals, str) else principals
                settings["share_with_accounts"] = sorted(
                    p.split(":")[4] for p in principals)
            except (KeyError, IndexError, TypeError, ValueError, AttributeError):
                return None  # not the policy this component writes
        return settings

    def expand(self, ctx: ExpandContext) -> Expansion:
        out = Expansion()
        name = self.name or ctx.default_name(max_len=63)
        group: dict[str, Any] = {"model_package_group_name": name, "tags": self.tags}
        if self.description:
            group["model_package_group_description"] = self.description
        out.add(GROUP, **group)
        if self.share_with_accounts:
            out.add(POLICY, model_package_group_name=ctx.ref(GROUP, "model_package_group_name"),
                    resource_policy=self._policy(ctx, name))
        out.outputs = {"arn": ctx.ref(GROUP, "arn"),
                       "name": ctx.ref(GROUP, "model_package_group_name"),
                       "latest_approved": self._latest_approved(ctx, out, name)}
        return out

    def _policy(self, ctx: ExpandContext, name: str) -> str:
        accounts = sorted(set(self.share_with_accounts))
        bad = [a for a in accounts if len(a) != 12 or not a.isdigit()]
        if bad:
            raise ValueError(f"share_with_accounts: {', '.join(bad)} is not an AWS account id "
                             "(12 digits)")
        packages = f"arn:aws:sagemaker:{ctx.stack.region}:*:model-package/{name}/*"
        return json.dumps({"Version": "2012-10-17", "Statement": [{
            "Sid": "ShareModelPackages", "Effect": "Allow",
            "Principal": {"AWS": [f"arn:aws:iam::{a}:root" for a in accounts]},
            "Action": ["sagemaker:DescribeModelPackageGroup", "sagemaker:DescribeModelPackage",
                       "sagemaker:ListModelPackages"],
            "Resource": [ctx.ref(GROUP, "arn"), packages]}]}, sort_keys=True)

    def _latest_approved(self, ctx: ExpandContext, out: Expansion, name: str) -> Any:
        """The pinned or looked-up ARN; offline a placeholder; else why there is none (a
        mapping a model_endpoint turns into its error)."""
        pinned = ctx.pinned("model_package")
        if pinned is not None and pinned.get("group") == name:
            arn = str(pinned["arn"])
            out.notes.append(f"{ctx.name}: latest_approved -> {arn} (mlform.lock)")
        elif ctx.cloud is None:  # mlform validate: nothing is deployed from it
            return f"latest-approved-model-package-of-{name}"
        else:
            found, why = ctx.latest_approved(name)
            if found is None:
                return {"unresolved": why, "registry": ctx.name}
            arn = found
            out.notes.append(f"{ctx.name}: latest_approved -> {arn}")
            if ctx.locked is not None:
                out.unlocked.append(f"latest_approved of {name}")
        out.pins["model_package"] = {"group": name, "arn": arn}
        return arn
