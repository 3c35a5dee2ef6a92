"""An endpoint's instance counts through deploys, and the sandbox's UpdateEndpoint as AWS's.

Who owns the count decides what a move to a new endpoint configuration does with it: mlform
(`instance_counts` set) gives it the configuration's count; otherwise (the autoscaler owns it)
the live count is kept. The sandbox must answer UpdateEndpoint as AWS does for that to mean
anything: the configuration's counts by default, the live ones with RetainAllVariantProperties,
and a refusal when a variant registered with Application Auto Scaling changes instance type.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from mlform.providers.aws.sagemaker import SagemakerEndpoint
from mlform.providers.base import ResourceMeta, StackContext
from tests.providers.aws.test_sagemaker import IMAGE, role_arn  # noqa: F401 (a fixture)

VARIANT = "AllTraffic"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"


def _config(sm: Any, name: str, model: str, count: int = 1,
            instance_type: str = "ml.m5.large", weight: float = 1.0) -> str:
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[
        {"VariantName": VARIANT, "ModelName": model, "InitialInstanceCount": count,
         "InstanceType": instance_type, "InitialVariantWeight": weight}])
    return name


def _endpoint(boto: Any, uid: str, role_arn: str) -> tuple[Any, str]:  # noqa: F811
    """An endpoint on a configuration of one instance, scaled out of band to three."""
    sm = boto("sagemaker")
    sm.create_model(ModelName=f"m-{uid}", ExecutionRoleArn=role_arn,
                    PrimaryContainer={"Image": IMAGE})
    sm.create_endpoint(EndpointName=f"e-{uid}",
                       EndpointConfigName=_config(sm, f"c1-{uid}", f"m-{uid}"))
    _scale(sm, f"e-{uid}", 3)
    return sm, f"e-{uid}"


def _scale(sm: Any, name: str, count: int, weight: float = 1.0) -> None:
    sm.update_endpoint_weights_and_capacities(EndpointName=name, DesiredWeightsAndCapacities=[
        {"VariantName": VARIANT, "DesiredInstanceCount": count, "DesiredWeight": weight}])


def _live(sm: Any, name: str) -> tuple[int, float | None]:
    (variant,) = sm.describe_endpoint(EndpointName=name)["ProductionVariants"]
    return variant["DesiredInstanceCount"], variant.get("DesiredWeight")


# -- the sandbox's UpdateEndpoint, as AWS documents it ----------------------------------------

@pytest.mark.parametrize(("retain", "exclude", "expected"), [
    (None, [], (2, 0.5)),                       # the default: the configuration's
    (True, [], (3, 1.0)),                       # the live count and weight
    (True, ["DesiredWeight"], (3, 0.5)),        # live count, the configuration's weight
    (True, ["DesiredInstanceCount"], (2, 1.0)),
])
def test_sandbox_update_endpoint_keeps_what_is_retained(
        boto: Any, uid: str, role_arn: str,  # noqa: F811
        retain: bool | None, exclude: list[str], expected: tuple[int, float]) -> None:
    sm, name = _endpoint(boto, uid, role_arn)
    request: dict[str, Any] = {"EndpointName": name, "EndpointConfigName": _config(
        sm, f"c2-{uid}", f"m-{uid}", count=2, weight=0.5)}
    if retain is not None:
        request["RetainAllVariantProperties"] = retain
        request["ExcludeRetainedVariantProperties"] = [
            {"VariantPropertyType": p} for p in exclude]
    sm.update_endpoint(**request)
    assert _live(sm, name) == expected


def test_sandbox_refuses_a_new_instance_type_under_a_scalable_target(
        boto: Any, uid: str, role_arn: str) -> None:  # noqa: F811
    sm, name = _endpoint(boto, uid, role_arn)
    scaling = boto("application-autoscaling")
    resource_id = f"endpoint/{name}/variant/{VARIANT}"
    scaling.register_scalable_target(ServiceNamespace="sagemaker", ResourceId=resource_id,
                                     ScalableDimension=DIMENSION, MinCapacity=1, MaxCapacity=4)
    bigger = _config(sm, f"big-{uid}", f"m-{uid}", instance_type="ml.m5.xlarge")
    with pytest.raises(ClientError, match="Deregister the scalable target") as err:
        sm.update_endpoint(EndpointName=name, EndpointConfigName=bigger)
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert sm.describe_endpoint(EndpointName=name)["EndpointConfigName"] == f"c1-{uid}"
    # A new model on the same instance type is allowed, as on AWS.
    sm.update_endpoint(EndpointName=name,
                       EndpointConfigName=_config(sm, f"same-{uid}", f"m-{uid}"))
    scaling.deregister_scalable_target(ServiceNamespace="sagemaker", ResourceId=resource_id,
                                       ScalableDimension=DIMENSION)
    sm.update_endpoint(EndpointName=name, EndpointConfigName=bigger)
    assert sm.describe_endpoint(EndpointName=name)["EndpointConfigName"] == bigger


# -- the provider ------------------------------------------------------------------------------

def _args(name: str, config: str, counts: dict[str, int] | None) -> Any:
    return SagemakerEndpoint.Args.model_validate(
        {"name": name, "endpoint_config_name": config, "instance_counts": counts})


def _update(rt: SagemakerEndpoint, prior: dict[str, Any], args: Any,
            meta: ResourceMeta) -> dict[str, Any]:
    return rt.wait_ready(rt.update(prior["id"], prior, args, meta))


def test_a_deploy_keeps_the_count_the_autoscaler_set(
        aws_session: Any, stack_context: StackContext, boto: Any, uid: str,
        role_arn: str) -> None:  # noqa: F811
    sm, name = _endpoint(boto, uid, role_arn)
    rt = SagemakerEndpoint(aws_session)
    meta = ResourceMeta("aws_sagemaker_endpoint.e", stack_context)
    prior = rt.read(name, {"instance_counts": None})
    assert prior is not None and prior["instance_counts"] is None
    moved = _update(rt, prior, _args(name, _config(sm, f"c2-{uid}", f"m-{uid}"), None), meta)
    assert moved["endpoint_config_name"] == f"c2-{uid}"
    assert _live(sm, name) == (3, 1.0)
    # Managed counts follow the configuration, as before.
    managed = _update(rt, moved, _args(name, _config(sm, f"c3-{uid}", f"m-{uid}", count=2),
                                       {VARIANT: 2}), meta)
    assert _live(sm, name)[0] == 2 and managed["instance_counts"] == {VARIANT: 2}


def test_taking_over_and_handing_back_the_count_is_recorded(
        aws_session: Any, stack_context: StackContext, boto: Any, uid: str,
        role_arn: str) -> None:  # noqa: F811
    sm, name = _endpoint(boto, uid, role_arn)
    rt = SagemakerEndpoint(aws_session)
    meta = ResourceMeta("aws_sagemaker_endpoint.e", stack_context)
    unmanaged = rt.read(name, {"instance_counts": None})
    assert unmanaged is not None
    # autoscale removed: mlform takes the count over and scales to `replicas`.
    managed = _update(rt, unmanaged, _args(name, f"c1-{uid}", {VARIANT: 2}), meta)
    assert managed["instance_counts"] == {VARIANT: 2} == rt.read(name, managed)[  # type: ignore[index]
        "instance_counts"]
    assert _live(sm, name)[0] == 2
    # autoscale added back: the count is no longer recorded, so scaling is not drift.
    handed_back = _update(rt, managed, _args(name, f"c1-{uid}", None), meta)
    assert handed_back["instance_counts"] is None
    _scale(sm, name, 4)
    assert rt.read(name, handed_back) == handed_back
