"""Application Auto Scaling: `aws_appautoscaling_target` and `aws_appautoscaling_policy`.

A scalable target is keyed by three values: service namespace, resource id and scalable
dimension. Its id is the resource id alone, as in Terraform, so `read` takes the dimension (and
with it the namespace, its first part) from the prior attributes, which always hold them.
A policy's id is its name, unique per target; it is read the same way.

RegisterScalableTarget and PutScalingPolicy create or overwrite: AWS never reports that a
target or policy already exists.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, ValidationError, model_validator

from mlform.errors import NotReady, ProviderError
from mlform.providers.aws.base import (
    AwsResource,
    TaggedResource,
    all_tags,
    tags_all_field,
    tags_field,
    user_tags,
)
from mlform.providers.aws.errors import aws_call, error_code, error_message, translate
from mlform.providers.base import (
    ArgsModel,
    AttrsModel,
    Discovered,
    ForceNew,
    ResourceMeta,
    Timeouts,
)

SERVICE = "application-autoscaling"
GONE = "ObjectNotFoundException"
# Worth waiting for: an IAM role or a service made moments ago, a concurrent change.
PROPAGATING = ("Unable to assume IAM role", "ECS service doesn't exist")


def _namespace_of(dimension: str) -> str:
    """`sagemaker:variant:DesiredInstanceCount` -> `sagemaker`: every dimension starts with
    its service namespace."""
    return dimension.split(":", 1)[0]


def _key(what: str, resource_id: str | None,
         prior: Mapping[str, Any]) -> tuple[str, str, str]:
    """(namespace, resource id, dimension) of `what`, from its prior attributes."""
    dimension = prior.get("scalable_dimension")
    if not dimension or not resource_id:
        raise ProviderError(f"cannot read {what}: its resource_id and scalable_dimension are "
                            "not known (to import one, give the id as "
                            "`<namespace>/<resource id>/<dimension>`, and for a policy "
                            "`/<policy name>` after it)")
    return prior.get("service_namespace") or _namespace_of(dimension), resource_id, dimension


def import_id(namespace: str, resource_id: str, dimension: str, name: str = "") -> str:
    """The id `mlform import` takes (Terraform's): `sagemaker/endpoint/e/variant/AllTraffic/
    sagemaker:variant:DesiredInstanceCount`, and `/<policy name>` after it for a policy."""
    return "/".join(p for p in (namespace, resource_id, dimension, name) if p)


def parse_import_id(id: str, policy: bool) -> tuple[str, dict[str, str]] | None:
    """(resource id or policy name, prior attributes) from an import id, or None if `id` is
    not one (a recorded id: a resource id, or a policy's name)."""
    parts = id.split("/")
    at = next((i for i in range(len(parts) - 1, 0, -1) if parts[i].count(":") >= 2), None)
    if at is None or at < 2 or (policy and at != len(parts) - 2) or (
            not policy and at != len(parts) - 1):
        return None
    prior = {"service_namespace": parts[0], "resource_id": "/".join(parts[1:at]),
             "scalable_dimension": parts[at]}
    return (parts[-1] if policy else prior["resource_id"]), prior


def _retryable(exc: BaseException) -> bool:
    code, message = error_code(exc), error_message(exc)
    return code in ("ConcurrentUpdateException", "FailedResourceAccessException") or (
        code == "ValidationException" and any(m in message for m in PROPAGATING))


def _namespaces(client: Any) -> list[str]:
    """Every service namespace this version of the API knows."""
    return list(client.meta.service_model.shape_for("ServiceNamespace").enum)


def _each_namespace(client: Any, paginator: Any, operation: str,
                    key: str) -> Iterator[dict[str, Any]]:
    """Every item DescribeScalableTargets or DescribeScalingPolicies (`paginator`) lists, in
    all namespaces."""
    from botocore.exceptions import ClientError

    for namespace in _namespaces(client):
        pages = paginator.paginate(ServiceNamespace=namespace)
        try:
            yield from (item for page in pages for item in page[key])
        except ClientError as exc:
            # A namespace newer than the endpoint (the sandbox knows fewer than AWS) has
            # nothing in it.
            if error_code(exc) != "ValidationException" or namespace not in error_message(exc):
                raise translate(exc, operation) from exc


class TargetKey(ArgsModel):
    """The three arguments that say what is scaled; each forces replacement."""

    service_namespace: Annotated[str, ForceNew()] = Field(
        description="AWS service of the scaled resource: `sagemaker`, `ecs`, `dynamodb`, ...")
    resource_id: Annotated[str, ForceNew()] = Field(
        description="The scaled resource, such as `endpoint/<endpoint name>/variant/AllTraffic` "
                    "for a SageMaker endpoint variant.")
    scalable_dimension: Annotated[str, ForceNew()] = Field(
        description="What is scaled, such as `sagemaker:variant:DesiredInstanceCount`.")

    @model_validator(mode="after")
    def _dimension_of_namespace(self) -> TargetKey:
        if _namespace_of(self.scalable_dimension) != self.service_namespace:
            raise ValueError(f"scalable_dimension {self.scalable_dimension} is not one of "
                             f"service namespace {self.service_namespace}")
        return self


# -- aws_appautoscaling_target ------------------------------------------------------------------

class AppautoscalingTargetArgs(TargetKey):
    min_capacity: int = Field(ge=0, description="Fewest instances (or units) to scale in to.")
    max_capacity: int = Field(ge=0, description="Most instances (or units) to scale out to.")
    role_arn: str | None = Field(
        None, description="IAM role Application Auto Scaling acts as (unset: the service-linked "
                          "role AWS makes for the namespace, which is not managed).")
    tags: dict[str, str] = tags_field("scalable target")

    @model_validator(mode="after")
    def _min_below_max(self) -> AppautoscalingTargetArgs:
        if self.min_capacity > self.max_capacity:
            raise ValueError(f"min_capacity ({self.min_capacity}) is more than max_capacity "
                             f"({self.max_capacity})")
        return self


class AppautoscalingTargetAttrs(AttrsModel):
    arn: str
    tags_all: dict[str, str] = tags_all_field()


class AppautoscalingTarget(TaggedResource[AppautoscalingTargetArgs]):
    type_name: ClassVar[str] = "aws_appautoscaling_target"
    service: ClassVar[str] = SERVICE
    Args = AppautoscalingTargetArgs
    Attrs = AppautoscalingTargetAttrs
    # Only IAM and ECS propagation is waited for (as Terraform does).
    timeouts: ClassVar[Timeouts] = Timeouts(create=120.0, update=120.0, delete=300.0)

    def id_for(self, args: AppautoscalingTargetArgs) -> str:
        return args.resource_id

    def _describe(self, namespace: str, resource_id: str,
                  dimension: str) -> dict[str, Any] | None:
        with aws_call(SERVICE, "DescribeScalableTargets"):
            found = self.client.describe_scalable_targets(
                ServiceNamespace=namespace, ResourceIds=[resource_id],
                ScalableDimension=dimension)["ScalableTargets"]
        return next((t for t in found if (t["ServiceNamespace"], t["ResourceId"],
                                          t["ScalableDimension"]) == (namespace, resource_id,
                                                                      dimension)), None)

    def _tags(self, arn: str | None) -> dict[str, str]:
        if not arn:  # targets registered before 2023 have no ARN and no tags
            return {}
        with aws_call(SERVICE, "ListTagsForResource"):
            return dict(self.client.list_tags_for_resource(ResourceARN=arn).get("Tags") or {})

    def _register(self, args: AppautoscalingTargetArgs, **extra: Any) -> None:
        from botocore.exceptions import ClientError

        request: dict[str, Any] = {
            "ServiceNamespace": args.service_namespace, "ResourceId": args.resource_id,
            "ScalableDimension": args.scalable_dimension,
            "MinCapacity": args.min_capacity, "MaxCapacity": args.max_capacity, **extra}
        if args.role_arn:
            request["RoleARN"] = args.role_arn
        try:
            self.client.register_scalable_target(**request)
        except ClientError as exc:
            if _retryable(exc):
                raise NotReady(f"RegisterScalableTarget: {error_message(exc)}",
                               retry_after=5.0) from exc
            raise translate(exc, "RegisterScalableTarget") from exc

    def create(self, args: AppautoscalingTargetArgs, meta: ResourceMeta) -> dict[str, Any]:
        # Registering overwrites an existing target, so look first: only our own (the engine
        # calls create again after NotReady) is finished, anyone else's is left alone.
        have = self.read(args.resource_id, args.model_dump(mode="json"))
        if have is not None:
            if not self.owns(have, meta):
                raise self.taken(import_id(args.service_namespace, args.resource_id,
                                           args.scalable_dimension),
                                 have["tags_all"], meta, "RegisterScalableTarget")
            return self.update(args.resource_id, have, args, meta)
        self._register(args, Tags=all_tags(args.tags, meta))
        return self.read_back(args.resource_id, args.model_dump(mode="json"))

    def read(self, id: str, prior: Mapping[str, Any]) -> dict[str, Any] | None:
        parsed = None if prior.get("scalable_dimension") else parse_import_id(id, policy=False)
        if parsed is not None:
            id, prior = parsed
        namespace, resource_id, dimension = _key(f"scalable target {id}", id, prior)
        found = self._describe(namespace, resource_id, dimension)
        if found is None:
            return None
        arn = found.get("ScalableTargetARN")
        tags = self._tags(arn)
        args = AppautoscalingTargetArgs.model_validate({
            "service_namespace": found["ServiceNamespace"],
            "resource_id": found["ResourceId"],
            "scalable_dimension": found["ScalableDimension"],
            "min_capacity": found["MinCapacity"],
            "max_capacity": found["MaxCapacity"],
            # Unset, AWS fills in its service-linked role: that is not a change.
            "role_arn": found.get("RoleARN") if prior.get("role_arn") else None,
            "tags": user_tags(tags),
        })
        return self.attributes(args, id=found["ResourceId"], arn=arn or "", tags_all=tags)

    def update(self, id: str, prior: Mapping[str, Any], args: AppautoscalingTargetArgs,
               meta: ResourceMeta) -> dict[str, Any]:
        have = self.read(id, prior)
        if have is None:  # registering would make a new target, without our tags
            raise ProviderError(f"scalable target {id} no longer exists; refresh and plan again")
        if any(have[k] != getattr(args, k) for k in ("min_capacity", "max_capacity", "role_arn")):
            self._register(args)
        if have["arn"]:  # targets registered before 2023 have no ARN and no tags
            self.sync_tags(have["arn"], have["tags_all"], args.tags, meta)
        return self.read_back(args.resource_id, args.model_dump(mode="json"))

    def _tag(self, ref: str, tags: Mapping[str, str]) -> None:
        with aws_call(SERVICE, "TagResource"):
            self.client.tag_resource(ResourceARN=ref, Tags=dict(tags))

    def _untag(self, ref: str, keys: Sequence[str]) -> None:
        with aws_call(SERVICE, "UntagResource"):
            self.client.untag_resource(ResourceARN=ref, TagKeys=list(keys))

    def delete(self, id: str, prior: Mapping[str, Any]) -> None:
        """Deregistering a target also deletes its scaling policies (AWS does that)."""
        from botocore.exceptions import ClientError

        namespace, resource_id, dimension = _key(f"scalable target {id}", id, prior)
        try:
            self.client.deregister_scalable_target(
                ServiceNamespace=namespace, ResourceId=resource_id, ScalableDimension=dimension)
        except ClientError as exc:
            gone = error_code(exc) == GONE or (  # the sandbox says ValidationException
                error_code(exc) == "ValidationException"
                and self._describe(namespace, resource_id, dimension) is None)
            if gone:
                return
            if _retryable(exc):
                raise NotReady(f"DeregisterScalableTarget: {error_message(exc)}") from exc
            raise translate(exc, "DeregisterScalableTarget") from exc
        if self._describe(namespace, resource_id, dimension) is not None:
            raise NotReady(f"scalable target {id} is being deregistered", retry_after=2.0)

    def list(self) -> Iterator[Discovered]:
        for target in _each_namespace(
                self.client, self.client.get_paginator("describe_scalable_targets"),
                "DescribeScalableTargets", "ScalableTargets"):
            yield Discovered(id=target["ResourceId"],
                             import_id=import_id(target["ServiceNamespace"],
                                                 target["ResourceId"],
                                                 target["ScalableDimension"]),
                             tags=self._tags(target.get("ScalableTargetARN")))


# -- aws_appautoscaling_policy ------------------------------------------------------------------

class PredefinedMetricSpecification(ArgsModel):
    predefined_metric_type: str = Field(
        description="The metric to track, such as `SageMakerVariantInvocationsPerInstance` or "
                    "`ECSServiceAverageCPUUtilization`.")
    resource_label: str | None = Field(
        None, max_length=1023,
        description="Which load balancer target group, for `ALBRequestCountPerTarget` only.")


class TargetTrackingScalingPolicyConfiguration(ArgsModel):
    target_value: float = Field(description="The value of the metric to keep the target at.")
    predefined_metric_specification: PredefinedMetricSpecification = Field(
        description="The predefined metric to track.")
    scale_in_cooldown: int | None = Field(
        None, ge=0, description="Seconds after a scale-in before the next one "
                                "(unset: the service's default).")
    scale_out_cooldown: int | None = Field(
        None, ge=0, description="Seconds after a scale-out before the next one "
                                "(unset: the service's default).")
    disable_scale_in: bool = Field(
        False, description="Only ever scale out; scaling in is left to something else.")


class AppautoscalingPolicyArgs(TargetKey):
    name: Annotated[str, ForceNew()] = Field(
        min_length=1, max_length=256,
        description="Policy name, unique per scalable target "
                    "(default: <project>-<environment>-<resource name>).")
    policy_type: Literal["TargetTrackingScaling"] = Field(
        "TargetTrackingScaling", description="The kind of policy (only target tracking so far).")
    target_tracking_scaling_policy_configuration: TargetTrackingScalingPolicyConfiguration = (
        Field(description="The metric to track and the value to keep it at."))


class AppautoscalingPolicyAttrs(AttrsModel):
    arn: str
    alarm_arns: list[str] = Field(
        default_factory=list, description="CloudWatch alarms AWS made to drive the policy.")


class AppautoscalingPolicy(AwsResource[AppautoscalingPolicyArgs]):
    type_name: ClassVar[str] = "aws_appautoscaling_policy"
    service: ClassVar[str] = SERVICE
    Args = AppautoscalingPolicyArgs
    Attrs = AppautoscalingPolicyAttrs
    name_max_len: ClassVar[int] = 256
    tagged_at_create: ClassVar[bool] = False  # no tags: a policy on our target is ours
    # Waits for its target (or IAM) to propagate; as Terraform, not longer.
    timeouts: ClassVar[Timeouts] = Timeouts(create=120.0, update=120.0, delete=120.0)

    def create(self, args: AppautoscalingPolicyArgs, meta: ResourceMeta) -> dict[str, Any]:
        return self._put(args)

    def update(self, id: str, prior: Mapping[str, Any], args: AppautoscalingPolicyArgs,
               meta: ResourceMeta) -> dict[str, Any]:
        return self._put(args)  # PutScalingPolicy replaces the policy's configuration

    def _put(self, args: AppautoscalingPolicyArgs) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        tt = args.target_tracking_scaling_policy_configuration
        metric: dict[str, Any] = {
            "PredefinedMetricType": tt.predefined_metric_specification.predefined_metric_type}
        if tt.predefined_metric_specification.resource_label is not None:
            metric["ResourceLabel"] = tt.predefined_metric_specification.resource_label
        config: dict[str, Any] = {"TargetValue": tt.target_value,
                                  "PredefinedMetricSpecification": metric,
                                  "DisableScaleIn": tt.disable_scale_in}
        if tt.scale_in_cooldown is not None:
            config["ScaleInCooldown"] = tt.scale_in_cooldown
        if tt.scale_out_cooldown is not None:
            config["ScaleOutCooldown"] = tt.scale_out_cooldown
        try:
            self.client.put_scaling_policy(
                PolicyName=args.name, ServiceNamespace=args.service_namespace,
                ResourceId=args.resource_id, ScalableDimension=args.scalable_dimension,
                PolicyType=args.policy_type, TargetTrackingScalingPolicyConfiguration=config)
        except ClientError as exc:
            if error_code(exc) == GONE:
                raise NotReady(f"no scalable target {args.resource_id} "
                               f"({args.scalable_dimension}) yet") from exc
            if _retryable(exc):
                raise NotReady(f"PutScalingPolicy: {error_message(exc)}",
                               retry_after=5.0) from exc
            raise translate(exc, "PutScalingPolicy") from exc
        attrs = self.read(args.name, args.model_dump(mode="json"))
        if attrs is None:
            raise NotReady(f"scaling policy {args.name} is not visible yet", retry_after=1.0)
        return attrs

    def _describe(self, name: str, prior: Mapping[str, Any]) -> dict[str, Any] | None:
        namespace, resource_id, dimension = _key(f"scaling policy {name}",
                                                 prior.get("resource_id"), prior)
        with aws_call(SERVICE, "DescribeScalingPolicies"):
            found = self.client.describe_scaling_policies(
                ServiceNamespace=namespace, ResourceId=resource_id,
                ScalableDimension=dimension, PolicyNames=[name])["ScalingPolicies"]
        return next((p for p in found if (p["PolicyName"], p["ResourceId"],
                                          p["ScalableDimension"]) == (name, resource_id,
                                                                      dimension)), None)

    def read(self, id: str, prior: Mapping[str, Any]) -> dict[str, Any] | None:
        parsed = None if prior.get("scalable_dimension") else parse_import_id(id, policy=True)
        if parsed is not None:
            id, prior = parsed
        found = self._describe(id, prior)
        if found is None:
            return None
        tt = found.get("TargetTrackingScalingPolicyConfiguration") or {}
        metric = tt.get("PredefinedMetricSpecification") or {}
        try:
            args = AppautoscalingPolicyArgs.model_validate({
                "name": found["PolicyName"],
                "service_namespace": found["ServiceNamespace"],
                "resource_id": found["ResourceId"],
                "scalable_dimension": found["ScalableDimension"],
                "policy_type": found["PolicyType"],
                "target_tracking_scaling_policy_configuration": {
                    "target_value": tt.get("TargetValue"),
                    "predefined_metric_specification": {
                        "predefined_metric_type": metric.get("PredefinedMetricType"),
                        "resource_label": metric.get("ResourceLabel")},
                    "scale_in_cooldown": tt.get("ScaleInCooldown"),
                    "scale_out_cooldown": tt.get("ScaleOutCooldown"),
                    "disable_scale_in": bool(tt.get("DisableScaleIn", False)),
                },
            })
        except ValidationError as exc:  # changed outside mlform to what it does not model
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                                 for e in exc.errors())
            raise ProviderError(f"scaling policy {id} uses settings mlform does not support "
                                f"({problems})") from None
        alarms = sorted(a["AlarmARN"] for a in found.get("Alarms") or [])
        return self.attributes(args, id=found["PolicyName"], arn=found["PolicyARN"],
                               alarm_arns=alarms)

    def delete(self, id: str, prior: Mapping[str, Any]) -> None:
        from botocore.exceptions import ClientError

        found = self._describe(id, prior)
        if found is None:
            return
        try:
            self.client.delete_scaling_policy(
                PolicyName=id, ServiceNamespace=found["ServiceNamespace"],
                ResourceId=found["ResourceId"], ScalableDimension=found["ScalableDimension"])
        except ClientError as exc:
            if error_code(exc) == GONE or self._describe(id, prior) is None:
                return
            if _retryable(exc):
                raise NotReady(f"DeleteScalingPolicy: {error_message(exc)}") from exc
            raise translate(exc, "DeleteScalingPolicy") from exc

    def list(self) -> Iterator[Discovered]:
        for policy in _each_namespace(
                self.client, self.client.get_paginator("describe_scaling_policies"),
                "DescribeScalingPolicies", "ScalingPolicies"):
            yield Discovered(id=policy["PolicyName"], import_id=import_id(
                policy["ServiceNamespace"], policy["ResourceId"], policy["ScalableDimension"],
                policy["PolicyName"]))
