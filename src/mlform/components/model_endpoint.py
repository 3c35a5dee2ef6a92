"""`model_endpoint`: a SageMaker real-time endpoint serving one model, with autoscaling.

Expands into an execution role (unless `role_arn` is given) allowed to pull the image and read
the model artifacts and nothing more, a model, an endpoint configuration, the endpoint and, with
`autoscale`, an Application Auto Scaling target and target-tracking policy, and the
endpoint's log group (`/aws/sagemaker/Endpoints/<name>`, kept `log_retention_days`). A new
model version (image or model data) creates a new model and endpoint configuration and moves
the endpoint to them in place: the endpoint is never deleted and recreated for a model change.

With `autoscale` the autoscaler owns the instance count, and a deploy keeps the live count. AWS
refuses to change the instance type of a variant registered with Application Auto Scaling, so
a new instance type replaces the target and its policy around the endpoint's update
(`replace_triggered_by`): deregistered first, registered again once the endpoint is InService.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from mlform.components.base import ExpandContext, Expansion
from mlform.components.gpu import parse_gpu, pinned_type, resolve, unpinned
from mlform.components.iam import document, ecr_pull, role_policies, trust
from mlform.components.logs import Logged, write_logs
from mlform.config.refs import module_address
from mlform.providers.base import ArgsModel

ROLE = "aws_iam_role.this"
MODEL = "aws_sagemaker_model.this"
CONFIG = "aws_sagemaker_endpoint_configuration.this"
ENDPOINT = "aws_sagemaker_endpoint.this"
VARIANT = "AllTraffic"


class Autoscale(ArgsModel):
    min: int = Field(1, ge=0, description="Fewest instances (0 is not allowed by SageMaker "
                                          "for real-time endpoints unless serverless).")
    max: int = Field(ge=1, description="Most instances.")
    invocations_per_instance: int = Field(
        ge=1, description="Target invocations per instance per minute; instances are added "
                          "above it and removed below it.")

    @model_validator(mode="after")
    def _min_not_above_max(self) -> Autoscale:
        # Checked here, so that it is reported alone: `replicas` cannot be between them.
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max})")
        return self


class ModelEndpoint(Logged):
    type: Literal["model_endpoint"]
    image: str | None = Field(
        None, description="Inference image, usually `${registry.url}:<tag>` (or give "
        "`model_package`).")
    model_package: str | None = Field(
        None, description="A model package to serve instead of `image` and `model_data`, "
        "usually `${models.latest_approved}` of a model_registry.")
    model_data: str | None = Field(
        None, description="S3 URL of the model artifacts (`s3://bucket/key.tar.gz`), usually "
                          "`${features.uri}/models/...`.")
    instance_type: str | None = Field(
        None, description="SageMaker instance type, such as ml.g4dn.xlarge (or give `gpu`).")
    gpu: str | dict[str, Any] | None = Field(
        None, description="GPUs per instance instead of instance_type: `T4`, `A10G:4`; the "
                          "smallest matching ml.* type offered in the region is chosen.")
    replicas: int = Field(1, ge=1, description="Instances to start with (per environment: "
                                               "`{dev: 1, prod: 3}`).")
    autoscale: Autoscale | None = Field(
        None, description="Scale between `min` and `max` on invocations per instance.")
    environment: dict[str, str] = Field(default_factory=dict,
                                        description="Environment variables of the container.")
    role_arn: str | None = Field(
        None, description="Execution role to use instead of the least-privilege one made here.")

    image_fields: ClassVar[tuple[str, ...]] = ("image",)
    outputs: ClassVar[dict[str, str]] = {
        "name": "The endpoint's name",
        "arn": "The endpoint's ARN",
        "url": "The HTTPS URL to invoke (POST) with SigV4-signed requests",
        "role_arn": "The execution role's ARN",
    }

    @field_validator("model_package", mode="before")
    @classmethod
    def _resolved(cls, value: Any) -> Any:
        """A registry's `latest_approved` that has no package yet says why (model_registry)."""
        if isinstance(value, dict) and "unresolved" in value:
            raise ValueError(
                f"{value['unresolved']}: apply the registry '{value.get('registry')}' first "
                "(without this endpoint), register and approve a model version, then plan again")
        return value

    @model_validator(mode="after")
    def _image_or_package(self) -> ModelEndpoint:
        if (self.image is None) == (self.model_package is None):
            raise ValueError("give either image (with model_data) or model_package")
        if self.model_package is not None and self.model_data is not None:
            raise ValueError("model_data comes with the model package: give one of them")
        return self

    @model_validator(mode="after")
    def _instance_or_gpu(self) -> ModelEndpoint:
        if (self.instance_type is None) == (self.gpu is None):
            raise ValueError("give either instance_type or gpu")
        if self.gpu is not None:
            parse_gpu(self.gpu)
        return self

    @model_validator(mode="after")
    def _replicas_within_autoscale(self) -> ModelEndpoint:
        a = self.autoscale
        if a is not None and not a.min <= self.replicas <= a.max:
            raise ValueError(f"replicas ({self.replicas}) must be between autoscale.min "
                             f"({a.min}) and autoscale.max ({a.max})")
        return self

    def expand(self, ctx: ExpandContext) -> Expansion:
        out = Expansion()
        # The endpoint's name is needed before it exists: SageMaker writes to the group named
        # after it, which must be there first (see logs.py). It is the name mlform would give.
        name = ctx.default_name()
        log_group = self.log_group(out, ctx, f"/aws/sagemaker/Endpoints/{name}")
        role_arn = self.role_arn
        policies: list[str] = []
        if role_arn is None:
            out.add(ROLE, assume_role_policy=trust("sagemaker.amazonaws.com"),
                    description=f"Runs the SageMaker model of {ctx.name}", tags=self.tags)
            policies = role_policies(out, ctx, ROLE, inline={"serve": self._policy(ctx)})
            role_arn = ctx.ref(ROLE, "arn")
        container: dict[str, Any] = {"environment": self.environment}
        if self.model_package is not None:
            container["model_package_name"] = self.model_package
        else:
            container["image"] = self.image
        if self.model_data:
            container["model_data_url"] = self.model_data
        out.add(MODEL, execution_role_arn=role_arn, primary_container=container,
                tags=self.tags).depends_on = policies
        out.add(CONFIG, production_variants=[{
            "variant_name": VARIANT, "model_name": ctx.ref(MODEL, "name"),
            "instance_type": self._instance_type(ctx, out),
            "initial_instance_count": self.replicas,
        }], tags=self.tags)
        # Without autoscaling the instance count is managed: scaling it by hand is drift,
        # and apply scales back. With it, the autoscaler owns the count.
        counts = {VARIANT: self.replicas} if self.autoscale is None else None
        out.add(ENDPOINT, name=name, endpoint_config_name=ctx.ref(CONFIG, "name"),
                instance_counts=counts, tags=self.tags).depends_on = [log_group]
        endpoint = ctx.ref(ENDPOINT, "name")
        if self.autoscale is not None:
            resource_id = f"endpoint/{endpoint}/variant/{VARIANT}"
            dimension = "sagemaker:variant:DesiredInstanceCount"
            # AWS refuses a new instance type under a registered target (see the docstring).
            config_type, config_name = CONFIG.split(".")
            instance_type = (module_address(ctx.name, config_type, config_name)
                             + ".production_variants[0].instance_type")
            retarget = {"replace_triggered_by": [instance_type]}
            target = out.add("aws_appautoscaling_target.this", service_namespace="sagemaker",
                             resource_id=resource_id, scalable_dimension=dimension,
                             min_capacity=self.autoscale.min, max_capacity=self.autoscale.max)
            target.lifecycle = retarget
            policy = out.add(
                "aws_appautoscaling_policy.this", name=ctx.default_name("invocations"),
                service_namespace="sagemaker",
                resource_id=ctx.ref("aws_appautoscaling_target.this", "resource_id"),
                scalable_dimension=dimension, policy_type="TargetTrackingScaling",
                target_tracking_scaling_policy_configuration={
                    "target_value": float(self.autoscale.invocations_per_instance),
                    "predefined_metric_specification": {
                        "predefined_metric_type": "SageMakerVariantInvocationsPerInstance"},
                    "scale_in_cooldown": 300, "scale_out_cooldown": 60,
                })
            # Deregistering the target deletes its policy: it is put back with the target.
            policy.lifecycle = retarget
        out.outputs = {
            "name": endpoint, "arn": ctx.ref(ENDPOINT, "arn"),
            "url": f"https://runtime.sagemaker.{ctx.stack.region}.amazonaws.com/endpoints/"
                   f"{endpoint}/invocations",
            "role_arn": role_arn,
        }
        return out

    def _instance_type(self, ctx: ExpandContext, out: Expansion) -> str:
        if self.instance_type is not None:
            return self.instance_type
        request = parse_gpu(self.gpu)
        chosen = pinned_type(ctx.pinned("gpu"), request)
        if chosen is not None:  # the lock's: no lookup
            out.notes.append(f"{ctx.name}: gpu {request} -> {chosen} in {ctx.stack.region} "
                             "(mlform.lock)")
        elif ctx.gpus is None:  # offline (mlform validate): chosen when planning
            return f"ml.gpu:{request}"
        else:
            # SageMaker hosts on the EC2 families, named ml.<type>.
            found, _ = resolve(request, ctx.gpus, ctx.stack.region,
                               lambda name: ctx.price("sagemaker_hosting", f"ml.{name}"))
            chosen = f"ml.{found}"
            out.notes.append(f"{ctx.name}: gpu {request} -> {chosen} in {ctx.stack.region}")
            if ctx.locked is not None:
                out.unlocked.append(unpinned(ctx.pinned("gpu"), request))
        out.pins["gpu"] = {"request": str(request), "instance_type": chosen}
        return chosen

    def _policy(self, ctx: ExpandContext) -> str:
        """Pull the image, read the model artifacts (decrypting them when their dataset store
        has a KMS key), write into the endpoint's log group and publish metrics: nothing
        more."""
        from mlform.components.iam import kms_access

        if self.model_package is not None:
            # The package names its image and artifacts, which the config does not know:
            # give `role_arn` a role that may read them (see the README).
            return document([*write_logs(ctx), {"Sid": "ReadPackage", "Effect": "Allow",
                                    "Action": "sagemaker:DescribeModelPackage",
                                    "Resource": self.model_package}])
        statements = [*ecr_pull([self.image or ""], ctx.partition), *write_logs(ctx)]
        if self.model_data and self.model_data.startswith("s3://"):
            statements.append({"Sid": "ReadModel", "Effect": "Allow", "Action": "s3:GetObject",
                               "Resource": f"arn:{ctx.partition}:s3:::"
                                           + self.model_data[len("s3://"):]})
            statements += kms_access("Model", [self.model_data], write=False)
        return document(statements)
