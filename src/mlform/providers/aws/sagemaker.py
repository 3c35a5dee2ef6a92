"""Amazon SageMaker hosting: models, endpoint configurations and endpoints (`aws_sagemaker_*`).

SageMaker cannot change a model or an endpoint configuration in place, and an endpoint only
picks up a model through a new configuration. So models and configurations are named after their
content (`name_prefix` + a digest of the other arguments): any change gives a new name, the new
object is created before the old one is deleted, and the endpoint moves to it with UpdateEndpoint.
The endpoint keeps its name, ARN and traffic through a model change.
"""

from __future__ import annotations

import re
from abc import abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import Field, ValidationError, model_validator

from mlform.errors import NotReady, ProviderError
from mlform.providers.aws.base import (
    TaggedResource,
    all_tags,
    tag_dict,
    tag_list,
    tags_all_field,
    tags_by_arn,
    tags_field,
    user_tags,
)
from mlform.providers.aws.errors import aws_call, error_code, error_message, translate
from mlform.providers.base import (
    ArgsModel,
    AttrsModel,
    Discovered,
    ForceNew,
    Prefetching,
    ResourceMeta,
    StackContext,
    Timeouts,
    Waitable,
    stable_hash,
)
from mlform.values import UNKNOWN, contains_unknown

MAX_NAME = 63  # every SageMaker name
DIGEST = 8
# Still converging: wait. Anything else that is not InService is a failure.
BUSY = frozenset({"Creating", "Updating", "SystemUpdating", "RollingBack"})
# A role created seconds ago is not yet assumable by SageMaker (IAM is eventually consistent).
ASSUME_ROLE = re.compile(r"\bcould not assume role\b", re.IGNORECASE)


def _not_found(exc: BaseException, kind: str) -> bool:
    """SageMaker reports a missing object as a ValidationException 'Could not find <kind> "x"'.
    The kind is matched with its quote, so an endpoint is not confused with its configuration."""
    return error_code(exc) == "ValidationException" and re.match(
        rf"Could not find {re.escape(kind)} [\"']", error_message(exc)) is not None


class ContentNamedArgs(ArgsModel):
    name: Annotated[str | None, ForceNew()] = Field(
        None, max_length=MAX_NAME,
        description="Name. Leave it unset: it is then `name_prefix` followed by a digest of the "
        "other arguments, so that a changed object gets a new name and can be created before "
        "the old one is deleted.")
    name_prefix: Annotated[str | None, ForceNew()] = Field(
        None, max_length=MAX_NAME - DIGEST,
        description="Start of the name when `name` is unset "
        "(default: <project>-<environment>-<resource name>-).")

    @model_validator(mode="after")
    def _has_a_name(self) -> ContentNamedArgs:
        if self.name is None and self.name_prefix is None:
            raise ValueError("set `name` or `name_prefix`")
        return self

    def derived_name(self) -> str:
        content = self.model_dump(mode="json", exclude={"name", "name_prefix", "tags"})
        return f"{self.name_prefix}{stable_hash(content, DIGEST)}"


class SagemakerAttrs(AttrsModel):
    arn: str
    tags_all: dict[str, str] = tags_all_field()


A = TypeVar("A", bound=ArgsModel)
N = TypeVar("N", bound=ContentNamedArgs)


class _SagemakerResource(TaggedResource[A], Prefetching):
    """SageMaker's types describe, delete and tag alike: `Describe<Noun>(<Noun>Name=)` ->
    `<Noun>Arn`, and any object's tags through AddTags and DeleteTags by ARN."""

    service: ClassVar[str] = "sagemaker"
    noun: ClassVar[str]  # Model, EndpointConfig, Endpoint: how the API's fields name it
    kind: ClassVar[str]  # how SageMaker's messages name it
    summaries: ClassVar[str] = ""  # the items' key in List<Noun>s answers, if not "<Noun>s"

    @abstractmethod
    def _send_describe(self, name: str) -> dict[str, Any]:
        """The Describe<Noun> call."""

    @abstractmethod
    def _send_delete(self, name: str) -> None:
        """The Delete<Noun> call."""

    @abstractmethod
    def _list_paginator(self) -> Any:
        """The paginator of the List<Noun>s call."""

    def _missing(self, exc: BaseException) -> bool:
        """True if `exc` says the object does not exist (each type says it its own way)."""
        return _not_found(exc, self.kind)

    def _describe(self, name: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            return self._send_describe(name)
        except ClientError as exc:
            if self._missing(exc):
                return None
            raise translate(exc, f"Describe{self.noun}") from exc

    def prefetch(self, items: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        arns = [str(prior["arn"]) for _, prior in items if prior.get("arn")]
        self._prefetched.update(tags_by_arn(self.aws, arns))

    def _tags(self, arn: str) -> dict[str, str]:
        batched = self._take(arn)
        if batched is not None:
            return dict(batched)
        tags: dict[str, str] = {}
        with aws_call("sagemaker", "ListTags"):
            for page in self.client.get_paginator("list_tags").paginate(ResourceArn=arn):
                tags.update(tag_dict(page.get("Tags")))
        return tags

    @abstractmethod
    def _args_from(self, found: Mapping[str, Any], prior: Mapping[str, Any]) -> dict[str, Any]:
        """The argument fields (except tags) of a described object."""

    def _attributes(self, found: Mapping[str, Any], prior: Mapping[str, Any]) -> dict[str, Any]:
        arn = found[f"{self.noun}Arn"]
        tags = self._tags(arn)
        return {**self._args_from(found, prior), "tags": user_tags(tags),
                "id": found[f"{self.noun}Name"], "arn": arn, "tags_all": tags}

    def read(self, id: str, prior: Mapping[str, Any]) -> dict[str, Any] | None:
        found = self._describe(id)
        return None if found is None else self._attributes(found, prior)

    def already_exists(self, exc: BaseException) -> bool:
        # "Cannot create already existing model", or (pipelines) ResourceInUse.
        return error_code(exc) == "ResourceInUse" or (
            error_code(exc) == "ValidationException" and "already exist" in error_message(exc))

    def _mine(self, args: A, meta: ResourceMeta) -> dict[str, Any] | None:
        """Our own object of the name `args` give (a create called again after a wait or a
        crash), None if the name is free; anyone else's is refused (`taken`). Looked up
        before the create call: AWS refuses a duplicate name, but the sandbox (moto) silently
        overwrites the object, and deleting the old one by name would then delete the new."""
        have = self.existing(args)
        if have is not None and not self.owns(have, meta):
            raise self.taken(str(have["id"]), have.get("tags_all") or {}, meta,
                             f"Create{self.noun}")
        return have

    def _created(self, name: str, arn: str, args: A, tags: Mapping[str, str],
                 meta: ResourceMeta) -> dict[str, Any]:
        # Not visible yet: what was sent, rather than NotReady, which would create it twice.
        return self.read(name, args.model_dump(mode="json")) or self.attributes(
            args, name=name, id=name, arn=arn, tags_all=all_tags(tags, meta))

    def _tag(self, ref: str, tags: Mapping[str, str]) -> None:
        with aws_call("sagemaker", "AddTags"):
            self.client.add_tags(ResourceArn=ref, Tags=tag_list(tags))

    def _untag(self, ref: str, keys: Sequence[str]) -> None:
        with aws_call("sagemaker", "DeleteTags"):
            self.client.delete_tags(ResourceArn=ref, TagKeys=list(keys))

    def _update_tags(self, id: str, prior: Mapping[str, Any], args: A,
                     tags: Mapping[str, str], meta: ResourceMeta) -> dict[str, Any]:
        """The update of a type whose only argument that changes in place is its tags."""
        have = self.read(id, prior)
        if have is None:
            raise ProviderError(f"{self.kind} {id} no longer exists; refresh and plan again")
        self.sync_tags(have["arn"], have["tags_all"], tags, meta)
        attrs = self.read(id, args.model_dump(mode="json"))
        if attrs is None:
            raise ProviderError(f"{self.kind} {id} disappeared while its tags were changed")
        return attrs

    def delete(self, id: str, prior: Mapping[str, Any]) -> None:
        from botocore.exceptions import ClientError

        try:
            self._send_delete(id)
        except ClientError as exc:
            if not self._missing(exc):
                raise translate(exc, f"Delete{self.noun}") from exc

    def list(self) -> Iterator[Discovered]:
        with aws_call("sagemaker", f"List{self.noun}s"):
            for page in self._list_paginator().paginate():
                for item in page[self.summaries or f"{self.noun}s"]:
                    arn = item[f"{self.noun}Arn"]
                    yield Discovered(id=item[f"{self.noun}Name"],
                                     tags=self._tags(arn) if self.tagged_at_create else {})


class _ContentNamed(_SagemakerResource[N]):
    """A type whose default name is derived from its arguments (see the module docstring)."""

    @classmethod
    def default_args(cls, ctx: StackContext, name: str) -> dict[str, Any]:
        return {"name_prefix": ctx.default_name(name, max_len=MAX_NAME - DIGEST - 1) + "-"}

    @classmethod
    def complete_args(cls, args: dict[str, Any]) -> dict[str, Any]:
        if args.get("name") is not None:
            return args
        content = {k: v for k, v in args.items() if k not in ("name", "tags")}
        if contains_unknown(content):
            return {**args, "name": UNKNOWN}
        try:
            parsed = cls.Args.model_validate({**content, "name": "placeholder"})
        except ValidationError:
            return args  # resolve_args validates again and reports the problem
        return {**args, "name": parsed.derived_name()}

    def id_for(self, args: N) -> str:
        return args.name or args.derived_name()


# -- aws_sagemaker_model ------------------------------------------------------------------------

class PrimaryContainer(ArgsModel):
    image: str | None = Field(
        None, description="Registry path of the inference image (in Amazon ECR); or give "
        "`model_package_name`.")
    model_package_name: str | None = Field(
        None, description="ARN of a model package (from the model registry) to serve: its "
        "image and artifacts, instead of `image` and `model_data_url`.")
    model_data_url: str | None = Field(None, description="S3 URL of the model artifacts.")
    environment: dict[str, str] = Field(
        default_factory=dict, description="Environment variables of the container.")
    mode: Literal["SingleModel", "MultiModel"] = Field(
        "SingleModel", description="One model, or many loaded on demand from `model_data_url`.")
    container_hostname: str | None = Field(None, description="DNS host name of the container.")

    @model_validator(mode="after")
    def _image_or_package(self) -> PrimaryContainer:
        if (self.image is None) == (self.model_package_name is None):
            raise ValueError("give either image or model_package_name")
        return self


class SagemakerModelArgs(ContentNamedArgs):
    execution_role_arn: Annotated[str, ForceNew()] = Field(
        description="IAM role SageMaker assumes to pull the image and the model artifacts.")
    primary_container: Annotated[PrimaryContainer, ForceNew()] = Field(
        description="The inference container.")
    enable_network_isolation: Annotated[bool, ForceNew()] = Field(
        False, description="No network access in or out of the container.")
    tags: dict[str, str] = tags_field("model")


class SagemakerModel(_ContentNamed[SagemakerModelArgs]):
    type_name: ClassVar[str] = "aws_sagemaker_model"
    noun: ClassVar[str] = "Model"
    kind: ClassVar[str] = "model"
    Args = SagemakerModelArgs
    Attrs = SagemakerAttrs
    # Only an IAM role that is still propagating is retried; two minutes is plenty for that.
    timeouts: ClassVar[Timeouts] = Timeouts(create=120.0)

    def _send_describe(self, name: str) -> dict[str, Any]:
        return dict(self.client.describe_model(ModelName=name))

    def _send_delete(self, name: str) -> None:
        self.client.delete_model(ModelName=name)

    def _list_paginator(self) -> Any:
        return self.client.get_paginator("list_models")

    def create(self, args: SagemakerModelArgs, meta: ResourceMeta) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        name = self.id_for(args)
        have = self._mine(args, meta)
        if have is not None:
            return self.update(name, have, args, meta)
        pc = args.primary_container
        container: dict[str, Any] = {"Mode": pc.mode}
        if pc.image:
            container["Image"] = pc.image
        if pc.model_package_name:
            container["ModelPackageName"] = pc.model_package_name
        if pc.environment:
            container["Environment"] = pc.environment
        if pc.model_data_url:
            container["ModelDataUrl"] = pc.model_data_url
        if pc.container_hostname:
            container["ContainerHostname"] = pc.container_hostname
        try:
            created = self.client.create_model(
                ModelName=name, ExecutionRoleArn=args.execution_role_arn,
                PrimaryContainer=container,
                EnableNetworkIsolation=args.enable_network_isolation,
                Tags=tag_list(all_tags(args.tags, meta)))
        except ClientError as exc:
            if (error_code(exc) == "ValidationException"
                    and ASSUME_ROLE.search(error_message(exc))):
                raise NotReady(f"waiting for IAM: {error_message(exc)}", retry_after=5.0
                               ) from exc
            if self.already_exists(exc):  # a botocore retry after a lost answer
                return self.adopt(args, meta, "CreateModel", exc)
            raise translate(exc, "CreateModel") from exc
        return self._created(name, created["ModelArn"], args, args.tags, meta)

    def update(self, id: str, prior: Mapping[str, Any], args: SagemakerModelArgs,
               meta: ResourceMeta) -> dict[str, Any]:
        return self._update_tags(id, prior, args, args.tags, meta)  # all else is ForceNew

    def _args_from(self, found: Mapping[str, Any], prior: Mapping[str, Any]) -> dict[str, Any]:
        pc = found.get("PrimaryContainer") or {}
        # A model made from a package may be described with the package's image: the image
        # is then AWS's choice, not an argument (unless the config gave one).
        given = (prior.get("primary_container") or {}).get("image")
        image = None if pc.get("ModelPackageName") and not given else pc.get("Image")
        return {
            "name": found["ModelName"],
            "name_prefix": prior.get("name_prefix"),  # not stored by AWS
            "execution_role_arn": found["ExecutionRoleArn"],
            "primary_container": {
                "image": image, "model_package_name": pc.get("ModelPackageName"),
                "model_data_url": pc.get("ModelDataUrl"),
                "environment": pc.get("Environment") or {},
                "mode": pc.get("Mode", "SingleModel"),
                "container_hostname": pc.get("ContainerHostname")},
            "enable_network_isolation": bool(found.get("EnableNetworkIsolation", False)),
        }


# -- aws_sagemaker_endpoint_configuration -------------------------------------------------------

class ProductionVariant(ArgsModel):
    variant_name: str = Field("AllTraffic", description="Name of the variant.")
    model_name: str = Field(description="The model to host (an `aws_sagemaker_model` name).")
    initial_instance_count: int = Field(1, ge=1, description="Instances to start with.")
    instance_type: str = Field(description="ML instance type, such as `ml.m5.large`.")
    initial_variant_weight: float = Field(
        1.0, ge=0, description="Share of the traffic, relative to the other variants.")


class SagemakerEndpointConfigurationArgs(ContentNamedArgs):
    production_variants: Annotated[list[ProductionVariant], ForceNew()] = Field(
        min_length=1, description="The models to host and the instances that serve them.")
    kms_key_arn: Annotated[str | None, ForceNew()] = Field(
        None, description="KMS key that encrypts the storage volumes of the instances.")
    tags: dict[str, str] = tags_field("endpoint configuration")


class SagemakerEndpointConfiguration(_ContentNamed[SagemakerEndpointConfigurationArgs]):
    type_name: ClassVar[str] = "aws_sagemaker_endpoint_configuration"
    noun: ClassVar[str] = "EndpointConfig"
    kind: ClassVar[str] = "endpoint configuration"
    Args = SagemakerEndpointConfigurationArgs
    Attrs = SagemakerAttrs
    # The endpoint must move to the new configuration before the old one goes.
    create_before_destroy: ClassVar[bool] = True

    def _send_describe(self, name: str) -> dict[str, Any]:
        return dict(self.client.describe_endpoint_config(EndpointConfigName=name))

    def _send_delete(self, name: str) -> None:
        self.client.delete_endpoint_config(EndpointConfigName=name)

    def _list_paginator(self) -> Any:
        return self.client.get_paginator("list_endpoint_configs")

    def create(self, args: SagemakerEndpointConfigurationArgs,
               meta: ResourceMeta) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        name = self.id_for(args)
        have = self._mine(args, meta)
        if have is not None:
            return self.update(name, have, args, meta)
        request: dict[str, Any] = {
            "EndpointConfigName": name,
            "ProductionVariants": [
                {"VariantName": v.variant_name, "ModelName": v.model_name,
                 "InitialInstanceCount": v.initial_instance_count,
                 "InstanceType": v.instance_type,
                 "InitialVariantWeight": v.initial_variant_weight}
                for v in args.production_variants],
            "Tags": tag_list(all_tags(args.tags, meta)),
        }
        if args.kms_key_arn:
            request["KmsKeyId"] = args.kms_key_arn
        try:
            created = self.client.create_endpoint_config(**request)
        except ClientError as exc:
            if self.already_exists(exc):  # a botocore retry after a lost answer
                return self.adopt(args, meta, "CreateEndpointConfig", exc)
            raise translate(exc, "CreateEndpointConfig") from exc
        return self._created(name, created["EndpointConfigArn"], args, args.tags, meta)

    def update(self, id: str, prior: Mapping[str, Any], args: SagemakerEndpointConfigurationArgs,
               meta: ResourceMeta) -> dict[str, Any]:
        return self._update_tags(id, prior, args, args.tags, meta)  # all else is ForceNew

    def _args_from(self, found: Mapping[str, Any], prior: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "name": found["EndpointConfigName"],
            "name_prefix": prior.get("name_prefix"),  # not stored by AWS
            "production_variants": [
                {"variant_name": v["VariantName"], "model_name": v.get("ModelName"),
                 "initial_instance_count": v.get("InitialInstanceCount", 1),
                 "instance_type": v.get("InstanceType"),
                 "initial_variant_weight": float(v.get("InitialVariantWeight", 1.0))}
                for v in found.get("ProductionVariants") or []],
            "kms_key_arn": found.get("KmsKeyId"),
        }


# -- aws_sagemaker_endpoint ---------------------------------------------------------------------

class SagemakerEndpointArgs(ArgsModel):
    name: Annotated[str, ForceNew()] = Field(
        max_length=MAX_NAME,
        description="Endpoint name (default: <project>-<environment>-<resource name>).")
    endpoint_config_name: str = Field(
        description="The endpoint configuration to serve; changing it updates the endpoint in "
        "place, without downtime.")
    instance_counts: dict[str, int] | None = Field(
        None, description="Instances each production variant runs (variant name -> count), "
        "kept as set: a change made outside mlform is drift, and apply scales back. Unset: "
        "not managed (the configuration's initial count at creation, then autoscaling, "
        "decide), and a move to a new configuration keeps the live counts. Not in "
        "Terraform's provider.")
    tags: dict[str, str] = tags_field("endpoint")


class SagemakerEndpoint(_SagemakerResource[SagemakerEndpointArgs], Waitable):
    type_name: ClassVar[str] = "aws_sagemaker_endpoint"
    noun: ClassVar[str] = "Endpoint"
    kind: ClassVar[str] = "endpoint"
    Args = SagemakerEndpointArgs
    Attrs = SagemakerAttrs
    timeouts: ClassVar[Timeouts] = Timeouts(create=3600.0, update=3600.0, delete=3600.0)

    name_max_len: ClassVar[int] = MAX_NAME

    def _send_describe(self, name: str) -> dict[str, Any]:
        return dict(self.client.describe_endpoint(EndpointName=name))

    def _send_delete(self, name: str) -> None:
        self.client.delete_endpoint(EndpointName=name)

    def _list_paginator(self) -> Any:
        return self.client.get_paginator("list_endpoints")

    @property
    def poll(self) -> float:
        """Seconds between status checks (the sandbox is InService at once)."""
        return 0.2 if self.aws.is_sandbox else 10.0

    def create(self, args: SagemakerEndpointArgs, meta: ResourceMeta) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        have = self._mine(args, meta)
        if have is not None:
            return self.update(args.name, have, args, meta)
        try:
            created = self.client.create_endpoint(
                EndpointName=args.name, EndpointConfigName=args.endpoint_config_name,
                Tags=tag_list(all_tags(args.tags, meta)))
        except ClientError as exc:
            if self.already_exists(exc):  # a botocore retry after a lost answer
                return self.adopt(args, meta, "CreateEndpoint", exc)
            raise translate(exc, "CreateEndpoint") from exc
        return self._created(args.name, created["EndpointArn"], args, args.tags, meta)

    def _args_from(self, found: Mapping[str, Any], prior: Mapping[str, Any]) -> dict[str, Any]:
        # EndpointStatus is deliberately left out: a changing status would show as drift.
        # Instance counts are reported only when managed, as autoscaling moves them otherwise.
        # `prior` says whether they are: the recorded attributes, or after a change the
        # arguments it applied (so that taking them over or handing them back is recorded).
        managed = prior.get("instance_counts") is not None
        return {"name": found["EndpointName"],
                "endpoint_config_name": found["EndpointConfigName"],
                "instance_counts": _instance_counts(found) if managed else None}

    def wait_ready(self, attributes: Mapping[str, Any]) -> dict[str, Any]:
        name = str(attributes["id"])
        found = self._describe(name)
        if found is None:
            raise ProviderError(f"endpoint {name} disappeared while it was being deployed")
        status = found["EndpointStatus"]
        reason = found.get("FailureReason")
        if status in BUSY:
            raise NotReady(f"endpoint {name} is {status}", retry_after=self.poll)
        if status != "InService":
            raise ProviderError(f"endpoint {name} is {status}: {reason or 'no reason given'}")
        wanted = attributes.get("endpoint_config_name")
        if wanted and found["EndpointConfigName"] != wanted:
            if reason:  # SageMaker rolled a failed update back to the old configuration
                raise ProviderError(
                    f"endpoint {name} could not move to {wanted} and still serves "
                    f"{found['EndpointConfigName']}: {reason}")
            raise NotReady(f"endpoint {name} has not started moving to {wanted}",
                           retry_after=self.poll)
        return self._attributes(found, attributes)

    def update(self, id: str, prior: Mapping[str, Any], args: SagemakerEndpointArgs,
               meta: ResourceMeta) -> dict[str, Any]:
        found = self._describe(id)
        if found is None:
            raise ProviderError(f"endpoint {id} no longer exists")
        if found["EndpointStatus"] in BUSY:  # UpdateEndpoint refuses a busy endpoint
            raise NotReady(f"endpoint {id} is {found['EndpointStatus']}", retry_after=self.poll)
        # Skipped when a previous attempt got as far: calling it twice is calling it once.
        if found["EndpointConfigName"] != args.endpoint_config_name:
            self._move(id, args)
        elif args.instance_counts is not None:
            self._scale(id, found, args.instance_counts)
        self.sync_tags(found["EndpointArn"], self._tags(found["EndpointArn"]), args.tags, meta)
        attrs = self._attributes(found, args.model_dump(mode="json"))
        # Until the deployment finishes AWS still reports the old configuration and counts;
        # wait_ready compares the live configuration with this to tell a finished update from
        # a rolled-back one, and reads the counts again.
        return {**attrs, "endpoint_config_name": args.endpoint_config_name,
                "instance_counts": args.instance_counts}

    def _move(self, id: str, args: SagemakerEndpointArgs) -> None:
        """UpdateEndpoint to the new configuration. By default AWS gives every variant the
        configuration's initial instance count, which would undo whatever scaled it; so when
        the counts are not managed here, the live counts are kept (RetainAllVariantProperties)
        and only the weights come from the configuration."""
        request: dict[str, Any] = {"EndpointName": id,
                                   "EndpointConfigName": args.endpoint_config_name}
        if args.instance_counts is None:
            request["RetainAllVariantProperties"] = True
            request["ExcludeRetainedVariantProperties"] = [
                {"VariantPropertyType": "DesiredWeight"}]
        with aws_call("sagemaker", "UpdateEndpoint"):
            self.client.update_endpoint(**request)

    def _scale(self, id: str, found: Mapping[str, Any], wanted: Mapping[str, int]) -> None:
        """Set the variants' instance counts that differ from `wanted` (a configuration change
        resets them to its initial counts, so this waits for the next apply then)."""
        live = _instance_counts(found)
        changes = [{"VariantName": v, "DesiredInstanceCount": n}
                   for v, n in sorted(wanted.items()) if live.get(v) != n]
        unknown = sorted(set(wanted) - set(live))
        if unknown:
            raise ProviderError(f"endpoint {id} has no production variant named "
                                f"{', '.join(unknown)} (it has {', '.join(sorted(live))})")
        if changes:
            with aws_call("sagemaker", "UpdateEndpointWeightsAndCapacities"):
                self.client.update_endpoint_weights_and_capacities(
                    EndpointName=id, DesiredWeightsAndCapacities=changes)

    def delete(self, id: str, prior: Mapping[str, Any]) -> None:
        found = self._describe(id)
        if found is None:
            return
        if found["EndpointStatus"] != "Deleting":
            super().delete(id, prior)
            if self._describe(id) is None:
                return
        raise NotReady(f"endpoint {id} is being deleted", retry_after=self.poll)


def _instance_counts(found: Mapping[str, Any]) -> dict[str, int]:
    return {v["VariantName"]: int(v.get("DesiredInstanceCount",
                                        v.get("CurrentInstanceCount", 0)))
            for v in found.get("ProductionVariants") or []}
