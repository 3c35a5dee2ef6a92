"""What the sandbox adds to moto for this service (see the package docstring).

- ECS CreateCluster on the name of an active cluster: moto replaces it (tags and settings
  included); AWS returns the existing cluster unchanged.
- ECS CreateService on the name of a service that is not inactive: moto replaces it; AWS refuses
  ("Creation of service was not idempotent.").
- ECS services reach a steady state: the sandbox runs no containers, so as SageMaker endpoints
  are InService at once, a service's deployment completes at once (its tasks all "running"),
  and UpdateService records the task definition's ARN, as AWS does, not the string it was given.
- ECS CreateService and UpdateService with `loadBalancers` naming a target group that no
  listener forwards to: moto accepts it; AWS refuses ("does not have an associated load
  balancer"), which is why a service must depend on the listener, not only the target group.
"""

from __future__ import annotations

from typing import Any


def patch_ecs() -> None:
    from moto.core.utils import utcnow
    from moto.ecs.exceptions import InvalidParameterException
    from moto.ecs.models import EC2ContainerServiceBackend as Backend

    if getattr(Backend, "_mlform_patched", False):
        return
    original_create_cluster = Backend.create_cluster
    original_create_service = Backend.create_service
    original_update_service = Backend.update_service

    def create_cluster(self: Any, cluster_name: str, *args: Any, **kwargs: Any) -> Any:
        existing = self.clusters.get(cluster_name)
        if existing is not None and existing.status == "ACTIVE":
            return existing
        return original_create_cluster(self, cluster_name, *args, **kwargs)

    def settle(self: Any, service: Any) -> None:
        if service.task_definition:
            service.task_definition = self.describe_task_definition(service.task_definition).arn
        service.running_count, service.pending_count = service.desired_count, 0
        for deployment in service.deployments[:1]:
            deployment.update(
                taskDefinition=service.task_definition, desiredCount=service.desired_count,
                runningCount=service.desired_count, pendingCount=0, rolloutState="COMPLETED",
                rolloutStateReason=f"ECS deployment {deployment['id']} completed.",
                updatedAt=utcnow())

    def check_target_groups(self: Any, load_balancers: Any) -> None:
        from moto.elbv2.models import elbv2_backends

        elbv2 = elbv2_backends[self.account_id][self.region_name]
        for block in load_balancers or []:
            arn = block.get("targetGroupArn")
            if arn and not elbv2._any_listener_using(arn):
                raise InvalidParameterException(
                    f"The target group with targetGroupArn {arn} does not have an associated "
                    "load balancer.")

    def create_service(self: Any, cluster_str: str, service_name: str, *args: Any,
                       **kwargs: Any) -> Any:
        check_target_groups(self, args[2] if len(args) > 2 else kwargs.get("load_balancers"))
        cluster = self._get_cluster(cluster_str)
        existing = self.services.get(f"{cluster.name}:{service_name}")
        if existing is not None and existing.status != "INACTIVE":
            raise InvalidParameterException("Creation of service was not idempotent.")
        service = original_create_service(self, cluster_str, service_name, *args, **kwargs)
        self.update_cluster_resources(cluster, -service.pending_count, task_state="PENDING")
        self.update_cluster_resources(cluster, service.pending_count, task_state="RUNNING")
        settle(self, service)
        return service

    def update_service(self: Any, service_properties: dict[str, Any]) -> Any:
        check_target_groups(self, service_properties.get("load_balancers"))
        service = original_update_service(self, service_properties)
        settle(self, service)
        return service

    setattr(Backend, "create_cluster", create_cluster)  # noqa: B010
    setattr(Backend, "create_service", create_service)  # noqa: B010
    setattr(Backend, "update_service", update_service)  # noqa: B010
    setattr(Backend, "_mlform_patched", True)  # noqa: B010
