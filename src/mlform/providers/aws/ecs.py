"""Amazon ECS: `aws_ecs_cluster` and `aws_ecs_service` (task definitions: `ecs_task_definition.py`).

A task definition revision is immutable: any change registers a new revision and deregisters the
old one (a replacement), and the service moves to it with UpdateService. Clusters and services
have ARNs for ids, as in Terraform; they are looked up by name where no id is known yet.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import AfterValidator, Field

from mlform.errors import NotReady, ProviderError
from mlform.providers.aws.base import (
    TaggedResource,
    all_tags,
    tag_dict,
    tag_list,
    tags_all_field,
    tags_field,
    user_tags,
)
from mlform.providers.aws.errors import aws_call, error_code, error_message, is_not_found, translate
from mlform.providers.base import (
    ArgsModel,
    AttrsModel,
    Discovered,
    ForceNew,
    ResourceMeta,
    Timeouts,
    Waitable,
)

NAME = r"^[a-zA-Z0-9_-]+$"
NOT_FOUND = ("ClusterNotFoundException", "ServiceNotFoundException")
A = TypeVar("A", bound=ArgsModel)


def _string_set(value: list[str]) -> list[str]:
    return sorted(set(value))


StringSet = Annotated[list[str], AfterValidator(_string_set)]


def ecs_tags(items: list[dict[str, str]] | None) -> dict[str, str]:
    return tag_dict(items, "key", "value")


class EcsResource(TaggedResource[A]):
    """What clusters, services and task definitions share: ECS tags anything by ARN alike."""

    service: ClassVar[str] = "ecs"

    def _tag(self, ref: str, tags: Mapping[str, str]) -> None:
        with aws_call("ecs", "TagResource"):
            self.client.tag_resource(resourceArn=ref, tags=tag_list(tags, "key", "value"))

    def _untag(self, ref: str, keys: Sequence[str]) -> None:
        with aws_call("ecs", "UntagResource"):
            self.client.untag_resource(resourceArn=ref, tagKeys=list(keys))


def last_segment(arn: str) -> str:
    """`arn:...:cluster/name` -> `name`; `arn:...:task-definition/family:3` -> `family:3`."""
    return arn.rsplit("/", 1)[-1]


# -- aws_ecs_cluster ----------------------------------------------------------------------------

class ClusterSetting(ArgsModel):
    name: Literal["containerInsights"] = Field(description="The setting: `containerInsights`.")
    value: Literal["enhanced", "enabled", "disabled"] = Field(
        description="CloudWatch Container Insights for the cluster.")


def _by_name(value: list[ClusterSetting]) -> list[ClusterSetting]:
    names = [s.name for s in value]
    if len(set(names)) != len(names):
        raise ValueError("each setting may appear once")
    return sorted(value, key=lambda s: s.name)


class EcsClusterArgs(ArgsModel):
    name: Annotated[str, ForceNew()] = Field(
        max_length=255, pattern=NAME,
        description="Cluster name (default: <project>-<environment>-<resource name>).")
    setting: Annotated[list[ClusterSetting], AfterValidator(_by_name)] = Field(
        default_factory=list, description="Cluster settings, such as containerInsights.")
    tags: dict[str, str] = tags_field("cluster")


class EcsArnAttrs(AttrsModel):
    arn: str
    tags_all: dict[str, str] = tags_all_field()


class EcsCluster(EcsResource[EcsClusterArgs]):
    type_name: ClassVar[str] = "aws_ecs_cluster"
    Args = EcsClusterArgs
    Attrs = EcsArnAttrs
    name_max_len: ClassVar[int] = 255

    def id_for(self, args: EcsClusterArgs) -> str:
        # The id is the ARN, which holds the account id; DescribeClusters takes the name as well.
        return args.name

    def create(self, args: EcsClusterArgs, meta: ResourceMeta) -> dict[str, Any]:
        prior = args.model_dump(mode="json")
        # CreateCluster on an existing name returns that cluster unchanged: whose it is tells
        # a create called again (ours to finish) from a name taken by someone else.
        with aws_call("ecs", "CreateCluster"):
            created = self.client.create_cluster(
                clusterName=args.name, tags=tag_list(all_tags(args.tags, meta), "key", "value"),
                settings=[s.model_dump() for s in args.setting])["cluster"]
        have = self.read(created["clusterArn"], prior)
        if have is None:
            raise NotReady(f"cluster {args.name} is not visible yet", retry_after=1.0)
        if not self.owns(have, meta):
            raise self.taken(have["id"], have["tags_all"], meta, "CreateCluster")
        if have["setting"] == prior["setting"] and have["tags_all"] == all_tags(args.tags, meta):
            return have
        try:
            return self.update(have["id"], have, args, meta)
        except ProviderError as err:
            err.partial = have
            raise

    def read(self, id: str, prior: Mapping[str, Any]) -> dict[str, Any] | None:
        with aws_call("ecs", "DescribeClusters"):
            found = self.client.describe_clusters(clusters=[id], include=["TAGS", "SETTINGS"])
        clusters = [c for c in found.get("clusters") or [] if c.get("status") != "INACTIVE"]
        if not clusters:
            return None
        cluster = clusters[0]
        tags = ecs_tags(cluster.get("tags"))
        named = {s["name"] for s in prior.get("setting") or []}
        # AWS reports containerInsights even when not set: disabled, its default, is unset.
        settings = [s for s in cluster.get("settings") or []
                    if s["name"] in named or s.get("value") != "disabled"]
        args = EcsClusterArgs.model_validate({"name": cluster["clusterName"],
                                              "setting": settings, "tags": user_tags(tags)})
        return self.attributes(args, id=cluster["clusterArn"], arn=cluster["clusterArn"],
                               tags_all=tags)

    def update(self, id: str, prior: Mapping[str, Any], args: EcsClusterArgs,
               meta: ResourceMeta) -> dict[str, Any]:
        have = self.read(id, prior)
        if have is None:
            raise ProviderError(f"cluster {args.name} no longer exists; refresh and plan again")
        want = {s.name: s.value for s in args.setting}
        live = {s["name"]: s["value"] for s in have["setting"]}
        # A setting left out of the config goes back to AWS's default.
        wanted = {**dict.fromkeys(live, "disabled"), **want}
        if wanted != live:
            with aws_call("ecs", "UpdateCluster"):
                self.client.update_cluster(cluster=id, settings=[
                    {"name": k, "value": v} for k, v in sorted(wanted.items())])
        self.sync_tags(have["arn"], have["tags_all"], args.tags, meta)
        attrs = self.read(id, args.model_dump(mode="json"))
        if attrs is None:
            raise ProviderError(f"cluster {args.name} disappeared while it was being updated")
        return attrs

    def delete(self, id: str, prior: Mapping[str, Any]) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.delete_cluster(cluster=id)
        except ClientError as exc:
            if is_not_found(exc, *NOT_FOUND):
                return
            if error_code(exc) in ("ClusterContainsServicesException",
                                   "ClusterContainsTasksException", "UpdateInProgressException"):
                # Services and tasks being deleted still count until they are gone.
                raise NotReady(f"cluster {last_segment(id)}: {error_message(exc)}", retry_after=5.0
                               ) from None
            raise translate(exc, "DeleteCluster") from exc

    def list(self) -> Iterator[Discovered]:
        with aws_call("ecs", "ListClusters"):
            arns = [a for page in self.client.get_paginator("list_clusters").paginate()
                    for a in page["clusterArns"]]
            for start in range(0, len(arns), 100):
                found = self.client.describe_clusters(clusters=arns[start:start + 100],
                                                      include=["TAGS"])
                for cluster in found.get("clusters") or []:
                    if cluster.get("status") != "INACTIVE":
                        yield Discovered(id=cluster["clusterArn"],
                                         tags=ecs_tags(cluster.get("tags")))


# -- aws_ecs_task_definition --------------------------------------------------------------------

# -- aws_ecs_service ----------------------------------------------------------------------------

class NetworkConfiguration(ArgsModel):
    subnets: StringSet = Field(min_length=1, description="Subnets the tasks run in.")
    security_groups: StringSet = Field(default_factory=list,
                                       description="Security groups of the tasks.")
    assign_public_ip: bool = Field(False, description="Give each task a public IP address.")


class ServiceLoadBalancer(ArgsModel):
    target_group_arn: str = Field(description="Target group the tasks register into.")
    container_name: str = Field(description="Container that receives the traffic.")
    container_port: int = Field(ge=1, le=65535, description="Its port.")


def _by_target(value: list[ServiceLoadBalancer]) -> list[ServiceLoadBalancer]:
    return sorted(value, key=lambda b: (b.target_group_arn, b.container_name, b.container_port))


class EcsServiceArgs(ArgsModel):
    name: Annotated[str, ForceNew()] = Field(
        max_length=255, pattern=NAME,
        description="Service name (default: <project>-<environment>-<resource name>).")
    cluster: Annotated[str, ForceNew()] = Field(description="ARN or name of the cluster.")
    task_definition: str = Field(
        description="Task definition to run: `family`, `family:revision` or its ARN. A change "
                    "deploys it in place.")
    desired_count: int = Field(1, ge=0, description="Number of tasks to keep running.")
    launch_type: Annotated[Literal["FARGATE", "EC2", "EXTERNAL"], ForceNew()] = Field(
        "FARGATE", description="Where the tasks run.")
    network_configuration: NetworkConfiguration | None = Field(
        None, description="Subnets and security groups of the tasks (awsvpc networking).")
    load_balancer: Annotated[list[ServiceLoadBalancer], AfterValidator(_by_target)] = Field(
        default_factory=list, description="Target groups the tasks register into (the target "
        "group must already be on a load balancer's listener). Changed in place.")
    wait_for_steady_state: bool = Field(
        False, description="Wait after create and update until the deployment has finished "
                           "and the tasks run. Not stored by AWS.")
    tags: dict[str, str] = tags_field("service")


def _designates(wanted: Any, arn: str) -> bool:
    """Whether `wanted` (a name, `name:revision` or ARN, as written) names the object `arn`."""
    if not isinstance(wanted, str):
        return False
    short = last_segment(arn)
    return wanted in (arn, short, short.rsplit(":", 1)[0])


def _network(config: NetworkConfiguration | None) -> dict[str, Any]:
    if config is None:
        return {}
    return {"awsvpcConfiguration": {
        "subnets": config.subnets, "securityGroups": config.security_groups,
        "assignPublicIp": "ENABLED" if config.assign_public_ip else "DISABLED"}}


def _load_balancers(blocks: list[ServiceLoadBalancer]) -> list[dict[str, Any]]:
    return [{"targetGroupArn": b.target_group_arn, "containerName": b.container_name,
             "containerPort": b.container_port} for b in blocks]


class EcsService(EcsResource[EcsServiceArgs], Waitable):
    type_name: ClassVar[str] = "aws_ecs_service"
    Args = EcsServiceArgs
    Attrs = EcsArnAttrs
    name_max_len: ClassVar[int] = 255
    timeouts: ClassVar[Timeouts] = Timeouts(create=1200.0, update=1200.0, delete=1200.0)

    @property
    def poll(self) -> float:
        return 0.2 if self.aws.is_sandbox else 10.0

    def id_for(self, args: EcsServiceArgs) -> str:
        # The id is the ARN; DescribeServices takes the name, with the cluster `read` gets
        # from the arguments.
        return args.name

    def create(self, args: EcsServiceArgs, meta: ResourceMeta) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        prior = args.model_dump(mode="json")
        params: dict[str, Any] = {
            "cluster": args.cluster, "serviceName": args.name,
            "taskDefinition": args.task_definition, "desiredCount": args.desired_count,
            "launchType": args.launch_type,
            "tags": tag_list(all_tags(args.tags, meta), "key", "value")}
        if args.network_configuration is not None:
            params["networkConfiguration"] = _network(args.network_configuration)
        if args.load_balancer:
            params["loadBalancers"] = _load_balancers(args.load_balancer)
        try:
            created = self.client.create_service(**params)["service"]
        except (ClientError, BotoCoreError) as exc:
            if "not idempotent" not in error_message(exc):
                raise translate(exc, "CreateService") from exc
            found = self._describe(args.name, args.cluster)
            if found is not None and found.get("status") == "DRAINING":
                raise NotReady(f"service {args.name} of the same name is being deleted",
                               retry_after=self.poll) from None
            # Called again after NotReady or a crash: the service is ours to finish.
            have = self.read(args.name, prior)
            if have is None or not self.owns(have, meta):
                raise translate(exc, "CreateService") from exc
            try:
                return self.update(have["id"], have, args, meta)
            except ProviderError as err:
                err.partial = have
                raise
        return self.read(created["serviceArn"], prior) or self._attributes(created, prior)

    def _describe(self, id: str, cluster: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            found = self.client.describe_services(cluster=cluster, services=[id],
                                                  include=["TAGS"])
        except ClientError as exc:
            if is_not_found(exc, *NOT_FOUND):
                return None
            raise translate(exc, "DescribeServices") from exc
        services = [s for s in found.get("services") or [] if s.get("status") != "INACTIVE"]
        return services[0] if services else None

    @staticmethod
    def _cluster(id: str, prior: Mapping[str, Any]) -> str:
        if prior.get("cluster"):
            return str(prior["cluster"])
        parts = id.split(":", 5)[-1].split("/")  # service/<cluster>/<name> in long ARNs
        return parts[1] if id.startswith("arn:") and len(parts) == 3 else "default"

    def read(self, id: str, prior: Mapping[str, Any]) -> dict[str, Any] | None:
        found = self._describe(id, self._cluster(id, prior))
        if found is None or found.get("status") == "DRAINING":
            return None  # being deleted: it can no longer be changed
        return self._attributes(found, prior)

    def _attributes(self, svc: Mapping[str, Any], prior: Mapping[str, Any]) -> dict[str, Any]:
        tags = ecs_tags(svc.get("tags"))
        vpc = (svc.get("networkConfiguration") or {}).get("awsvpcConfiguration")
        cluster, task = svc["clusterArn"], svc.get("taskDefinition", "")
        # Names, revisions and ARNs are kept as written while they name the live object.
        args = EcsServiceArgs.model_validate({
            "name": svc["serviceName"],
            "cluster": prior["cluster"] if _designates(prior.get("cluster"), cluster)
            else cluster,
            "task_definition": prior["task_definition"]
            if _designates(prior.get("task_definition"), task) else task,
            "desired_count": svc.get("desiredCount", 0),
            "launch_type": svc.get("launchType", "EC2"),
            "network_configuration": None if not vpc else {
                "subnets": vpc.get("subnets") or [],
                "security_groups": vpc.get("securityGroups") or [],
                "assign_public_ip": vpc.get("assignPublicIp") == "ENABLED"},
            "load_balancer": [{"target_group_arn": b["targetGroupArn"],
                               "container_name": b["containerName"],
                               "container_port": b["containerPort"]}
                              for b in svc.get("loadBalancers") or [] if "targetGroupArn" in b],
            "wait_for_steady_state": bool(prior.get("wait_for_steady_state", False)),
            "tags": user_tags(tags),
        })
        return self.attributes(args, id=svc["serviceArn"], arn=svc["serviceArn"],
                               tags_all=tags)

    def update(self, id: str, prior: Mapping[str, Any], args: EcsServiceArgs,
               meta: ResourceMeta) -> dict[str, Any]:
        want = args.model_dump(mode="json")
        # Compared with the live service, so a second call after NotReady changes nothing.
        have = self.read(id, want)
        if have is None:
            raise ProviderError(f"service {args.name} no longer exists; refresh and plan again")
        changes: dict[str, Any] = {}
        if have["task_definition"] != want["task_definition"]:
            changes["taskDefinition"] = args.task_definition
        if have["desired_count"] != want["desired_count"]:
            changes["desiredCount"] = args.desired_count
        if have["network_configuration"] != want["network_configuration"]:
            changes["networkConfiguration"] = _network(args.network_configuration)
        if have["load_balancer"] != want["load_balancer"]:
            changes["loadBalancers"] = _load_balancers(args.load_balancer)
        if changes:
            with aws_call("ecs", "UpdateService"):
                self.client.update_service(cluster=args.cluster, service=id, **changes)
        self.sync_tags(have["arn"], have["tags_all"], args.tags, meta)
        attrs = self.read(id, want)
        if attrs is None:
            raise ProviderError(f"service {args.name} disappeared while it was being updated")
        return attrs

    def wait_ready(self, attributes: Mapping[str, Any]) -> dict[str, Any]:
        id = str(attributes["id"])
        found = self._describe(id, self._cluster(id, attributes))
        if found is None or found.get("status") != "ACTIVE":
            raise ProviderError(f"service {id} disappeared while it was being deployed")
        if attributes.get("wait_for_steady_state"):
            deployments = found.get("deployments") or []
            primary: dict[str, Any] = next(
                (d for d in deployments if d.get("status") == "PRIMARY"), {})
            if primary.get("rolloutState") == "FAILED":
                raise ProviderError(f"service {id}: deployment failed: "
                                    f"{primary.get('rolloutStateReason', 'no reason given')}")
            steady = (len(deployments) == 1 and primary.get("rolloutState", "COMPLETED")
                      == "COMPLETED" and found.get("runningCount") == found.get("desiredCount"))
            if not steady:
                raise NotReady(f"service {last_segment(id)}: {found.get('runningCount', 0)} of "
                               f"{found.get('desiredCount', 0)} tasks running, "
                               f"{len(deployments)} deployment(s)", retry_after=self.poll)
        return self._attributes(found, attributes)

    def delete(self, id: str, prior: Mapping[str, Any]) -> None:
        from botocore.exceptions import ClientError

        cluster = self._cluster(id, prior)
        found = self._describe(id, cluster)
        if found is None:
            return
        if found.get("status") == "ACTIVE":
            try:
                # DeleteService refuses a service that still wants tasks.
                if found.get("desiredCount", 0) > 0:
                    self.client.update_service(cluster=cluster, service=id, desiredCount=0)
                self.client.delete_service(cluster=cluster, service=id)
            except ClientError as exc:
                if is_not_found(exc, *NOT_FOUND):
                    return
                raise translate(exc, exc.operation_name) from exc
            if self._describe(id, cluster) is None:
                return
        raise NotReady(f"service {last_segment(id)} is draining", retry_after=self.poll)

    def list(self) -> Iterator[Discovered]:
        with aws_call("ecs", "ListServices"):
            for cluster in self.client.get_paginator("list_clusters").paginate():
                for cluster_arn in cluster["clusterArns"]:
                    pages = self.client.get_paginator("list_services").paginate(
                        cluster=cluster_arn)
                    arns = [a for page in pages for a in page["serviceArns"]]
                    for start in range(0, len(arns), 10):
                        found = self.client.describe_services(
                            cluster=cluster_arn, services=arns[start:start + 10],
                            include=["TAGS"])
                        for svc in found.get("services") or []:
                            if svc.get("status") == "ACTIVE":
                                yield Discovered(id=svc["serviceArn"],
                                                 tags=ecs_tags(svc.get("tags")))
