"""AWS's documented rules that a config or a change can break, checked before apply.

Rules on values are the Args models' validators (reported when a config is loaded); rules on
changes are `check_change` (reported by the planner). Where moto accepts what AWS refuses, the
sandbox refuses it too: those tests drive the sandbox over HTTP.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from mlform.components.dataset_store import DatasetStore
from mlform.providers.aws.ecr import EcrRepository
from mlform.providers.aws.ecr_lifecycle import EcrLifecyclePolicy
from mlform.providers.aws.ecs_task_definition import EcsTaskDefinition
from mlform.providers.aws.rds import DbInstance
from mlform.providers.aws.s3_configuration import (
    S3BucketLifecycleConfiguration,
    S3BucketVersioning,
)
from mlform.providers.aws.s3_rules import lifecycle_problems
from mlform.providers.aws.sagemaker_platform import SagemakerNotebookInstance

DB = {"identifier": "db", "engine": "postgres", "instance_class": "db.t4g.micro",
      "allocated_storage": 100, "username": "admin"}


def _refused(model: Any, data: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as err:
        model.model_validate(data)
    return "; ".join(e["msg"] for e in err.value.errors())


# -- rules on changes ----------------------------------------------------------------------------

def test_rds_storage_only_grows_and_by_ten_percent_or_more() -> None:
    assert DbInstance.check_change(DB, {**DB, "allocated_storage": 110}) == []
    assert DbInstance.check_change(DB, {**DB, "allocated_storage": 50}) == [
        "allocated_storage cannot shrink (100 GiB to 50 GiB): RDS only grows storage. Keep it "
        "at 100 GiB or more, or move the data into a new, smaller instance yourself (a "
        "snapshot restores only to at least its own size)"]
    assert DbInstance.check_change(DB, {**DB, "allocated_storage": 105}) == [
        "allocated_storage must grow by at least 10% (100 GiB to 110 GiB or more, not 105): "
        "RDS would round it up to 110 GiB itself"]
    assert DbInstance.check_change({**DB, "allocated_storage": 21},
                                   {**DB, "allocated_storage": 24}) == []  # 21 * 1.1 = 23.1


def test_rds_engine_version_only_goes_up() -> None:
    before = {**DB, "engine_version": "16.4"}
    for fine in ("16.4", "16.6", "17", None):
        assert DbInstance.check_change(before, {**DB, "engine_version": fine}) == []
    assert "engine_version cannot go down (16.4 to 15.8)" in DbInstance.check_change(
        before, {**DB, "engine_version": "15.8"})[0]


def test_notebook_volume_only_grows_and_the_message_says_what_to_do() -> None:
    before = {"volume_size": 20}
    assert SagemakerNotebookInstance.check_change(before, {"volume_size": 30}) == []
    assert SagemakerNotebookInstance.check_change(before, {"volume_size": 10}) == [
        "volume_size cannot shrink (20 GB to 10 GB): SageMaker only grows a notebook's volume. "
        "Keep it at 20 or more; or, to start over with a smaller volume, rename the notebook "
        "component (or change the resource's `name`), which replaces the instance and loses "
        "what is on its volume"]


def test_a_versioned_bucket_cannot_go_back_to_disabled() -> None:
    def versioning(status: str) -> dict[str, Any]:
        return {"bucket": "b", "versioning_configuration": {"status": status}}

    assert S3BucketVersioning.check_change(versioning("Enabled"), versioning("Suspended")) == []
    assert S3BucketVersioning.check_change(versioning("Suspended"), versioning("Disabled")) == [
        "versioning_configuration.status cannot go from Suspended to Disabled: S3 cannot "
        "unversion a bucket; Suspended stops keeping new versions"]


# -- rules on values ------------------------------------------------------------------------------

def test_rds_storage_size_fits_the_storage_type() -> None:
    DbInstance.Args.model_validate({**DB, "storage_type": "io1"})
    assert _refused(DbInstance.Args, {**DB, "allocated_storage": 10}) == (
        "Value error, allocated_storage 10 GiB is outside what RDS allows for gp3 storage with "
        "postgres: 20 to 65536 GiB")
    assert "50 GiB is outside what RDS allows for io2" in _refused(
        DbInstance.Args, {**DB, "allocated_storage": 50, "storage_type": "io2"})
    assert "20 to 16384 GiB" in _refused(DbInstance.Args, {
        **DB, "engine": "sqlserver-ex", "allocated_storage": 20000})
    assert "should match pattern" in _refused(DbInstance.Args, {**DB, "instance_class": "t3"})


@pytest.mark.parametrize(("transitions", "expiration", "why"), [
    ([(29, "STANDARD_IA")], None, "a transition to STANDARD_IA must be at least 30 days after "
                                  "creation, not 29"),
    ([(0, "ONEZONE_IA")], None, "a transition to ONEZONE_IA must be at least 30 days"),
    ([(30, "STANDARD_IA"), (45, "GLACIER")], None,
     "the transition to GLACIER (day 45) must come at least 30 days after the one to "
     "STANDARD_IA (day 30)"),
    ([(10, "GLACIER"), (40, "STANDARD_IA")], None,
     "S3 cannot move objects from GLACIER to STANDARD_IA"),
    ([(30, "ONEZONE_IA"), (90, "GLACIER_IR")], None,
     "S3 cannot move objects from ONEZONE_IA to GLACIER_IR"),
    ([(30, "GLACIER"), (60, "GLACIER")], None, "GLACIER is more than once"),
    ([(90, "GLACIER")], 90, "objects must expire after their last transition"),
])
def test_lifecycle_rules_s3_refuses(transitions: list[tuple[int, str]], expiration: int | None,
                                    why: str) -> None:
    assert any(why in p for p in lifecycle_problems(transitions, expiration))
    rule = {"id": "r", "status": "Enabled",
            "transition": [{"days": d, "storage_class": c} for d, c in transitions]}
    if expiration is not None:
        rule["expiration"] = {"days": expiration}
    assert why in _refused(S3BucketLifecycleConfiguration.Args, {"bucket": "b", "rule": [rule]})


def test_lifecycle_rules_s3_accepts() -> None:
    assert lifecycle_problems([(0, "INTELLIGENT_TIERING"), (0, "GLACIER_IR")], None) != []
    for transitions, expiration in (([(30, "STANDARD_IA"), (60, "GLACIER")], 61),
                                    ([(0, "GLACIER_IR"), (1, "DEEP_ARCHIVE")], 365),
                                    ([(0, "INTELLIGENT_TIERING")], None), ([], 1)):
        assert lifecycle_problems(transitions, expiration) == []
    rule = {"id": "r", "status": "Enabled"}
    assert "rule ids must be unique: r is used twice" in _refused(
        S3BucketLifecycleConfiguration.Args, {"bucket": "b", "rule": [rule, rule]})


def test_dataset_store_says_it_in_its_own_terms() -> None:
    base = {"type": "dataset_store", "transition_days": 10}
    assert "set transition_days to 30 or more (it is 10)" in _refused(
        DatasetStore, {**base, "transition_storage_class": "STANDARD_IA"})
    assert "objects would expire (retention_days: 10) before they move" in _refused(
        DatasetStore, {**base, "retention_days": 10})
    DatasetStore.model_validate({**base, "transition_storage_class": "GLACIER_IR"})


def test_ecr_lifecycle_rules_and_names() -> None:
    def rule(priority: int, **selection: Any) -> dict[str, Any]:
        return {"rulePriority": priority, "action": {"type": "expire"},
                "selection": {"tagStatus": "any", "countType": "imageCountMoreThan",
                              "countNumber": 5, **selection}}

    def policy(*rules: dict[str, Any]) -> dict[str, Any]:
        return {"repository": "r", "policy": {"rules": list(rules)}}

    EcrLifecyclePolicy.Args.model_validate(policy(
        rule(1, tagStatus="tagged", tagPrefixList=["v"]), rule(2)))
    for rules, why in (
        ((rule(1), rule(2, tagStatus="untagged")), "the rule with tagStatus any must have the "
                                                   "highest rulePriority"),
        ((rule(1, tagStatus="untagged"), rule(1, tagStatus="untagged")),
         "rulePriority must be unique: 1 is used twice"),
        ((rule(1, tagStatus="tagged"),), "tagStatus tagged needs tagPrefixList or "
                                         "tagPatternList"),
        ((rule(1, countType="sinceImagePushed"),), "needs countUnit: days"),
        ((rule(1, countNumber=0),), "countNumber must be a whole number, 1 or more"),
    ):
        assert why in _refused(EcrLifecyclePolicy.Args, policy(*rules))
    assert "should match pattern" in _refused(EcrRepository.Args, {"name": "Models"})
    assert "a kms_key goes only with encryption_type KMS" in _refused(EcrRepository.Args, {
        "name": "models", "encryption_configuration": {"kms_key": "arn:aws:kms:k"}})


def test_fargate_task_sizes() -> None:
    task = {"family": "f", "container_definitions": [{"name": "c", "image": "i"}]}
    for cpu, memory in (("256", "512"), ("1024", "3072"), ("8192", "20480")):
        EcsTaskDefinition.Args.model_validate({**task, "cpu": cpu, "memory": memory})
    assert "Fargate gives a task of 512 CPU units 1024 to 4096 MiB of memory in steps of " \
           "1024, not 8192" in _refused(EcsTaskDefinition.Args,
                                        {**task, "cpu": "512", "memory": "8192"})
    assert "Fargate has no task size of 300 CPU units" in _refused(
        EcsTaskDefinition.Args, {**task, "cpu": "300", "memory": "1024"})
    EcsTaskDefinition.Args.model_validate({**task, "cpu": "300", "memory": "1024",
                                           "requires_compatibilities": ["EC2"]})


# -- the sandbox refuses what AWS refuses ----------------------------------------------------

def test_sandbox_rds_storage_cannot_shrink(boto: Any, uid: str) -> None:
    rds = boto("rds")
    rds.create_db_instance(DBInstanceIdentifier=f"s-{uid}", Engine="postgres",
                           DBInstanceClass="db.t4g.micro", AllocatedStorage=100,
                           MasterUsername="admin", ManageMasterUserPassword=True)
    with pytest.raises(rds.exceptions.ClientError, match="InvalidParameterCombination"):
        rds.modify_db_instance(DBInstanceIdentifier=f"s-{uid}", AllocatedStorage=50,
                               ApplyImmediately=True)
    rds.modify_db_instance(DBInstanceIdentifier=f"s-{uid}", AllocatedStorage=104,
                           ApplyImmediately=True)
    found = rds.describe_db_instances(DBInstanceIdentifier=f"s-{uid}")["DBInstances"][0]
    assert found["AllocatedStorage"] == 110  # AWS rounds a growth under 10% up to 10%


def test_sandbox_s3_lifecycle_rules(boto: Any, uid: str) -> None:
    s3 = boto("s3")
    s3.create_bucket(Bucket=f"rules-{uid}")

    def put(*transitions: tuple[int, str]) -> None:
        s3.put_bucket_lifecycle_configuration(Bucket=f"rules-{uid}", LifecycleConfiguration={
            "Rules": [{"ID": "r", "Status": "Enabled", "Filter": {"Prefix": ""},
                       "Transitions": [{"Days": d, "StorageClass": c}
                                       for d, c in transitions]}]})

    with pytest.raises(s3.exceptions.ClientError, match="InvalidArgument"):
        put((10, "STANDARD_IA"))
    with pytest.raises(s3.exceptions.ClientError, match="InvalidArgument"):
        put((30, "STANDARD_IA"), (40, "GLACIER"))
    put((30, "STANDARD_IA"), (60, "GLACIER"))
    rules = s3.get_bucket_lifecycle_configuration(Bucket=f"rules-{uid}")["Rules"]
    assert [t["StorageClass"] for t in rules[0]["Transitions"]] == ["STANDARD_IA", "GLACIER"]
