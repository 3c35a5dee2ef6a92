"""Drift found by comparing recorded and live attributes, field by field, and ignore_changes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar

from mlform.engine.drift import (
    BENIGN,
    RISKY,
    changed_paths,
    find_drift,
    is_ignored,
    keep_ignored,
    summary,
)
from mlform.providers.base import ArgsModel, AttrsModel, ResourceMeta, ResourceType, Sensitive
from mlform.providers.registry import ProviderSpec, build_registry, default_registry
from mlform.state.models import ResourceState


def test_changed_paths_go_into_maps_and_equal_length_lists() -> None:
    before = {"a": 1, "cfg": {"min": 0, "max": 4}, "rules": [{"days": 30}], "ids": [1]}
    after = {"a": 1, "cfg": {"min": 0, "max": 8}, "rules": [{"days": 60}], "ids": [1, 2]}
    assert list(changed_paths(before, after)) == [
        (("cfg", "max"), 4, 8), (("ids",), [1], [1, 2]), (("rules", 0, "days"), 30, 60)]


def test_ignore_covers_a_path_and_everything_under_it() -> None:
    assert is_ignored(("scaling_config", "desired_size"), ["scaling_config"])
    assert is_ignored(("scaling_config", "desired_size"), ["scaling_config.desired_size"])
    assert not is_ignored(("scaling_config", "max_size"), ["scaling_config.desired_size"])
    assert is_ignored(("anything",), "all")


def test_keep_ignored_takes_the_recorded_value() -> None:
    args = {"scaling_config": {"min_size": 0, "desired_size": 0, "max_size": 4}, "n": 1}
    prior = {"scaling_config": {"min_size": 0, "desired_size": 3, "max_size": 4}, "n": 5}
    kept = keep_ignored(args, prior, ["scaling_config.desired_size"], ["scaling_config", "n"])
    assert kept == {"scaling_config": {"min_size": 0, "desired_size": 3, "max_size": 4},
                    "n": 1}
    assert keep_ignored(args, prior, "all", ["scaling_config", "n"]) == prior
    assert args["scaling_config"]["desired_size"] == 0  # not changed in place


def state(type_name: str, **attrs: object) -> ResourceState:
    return ResourceState(type=type_name, id="x", attributes=dict(attrs))


def test_find_drift_classifies_and_leaves_computed_attributes_out() -> None:
    recorded = {
        "aws_s3_bucket.b": state("aws_s3_bucket", bucket="b", tags={}, arn="arn:1"),
        "aws_ecr_repository.r": state("aws_ecr_repository", name="r", tags={},
                                      image_scanning_configuration={"scan_on_push": True}),
        "aws_iam_role.gone": state("aws_iam_role", name="gone"),
        "aws_ecr_repository.quiet": state("aws_ecr_repository", name="q", repository_url="u1"),
    }
    live = {
        "aws_s3_bucket.b": state("aws_s3_bucket", bucket="b", tags={"owner": "alice"},
                                 arn="arn:1"),
        "aws_ecr_repository.r": state("aws_ecr_repository", name="r", tags={},
                                      image_scanning_configuration={"scan_on_push": False}),
        "aws_iam_role.gone": None,
        # Only a computed attribute moved: not drift.
        "aws_ecr_repository.quiet": state("aws_ecr_repository", name="q", repository_url="u2"),
    }
    found = {d.address: d for d in find_drift(recorded, live, default_registry())}
    assert set(found) == {"aws_s3_bucket.b", "aws_ecr_repository.r", "aws_iam_role.gone"}
    bucket = found["aws_s3_bucket.b"]
    assert (bucket.risk, [(f.path, f.recorded, f.live) for f in bucket.fields]) == (
        BENIGN, [("tags.owner", None, "alice")])
    repo = found["aws_ecr_repository.r"]
    assert (repo.risk, repo.fields[0].path) == (RISKY, "image_scanning_configuration.scan_on_push")
    assert (found["aws_iam_role.gone"].status, found["aws_iam_role.gone"].risk) == (
        "deleted", RISKY)
    assert summary(list(found.values())) == (
        "3 resources changed outside mlform (2 risky, 1 benign), 1 of them deleted.")


def test_ignored_changes_are_listed_apart() -> None:
    recorded = {"aws_eks_node_group.g": state(
        "aws_eks_node_group", scaling_config={"min_size": 0, "desired_size": 0, "max_size": 4})}
    live = {"aws_eks_node_group.g": state(
        "aws_eks_node_group", scaling_config={"min_size": 0, "desired_size": 2, "max_size": 4})}
    (d,) = find_drift(recorded, live, default_registry(),
                      {"aws_eks_node_group.g": ["scaling_config.desired_size"]})
    assert (d.fields, d.ignored) == ([], ["scaling_config.desired_size"])
    assert summary([d]) == "No drift: every managed object matches what mlform recorded."


class _SecretArgs(ArgsModel):
    name: str
    password: Annotated[str, Sensitive()]


class _SecretThing(ResourceType[_SecretArgs]):
    """A resource type of a test provider, with a sensitive argument."""

    type_name: ClassVar[str] = "testp_secret"
    Args = _SecretArgs
    Attrs = AttrsModel

    def create(self, args: _SecretArgs, meta: ResourceMeta) -> dict[str, Any]:
        raise NotImplementedError

    def read(self, id: str, prior: Mapping[str, Any]) -> dict[str, Any] | None:
        raise NotImplementedError

    def update(self, id: str, prior: Mapping[str, Any], args: _SecretArgs,
               meta: ResourceMeta) -> dict[str, Any]:
        raise NotImplementedError

    def delete(self, id: str, prior: Mapping[str, Any]) -> None:
        raise NotImplementedError


def test_sensitive_values_are_masked() -> None:
    registry = build_registry([ProviderSpec("testp", (_SecretThing,), lambda ctx: None)])
    recorded = {"testp_secret.s": state("testp_secret", name="a", password="old-secret")}
    live = {"testp_secret.s": state("testp_secret", name="b", password="new-secret")}
    (d,) = find_drift(recorded, live, registry)
    assert [(f.path, f.recorded, f.live) for f in d.fields] == [
        ("name", "a", "b"), ("password", "(sensitive value)", "(sensitive value)")]
    assert "old-secret" not in str(d) and "new-secret" not in str(d)
