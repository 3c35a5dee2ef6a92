from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from mlform.errors import ProviderError
from mlform.providers.aws.appautoscaling import AppautoscalingPolicy, AppautoscalingTarget
from mlform.providers.base import ResourceMeta, StackContext
from mlform.providers.schema import force_new_fields
from tests.providers.aws.contract import check_contract

NAMESPACE = "sagemaker"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"
INVOCATIONS = "SageMakerVariantInvocationsPerInstance"


@pytest.fixture
def variant(boto: Any, uid: str) -> Iterator[str]:
    """The resource id of the AllTraffic variant of a fresh SageMaker endpoint."""
    sm = boto("sagemaker")
    name = f"scaled-{uid}"
    sm.create_model(  # the sandbox does not check that the role exists
        ModelName=name, ExecutionRoleArn="arn:aws:iam::123456789012:role/sagemaker",
        PrimaryContainer={"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/serve:v1"})
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1,
         "InstanceType": "ml.m5.large"}])
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    yield f"endpoint/{name}/variant/AllTraffic"
    sm.delete_endpoint(EndpointName=name)
    sm.delete_endpoint_config(EndpointConfigName=name)
    sm.delete_model(ModelName=name)


def target_args(resource_id: str, **extra: Any) -> dict[str, Any]:
    return {"service_namespace": NAMESPACE, "resource_id": resource_id,
            "scalable_dimension": DIMENSION, "min_capacity": 1, "max_capacity": 2, **extra}


def policy_args(resource_id: str, name: str, **tracking: Any) -> dict[str, Any]:
    return {"name": name, "service_namespace": NAMESPACE, "resource_id": resource_id,
            "scalable_dimension": DIMENSION,
            "target_tracking_scaling_policy_configuration": {
                "target_value": 70,
                "predefined_metric_specification": {"predefined_metric_type": INVOCATIONS},
                **tracking}}


def live_target(boto: Any, resource_id: str) -> dict[str, Any]:
    found = boto("application-autoscaling").describe_scalable_targets(
        ServiceNamespace=NAMESPACE, ResourceIds=[resource_id], ScalableDimension=DIMENSION)
    [target] = found["ScalableTargets"]
    return dict(target)


@pytest.fixture
def targets(aws_session: Any) -> AppautoscalingTarget:
    return AppautoscalingTarget(aws_session)


@pytest.fixture
def policies(aws_session: Any) -> AppautoscalingPolicy:
    return AppautoscalingPolicy(aws_session)


@pytest.fixture
def meta(stack_context: StackContext) -> ResourceMeta:
    return ResourceMeta("aws_appautoscaling_target.test", stack_context)


def test_appautoscaling_target_contract(
    aws_session: Any, stack_context: StackContext, variant: str
) -> None:
    updated = check_contract(
        AppautoscalingTarget, aws_session, stack_context,
        create=target_args(variant, tags={"team": "ml"}),
        update=target_args(variant, min_capacity=2, max_capacity=6,
                           tags={"team": "platform", "cost-center": "42"}),
    )
    assert updated["id"] == variant  # the resource id, as in Terraform
    assert updated["arn"].startswith("arn:aws:application-autoscaling:")


def test_appautoscaling_policy_contract(
    aws_session: Any, stack_context: StackContext, variant: str, targets: AppautoscalingTarget,
    meta: ResourceMeta, uid: str,
) -> None:
    target = targets.create(AppautoscalingTarget.Args.model_validate(
        target_args(variant, max_capacity=4)), meta)
    name = f"invocations-{uid}"
    updated = check_contract(
        AppautoscalingPolicy, aws_session, stack_context, taggable=False,
        create=policy_args(variant, name),
        update=policy_args(variant, name, target_value=250.5, scale_in_cooldown=600,
                           scale_out_cooldown=60, disable_scale_in=True),
    )
    assert updated["id"] == name
    assert updated["arn"]
    assert updated["alarm_arns"] == []  # AWS makes them; the sandbox makes none for SageMaker
    targets.delete(target["id"], target)


def test_target_tracking_policy_on_an_endpoint_variant(
    targets: AppautoscalingTarget, policies: AppautoscalingPolicy, meta: ResourceMeta,
    variant: str, uid: str, boto: Any,
) -> None:
    target = targets.create(AppautoscalingTarget.Args.model_validate(
        target_args(variant, max_capacity=4)), meta)
    policy = policies.create(AppautoscalingPolicy.Args.model_validate(
        policy_args(variant, f"p-{uid}", scale_in_cooldown=300)),
        ResourceMeta("aws_appautoscaling_policy.test", meta.context))
    [live] = boto("application-autoscaling").describe_scaling_policies(
        ServiceNamespace=NAMESPACE, ResourceId=variant, ScalableDimension=DIMENSION,
    )["ScalingPolicies"]
    assert live["PolicyName"] == f"p-{uid}"
    assert live["PolicyType"] == "TargetTrackingScaling"
    config = live["TargetTrackingScalingPolicyConfiguration"]
    assert config["TargetValue"] == 70
    assert config["PredefinedMetricSpecification"] == {"PredefinedMetricType": INVOCATIONS}
    assert config["ScaleInCooldown"] == 300
    assert "ScaleOutCooldown" not in config  # unset: the service's default
    assert policy["policy_type"] == "TargetTrackingScaling"  # the default
    assert policy["target_tracking_scaling_policy_configuration"]["target_value"] == 70.0
    policies.delete(policy["id"], policy)
    assert policies.read(policy["id"], policy) is None
    targets.delete(target["id"], target)


def test_capacities_are_updated_in_place(
    targets: AppautoscalingTarget, meta: ResourceMeta, variant: str, boto: Any
) -> None:
    assert force_new_fields(AppautoscalingTarget.Args) == {
        "service_namespace", "resource_id", "scalable_dimension"}
    attrs = targets.create(AppautoscalingTarget.Args.model_validate(target_args(variant)), meta)
    updated = targets.update(variant, attrs, AppautoscalingTarget.Args.model_validate(
        target_args(variant, min_capacity=3, max_capacity=8)), meta)
    live = live_target(boto, variant)
    assert (live["MinCapacity"], live["MaxCapacity"]) == (3, 8)
    assert updated["arn"] == attrs["arn"] == live["ScalableTargetARN"]  # the same target
    assert (updated["min_capacity"], updated["max_capacity"]) == (3, 8)
    targets.delete(variant, updated)


def test_out_of_band_max_capacity_shows_in_read_and_update_undoes_it(
    targets: AppautoscalingTarget, meta: ResourceMeta, variant: str, boto: Any
) -> None:
    args = AppautoscalingTarget.Args.model_validate(target_args(variant, max_capacity=3))
    attrs = targets.create(args, meta)
    boto("application-autoscaling").register_scalable_target(
        ServiceNamespace=NAMESPACE, ResourceId=variant, ScalableDimension=DIMENSION,
        MaxCapacity=10)
    live = targets.read(variant, attrs)
    assert live is not None
    assert live["max_capacity"] == 10
    assert live == {**attrs, "max_capacity": 10}
    assert targets.update(variant, live, args, meta) == attrs
    assert live_target(boto, variant)["MaxCapacity"] == 3
    targets.delete(variant, attrs)


def test_create_refuses_a_target_registered_by_someone_else(
    targets: AppautoscalingTarget, meta: ResourceMeta, variant: str, boto: Any
) -> None:
    aas = boto("application-autoscaling")
    aas.register_scalable_target(ServiceNamespace=NAMESPACE, ResourceId=variant,
                                 ScalableDimension=DIMENSION, MinCapacity=1, MaxCapacity=9)
    with pytest.raises(ProviderError) as refused:
        targets.create(AppautoscalingTarget.Args.model_validate(target_args(variant)), meta)
    key = f"{NAMESPACE}/{variant}/{DIMENSION}"
    assert refused.value.message == (
        f"RegisterScalableTarget: aws_appautoscaling_target {key} already exists and was made "
        f"outside mlform: adopt it with `mlform import {meta.address} {key}`, or give this "
        "resource another name")
    assert live_target(boto, variant)["MaxCapacity"] == 9  # left alone
    aas.deregister_scalable_target(ServiceNamespace=NAMESPACE, ResourceId=variant,
                                   ScalableDimension=DIMENSION)


def test_create_again_finishes_its_own_target(
    targets: AppautoscalingTarget, meta: ResourceMeta, variant: str
) -> None:
    args = AppautoscalingTarget.Args.model_validate(target_args(variant, tags={"a": "b"}))
    attrs = targets.create(args, meta)
    assert targets.create(args, meta) == attrs  # as the engine does after NotReady
    targets.delete(variant, attrs)


def test_unset_role_is_not_compared(
    targets: AppautoscalingTarget, meta: ResourceMeta, variant: str
) -> None:
    role = "arn:aws:iam::123456789012:role/scaling"
    with_role = targets.create(AppautoscalingTarget.Args.model_validate(
        target_args(variant, role_arn=role)), meta)
    assert with_role["role_arn"] == role
    # AWS fills in its service-linked role when none is given; unset means "not managed".
    assert targets.read(variant, {**with_role, "role_arn": None}) == {
        **with_role, "role_arn": None}
    targets.delete(variant, with_role)


def test_deregistering_a_target_deletes_its_policies(
    targets: AppautoscalingTarget, policies: AppautoscalingPolicy, meta: ResourceMeta,
    variant: str, uid: str
) -> None:
    # As on AWS, so that a target registered again (a new instance type) has no policy until
    # mlform puts it back.
    target = targets.create(AppautoscalingTarget.Args.model_validate(target_args(variant)), meta)
    policy = policies.create(AppautoscalingPolicy.Args.model_validate(
        policy_args(variant, f"p-{uid}")), meta)
    targets.delete(variant, target)
    assert policies.read(f"p-{uid}", policy) is None


def test_missing_targets_and_policies_read_as_none_and_delete(
    targets: AppautoscalingTarget, policies: AppautoscalingPolicy, uid: str
) -> None:
    resource_id = f"endpoint/missing-{uid}/variant/AllTraffic"
    prior = target_args(resource_id)
    assert targets.read(resource_id, prior) is None
    targets.delete(resource_id, prior)
    prior = policy_args(resource_id, f"missing-{uid}")
    assert policies.read(f"missing-{uid}", prior) is None
    policies.delete(f"missing-{uid}", prior)


def test_read_needs_the_dimension_and_resource_id(
    targets: AppautoscalingTarget, policies: AppautoscalingPolicy
) -> None:
    with pytest.raises(ProviderError, match="scalable_dimension"):
        targets.read("endpoint/e/variant/AllTraffic", {})
    with pytest.raises(ProviderError, match="resource_id"):
        policies.read("p", {"scalable_dimension": DIMENSION})


@pytest.mark.parametrize("change", [
    {"min_capacity": 5, "max_capacity": 2},
    {"min_capacity": -1},
    {"scalable_dimension": "ecs:service:DesiredCount"},
])
def test_invalid_target_arguments_are_rejected(change: dict[str, Any]) -> None:
    AppautoscalingTarget.Args.model_validate(target_args("endpoint/e/variant/AllTraffic"))
    with pytest.raises(ValidationError):
        AppautoscalingTarget.Args.model_validate(
            {**target_args("endpoint/e/variant/AllTraffic"), **change})


@pytest.mark.parametrize("change", [
    {"policy_type": "StepScaling"},
    {"name": ""},
    {"target_tracking_scaling_policy_configuration": {"target_value": 70}},
])
def test_invalid_policy_arguments_are_rejected(change: dict[str, Any]) -> None:
    AppautoscalingPolicy.Args.model_validate(policy_args("endpoint/e/variant/AllTraffic", "p"))
    with pytest.raises(ValidationError):
        AppautoscalingPolicy.Args.model_validate(
            {**policy_args("endpoint/e/variant/AllTraffic", "p"), **change})


def test_policy_default_name_and_replacement(stack_context: StackContext) -> None:
    name = AppautoscalingPolicy.default_args(stack_context, "fraud_invocations")["name"]
    assert name == f"{stack_context.project}-{stack_context.environment}-fraud-invocations"
    assert force_new_fields(AppautoscalingPolicy.Args) == {
        "name", "service_namespace", "resource_id", "scalable_dimension"}
