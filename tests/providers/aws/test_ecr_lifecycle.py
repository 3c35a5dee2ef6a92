from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from mlform.errors import NotReady
from mlform.providers.aws.ecr_lifecycle import EcrLifecyclePolicy
from mlform.providers.base import ResourceMeta, StackContext
from mlform.providers.schema import fill_defaults, force_new_fields
from mlform.values import UNKNOWN
from tests.providers.aws.contract import check_contract


def expire_untagged(days: int = 14) -> dict[str, Any]:
    return {"rulePriority": 1, "description": "untagged images",
            "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed",
                          "countUnit": "days", "countNumber": days},
            "action": {"type": "expire"}}


def keep_last(count: int, *prefixes: str) -> dict[str, Any]:
    return {"rulePriority": 2, "description": "old releases",
            "selection": {"tagStatus": "tagged", "tagPrefixList": list(prefixes),
                          "countType": "imageCountMoreThan", "countNumber": count},
            "action": {"type": "expire"}}


@pytest.fixture
def repository(boto: Any, uid: str) -> Any:
    name = f"lifecycle-{uid}"
    boto("ecr").create_repository(repositoryName=name)
    yield name
    boto("ecr").delete_repository(repositoryName=name, force=True)


@pytest.fixture
def rt(aws_session: Any) -> EcrLifecyclePolicy:
    return EcrLifecyclePolicy(aws_session)


@pytest.fixture
def meta(stack_context: StackContext) -> ResourceMeta:
    return ResourceMeta("aws_ecr_lifecycle_policy.test", stack_context)


def test_ecr_lifecycle_policy_contract(
    aws_session: Any, stack_context: StackContext, repository: str, boto: Any
) -> None:
    updated = check_contract(
        EcrLifecyclePolicy, aws_session, stack_context, taggable=False,
        create={"repository": repository, "policy": {"rules": [expire_untagged()]}},
        update={"repository": repository,
                "policy": json.dumps({"rules": [expire_untagged(7), keep_last(10, "v")]})},
    )
    assert updated["id"] == repository
    assert updated["registry_id"] == boto("ecr").describe_repositories(
        repositoryNames=[repository])["repositories"][0]["registryId"]


def test_policy_as_mapping_or_json_string_in_another_order_compares_equal() -> None:
    as_mapping = EcrLifecyclePolicy.Args.model_validate({
        "repository": "r", "policy": {"rules": [expire_untagged(), keep_last(5, "v", "release")]}})
    # Another key order, whitespace, rules listed out of priority order, prefixes reordered.
    text = ('{\n  "rules": [\n'
            '    {"action": {"type": "expire"}, "selection": {"countNumber": 5,\n'
            '      "countType": "imageCountMoreThan", "tagPrefixList": ["release", "v"],\n'
            '      "tagStatus": "tagged"}, "description": "old releases", "rulePriority": 2},\n'
            '    {"selection": {"countNumber": 14, "countUnit": "days", "tagStatus": "untagged",\n'
            '      "countType": "sinceImagePushed"}, "rulePriority": 1, "action": {"type":'
            ' "expire"}, "description": "untagged images"}\n  ]\n}')
    as_text = EcrLifecyclePolicy.Args.model_validate({"repository": "r", "policy": text})
    assert as_text.model_dump(mode="json") == as_mapping.model_dump(mode="json")
    assert json.loads(as_text.policy) == {"rules": [expire_untagged(),
                                                    keep_last(5, "release", "v")]}
    other = EcrLifecyclePolicy.Args.model_validate(
        {"repository": "r", "policy": {"rules": [expire_untagged(30)]}})
    assert other.policy != as_mapping.policy


def test_planner_normalises_the_policy_while_the_repository_is_unknown() -> None:
    # The planner validates field by field when another argument is only known after apply.
    planned = fill_defaults(EcrLifecyclePolicy.Args, {
        "repository": UNKNOWN, "policy": {"rules": [expire_untagged()]}})
    applied = EcrLifecyclePolicy.Args.model_validate({
        "repository": "r", "policy": json.dumps({"rules": [expire_untagged()]}, indent=2)})
    assert planned["repository"] is UNKNOWN
    assert planned["policy"] == applied.policy


def test_only_the_repository_forces_replacement() -> None:
    assert force_new_fields(EcrLifecyclePolicy.Args) == {"repository"}
    assert EcrLifecyclePolicy.default_args(
        StackContext(project="p", environment="e"), "x") == {}  # no default name


@pytest.mark.parametrize("policy", ["{not json", "[1, 2]", 42])
def test_invalid_policies_are_rejected(policy: Any) -> None:
    with pytest.raises(ValidationError):
        EcrLifecyclePolicy.Args.model_validate({"repository": "r", "policy": policy})


def test_same_policy_in_another_order_reads_back_unchanged(
    rt: EcrLifecyclePolicy, meta: ResourceMeta, repository: str, boto: Any
) -> None:
    args = EcrLifecyclePolicy.Args.model_validate(
        {"repository": repository,
         "policy": {"rules": [keep_last(3, "b", "a"), expire_untagged()]}})
    attrs = rt.create(args, meta)
    # Written out of band in yet another order: the same policy, so no change.
    boto("ecr").put_lifecycle_policy(repositoryName=repository, lifecyclePolicyText=json.dumps(
        {"rules": [expire_untagged(), keep_last(3, "a", "b")]}, indent=4))
    assert rt.read(repository, attrs) == attrs
    boto("ecr").put_lifecycle_policy(repositoryName=repository, lifecyclePolicyText=json.dumps(
        {"rules": [expire_untagged(1)]}))
    drifted = rt.read(repository, attrs)
    assert drifted is not None
    assert json.loads(drifted["policy"]) == {"rules": [expire_untagged(1)]}
    assert rt.update(repository, drifted, args, meta) == attrs


def test_delete_removes_the_policy_and_keeps_the_repository(
    rt: EcrLifecyclePolicy, meta: ResourceMeta, repository: str, boto: Any
) -> None:
    ecr = boto("ecr")
    attrs = rt.create(EcrLifecyclePolicy.Args.model_validate(
        {"repository": repository, "policy": {"rules": [expire_untagged()]}}), meta)
    rt.delete(repository, attrs)
    with pytest.raises(ecr.exceptions.LifecyclePolicyNotFoundException):
        ecr.get_lifecycle_policy(repositoryName=repository)
    assert ecr.describe_repositories(repositoryNames=[repository])["repositories"]
    assert rt.read(repository, attrs) is None
    rt.delete(repository, attrs)  # no policy: success
    assert repository not in {d.id for d in rt.list()}


def test_missing_repository_reads_as_none_and_deletes(rt: EcrLifecyclePolicy, uid: str) -> None:
    assert rt.read(f"missing-{uid}", {}) is None
    rt.delete(f"missing-{uid}", {})


def test_create_waits_for_a_repository_not_there_yet(
    rt: EcrLifecyclePolicy, meta: ResourceMeta, uid: str
) -> None:
    args = EcrLifecyclePolicy.Args.model_validate(
        {"repository": f"later-{uid}", "policy": {"rules": [expire_untagged()]}})
    with pytest.raises(NotReady, match=f"later-{uid}"):
        rt.create(args, meta)
