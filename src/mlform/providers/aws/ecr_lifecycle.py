"""Amazon ECR: `aws_ecr_lifecycle_policy`, the rules that expire a repository's old images.

A repository has at most one lifecycle policy, so the policy's id is the repository's name, and
it has no tags of its own (as Terraform's resource)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BeforeValidator, Field

from mlform.errors import NotReady
from mlform.providers.aws.base import AwsResource
from mlform.providers.aws.errors import aws_call, error_code, is_not_found, translate
from mlform.providers.base import (
    ArgsModel,
    AttrsModel,
    Discovered,
    ForceNew,
    JsonDocument,
    ResourceMeta,
    Timeouts,
)

NO_POLICY = "LifecyclePolicyNotFoundException"


def lifecycle_policy_json(value: Any) -> str:
    """A lifecycle policy, written as a mapping or as JSON text, as one canonical JSON string.

    Keys are sorted, rules are ordered by `rulePriority` (which, not their place in the list,
    orders them) and tag prefix and pattern lists are sorted, as Terraform compares policies:
    documents that differ only in those ways compare equal."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not a valid JSON lifecycle policy: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError("a lifecycle policy must be a mapping (a JSON object) with `rules`")
    rules = value.get("rules")
    if isinstance(rules, list) and all(isinstance(r, dict) for r in rules):
        rules = [_canonical_rule(r) for r in rules]
        if all(type(r.get("rulePriority")) is int for r in rules):  # else ECR reports it
            rules.sort(key=lambda r: r["rulePriority"])
        value = {**value, "rules": rules}
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _canonical_rule(rule: dict[str, Any]) -> dict[str, Any]:
    selection = rule.get("selection")
    if not isinstance(selection, dict):
        return rule
    selection = dict(selection)
    for key in ("tagPrefixList", "tagPatternList"):
        tags = selection.get(key)
        if isinstance(tags, list) and all(isinstance(t, str) for t in tags):
            if tags:
                selection[key] = sorted(tags)
            else:
                del selection[key]  # an empty list selects what no list selects
    return {**rule, "selection": selection}


def _rule_problems(rule: Any) -> list[str]:
    """Why ECR would refuse `rule` (ECR User Guide, "Lifecycle policy properties")."""
    if not isinstance(rule, dict):
        return ["a rule is a mapping with rulePriority, selection and action"]
    at = f"rule {rule.get('rulePriority')}"
    problems = [] if type(rule.get("rulePriority")) is int and rule["rulePriority"] >= 1 else [
        f"{at}: rulePriority must be a whole number, 1 or more"]
    sel = rule.get("selection")
    if not isinstance(sel, dict):
        return [*problems, f"{at}: selection is required"]
    status, count = sel.get("tagStatus"), sel.get("countType")
    lists = [k for k in ("tagPrefixList", "tagPatternList") if sel.get(k)]
    if status not in ("tagged", "untagged", "any"):
        problems.append(f"{at}: tagStatus must be tagged, untagged or any")
    elif status == "tagged" and len(lists) != 1:
        problems.append(f"{at}: tagStatus tagged needs tagPrefixList or tagPatternList "
                        "(one of them)")
    elif status != "tagged" and lists:
        problems.append(f"{at}: {lists[0]} goes only with tagStatus tagged")
    if count == "sinceImagePushed" and sel.get("countUnit") != "days":
        problems.append(f"{at}: countType sinceImagePushed needs countUnit: days")
    elif count == "imageCountMoreThan" and "countUnit" in sel:
        problems.append(f"{at}: countType imageCountMoreThan takes no countUnit")
    elif count not in ("sinceImagePushed", "imageCountMoreThan"):
        problems.append(f"{at}: countType must be imageCountMoreThan or sinceImagePushed")
    number = sel.get("countNumber")
    if type(number) is not int or number < 1:
        problems.append(f"{at}: countNumber must be a whole number, 1 or more")
    return problems


def _ecr_accepts(policy: str) -> str:
    rules = json.loads(policy).get("rules")
    if not isinstance(rules, list) or not rules:
        raise ValueError("a lifecycle policy needs at least one rule in `rules`")
    problems = [p for r in rules for p in _rule_problems(r)]
    priorities = [r.get("rulePriority") for r in rules if isinstance(r, dict)]
    twice = sorted({str(p) for p in priorities if priorities.count(p) > 1})
    if twice:
        problems.append(f"rulePriority must be unique: {', '.join(twice)} is used twice")
    anys = [r.get("rulePriority") for r in rules if isinstance(r, dict)
            and (r.get("selection") or {}).get("tagStatus") == "any"]
    numbers = [p for p in priorities if type(p) is int]
    if len(anys) > 1:
        problems.append("only one rule may have tagStatus any")
    elif anys and numbers and anys[0] != max(numbers):
        problems.append("the rule with tagStatus any must have the highest rulePriority "
                        "(ECR evaluates it last)")
    if problems:
        raise ValueError("; ".join(problems))
    return policy


class EcrLifecyclePolicyArgs(ArgsModel):
    repository: Annotated[str, ForceNew()] = Field(
        description="Name of the repository the policy applies to.")
    # On the type, not a field validator: the planner validates fields one by one, and a
    # policy whose other arguments are still unknown must already compare as it will apply.
    policy: Annotated[str, BeforeValidator(lifecycle_policy_json),
                      AfterValidator(_ecr_accepts), JsonDocument()] = Field(
        description="The lifecycle policy document (`rules`), as a mapping or a JSON string.")


class EcrLifecyclePolicyAttrs(AttrsModel):
    registry_id: str = Field(description="The account id of the repository's registry.")


class EcrLifecyclePolicy(AwsResource[EcrLifecyclePolicyArgs]):
    type_name: ClassVar[str] = "aws_ecr_lifecycle_policy"
    service: ClassVar[str] = "ecr"
    Args = EcrLifecyclePolicyArgs
    Attrs = EcrLifecyclePolicyAttrs
    name_arg: ClassVar[str] = "repository"  # the id is the repository's name; no default
    configures: ClassVar[str | None] = "aws_ecr_repository"
    tagged_at_create: ClassVar[bool] = False  # no tags: a repository's policy is ours
    # Waits for a repository made a moment ago, not longer: its name may just be misspelt.
    timeouts: ClassVar[Timeouts] = Timeouts(create=120.0, update=120.0, delete=120.0)

    def create(self, args: EcrLifecyclePolicyArgs, meta: ResourceMeta) -> dict[str, Any]:
        return self._put(args)

    def update(self, id: str, prior: Mapping[str, Any], args: EcrLifecyclePolicyArgs,
               meta: ResourceMeta) -> dict[str, Any]:
        return self._put(args)  # PutLifecyclePolicy replaces the whole policy

    def _put(self, args: EcrLifecyclePolicyArgs) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        try:
            self.client.put_lifecycle_policy(repositoryName=args.repository,
                                             lifecyclePolicyText=args.policy)
        except ClientError as exc:
            if error_code(exc) == "RepositoryNotFoundException":
                raise NotReady(f"repository {args.repository} does not exist (yet)") from exc
            raise translate(exc, "PutLifecyclePolicy") from exc
        attrs = self.read(args.repository, {})
        if attrs is None:
            raise NotReady(f"the lifecycle policy of repository {args.repository} is not "
                           "visible yet", retry_after=1.0)
        return attrs

    def read(self, id: str, prior: Mapping[str, Any]) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            got = self.client.get_lifecycle_policy(repositoryName=id)
        except ClientError as exc:
            if is_not_found(exc, NO_POLICY):  # no policy, or no repository at all
                return None
            raise translate(exc, "GetLifecyclePolicy") from exc
        args = EcrLifecyclePolicyArgs.model_validate(
            {"repository": got["repositoryName"], "policy": got["lifecyclePolicyText"]})
        return self.attributes(args, id=got["repositoryName"], registry_id=got["registryId"])

    def delete(self, id: str, prior: Mapping[str, Any]) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.delete_lifecycle_policy(repositoryName=id)
        except ClientError as exc:
            if not is_not_found(exc, NO_POLICY):
                raise translate(exc, "DeleteLifecyclePolicy") from exc

    def list(self) -> Iterator[Discovered]:
        with aws_call("ecr", "DescribeRepositories"):
            pages = self.client.get_paginator("describe_repositories").paginate()
            names = [repo["repositoryName"] for page in pages for repo in page["repositories"]]
        for name in names:
            if self.read(name, {}) is not None:
                yield Discovered(id=name)
