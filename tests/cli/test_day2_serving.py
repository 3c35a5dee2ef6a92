"""Day 2 of a model endpoint, through the CLI: the example platform's `fraud-api` changed the
ways a team changes it (replicas, autoscale bounds, a model version, environment, autoscale
off and on, a new instance type), each planned, applied and planned again clean; and the order
of AWS calls around a new instance type, seen through a fault proxy on `target: aws`."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from tests.cli.conftest import Cli
from tests.faultproxy import FaultProxy

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ml-platform" / "mlform.yaml"
API = "module.fraud-api"
ENDPOINT = f"{API}.aws_sagemaker_endpoint.this"
CONFIG = f"{API}.aws_sagemaker_endpoint_configuration.this"
MODEL = f"{API}.aws_sagemaker_model.this"
TARGET = f"{API}.aws_appautoscaling_target.this"
POLICY = f"{API}.aws_appautoscaling_policy.this"
AUTOSCALE = "autoscale: {min: 1, max: 4, invocations_per_instance: 200}"
NAME = "fraud-dev-fraud-api"


def edit(cli: Cli, old: str, new: str) -> None:
    path = cli.cwd / "mlform.yaml"
    text = path.read_text()
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new))


def step(cli: Cli, *, updated: tuple[str, ...] = (), replaced: tuple[str, ...] = (),
         triggered: tuple[str, ...] = (), created: tuple[str, ...] = (),
         destroyed: tuple[str, ...] = (), summary: str | None = None) -> str:
    """Plan (checking the actions shown), apply that plan, and plan again: nothing to do."""
    r = cli.run("plan", "-out", "step.plan")
    assert r.code == 0, r.err
    expected = ([f"# {a} will be updated in-place" for a in updated]
                + [f"# {a} must be replaced" for a in replaced]
                + [f"# {a} will be replaced due to changes in replace_triggered_by"
                   for a in triggered]
                + [f"# {a} will be created" for a in created]
                + [f"# {a} will be destroyed" for a in destroyed])
    for line in expected:
        assert line in r.out, (line, r.out)
    shown = {a for a in (ENDPOINT, CONFIG, MODEL, TARGET, POLICY) if f"# {a} " in r.out}
    assert shown == {*updated, *replaced, *triggered, *created, *destroyed} & {
        ENDPOINT, CONFIG, MODEL, TARGET, POLICY}, r.out
    if summary is not None:
        assert summary in r.out, r.out
    applied = cli.run("apply", "step.plan")
    assert applied.code == 0, applied.err + applied.out
    again = cli.run("plan", "--detailed-exitcode")
    assert again.code == 0, again.out + again.err
    return r.out


def live_count(sm: Any) -> int:
    (variant,) = sm.describe_endpoint(EndpointName=NAME)["ProductionVariants"]
    return int(variant["DesiredInstanceCount"])


def scale(sm: Any, count: int) -> None:
    """What the autoscaler does: set the count out of band."""
    sm.update_endpoint_weights_and_capacities(EndpointName=NAME, DesiredWeightsAndCapacities=[
        {"VariantName": "AllTraffic", "DesiredInstanceCount": count}])


def test_day2_changes_to_the_example_endpoint(cli: Cli, sandbox: Any, boto: Any) -> None:
    shutil.copy(EXAMPLE, cli.cwd / "mlform.yaml")
    r = cli.run("apply", "--auto-approve")
    assert r.code == 0, r.err
    sm = boto("sagemaker", "eu-west-1")
    scaling = boto("application-autoscaling", "eu-west-1")

    # A new model version keeps the count the autoscaler set (it went back to 1).
    scale(sm, 3)
    r = cli.run("plan", "--var", "model_version=v2", "-out", "v2.plan")
    assert f"# {ENDPOINT} will be updated in-place" in r.out
    assert f"# {CONFIG} must be replaced" in r.out and f"# {MODEL} must be replaced" in r.out
    applied = cli.run("apply", "v2.plan")
    assert applied.code == 0, applied.err
    assert live_count(sm) == 3
    edit(cli, "model_version: {default: v1", "model_version: {default: v2")
    assert cli.run("plan", "--detailed-exitcode").code == 0

    # Autoscale bounds: the target alone, in place.
    edit(cli, AUTOSCALE, AUTOSCALE.replace("max: 4", "max: 6"))
    step(cli, updated=(TARGET,), summary="Plan: 0 to add, 1 to change, 0 to destroy.")
    (target,) = scaling.describe_scalable_targets(
        ServiceNamespace="sagemaker",
        ResourceIds=[f"endpoint/{NAME}/variant/AllTraffic"])["ScalableTargets"]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 6)

    # Replicas: a new configuration; the autoscaler still owns the live count.
    edit(cli, "replicas: {dev: 1, prod: 2}", "replicas: {dev: 2, prod: 2}")
    step(cli, updated=(ENDPOINT,), replaced=(CONFIG,))
    assert live_count(sm) == 3

    # Environment: a new model and configuration, moved to in place.
    edit(cli, "    gpu: T4\n", "    gpu: T4\n    environment: {LOG_LEVEL: debug}\n")
    step(cli, updated=(ENDPOINT,), replaced=(MODEL, CONFIG))
    (variant,) = sm.describe_endpoint_config(EndpointConfigName=sm.describe_endpoint(
        EndpointName=NAME)["EndpointConfigName"])["ProductionVariants"]
    model = sm.describe_model(ModelName=variant["ModelName"])
    assert model["PrimaryContainer"]["Environment"] == {"LOG_LEVEL": "debug"}

    # Autoscale off: mlform takes the count over, runs `replicas`, and then plans nothing.
    edit(cli, AUTOSCALE.replace("max: 4", "max: 6"), "")
    step(cli, updated=(ENDPOINT,), destroyed=(TARGET, POLICY))
    assert live_count(sm) == 2
    assert not scaling.describe_scalable_targets(ServiceNamespace="sagemaker",
                                                 ResourceIds=[f"endpoint/{NAME}/variant/"
                                                              "AllTraffic"])["ScalableTargets"]

    # Autoscale on again: the count is the autoscaler's, so scaling is not drift.
    edit(cli, "    replicas: {dev: 2, prod: 2}\n",
         f"    replicas: {{dev: 2, prod: 2}}\n    {AUTOSCALE}\n")
    step(cli, updated=(ENDPOINT,), created=(TARGET, POLICY))
    scale(sm, 3)
    assert cli.run("plan", "--detailed-exitcode").code == 0

    # A new instance type: the target and its policy are replaced around the endpoint's
    # update, which AWS (and the sandbox) refuse while the target is registered.
    edit(cli, "    gpu: T4\n", "    instance_type: ml.g4dn.2xlarge\n")
    step(cli, updated=(ENDPOINT,), replaced=(CONFIG,), triggered=(TARGET, POLICY))
    (variant,) = sm.describe_endpoint_config(EndpointConfigName=sm.describe_endpoint(
        EndpointName=NAME)["EndpointConfigName"])["ProductionVariants"]
    assert variant["InstanceType"] == "ml.g4dn.2xlarge"
    assert live_count(sm) == 3
    policies = scaling.describe_scaling_policies(
        ServiceNamespace="sagemaker",
        ResourceId=f"endpoint/{NAME}/variant/AllTraffic")["ScalingPolicies"]
    assert [p["PolicyName"] for p in policies] == [f"{NAME}-invocations"]


def test_autoscale_min_above_max_is_reported_alone(cli: Cli) -> None:
    text = EXAMPLE.read_text().replace(AUTOSCALE, "autoscale: {min: 7, max: 6, "
                                                  "invocations_per_instance: 200}")
    cli.write(text)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "min: 7" in t)
    column = text.splitlines()[line - 1].index("{") + 1
    r = cli.run("validate")
    assert (r.code, r.out) == (1, "")
    assert r.err == (f"Error: mlform.yaml:{line}:{column}: fraud-api.autoscale: min (7) is "
                     "above max (6)\n")


ORDERED = """\
project: s{uid}
environments:
  prod: {{target: aws, region: us-east-1}}
components:
  registry: {{type: container_registry, force_delete: true}}
  models: {{type: dataset_store, force_destroy: true}}
  api:
    type: model_endpoint
    image: ${{registry.url}}:v1
    model_data: ${{models.uri}}/api/model.tar.gz
    instance_type: {instance_type}
    autoscale: {{min: 1, max: 3, invocations_per_instance: 50}}
"""


def test_new_instance_type_deregisters_updates_then_registers(
        cli: Cli, proxy: FaultProxy, boto: Any, uid: str) -> None:
    cli.write(ORDERED.format(uid=uid, instance_type="ml.m5.large"))
    r = cli.run("apply", "--auto-approve")
    assert r.code == 0, r.err
    cli.write(ORDERED.format(uid=uid, instance_type="ml.m5.xlarge"))
    r = cli.run("plan")
    for address in ("aws_appautoscaling_target.this", "aws_appautoscaling_policy.this"):
        assert (f"# module.api.{address} will be replaced due to changes in "
                "replace_triggered_by") in r.out, r.out
    assert ("# (because module.api.aws_sagemaker_endpoint_configuration.this."
            "production_variants[0].instance_type changes)") in r.out
    assert "# module.api.aws_sagemaker_endpoint.this will be updated in-place" in r.out

    del proxy.seen[:]
    r = cli.run("apply", "--auto-approve")
    assert r.code == 0, r.err + r.out
    calls = proxy.seen
    steps = ["DeleteScalingPolicy", "DeregisterScalableTarget", "UpdateEndpoint",
             "RegisterScalableTarget", "PutScalingPolicy"]
    at = [calls.index(s) for s in steps]
    assert at == sorted(at), [c for c in calls if c in steps]
    # InService is checked after the update and before the target is registered again.
    assert "DescribeEndpoint" in calls[at[2] + 1:at[3]]
    assert cli.run("plan", "--detailed-exitcode").code == 0
    name = f"s{uid}-prod-api"
    scaling = boto("application-autoscaling")
    policies = scaling.describe_scaling_policies(
        ServiceNamespace="sagemaker",
        ResourceId=f"endpoint/{name}/variant/AllTraffic")["ScalingPolicies"]
    assert len(policies) == 1
    assert re.fullmatch(rf"s{uid}-prod-\S+", policies[0]["PolicyName"])
    assert cli.run("destroy", "--auto-approve").code == 0
