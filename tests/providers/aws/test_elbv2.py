"""Load balancers, target groups and listeners against the sandbox (moto's elbv2, patched where
AWS behaves otherwise: see `mlform.sandbox.moto_patches.elbv2`)."""

from __future__ import annotations

from typing import Any

import pytest

from mlform.errors import NotReady, ProviderError
from mlform.providers.aws.ecs import EcsService
from mlform.providers.aws.elbv2 import Lb
from mlform.providers.aws.elbv2_listener import LbListener, LbTargetGroup
from mlform.providers.base import ResourceMeta, StackContext
from tests.providers.aws.contract import check_contract
from tests.providers.aws.test_ecs import CONTAINERS_YAML
from tests.providers.aws.test_rds import assert_plans_no_change, make_network


@pytest.fixture
def network(boto: Any) -> dict[str, Any]:
    return make_network(boto("ec2"))


def _lb(rt: Lb, name: str, network: dict[str, Any], ctx: StackContext,
        **overrides: Any) -> dict[str, Any]:
    args = Lb.Args.model_validate({"name": name, "internal": True,
                                   "subnets": network["subnets"][:2], **overrides})
    return rt.wait_ready(rt.create(args, ResourceMeta(f"aws_lb.{name}", ctx)))


def _tg(rt: LbTargetGroup, name: str, network: dict[str, Any],
        ctx: StackContext) -> dict[str, Any]:
    args = LbTargetGroup.Args.model_validate({"name": name, "port": 5000, "protocol": "HTTP",
                                              "vpc_id": network["vpc"], "target_type": "ip"})
    return rt.create(args, ResourceMeta(f"aws_lb_target_group.{name}", ctx))


# -- aws_lb ---------------------------------------------------------------------------------------

def test_lb_contract(aws_session: Any, stack_context: StackContext, uid: str,
                     network: dict[str, Any]) -> None:
    a, b, c = network["subnets"]
    create = {"name": f"lb-{uid}", "internal": True, "subnets": [b, a],
              "security_groups": [network["sg"]], "tags": {"team": "ml"}}
    update = {**create, "subnets": [a, c], "idle_timeout": 120,
              "access_logs": {"bucket": f"logs-{uid}", "prefix": "lb", "enabled": True},
              "tags": {"team": "platform"}}
    attrs = check_contract(Lb, aws_session, stack_context, create, update)
    assert attrs["id"] == attrs["arn"] and ":loadbalancer/app/" in attrs["arn"]
    assert attrs["dns_name"] and attrs["zone_id"] and attrs["vpc_id"] == network["vpc"]
    assert attrs["subnets"] == sorted([a, c]) and attrs["idle_timeout"] == 120


def test_lb_waits_until_active(aws_session: Any, stack_context: StackContext, uid: str,
                               network: dict[str, Any], boto: Any) -> None:
    rt = Lb(aws_session)
    args = Lb.Args.model_validate({"name": f"wait-{uid}", "subnets": network["subnets"][:2]})
    made = rt.create(args, ResourceMeta("aws_lb.wait", stack_context))
    # moto holds a new load balancer `provisioning` until it is next described.
    assert rt.wait_ready(made)["dns_name"] == made["dns_name"]
    rt.delete(made["id"], made)


def test_lb_create_again_finishes_its_own_and_refuses_a_taken_name(
        aws_session: Any, stack_context: StackContext, uid: str, network: dict[str, Any],
        boto: Any) -> None:
    rt = Lb(aws_session)
    first = _lb(rt, f"again-{uid}", network, stack_context)
    args = Lb.Args.model_validate({"name": f"again-{uid}", "internal": True,
                                   "subnets": network["subnets"][:2], "idle_timeout": 30})
    second = rt.create(args, ResourceMeta(f"aws_lb.again-{uid}", stack_context))
    assert second["id"] == first["id"] and second["idle_timeout"] == 30
    assert len([lb for lb in boto("elbv2").describe_load_balancers()["LoadBalancers"]
                if lb["LoadBalancerName"] == f"again-{uid}"]) == 1
    with pytest.raises(ProviderError, match=r"already exists and belongs to aws_lb\.again"):
        rt.create(args, ResourceMeta("aws_lb.other", stack_context))
    rt.delete(first["id"], first)


def test_deletion_protection_is_honoured(aws_session: Any, stack_context: StackContext,
                                         uid: str, network: dict[str, Any]) -> None:
    rt = Lb(aws_session)
    attrs = _lb(rt, f"keep-{uid}", network, stack_context, enable_deletion_protection=True)
    with pytest.raises(ProviderError, match="deletion protection: set "
                                            "enable_deletion_protection to false"):
        rt.delete(attrs["id"], attrs)
    args = Lb.Args.model_validate({**{k: attrs[k] for k in ("name", "internal", "subnets")},
                                   "enable_deletion_protection": False})
    attrs = rt.update(attrs["id"], attrs, args, ResourceMeta(f"aws_lb.keep-{uid}",
                                                             stack_context))
    rt.delete(attrs["id"], attrs)
    assert rt.read(attrs["id"], attrs) is None


def test_deleting_an_lb_takes_its_listeners(aws_session: Any, stack_context: StackContext,
                                            uid: str, network: dict[str, Any]) -> None:
    lb_rt, tg_rt, li_rt = Lb(aws_session), LbTargetGroup(aws_session), LbListener(aws_session)
    lb = _lb(lb_rt, f"del-{uid}", network, stack_context)
    tg = _tg(tg_rt, f"del-{uid}", network, stack_context)
    listener = li_rt.create(LbListener.Args.model_validate({
        "load_balancer_arn": lb["arn"], "port": 80,
        "default_action": [{"type": "forward", "target_group_arn": tg["arn"]}]}),
        ResourceMeta("aws_lb_listener.http", stack_context))
    with pytest.raises(NotReady, match="in use"):
        tg_rt.delete(tg["id"], tg)  # a listener forwards to it
    lb_rt.delete(lb["id"], lb)
    assert li_rt.read(listener["id"], listener) is None
    li_rt.delete(listener["id"], listener)  # gone with its load balancer: nothing to do
    tg_rt.delete(tg["id"], tg)
    assert tg_rt.read(tg["id"], tg) is None


# -- aws_lb_target_group --------------------------------------------------------------------------

def test_target_group_contract(aws_session: Any, stack_context: StackContext, uid: str,
                               network: dict[str, Any]) -> None:
    create = {"name": f"tg-{uid}", "port": 5000, "protocol": "HTTP", "vpc_id": network["vpc"],
              "target_type": "ip", "tags": {"team": "ml"}}
    update = {**create, "health_check": {"path": "/health", "matcher": "200-299",
                                         "interval": 15, "timeout": 10,
                                         "healthy_threshold": 2},
              "tags": {"team": "platform"}}
    attrs = check_contract(LbTargetGroup, aws_session, stack_context, create, update)
    assert attrs["id"] == attrs["arn"] and ":targetgroup/" in attrs["arn"]
    assert attrs["health_check"] == {
        "enabled": True, "path": "/health", "matcher": "200-299", "port": "traffic-port",
        "protocol": "HTTP", "interval": 15, "timeout": 10, "healthy_threshold": 2,
        "unhealthy_threshold": 3}


def test_health_check_update_is_in_place_and_plans_clean(
        aws_session: Any, stack_context: StackContext, uid: str, network: dict[str, Any],
        boto: Any) -> None:
    rt = LbTargetGroup(aws_session)
    meta = ResourceMeta("aws_lb_target_group.hc", stack_context)
    config = {"name": f"hc-{uid}", "port": 5000, "protocol": "HTTP", "vpc_id": network["vpc"],
              "target_type": "ip"}
    made = rt.create(LbTargetGroup.Args.model_validate(config), meta)
    assert_plans_no_change(LbTargetGroup, config, made)
    changed = {**config, "health_check": {"path": "/health", "interval": 10, "timeout": 4}}
    updated = rt.update(made["id"], made, LbTargetGroup.Args.model_validate(changed), meta)
    assert updated["id"] == made["id"]
    assert_plans_no_change(LbTargetGroup, changed, updated)
    (live,) = boto("elbv2").describe_target_groups(TargetGroupArns=[made["id"]])["TargetGroups"]
    assert (live["HealthCheckPath"], live["HealthCheckIntervalSeconds"]) == ("/health", 10)
    # A second create of the same group (a lost answer) carries on with it.
    assert rt.create(LbTargetGroup.Args.model_validate(changed), meta)["id"] == made["id"]
    rt.delete(made["id"], made)


def test_health_check_rules() -> None:
    args = LbTargetGroup.Args
    base = {"name": "t", "port": 80, "protocol": "TCP", "vpc_id": "vpc-1"}
    tcp = args.model_validate({**base, "health_check": {"protocol": "TCP"}}).health_check
    assert (tcp.path, tcp.matcher) == (None, None)
    with pytest.raises(ValueError, match="a TCP health check has no path"):
        args.model_validate({**base, "health_check": {"protocol": "TCP", "path": "/"}})
    with pytest.raises(ValueError, match="must be less than interval"):
        args.model_validate({**base, "health_check": {"interval": 10, "timeout": 10}})


# -- aws_lb_listener ------------------------------------------------------------------------------

def test_listener_contract_and_default_action_update(
        aws_session: Any, stack_context: StackContext, uid: str, network: dict[str, Any],
        boto: Any) -> None:
    lb = _lb(Lb(aws_session), f"li-{uid}", network, stack_context)
    tg_rt = LbTargetGroup(aws_session)
    blue = _tg(tg_rt, f"blue-{uid}", network, stack_context)
    green = _tg(tg_rt, f"green-{uid}", network, stack_context)
    create = {"load_balancer_arn": lb["arn"], "port": 80,
              "default_action": [{"type": "forward", "target_group_arn": blue["arn"]}],
              "tags": {"team": "ml"}}
    update = {**create, "default_action": [{"type": "forward",
                                            "target_group_arn": green["arn"]}]}
    rt = LbListener(aws_session)
    meta = ResourceMeta("aws_lb_listener.contract", stack_context)
    made = rt.create(LbListener.Args.model_validate(create), meta)
    assert made["ssl_policy"] is None and made["certificate_arn"] is None
    assert rt.create(LbListener.Args.model_validate(create), meta) == made  # called again
    updated = rt.update(made["id"], made, LbListener.Args.model_validate(update), meta)
    assert updated["id"] == made["id"]  # in place: the listener keeps its ARN
    (live,) = boto("elbv2").describe_listeners(ListenerArns=[made["id"]])["Listeners"]
    assert live["DefaultActions"][0]["TargetGroupArn"] == green["arn"]
    rt.delete(made["id"], made)
    attrs = check_contract(LbListener, aws_session, stack_context, update,
                           {**update, "tags": {"team": "platform"}})
    assert ":listener/app/" in attrs["id"]


def test_listener_refuses_a_port_taken_by_another(
        aws_session: Any, stack_context: StackContext, uid: str, network: dict[str, Any],
        boto: Any) -> None:
    lb = _lb(Lb(aws_session), f"port-{uid}", network, stack_context)
    fixed = {"type": "fixed-response",
             "fixed_response": {"content_type": "text/plain", "status_code": "404"}}
    boto("elbv2").create_listener(
        LoadBalancerArn=lb["arn"], Port=80, Protocol="HTTP", DefaultActions=[{
            "Type": "fixed-response", "FixedResponseConfig": {
                "ContentType": "text/plain", "StatusCode": "503"}}])
    args = LbListener.Args.model_validate({"load_balancer_arn": lb["arn"], "port": 80,
                                           "default_action": [fixed]})
    with pytest.raises(ProviderError, match="already exists and was made outside mlform"):
        LbListener(aws_session).create(args, ResourceMeta("aws_lb_listener.x", stack_context))


def test_listener_rules() -> None:
    args = LbListener.Args
    forward = [{"type": "forward", "target_group_arn": "arn:tg"}]
    with pytest.raises(ValueError, match="HTTPS listener needs certificate_arn"):
        args.model_validate({"load_balancer_arn": "arn:lb", "port": 443, "protocol": "HTTPS",
                             "default_action": forward})
    with pytest.raises(ValueError, match="forward action names target_group_arn"):
        args.model_validate({"load_balancer_arn": "arn:lb", "port": 80,
                             "default_action": [{"type": "forward"}]})


# -- aws_ecs_service's load_balancer block --------------------------------------------------------

def test_ecs_service_registers_into_a_target_group(
        aws_session: Any, stack_context: StackContext, uid: str, network: dict[str, Any],
        boto: Any) -> None:
    ecs = boto("ecs")
    ecs.create_cluster(clusterName=f"lbc-{uid}")
    task = ecs.register_task_definition(
        family=f"lbt-{uid}", containerDefinitions=CONTAINERS_YAML, cpu="256", memory="512",
        networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
    )["taskDefinition"]["taskDefinitionArn"]
    tg_rt = LbTargetGroup(aws_session)
    tg, other = (_tg(tg_rt, f"{n}-{uid}", network, stack_context) for n in ("svc", "svc2"))
    block = {"target_group_arn": tg["arn"], "container_name": "mlflow", "container_port": 5000}
    config = {"name": f"lbs-{uid}", "cluster": f"lbc-{uid}", "task_definition": task,
              "network_configuration": {"subnets": network["subnets"][:2]},
              "load_balancer": [block]}
    rt, meta = EcsService(aws_session), ResourceMeta("aws_ecs_service.s", stack_context)
    # As on AWS: a target group no listener forwards to cannot take a service's tasks.
    with pytest.raises(ProviderError, match="does not have an associated load balancer"):
        rt.create(EcsService.Args.model_validate(config), meta)
    lb = _lb(Lb(aws_session), f"svc-{uid}", network, stack_context)
    for port, group in ((80, tg), (81, other)):
        LbListener(aws_session).create(LbListener.Args.model_validate({
            "load_balancer_arn": lb["arn"], "port": port,
            "default_action": [{"type": "forward", "target_group_arn": group["arn"]}]}),
            ResourceMeta(f"aws_lb_listener.l{port}", stack_context))
    made = rt.create(EcsService.Args.model_validate(config), meta)
    assert made["load_balancer"] == [block]
    assert_plans_no_change(EcsService, config, made)
    moved = {**config, "load_balancer": [{**block, "target_group_arn": other["arn"]}]}
    updated = rt.update(made["id"], made, EcsService.Args.model_validate(moved), meta)
    assert updated["id"] == made["id"]
    assert updated["load_balancer"][0]["target_group_arn"] == other["arn"]
    rt.delete(updated["id"], updated)
