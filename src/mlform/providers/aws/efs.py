"""Amazon EFS: `aws_efs_file_system` and `aws_efs_mount_target`, shared storage that every
node of a training cluster mounts (datasets, checkpoints).

EFS assigns the ids, but a file system's create call takes a client token (`creation_token`,
by default the resource's deterministic name): a create called again, by botocore after a lost
answer or by mlform after a crash, is answered FileSystemAlreadyExists, and the file system is
found by its token and adopted if its tags say it is ours. A mount target is unique per file
system and availability zone, so it is found again by its file system and subnet. Both are
made asynchronously (`creating`, then `available`) and deleted so too: creates wait until
`available`, and deletes until the object is gone (a file system cannot be deleted while its
mount targets are still being deleted).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, Field

from mlform.errors import NotReady, ProviderError
from mlform.providers.aws.base import (
    AwsResource,
    TaggedResource,
    all_tags,
    tag_dict,
    tag_list,
    tags_all_field,
    tags_field,
    user_tags,
)
from mlform.providers.aws.errors import aws_call, error_code, translate
from mlform.providers.base import (
    ArgsModel,
    AttrsModel,
    Computed,
    Discovered,
    ForceNew,
    ResourceMeta,
    Timeouts,
    Waitable,
)

BUSY = frozenset({"creating", "updating", "deleting"})


def _poll(resource: AwsResource[Any]) -> float:
    return 0.2 if resource.aws.is_sandbox else 5.0


def _dns_name(file_system_id: str, region: str) -> str:
    return f"{file_system_id}.efs.{region}.amazonaws.com"


# -- aws_efs_file_system ------------------------------------------------------------------------

class LifecyclePolicy(ArgsModel):
    transition_to_ia: Literal["AFTER_1_DAY", "AFTER_7_DAYS", "AFTER_14_DAYS", "AFTER_30_DAYS",
                              "AFTER_60_DAYS", "AFTER_90_DAYS", "AFTER_180_DAYS",
                              "AFTER_270_DAYS", "AFTER_365_DAYS"] | None = Field(
        None, description="Move files not read for this long to Infrequent Access.")
    transition_to_primary_storage_class: Literal["AFTER_1_ACCESS"] | None = Field(
        None, description="Move a file back to Standard on its first read.")


class EfsFileSystemArgs(ArgsModel):
    creation_token: Annotated[str, ForceNew()] = Field(
        max_length=64, description="Idempotency token of the create call (default: "
        "<project>-<environment>-<resource name>).")
    encrypted: Annotated[bool, ForceNew()] = Field(False, description="Encrypt data at rest.")
    kms_key_id: Annotated[str | None, ForceNew(), Computed()] = Field(
        None, description="KMS key ARN (with `encrypted`; unset: AWS's aws/elasticfilesystem "
        "key).")
    performance_mode: Annotated[Literal["generalPurpose", "maxIO"], ForceNew()] = Field(
        "generalPurpose", description="`maxIO` for thousands of clients at once.")
    throughput_mode: Literal["bursting", "provisioned", "elastic"] = Field(
        "bursting", description="How throughput is set (changed in place).")
    provisioned_throughput_in_mibps: float | None = Field(
        None, gt=0, description="Throughput with `throughput_mode: provisioned`.")
    lifecycle_policy: list[LifecyclePolicy] = Field(
        default_factory=list, max_length=2, description="When files move between storage "
        "classes: one block per transition.")
    tags: dict[str, str] = tags_field("file system")


class EfsFileSystemAttrs(AttrsModel):
    arn: str
    dns_name: str = Field(description="`<id>.efs.<region>.amazonaws.com`: what clients mount.")
    owner_id: str
    number_of_mount_targets: int
    tags_all: dict[str, str] = tags_all_field()


class EfsFileSystem(TaggedResource[EfsFileSystemArgs], Waitable):
    type_name: ClassVar[str] = "aws_efs_file_system"
    service: ClassVar[str] = "efs"
    destroy_loses: ClassVar[str] = "every file stored on it"
    Args = EfsFileSystemArgs
    Attrs = EfsFileSystemAttrs
    name_arg: ClassVar[str] = "creation_token"
    name_max_len: ClassVar[int] = 64
    timeouts: ClassVar[Timeouts] = Timeouts(create=600.0, delete=600.0)  # Terraform's

    def id_for(self, args: EfsFileSystemArgs) -> str:
        raise ProviderError(f"{self.type_name}: EFS assigns the id; the file system is found "
                            "by its creation_token instead")

    def _describe(self, **params: Any) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            found = self.client.describe_file_systems(**params)["FileSystems"]
        except ClientError as exc:
            if error_code(exc) == "FileSystemNotFound":
                return None
            raise translate(exc, "DescribeFileSystems") from exc
        live = [f for f in found if f.get("LifeCycleState") != "deleted"]
        return dict(live[0]) if live else None

    def _attributes(self, live: Mapping[str, Any], prior: Mapping[str, Any]) -> dict[str, Any]:
        fs_id = live["FileSystemId"]
        with aws_call("efs", "DescribeLifecycleConfiguration"):
            policies = self.client.describe_lifecycle_configuration(
                FileSystemId=fs_id).get("LifecyclePolicies") or []
        tags = tag_dict(live.get("Tags"))
        return {
            "id": fs_id, "arn": live.get("FileSystemArn") or "",
            "creation_token": live["CreationToken"], "encrypted": bool(live.get("Encrypted")),
            "kms_key_id": live.get("KmsKeyId"),
            "performance_mode": live.get("PerformanceMode", "generalPurpose"),
            "throughput_mode": live.get("ThroughputMode", "bursting"),
            "provisioned_throughput_in_mibps": live.get("ProvisionedThroughputInMibps")
            if live.get("ThroughputMode") == "provisioned" else None,
            "lifecycle_policy": [
                {"transition_to_ia": p.get("TransitionToIA"),
                 "transition_to_primary_storage_class": p.get("TransitionToPrimaryStorageClass")}
                for p in policies],
            "tags": user_tags(tags), "tags_all": tags,
            "dns_name": _dns_name(fs_id, self.aws.region),
            "owner_id": live.get("OwnerId") or "",
            "number_of_mount_targets": int(live.get("NumberOfMountTargets") or 0),
        }

    def read(self, id: str, prior: Mapping[str, Any]) -> dict[str, Any] | None:
        live = self._describe(FileSystemId=id)
        return None if live is None else self._attributes(live, prior)

    def find(self, args: ArgsModel, meta: ResourceMeta) -> dict[str, Any] | None:
        assert isinstance(args, EfsFileSystemArgs)
        live = self._describe(CreationToken=args.creation_token)
        if live is None:
            return None
        attrs = self._attributes(live, args.model_dump(mode="json"))
        return attrs if self.owns(attrs, meta) else None

    def existing(self, args: EfsFileSystemArgs) -> dict[str, Any] | None:
        live = self._describe(CreationToken=args.creation_token)
        return None if live is None else self._attributes(live, args.model_dump(mode="json"))

    def create(self, args: EfsFileSystemArgs, meta: ResourceMeta) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        request: dict[str, Any] = {
            "CreationToken": args.creation_token, "PerformanceMode": args.performance_mode,
            "Encrypted": args.encrypted, "ThroughputMode": args.throughput_mode,
            "Tags": tag_list(all_tags(args.tags, meta))}
        if args.kms_key_id:
            request["KmsKeyId"] = args.kms_key_id
        if args.provisioned_throughput_in_mibps:
            request["ProvisionedThroughputInMibps"] = args.provisioned_throughput_in_mibps
        try:
            live = dict(self.client.create_file_system(**request))
        except ClientError as exc:
            if error_code(exc) == "FileSystemAlreadyExists":  # the token: ours, or refused
                return self.adopt(args, meta, "CreateFileSystem", exc)
            raise translate(exc, "CreateFileSystem") from exc
        fs_id = live["FileSystemId"]
        if args.lifecycle_policy:
            if live.get("LifeCycleState") != "available":
                # Its lifecycle is set once it is available: carry on through update.
                raise NotReady(f"file system {fs_id} is {live.get('LifeCycleState')}",
                               retry_after=_poll(self))
            self._put_lifecycle(fs_id, args)
        return self.read_back(fs_id, args.model_dump(mode="json"))

    def _put_lifecycle(self, fs_id: str, args: EfsFileSystemArgs) -> None:
        keys = {"transition_to_ia": "TransitionToIA",
                "transition_to_primary_storage_class": "TransitionToPrimaryStorageClass"}
        policies = [{keys[k]: v for k, v in p.model_dump().items() if v}
                    for p in args.lifecycle_policy]
        with aws_call("efs", "PutLifecycleConfiguration"):
            self.client.put_lifecycle_configuration(FileSystemId=fs_id,
                                                    LifecyclePolicies=policies)

    def update(self, id: str, prior: Mapping[str, Any], args: EfsFileSystemArgs,
               meta: ResourceMeta) -> dict[str, Any]:
        live = self._describe(FileSystemId=id)
        if live is None:
            raise ProviderError(f"file system {id} no longer exists; refresh and plan again")
        if live.get("LifeCycleState") in BUSY:
            raise NotReady(f"file system {id} is {live['LifeCycleState']}",
                           retry_after=_poll(self))
        have = self._attributes(live, prior)
        changes: dict[str, Any] = {}
        if have["throughput_mode"] != args.throughput_mode:
            changes["ThroughputMode"] = args.throughput_mode
        if (args.provisioned_throughput_in_mibps is not None
                and have["provisioned_throughput_in_mibps"]
                != args.provisioned_throughput_in_mibps):
            changes["ProvisionedThroughputInMibps"] = args.provisioned_throughput_in_mibps
        if changes:
            with aws_call("efs", "UpdateFileSystem"):
                self.client.update_file_system(FileSystemId=id, **changes)
        wanted = [p.model_dump() for p in args.lifecycle_policy]
        if have["lifecycle_policy"] != wanted:
            self._put_lifecycle(id, args)
        self.sync_tags(id, have["tags_all"], args.tags, meta)
        return self.read_back(id, args.model_dump(mode="json"))

    def _tag(self, ref: str, tags: Mapping[str, str]) -> None:
        with aws_call("efs", "TagResource"):
            self.client.tag_resource(ResourceId=ref, Tags=tag_list(tags))

    def _untag(self, ref: str, keys: Sequence[str]) -> None:
        with aws_call("efs", "UntagResource"):
            self.client.untag_resource(ResourceId=ref, TagKeys=list(keys))

    def wait_ready(self, attributes: Mapping[str, Any]) -> dict[str, Any]:
        fs_id = str(attributes["id"])
        live = self._describe(FileSystemId=fs_id)
        if live is None:
            raise ProviderError(f"file system {fs_id} disappeared while it was being created")
        state = live.get("LifeCycleState")
        if state in BUSY:
            raise NotReady(f"file system {fs_id} is {state}", retry_after=_poll(self))
        if state != "available":
            raise ProviderError(f"file system {fs_id} is {state}: AWS could not make it")
        return self._attributes(live, attributes)

    def delete(self, id: str, prior: Mapping[str, Any]) -> None:
        from botocore.exceptions import ClientError

        live = self._describe(FileSystemId=id)
        if live is None:
            return
        if live.get("LifeCycleState") != "deleting":
            try:
                self.client.delete_file_system(FileSystemId=id)
            except ClientError as exc:
                if error_code(exc) == "FileSystemNotFound":
                    return
                if error_code(exc) == "FileSystemInUse":  # mount targets still being deleted
                    raise NotReady(f"file system {id} still has mount targets",
                                   retry_after=_poll(self)) from None
                raise translate(exc, "DeleteFileSystem") from exc
        if self._describe(FileSystemId=id) is not None:
            raise NotReady(f"file system {id} is being deleted", retry_after=_poll(self))

    def list(self) -> Iterator[Discovered]:
        with aws_call("efs", "DescribeFileSystems"):
            for page in self.client.get_paginator("describe_file_systems").paginate():
                for fs in page["FileSystems"]:
                    yield Discovered(id=fs["FileSystemId"], tags=tag_dict(fs.get("Tags")))


# -- aws_efs_mount_target -----------------------------------------------------------------------

def _as_set(value: list[str] | None) -> list[str] | None:
    return None if value is None else sorted(set(value))  # a set in Terraform


class EfsMountTargetArgs(ArgsModel):
    file_system_id: Annotated[str, ForceNew()] = Field(description="The file system.")
    subnet_id: Annotated[str, ForceNew()] = Field(
        description="Subnet of the mount target (one per availability zone).")
    ip_address: Annotated[str | None, ForceNew(), Computed()] = Field(
        None, description="Address in the subnet (unset: EFS picks one).")
    security_groups: Annotated[
        Annotated[list[str], AfterValidator(_as_set)] | None, Computed()] = Field(
        None, max_length=5, description="Security groups of its network interface, which must "
        "allow NFS (TCP 2049) from the clients (unset: the VPC's default group).")


class EfsMountTargetAttrs(AttrsModel):
    dns_name: str = Field(description="The file system's DNS name.")
    mount_target_dns_name: str = Field(description="`<zone>.<file system>.efs...`.")
    network_interface_id: str
    availability_zone_name: str
    owner_id: str


class EfsMountTarget(AwsResource[EfsMountTargetArgs], Waitable):
    type_name: ClassVar[str] = "aws_efs_mount_target"
    service: ClassVar[str] = "efs"
    Args = EfsMountTargetArgs
    Attrs = EfsMountTargetAttrs
    tagged_at_create: ClassVar[bool] = False  # mount targets take no tags
    timeouts: ClassVar[Timeouts] = Timeouts(create=1800.0, delete=600.0)  # Terraform's

    def _described(self, **params: Any) -> list[dict[str, Any]]:
        from botocore.exceptions import ClientError

        try:
            found = self.client.describe_mount_targets(**params)["MountTargets"]
        except ClientError as exc:
            if error_code(exc) in ("MountTargetNotFound", "FileSystemNotFound"):
                return []
            raise translate(exc, "DescribeMountTargets") from exc
        return [dict(m) for m in found if m.get("LifeCycleState") != "deleted"]

    def _attributes(self, live: Mapping[str, Any]) -> dict[str, Any]:
        mt_id, fs_id = live["MountTargetId"], live["FileSystemId"]
        with aws_call("efs", "DescribeMountTargetSecurityGroups"):
            groups = self.client.describe_mount_target_security_groups(
                MountTargetId=mt_id).get("SecurityGroups")
        zone = live.get("AvailabilityZoneName") or ""
        return {"id": mt_id, "file_system_id": fs_id, "subnet_id": live["SubnetId"],
                "ip_address": live.get("IpAddress"), "security_groups": _as_set(groups or []),
                "dns_name": _dns_name(fs_id, self.aws.region),
                "mount_target_dns_name": f"{zone}.{_dns_name(fs_id, self.aws.region)}",
                "network_interface_id": live.get("NetworkInterfaceId") or "",
                "availability_zone_name": zone, "owner_id": live.get("OwnerId") or ""}

    def read(self, id: str, prior: Mapping[str, Any]) -> dict[str, Any] | None:
        found = self._described(MountTargetId=id)
        return self._attributes(found[0]) if found else None

    def id_for(self, args: EfsMountTargetArgs) -> str:
        raise ProviderError(f"{self.type_name}: EFS assigns the id; the mount target is found "
                            "by its file system and subnet instead")

    def existing(self, args: EfsMountTargetArgs) -> dict[str, Any] | None:
        found = [m for m in self._described(FileSystemId=args.file_system_id)
                 if m["SubnetId"] == args.subnet_id]
        return self._attributes(found[0]) if found else None

    def find(self, args: ArgsModel, meta: ResourceMeta) -> dict[str, Any] | None:
        """One mount target per file system and zone: the one in this subnet is what an
        interrupted create made (mount targets carry no tags to say more)."""
        assert isinstance(args, EfsMountTargetArgs)
        return self.existing(args)

    def create(self, args: EfsMountTargetArgs, meta: ResourceMeta) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        have = self.existing(args)
        if have is not None:  # a create called again after a wait or a crash
            return self.update(str(have["id"]), have, args, meta)
        request: dict[str, Any] = {"FileSystemId": args.file_system_id,
                                   "SubnetId": args.subnet_id}
        if args.ip_address:
            request["IpAddress"] = args.ip_address
        if args.security_groups:
            request["SecurityGroups"] = args.security_groups
        try:
            made = self.client.create_mount_target(**request)
        except ClientError as exc:
            if error_code(exc) == "IncorrectFileSystemLifeCycleState":  # still creating
                raise NotReady(f"file system {args.file_system_id} is not available yet",
                               retry_after=_poll(self)) from None
            raise translate(exc, "CreateMountTarget") from exc
        return self.read_back(made["MountTargetId"], args.model_dump(mode="json"))

    def update(self, id: str, prior: Mapping[str, Any], args: EfsMountTargetArgs,
               meta: ResourceMeta) -> dict[str, Any]:
        have = self.read(id, prior)
        if have is None:
            raise ProviderError(f"mount target {id} no longer exists; refresh and plan again")
        if args.security_groups is not None and have["security_groups"] != args.security_groups:
            with aws_call("efs", "ModifyMountTargetSecurityGroups"):
                self.client.modify_mount_target_security_groups(
                    MountTargetId=id, SecurityGroups=args.security_groups)
        return self.read_back(id, args.model_dump(mode="json"))

    def wait_ready(self, attributes: Mapping[str, Any]) -> dict[str, Any]:
        mt_id = str(attributes["id"])
        found = self._described(MountTargetId=mt_id)
        if not found:
            raise ProviderError(f"mount target {mt_id} disappeared while it was being created")
        state = found[0].get("LifeCycleState")
        if state in BUSY:
            raise NotReady(f"mount target {mt_id} is {state}", retry_after=_poll(self))
        if state != "available":
            raise ProviderError(f"mount target {mt_id} is {state}: AWS could not make it")
        return self._attributes(found[0])

    def delete(self, id: str, prior: Mapping[str, Any]) -> None:
        from botocore.exceptions import ClientError

        found = self._described(MountTargetId=id)
        if not found:
            return
        if found[0].get("LifeCycleState") != "deleting":
            try:
                self.client.delete_mount_target(MountTargetId=id)
            except ClientError as exc:
                if error_code(exc) == "MountTargetNotFound":
                    return
                raise translate(exc, "DeleteMountTarget") from exc
        if self._described(MountTargetId=id):
            raise NotReady(f"mount target {id} is being deleted", retry_after=_poll(self))

    def list(self) -> Iterator[Discovered]:
        with aws_call("efs", "DescribeFileSystems"):
            ids = [fs["FileSystemId"] for page in self.client.get_paginator(
                "describe_file_systems").paginate() for fs in page["FileSystems"]]
        for fs_id in ids:
            for live in self._described(FileSystemId=fs_id):
                yield Discovered(id=live["MountTargetId"])
