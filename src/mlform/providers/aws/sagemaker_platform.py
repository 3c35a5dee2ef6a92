"""Amazon SageMaker notebooks: `aws_sagemaker_notebook_instance` and its lifecycle
configuration, and `PlatformResource`, which the MLOps types (`sagemaker_mlops`) share.

The hosting types' conventions (`sagemaker.py`) hold here too, except that each type reports a
missing object its own way and some lists name their items differently.
"""

from __future__ import annotations

import base64
import binascii
import re
import time
from collections.abc import Callable, Mapping
from typing import Annotated, Any, ClassVar, Literal, NoReturn, TypeVar

from pydantic import AfterValidator, Field, ValidationInfo, field_validator

from mlform.errors import NotReady, ProviderError
from mlform.providers.aws.base import all_tags, tag_list, tags_field
from mlform.providers.aws.errors import aws_call, error_code, error_message, translate
from mlform.providers.aws.sagemaker import (
    ASSUME_ROLE,
    MAX_NAME,
    SagemakerAttrs,
    _SagemakerResource,
)
from mlform.providers.base import (
    ArgsModel,
    AttrsModel,
    ForceNew,
    ResourceMeta,
    Timeouts,
    Waitable,
)

NAME = r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$"  # notebooks, lifecycle configurations, pipelines
# Answers to a create that name something created moments ago: IAM and S3 are eventually
# consistent. Retried for as long as Terraform does (its propagationTimeout), then reported.
PROPAGATING = re.compile(
    rf"{ASSUME_ROLE.pattern}|execution role ARN .*is invalid|Invalid S3Uri provided", re.I)
PROPAGATION = 120.0

A = TypeVar("A", bound=ArgsModel)


class PlatformResource(_SagemakerResource[A]):
    """What the notebook, pipeline and feature group types add to the hosting types' base."""

    def __init__(self, session: Any) -> None:
        super().__init__(session)
        self._first_refused: dict[str, float] = {}

    @property
    def poll(self) -> float:
        """Seconds between status checks (the sandbox changes state at once)."""
        return 0.2 if self.aws.is_sandbox else 10.0

    def _create(self, name: str, send: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """What `send` (the Create<Noun> call) answers; NotReady while IAM or S3 propagate."""
        from botocore.exceptions import ClientError

        operation = f"Create{self.noun}"
        try:
            created = send()
        except ClientError as exc:
            message = error_message(exc)
            if error_code(exc) != "ValidationException" or not PROPAGATING.search(message):
                raise translate(exc, operation) from exc
            first = self._first_refused.setdefault(name, time.monotonic())
            if time.monotonic() - first > PROPAGATION:
                del self._first_refused[name]
                raise translate(exc, operation) from exc
            raise NotReady(f"waiting for IAM or S3 to propagate: {message}", 5.0) from exc
        self._first_refused.pop(name, None)
        return created

    def _created(self, name: str, arn: str, args: A, tags: Mapping[str, str],
                 meta: ResourceMeta, **computed: Any) -> dict[str, Any]:
        # Not visible yet: what was sent, rather than NotReady, which would create it twice.
        found = self.read(name, args.model_dump(mode="json"))
        if found is not None:
            return found
        if self.tagged_at_create:
            computed["tags_all"] = all_tags(tags, meta)
        return self.attributes(args, id=name, arn=arn, **computed)


# -- aws_sagemaker_notebook_instance_lifecycle_configuration ------------------------------------

def _base64(value: str) -> str:
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("must be base64-encoded (in Terraform: base64encode(...))") from None
    return value


Script = Annotated[str, AfterValidator(_base64)]


def _hooks(script: str | None) -> list[dict[str, str]]:
    return [{"Content": script}] if script else []


class SagemakerNotebookInstanceLifecycleConfigurationArgs(ArgsModel):
    name: Annotated[str, ForceNew()] = Field(
        max_length=MAX_NAME, pattern=NAME,
        description="Name (default: <project>-<environment>-<resource name>).")
    on_create: Script | None = Field(
        None, min_length=1, max_length=16384,
        description="Shell script run once, when a notebook instance is created; base64-encoded.")
    on_start: Script | None = Field(
        None, min_length=1, max_length=16384,
        description="Shell script run every time a notebook instance starts; base64-encoded.")


class SagemakerNotebookInstanceLifecycleConfigurationAttrs(AttrsModel):
    arn: str


class SagemakerNotebookInstanceLifecycleConfiguration(
        PlatformResource[SagemakerNotebookInstanceLifecycleConfigurationArgs]):
    type_name: ClassVar[str] = "aws_sagemaker_notebook_instance_lifecycle_configuration"
    noun: ClassVar[str] = "NotebookInstanceLifecycleConfig"
    kind: ClassVar[str] = "notebook instance lifecycle configuration"
    Args = SagemakerNotebookInstanceLifecycleConfigurationArgs
    Attrs = SagemakerNotebookInstanceLifecycleConfigurationAttrs
    name_max_len: ClassVar[int] = MAX_NAME
    tagged_at_create: ClassVar[bool] = False  # SageMaker takes no tags for these

    def _missing(self, exc: BaseException) -> bool:
        return error_code(exc) == "ValidationException" and "does not exist" in error_message(
            exc)

    def _send_describe(self, name: str) -> dict[str, Any]:
        return dict(self.client.describe_notebook_instance_lifecycle_config(
            NotebookInstanceLifecycleConfigName=name))

    def _send_delete(self, name: str) -> None:
        self.client.delete_notebook_instance_lifecycle_config(
            NotebookInstanceLifecycleConfigName=name)

    def _list_paginator(self) -> Any:
        return self.client.get_paginator("list_notebook_instance_lifecycle_configs")

    def create(self, args: SagemakerNotebookInstanceLifecycleConfigurationArgs,
               meta: ResourceMeta) -> dict[str, Any]:
        # Nothing marks the object as ours: a taken name is refused by SageMaker itself.
        create = self.client.create_notebook_instance_lifecycle_config
        created = self._create(args.name, lambda: create(
            NotebookInstanceLifecycleConfigName=args.name, OnCreate=_hooks(args.on_create),
            OnStart=_hooks(args.on_start)))
        return self._created(args.name, created[f"{self.noun}Arn"], args, {}, meta)

    def _args_from(self, found: Mapping[str, Any], prior: Mapping[str, Any]) -> dict[str, Any]:
        def script(key: str) -> str | None:
            return next((h.get("Content") for h in found.get(key) or []), None)

        return {"name": found[f"{self.noun}Name"], "on_create": script("OnCreate"),
                "on_start": script("OnStart")}

    def _attributes(self, found: Mapping[str, Any], prior: Mapping[str, Any]) -> dict[str, Any]:
        return {**self._args_from(found, prior), "id": found[f"{self.noun}Name"],
                "arn": found[f"{self.noun}Arn"]}

    def update(self, id: str, prior: Mapping[str, Any],
               args: SagemakerNotebookInstanceLifecycleConfigurationArgs,
               meta: ResourceMeta) -> dict[str, Any]:
        # Both hooks are always sent: an omitted one would be kept, an empty one is removed.
        with aws_call("sagemaker", "UpdateNotebookInstanceLifecycleConfig"):
            self.client.update_notebook_instance_lifecycle_config(
                NotebookInstanceLifecycleConfigName=id,
                OnCreate=_hooks(args.on_create), OnStart=_hooks(args.on_start))
        attrs = self.read(id, prior)
        if attrs is None:
            raise ProviderError(f"{self.kind} {id} disappeared while it was updated")
        return attrs


# -- aws_sagemaker_notebook_instance ------------------------------------------------------------

def _as_set(value: list[str]) -> list[str]:
    return sorted(set(value))  # a set in Terraform: order and repeats mean nothing


Enabled = Literal["Enabled", "Disabled"]
# Statuses a notebook instance passes through on its own; anything else is where it stays.
NOTEBOOK_BUSY = frozenset({"Pending", "Updating", "Stopping"})
# UpdateNotebookInstance parameter -> the argument it changes (for messages).
NOTEBOOK_FIELDS = {"InstanceType": "instance_type", "RoleArn": "role_arn",
                   "VolumeSizeInGB": "volume_size", "LifecycleConfigName": "lifecycle_config_name",
                   "DisassociateLifecycleConfig": "lifecycle_config_name",
                   "RootAccess": "root_access"}


class SagemakerNotebookInstanceArgs(ArgsModel):
    name: Annotated[str, ForceNew()] = Field(
        max_length=MAX_NAME, pattern=NAME,
        description="Name (default: <project>-<environment>-<resource name>).")
    role_arn: str = Field(description="IAM role the notebook's code runs as.")
    instance_type: str = Field(description="ML instance type, such as `ml.t3.medium`.")
    lifecycle_config_name: str | None = Field(
        None, description="An `aws_sagemaker_notebook_instance_lifecycle_configuration` to run.")
    direct_internet_access: Annotated[Enabled, ForceNew()] = Field(
        "Enabled", description="`Disabled`: the notebook reaches the network only through "
        "`subnet_id` (a NAT gateway or VPC endpoints in its VPC).")
    subnet_id: Annotated[str | None, ForceNew()] = Field(
        None, validate_default=True, description="Subnet of the notebook's network interface. "
        "Required when `direct_internet_access` is `Disabled`.")
    security_groups: Annotated[Annotated[list[str], AfterValidator(_as_set)] | None,
                               ForceNew()] = Field(
        None, min_length=1, description="Security groups of the network interface (with "
        "`subnet_id`; unset: AWS chooses, and mlform does not compare them).")
    kms_key_id: Annotated[str | None, ForceNew()] = Field(
        None, description="KMS key that encrypts the notebook's storage volume.")
    volume_size: int = Field(
        5, ge=5, le=16384, description="Storage volume in GB. It can grow in place, not shrink.")
    root_access: Enabled = Field("Enabled", description="Whether users get root access.")
    tags: dict[str, str] = tags_field("notebook instance")

    @field_validator("subnet_id")
    @classmethod
    def _subnet_without_internet(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and info.data.get("direct_internet_access") == "Disabled":
            raise ValueError("required when direct_internet_access is Disabled: the notebook "
                             "then reaches the network only through a subnet of your VPC")
        return value


class SagemakerNotebookInstanceAttrs(SagemakerAttrs):
    url: str = Field(description="Host name of the notebook's Jupyter server.")
    network_interface_id: str | None = Field(
        None, description="Network interface in `subnet_id` (none without a subnet).")


class SagemakerNotebookInstance(PlatformResource[SagemakerNotebookInstanceArgs], Waitable):
    """Changing anything but tags needs the instance Stopped. `update` takes a running one
    through stop -> update -> start, one step per call, waiting (NotReady) in between. The user
    sees the apply wait with, in turn, "stopping it to change instance_type ... it is started
    again afterwards", "Stopping", "updating", "Updating", "starting it again", "Pending";
    the notebook is unavailable meanwhile (minutes on AWS). One that was stopped stays stopped.
    """

    type_name: ClassVar[str] = "aws_sagemaker_notebook_instance"
    noun: ClassVar[str] = "NotebookInstance"
    kind: ClassVar[str] = "notebook instance"
    Args = SagemakerNotebookInstanceArgs
    Attrs = SagemakerNotebookInstanceAttrs
    name_max_len: ClassVar[int] = MAX_NAME
    # Terraform's waits: 60 min to InService; an update adds a stop and an update (10 min
    # each), a delete is a stop and a delete.
    timeouts: ClassVar[Timeouts] = Timeouts(create=3600.0, update=4800.0, delete=1200.0)

    @classmethod
    def check_change(cls, before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
        was, size = before.get("volume_size"), after.get("volume_size")
        if isinstance(was, int) and isinstance(size, int) and size < was:
            return [_shrink(was, size)]
        return []

    def __init__(self, session: Any) -> None:
        super().__init__(session)
        # Instances `update` stopped and must start again. Only this process knows: after a
        # crash mid-update the instance stays stopped, as it would with Terraform.
        self._restart: set[str] = set()

    def _missing(self, exc: BaseException) -> bool:
        return error_code(exc) == "ValidationException" and "RecordNotFound" in error_message(
            exc)

    def _send_describe(self, name: str) -> dict[str, Any]:
        return dict(self.client.describe_notebook_instance(NotebookInstanceName=name))

    def _send_delete(self, name: str) -> None:
        self.client.delete_notebook_instance(NotebookInstanceName=name)

    def _list_paginator(self) -> Any:
        return self.client.get_paginator("list_notebook_instances")

    def _start(self, id: str) -> None:
        with aws_call("sagemaker", "StartNotebookInstance"):
            self.client.start_notebook_instance(NotebookInstanceName=id)

    def _stop(self, id: str) -> None:
        with aws_call("sagemaker", "StopNotebookInstance"):
            self.client.stop_notebook_instance(NotebookInstanceName=id)

    def create(self, args: SagemakerNotebookInstanceArgs, meta: ResourceMeta) -> dict[str, Any]:
        have = self._mine(args, meta)
        if have is not None:
            return self.update(args.name, have, args, meta)
        request: dict[str, Any] = {
            "NotebookInstanceName": args.name, "RoleArn": args.role_arn,
            "InstanceType": args.instance_type,
            "DirectInternetAccess": args.direct_internet_access,
            "VolumeSizeInGB": args.volume_size, "RootAccess": args.root_access,
            "Tags": tag_list(all_tags(args.tags, meta))}
        optional = {"LifecycleConfigName": args.lifecycle_config_name,
                    "SubnetId": args.subnet_id, "SecurityGroupIds": args.security_groups,
                    "KmsKeyId": args.kms_key_id}
        request.update({k: v for k, v in optional.items() if v is not None})
        created = self._create(args.name, lambda: self.client.create_notebook_instance(**request))
        return self._created(args.name, created["NotebookInstanceArn"], args, args.tags, meta,
                             url="", network_interface_id=None)

    def _args_from(self, found: Mapping[str, Any], prior: Mapping[str, Any]) -> dict[str, Any]:
        groups = found.get("SecurityGroups")
        return {
            "name": found["NotebookInstanceName"], "role_arn": found["RoleArn"],
            "instance_type": found["InstanceType"],
            "lifecycle_config_name": found.get("NotebookInstanceLifecycleConfigName"),
            "direct_internet_access": found.get("DirectInternetAccess") or "Enabled",
            "subnet_id": found.get("SubnetId"),
            # Unset, AWS picks them (Terraform: optional and computed): nothing to compare.
            "security_groups": (None if prior.get("security_groups") is None
                                else _as_set(groups or [])),
            "kms_key_id": found.get("KmsKeyId"),
            "volume_size": found.get("VolumeSizeInGB", 5),
            "root_access": found.get("RootAccess") or "Enabled",
        }

    def _attributes(self, found: Mapping[str, Any], prior: Mapping[str, Any]) -> dict[str, Any]:
        return {**super()._attributes(found, prior), "url": found.get("Url") or "",
                "network_interface_id": found.get("NetworkInterfaceId")}

    def _changes(self, found: Mapping[str, Any],
                 args: SagemakerNotebookInstanceArgs) -> dict[str, Any]:
        """UpdateNotebookInstance's parameters for what differs between the live instance and
        `args` (the live one: a step that already happened is not repeated)."""
        changes: dict[str, Any] = {}
        if args.instance_type != found["InstanceType"]:
            changes["InstanceType"] = args.instance_type
        if args.role_arn != found["RoleArn"]:
            changes["RoleArn"] = args.role_arn
        size = found.get("VolumeSizeInGB", 5)
        if args.volume_size < size:  # the plan refuses it; grown outside mlform since then
            raise ProviderError(f"notebook instance {args.name}: {_shrink(size, args.volume_size)}")
        if args.volume_size != size:
            changes["VolumeSizeInGB"] = args.volume_size
        if args.lifecycle_config_name != found.get("NotebookInstanceLifecycleConfigName"):
            if args.lifecycle_config_name is None:
                changes["DisassociateLifecycleConfig"] = True
            else:
                changes["LifecycleConfigName"] = args.lifecycle_config_name
        if args.root_access != (found.get("RootAccess") or "Enabled"):
            changes["RootAccess"] = args.root_access
        return changes

    def update(self, id: str, prior: Mapping[str, Any], args: SagemakerNotebookInstanceArgs,
               meta: ResourceMeta) -> dict[str, Any]:
        found = self._describe(id)
        if found is None:
            raise ProviderError(f"notebook instance {id} no longer exists; refresh and plan again")
        status = found["NotebookInstanceStatus"]
        changes = self._changes(found, args)
        if changes:
            self._step(id, status, changes, found.get("FailureReason"))
        if id in self._restart:
            if status == "Stopped":  # sent again until it takes, as Terraform does
                self._start(id)
                raise NotReady(f"notebook instance {id} updated; starting it again",
                               retry_after=self.poll)
            if status in NOTEBOOK_BUSY:
                raise NotReady(f"notebook instance {id} is {status}", retry_after=self.poll)
            self._restart.discard(id)
        arn = found["NotebookInstanceArn"]
        self.sync_tags(arn, self._tags(arn), args.tags, meta)
        attrs = self.read(id, args.model_dump(mode="json"))
        if attrs is None:
            raise ProviderError(f"notebook instance {id} disappeared while it was updated")
        return attrs

    def _step(self, id: str, status: str, changes: Mapping[str, Any],
              reason: str | None) -> NoReturn:
        """The next step of a change that needs the instance stopped; always waits after it."""
        if status == "InService":
            fields = ", ".join(sorted({NOTEBOOK_FIELDS[k] for k in changes}))
            self._stop(id)
            self._restart.add(id)
            raise NotReady(f"notebook instance {id}: stopping it to change {fields}; it is "
                           "started again afterwards", retry_after=self.poll)
        if status == "Stopped":
            with aws_call("sagemaker", "UpdateNotebookInstance"):
                self.client.update_notebook_instance(NotebookInstanceName=id, **changes)
            raise NotReady(f"notebook instance {id}: updating", retry_after=self.poll)
        if status in NOTEBOOK_BUSY:
            raise NotReady(f"notebook instance {id} is {status}", retry_after=self.poll)
        raise ProviderError(f"notebook instance {id} is {status}"
                            f"{f' ({reason})' if reason else ''}: it can be changed only when "
                            "in service or stopped")

    def wait_ready(self, attributes: Mapping[str, Any]) -> dict[str, Any]:
        name = str(attributes["id"])
        found = self._describe(name)
        if found is None:
            raise ProviderError(f"notebook instance {name} disappeared while it was starting")
        status = found["NotebookInstanceStatus"]
        if status in NOTEBOOK_BUSY:
            raise NotReady(f"notebook instance {name} is {status}", retry_after=self.poll)
        # Stopped is settled too: an update leaves a stopped notebook stopped.
        if status not in ("InService", "Stopped"):
            raise ProviderError(f"notebook instance {name} is {status}: "
                                f"{found.get('FailureReason') or 'no reason given'}")
        return self._attributes(found, attributes)

    def delete(self, id: str, prior: Mapping[str, Any]) -> None:
        found = self._describe(id)
        if found is not None and found["NotebookInstanceStatus"] == "InService":
            # SageMaker deletes stopped instances only.
            self._stop(id)
            found = self._describe(id)
        if found is not None and found["NotebookInstanceStatus"] in ("Stopped", "Failed"):
            super().delete(id, prior)
            found = self._describe(id)
        if found is not None:
            raise NotReady(f"notebook instance {id} is {found['NotebookInstanceStatus']} "
                           "(being deleted)", retry_after=self.poll)


def _shrink(was: int, size: int) -> str:
    return (f"volume_size cannot shrink ({was} GB to {size} GB): SageMaker only grows a "
            f"notebook's volume. Keep it at {was} or more; or, to start over with a smaller "
            "volume, rename the notebook component (or change the resource's `name`), which "
            "replaces the instance and loses what is on its volume")
