"""ECS clusters, task definitions and Fargate services against a real cloud on loopback.

Most tests run on the session's sandbox, where a service's deployment completes at once. The
tests of deployments in progress run on `cloud`, a moto server in this process, whose backend
they reach into.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlform.errors import NotReady, ProviderError
from mlform.providers.aws.ecs import EcsCluster, EcsService
from mlform.providers.aws.ecs_task_definition import EcsTaskDefinition
from mlform.providers.base import ResourceMeta, StackContext
from mlform.providers.schema import fill_defaults, force_new_fields
from mlform.values import UNKNOWN
from tests.providers.aws.contract import check_contract
from tests.providers.aws.test_rds import assert_plans_no_change, make_network

TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
    "Action": "sts:AssumeRole"}]}
IMAGE = "ghcr.io/mlflow/mlflow:v2.17.0"
CONTAINERS_YAML = [{
    "name": "mlflow", "image": IMAGE, "essential": True,
    "command": ["mlflow", "server", "--host", "0.0.0.0"],
    "portMappings": [{"containerPort": 5000, "protocol": "tcp"}],
    "environment": [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}],
}]
# The same containers as JSON text, keys in another order, AWS's defaults spelled out.
CONTAINERS_JSON = json.dumps([{
    "portMappings": [{"protocol": "tcp", "containerPort": 5000}],
    "environment": [{"value": "1", "name": "A"}, {"name": "B", "value": "2"}],
    "command": ["mlflow", "server", "--host", "0.0.0.0"], "cpu": 0, "mountPoints": [],
    "image": IMAGE, "name": "mlflow", "volumesFrom": []}], indent=2)


@pytest.fixture
def network(boto: Any) -> dict[str, Any]:
    return make_network(boto("ec2"))


@pytest.fixture
def roles(boto: Any, uid: str) -> dict[str, str]:
    iam = boto("iam")
    return {kind: iam.create_role(RoleName=f"{kind}-{uid}",
                                  AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
            for kind in ("execution", "task")}


def _task_args(family: str, roles: dict[str, str], **overrides: Any) -> dict[str, Any]:
    return {"family": family, "container_definitions": CONTAINERS_YAML, "cpu": "256",
            "memory": "512", "execution_role_arn": roles["execution"],
            "task_role_arn": roles["task"], **overrides}


# -- aws_ecs_cluster ----------------------------------------------------------------------------

def test_cluster_contract(aws_session: Any, stack_context: StackContext, uid: str) -> None:
    create = {"name": f"c-{uid}", "setting": [{"name": "containerInsights", "value": "enabled"}],
              "tags": {"team": "ml"}}
    attrs = check_contract(EcsCluster, aws_session, stack_context, create,
                           {"name": f"c-{uid}", "tags": {"team": "platform"}})
    assert attrs["id"] == attrs["arn"] == f"arn:aws:ecs:us-east-1:123456789012:cluster/c-{uid}"
    assert attrs["setting"] == []


def test_cluster_create_refuses_a_taken_name(aws_session: Any, stack_context: StackContext,
                                             uid: str, boto: Any) -> None:
    ecs = boto("ecs")
    ecs.create_cluster(clusterName=f"taken-{uid}", tags=[{"key": "owner", "value": "them"}])
    args = EcsCluster.Args.model_validate({"name": f"taken-{uid}", "tags": {"owner": "us"}})
    with pytest.raises(ProviderError, match="already exists"):
        EcsCluster(aws_session).create(args, ResourceMeta("aws_ecs_cluster.t", stack_context))
    theirs = ecs.describe_clusters(clusters=[f"taken-{uid}"], include=["TAGS"])["clusters"][0]
    assert theirs["tags"] == [{"key": "owner", "value": "them"}]


def test_cluster_create_called_again_finishes_its_own(
        aws_session: Any, stack_context: StackContext, uid: str, boto: Any) -> None:
    rt = EcsCluster(aws_session)
    meta = ResourceMeta("aws_ecs_cluster.again", stack_context)
    first = rt.create(EcsCluster.Args.model_validate({"name": f"again-{uid}"}), meta)
    args = EcsCluster.Args.model_validate({
        "name": f"again-{uid}", "setting": [{"name": "containerInsights", "value": "enhanced"}]})
    second = rt.create(args, meta)
    assert second["id"] == first["id"]
    assert second["setting"] == [{"name": "containerInsights", "value": "enhanced"}]
    # A setting left out goes back to AWS's default.
    third = rt.update(second["id"], second, EcsCluster.Args.model_validate(
        {"name": f"again-{uid}"}), meta)
    assert third["setting"] == []
    live = boto("ecs").describe_clusters(clusters=[third["id"]], include=["SETTINGS"])
    assert live["clusters"][0]["settings"] == [{"name": "containerInsights", "value": "disabled"}]
    rt.delete(third["id"], third)


# -- aws_ecs_task_definition --------------------------------------------------------------------

def test_task_definition_contract(aws_session: Any, stack_context: StackContext, uid: str,
                                  roles: dict[str, str]) -> None:
    create = _task_args(f"t-{uid}", roles, tags={"team": "ml"})
    attrs = check_contract(EcsTaskDefinition, aws_session, stack_context, create,
                           {**create, "tags": {"team": "platform"}})
    assert attrs["id"] == f"t-{uid}" and attrs["revision"] == 1
    assert attrs["arn"] == f"{attrs['arn_without_revision']}:1"
    assert attrs["requires_compatibilities"] == ["FARGATE"]
    assert attrs["network_mode"] == "awsvpc"


def test_container_definitions_compare_by_content() -> None:
    args = EcsTaskDefinition.Args
    yaml_form = args.model_validate({"family": "f", "container_definitions": CONTAINERS_YAML})
    json_form = args.model_validate({"family": "f", "container_definitions": CONTAINERS_JSON})
    assert yaml_form.container_definitions == json_form.container_definitions
    assert json.loads(yaml_form.container_definitions)[0]["environment"][0]["name"] == "A"
    # The planner normalises the field on its own, while other arguments are still unknown.
    planned = fill_defaults(args, {"family": UNKNOWN, "container_definitions": CONTAINERS_JSON})
    assert planned["container_definitions"] == yaml_form.container_definitions
    other = [{**CONTAINERS_YAML[0], "image": f"{IMAGE}-2"}]
    assert args.model_validate({"family": "f", "container_definitions": other}
                               ).container_definitions != yaml_form.container_definitions
    for bad in ("[{", "{}", [], [{"image": IMAGE}]):
        with pytest.raises(ValueError, match="container"):
            args.model_validate({"family": "f", "container_definitions": bad})
    sized = args.model_validate({"family": "f", "container_definitions": CONTAINERS_YAML,
                                 "cpu": "0.5 vCPU", "memory": "1 GB"})
    assert (sized.cpu, sized.memory) == ("512", "1024")
    assert args.model_validate({"family": "f", "container_definitions": CONTAINERS_YAML,
                                "cpu": 256}).cpu == "256"


def test_task_definition_change_registers_a_new_revision(
        aws_session: Any, stack_context: StackContext, uid: str, roles: dict[str, str],
        boto: Any) -> None:
    assert force_new_fields(EcsTaskDefinition.Args) == (
        set(EcsTaskDefinition.Args.model_fields) - {"tags"})
    rt = EcsTaskDefinition(aws_session)
    meta = ResourceMeta("aws_ecs_task_definition.t", stack_context)
    config = _task_args(f"r-{uid}", roles, container_definitions=CONTAINERS_JSON)
    first = rt.create(EcsTaskDefinition.Args.model_validate(config), meta)
    assert_plans_no_change(EcsTaskDefinition, {**config, "container_definitions":
                                               CONTAINERS_YAML}, first)
    assert rt.create(EcsTaskDefinition.Args.model_validate(config), meta) == first  # again
    # A newer revision, since deregistered, does not hide the active one.
    ecs = boto("ecs")
    newer = ecs.register_task_definition(family=f"r-{uid}", containerDefinitions=CONTAINERS_YAML,
                                         memory="512")["taskDefinition"]["taskDefinitionArn"]
    ecs.deregister_task_definition(taskDefinition=newer)
    assert rt.find(EcsTaskDefinition.Args.model_validate(config), meta) == first
    # A replacement, as the engine runs it: the old revision goes, then the new one comes.
    rt.delete(first["id"], first)
    second = rt.create(EcsTaskDefinition.Args.model_validate({**config, "memory": "1024"}),
                       meta)
    assert (second["id"], second["revision"], second["memory"]) == (f"r-{uid}", 3, "1024")
    assert rt.read(first["id"], first) is None
    old = ecs.describe_task_definition(taskDefinition=first["arn"])["taskDefinition"]
    assert old["status"] == "INACTIVE"
    rt.delete(second["id"], second)
    assert rt.find(EcsTaskDefinition.Args.model_validate(config), meta) is None


def test_task_definition_host_ports_aws_fills_in(
        aws_session: Any, stack_context: StackContext, uid: str, boto: Any) -> None:
    # With awsvpc networking AWS stores hostPort = containerPort where it was left out.
    container = {**CONTAINERS_YAML[0],
                 "portMappings": [{"containerPort": 5000, "hostPort": 5000, "protocol": "tcp"}]}
    boto("ecs").register_task_definition(
        family=f"h-{uid}", containerDefinitions=[container], networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"], cpu="256", memory="512")
    config = {"family": f"h-{uid}", "container_definitions": CONTAINERS_YAML, "cpu": "256",
              "memory": "512"}
    prior = EcsTaskDefinition.Args.model_validate(config).model_dump(mode="json")
    attrs = EcsTaskDefinition(aws_session).read(f"h-{uid}", prior)
    assert attrs is not None
    assert_plans_no_change(EcsTaskDefinition, config, attrs)
    explicit = {**config, "container_definitions": [container]}
    prior = EcsTaskDefinition.Args.model_validate(explicit).model_dump(mode="json")
    attrs = EcsTaskDefinition(aws_session).read(f"h-{uid}", prior)
    assert attrs is not None
    assert_plans_no_change(EcsTaskDefinition, explicit, attrs)


def test_task_definition_refuses_a_family_of_someone_else(
        aws_session: Any, stack_context: StackContext, uid: str, boto: Any,
        roles: dict[str, str]) -> None:
    boto("ecs").register_task_definition(family=f"theirs-{uid}", memory="512",
                                         containerDefinitions=CONTAINERS_YAML)
    args = EcsTaskDefinition.Args.model_validate(_task_args(f"theirs-{uid}", roles))
    with pytest.raises(ProviderError, match="already exists"):
        EcsTaskDefinition(aws_session).create(
            args, ResourceMeta("aws_ecs_task_definition.t", stack_context))


# -- aws_ecs_service ----------------------------------------------------------------------------

@pytest.fixture
def fargate(aws_session: Any, stack_context: StackContext, uid: str, roles: dict[str, str],
            network: dict[str, Any]) -> dict[str, Any]:
    """A cluster and two revisions of a task definition, made with boto."""
    import boto3

    ecs = boto3.client("ecs", endpoint_url=aws_session.endpoint_url, region_name="us-east-1")
    cluster = ecs.create_cluster(clusterName=f"sc-{uid}")["cluster"]["clusterArn"]
    tasks = [ecs.register_task_definition(
        family=f"sf-{uid}", containerDefinitions=CONTAINERS_YAML, cpu="256", memory=memory,
        networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
        executionRoleArn=roles["execution"])["taskDefinition"]["taskDefinitionArn"]
        for memory in ("512", "1024")]
    return {"cluster": cluster, "tasks": tasks, **network}


def _service_args(uid: str, fargate: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    return {"name": f"s-{uid}", "cluster": f"sc-{uid}", "task_definition": fargate["tasks"][0],
            "network_configuration": {"subnets": fargate["subnets"][:2],
                                      "security_groups": [fargate["sg"]]}, **overrides}


def test_service_contract(aws_session: Any, stack_context: StackContext, uid: str,
                          fargate: dict[str, Any]) -> None:
    create = _service_args(uid, fargate, tags={"team": "ml"})
    attrs = check_contract(
        EcsService, aws_session, stack_context, create,
        {**create, "desired_count": 2, "task_definition": f"sf-{uid}:2",
         "network_configuration": {"subnets": fargate["subnets"][1:],
                                   "assign_public_ip": True},
         "tags": {"team": "platform"}})
    assert attrs["id"] == attrs["arn"] == (
        f"arn:aws:ecs:us-east-1:123456789012:service/sc-{uid}/s-{uid}")
    assert attrs["cluster"] == f"sc-{uid}"


def test_fargate_service_changes_in_place(aws_session: Any, stack_context: StackContext,
                                          uid: str, roles: dict[str, str],
                                          network: dict[str, Any], boto: Any) -> None:
    def meta(name: str) -> ResourceMeta:
        return ResourceMeta(name, stack_context)

    cluster = EcsCluster(aws_session).create(EcsCluster.Args.model_validate(
        {"name": f"mlflow-{uid}"}), meta("aws_ecs_cluster.c"))
    tasks = EcsTaskDefinition(aws_session)
    task = tasks.create(EcsTaskDefinition.Args.model_validate(
        _task_args(f"mlflow-{uid}", roles)), meta("aws_ecs_task_definition.t"))
    rt = EcsService(aws_session)
    config = {"name": f"mlflow-{uid}", "cluster": cluster["id"], "task_definition": task["arn"],
              "wait_for_steady_state": True,
              "network_configuration": {"subnets": network["subnets"][:2],
                                        "security_groups": [network["sg"]]}}
    attrs = rt.wait_ready(rt.create(EcsService.Args.model_validate(config),
                                    meta("aws_ecs_service.s")))
    assert attrs == rt.read(attrs["id"], attrs)
    assert_plans_no_change(EcsService, config, attrs)
    assert attrs["launch_type"] == "FARGATE" and attrs["desired_count"] == 1

    # A new revision, then the service moves to it and scales, keeping its ARN.
    tasks.delete(task["id"], task)
    new_task = tasks.create(EcsTaskDefinition.Args.model_validate(
        _task_args(f"mlflow-{uid}", roles, memory="1024")), meta("aws_ecs_task_definition.t"))
    moved = {**config, "task_definition": new_task["arn"], "desired_count": 3}
    updated = rt.wait_ready(rt.update(attrs["id"], attrs, EcsService.Args.model_validate(moved),
                                      meta("aws_ecs_service.s")))
    assert updated["arn"] == attrs["arn"]
    assert_plans_no_change(EcsService, moved, updated)
    live = boto("ecs").describe_services(cluster=f"mlflow-{uid}",
                                         services=[f"mlflow-{uid}"])["services"][0]
    assert (live["taskDefinition"], live["desiredCount"]) == (new_task["arn"], 3)
    assert live["runningCount"] == 3  # the sandbox settles at once

    # Delete scales it to zero first: ECS refuses to delete a service that still wants tasks.
    rt.delete(updated["id"], updated)
    assert rt.read(updated["id"], updated) is None
    gone = boto("ecs").describe_services(cluster=f"mlflow-{uid}",
                                         services=[f"mlflow-{uid}"])["services"][0]
    assert (gone["status"], gone["desiredCount"]) == ("INACTIVE", 0)
    EcsCluster(aws_session).delete(cluster["id"], cluster)
    assert EcsCluster(aws_session).read(cluster["id"], cluster) is None


def test_service_create_refuses_a_taken_name(aws_session: Any, stack_context: StackContext,
                                             uid: str, fargate: dict[str, Any],
                                             boto: Any) -> None:
    ecs = boto("ecs")
    ecs.create_service(cluster=f"sc-{uid}", serviceName=f"s-{uid}",
                       taskDefinition=fargate["tasks"][1], desiredCount=0)
    args = EcsService.Args.model_validate(_service_args(uid, fargate))
    with pytest.raises(ProviderError, match="not idempotent"):
        EcsService(aws_session).create(args, ResourceMeta("aws_ecs_service.t", stack_context))
    theirs = ecs.describe_services(cluster=f"sc-{uid}", services=[f"s-{uid}"])["services"][0]
    assert (theirs["taskDefinition"], theirs["desiredCount"]) == (fargate["tasks"][1], 0)


def test_service_create_called_again_finishes_its_own(
        aws_session: Any, stack_context: StackContext, uid: str,
        fargate: dict[str, Any]) -> None:
    rt = EcsService(aws_session)
    meta = ResourceMeta("aws_ecs_service.again", stack_context)
    first = rt.create(EcsService.Args.model_validate(_service_args(uid, fargate)), meta)
    again = _service_args(uid, fargate, desired_count=2, cluster=fargate["cluster"])
    second = rt.create(EcsService.Args.model_validate(again), meta)
    assert second["id"] == first["id"]
    assert (second["desired_count"], second["cluster"]) == (2, fargate["cluster"])
    rt.delete(second["id"], second)


@pytest.mark.parametrize("rtype", [EcsCluster, EcsTaskDefinition, EcsService])
def test_missing_objects(aws_session: Any, uid: str, rtype: type[Any]) -> None:
    rt = rtype(aws_session)
    assert rt.read(f"missing-{uid}", {}) is None
    rt.delete(f"missing-{uid}", {})  # returns silently


# -- on the in-process cloud --------------------------------------------------------------------

def test_service_deployment_states(cloud: str, stack_context: StackContext, uid: str) -> None:
    import boto3
    from moto.ecs.models import ecs_backends

    from mlform.providers.aws.session import AwsSession

    ecs = boto3.client("ecs", endpoint_url=cloud, region_name="us-east-1")
    ecs.create_cluster(clusterName=f"dc-{uid}")
    task = ecs.register_task_definition(family=f"df-{uid}", containerDefinitions=CONTAINERS_YAML,
                                        memory="512")["taskDefinition"]["taskDefinitionArn"]
    rt = EcsService(AwsSession(stack_context, endpoint_url=cloud))
    meta = ResourceMeta("aws_ecs_service.d", stack_context)
    args = EcsService.Args.model_validate({"name": f"d-{uid}", "cluster": f"dc-{uid}",
                                           "task_definition": task, "launch_type": "EC2",
                                           "wait_for_steady_state": True})
    attrs = rt.create(args, meta)
    service = ecs_backends["123456789012"]["us-east-1"].services[f"dc-{uid}:d-{uid}"]
    primary = service.deployments[0]
    service.deployments = [primary, {**primary, "status": "ACTIVE", "id": "ecs-svc/old"}]
    with pytest.raises(NotReady, match="1 of 1 tasks running, 2 deployment"):
        rt.wait_ready(attrs)
    service.deployments, service.running_count = [primary], 0
    with pytest.raises(NotReady, match="0 of 1 tasks running"):
        rt.wait_ready(attrs)
    unwaited = {**attrs, "wait_for_steady_state": False}
    assert rt.wait_ready(unwaited) == unwaited
    primary.update(rolloutState="FAILED", rolloutStateReason="tasks failed to start")
    with pytest.raises(ProviderError, match="deployment failed: tasks failed to start") as err:
        rt.wait_ready(attrs)
    assert not isinstance(err.value, NotReady)
    # A service of the same name still draining after a delete: wait for it to go.
    service.status = "DRAINING"
    assert rt.read(attrs["id"], attrs) is None
    with pytest.raises(NotReady, match="being deleted"):
        rt.create(args, meta)
    with pytest.raises(NotReady, match="draining"):
        rt.delete(attrs["id"], attrs)
    service.status = "INACTIVE"
    rt.delete(attrs["id"], attrs)


# -- the engine: an MLflow tracking server's backend, applied and changed -----------------------

STACK = """\
project: {project}
environments:
  dev:
    target: sandbox
resources:
  aws_db_subnet_group.db:
    subnet_ids: [{subnet_b}, {subnet_a}]
  aws_db_instance.db:
    engine: postgres
    instance_class: db.t4g.micro
    allocated_storage: 20
    username: mlflow
    db_name: mlflow
    db_subnet_group_name: ${{aws_db_subnet_group.db.name}}
    vpc_security_group_ids: [{sg}]
    skip_final_snapshot: true
  aws_ecs_cluster.c:
    setting:
      - name: containerInsights
        value: enabled
  aws_ecs_task_definition.t:
    cpu: "256"
    memory: "{memory}"
    execution_role_arn: {role}
    container_definitions:
      - name: mlflow
        image: {image}
        portMappings:
          - containerPort: 5000
        environment:
          - name: MLFLOW_BACKEND_STORE_URI
            value: postgresql://${{aws_db_instance.db.endpoint}}/mlflow
  aws_ecs_service.s:
    cluster: ${{aws_ecs_cluster.c.id}}
    task_definition: ${{aws_ecs_task_definition.t.arn}}
    wait_for_steady_state: true
    network_configuration:
      subnets: [{subnet_a}, {subnet_b}]
      security_groups: [{sg}]
"""


def test_mlflow_backend_stack(sandbox: Any, tmp_path: Any, uid: str, roles: dict[str, str],
                              network: dict[str, Any], boto: Any) -> None:
    import dataclasses

    from mlform.api import Workspace
    from mlform.engine.plan import Action
    from mlform.providers import aws
    from mlform.providers.aws.rds import DbInstance, DbSubnetGroup
    from mlform.providers.registry import build_registry

    mine = (DbSubnetGroup, DbInstance, EcsCluster, EcsTaskDefinition, EcsService)
    spec = dataclasses.replace(aws.PROVIDER, resource_types=(
        *aws.PROVIDER.resource_types,
        *(t for t in mine if t not in aws.PROVIDER.resource_types)))
    path = tmp_path / "mlform.yaml"

    def workspace(memory: str) -> Workspace:
        path.write_text(STACK.format(
            project=f"ml{uid}", memory=memory, role=roles["execution"], image=IMAGE,
            sg=network["sg"], subnet_a=network["subnets"][0], subnet_b=network["subnets"][1]))
        return Workspace(path, registry=build_registry([spec]))

    first = workspace("512").apply()
    assert first.result is not None and first.result.ok, first.result
    again = workspace("512").plan()
    assert not again.has_changes, [(c.address, c.action, c.changed) for c in again.changes]
    before = {a: r.attributes for a, r in workspace("512").state().resources.items()}
    db = before["aws_db_instance.db"]
    assert db["master_user_secret"][0]["secret_arn"].startswith("arn:aws:secretsmanager:")
    env = json.loads(before["aws_ecs_task_definition.t"]["container_definitions"])[0]
    assert env["environment"][0]["value"] == f"postgresql://{db['endpoint']}/mlflow"

    # More memory: a new task definition revision, to which the service moves in place.
    ws = workspace("1024")
    plan = ws.plan()
    assert {c.address: c.action for c in plan.changes if c.action is not Action.NOOP} == {
        "aws_ecs_task_definition.t": Action.REPLACE, "aws_ecs_service.s": Action.UPDATE}
    assert next(c for c in plan.changes if c.address == "aws_ecs_task_definition.t"
                ).create_before_destroy
    events: list[Any] = []
    second = ws.apply(plan, on_event=events.append)
    assert second.result is not None and second.result.ok, second.result
    # The new revision is registered and the service moved to it before the old revision is
    # deregistered: the service never points at a revision that cannot start tasks.
    steps = [(e.kind, e.verb, e.address) for e in events if e.kind in ("start", "done")]
    assert [s for s in steps if s[0] == "done"] == [
        ("done", "create", "aws_ecs_task_definition.t"), ("done", "update", "aws_ecs_service.s"),
        ("done", "delete", "aws_ecs_task_definition.t")]
    assert steps.index(("done", "update", "aws_ecs_service.s")) < steps.index(
        ("start", "delete", "aws_ecs_task_definition.t"))
    old = boto("ecs").describe_task_definition(
        taskDefinition=before["aws_ecs_task_definition.t"]["arn"])["taskDefinition"]
    assert old["status"] == "INACTIVE"
    after = {a: r.attributes for a, r in ws.state().resources.items()}
    service = after["aws_ecs_service.s"]
    assert service["arn"] == before["aws_ecs_service.s"]["arn"]
    assert service["task_definition"] == after["aws_ecs_task_definition.t"]["arn"]
    assert after["aws_ecs_task_definition.t"]["revision"] == 2
    assert not workspace("1024").plan().has_changes

    gone = workspace("1024").apply(workspace("1024").plan(destroy=True))
    assert gone.result is not None and gone.result.ok, gone.result
    rds = boto("rds")
    assert not [d for d in rds.describe_db_instances()["DBInstances"]
                if d["DBInstanceIdentifier"] == db["id"]]
