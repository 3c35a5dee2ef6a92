"""Amazon RDS: `aws_db_subnet_group` and `aws_db_instance`.

The master password of an instance is always managed by RDS (`manage_master_user_password`): RDS
keeps it in a Secrets Manager secret of its own, reported in `master_user_secret`, so it never
passes through mlform's config, plans or state.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, Field, ValidationInfo, field_validator

from mlform.errors import NotReady, ProviderError
from mlform.providers.aws.base import (
    TaggedResource,
    all_tags,
    aws_chosen,
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

NOT_FOUND = ("DBSubnetGroupNotFoundFault", "DBInstanceNotFound")
A = TypeVar("A", bound=ArgsModel)
# Terraform's waiter: an instance optimising storage after a resize is usable.
READY = frozenset({"available", "storage-optimization"})
BUSY = frozenset({
    "backing-up", "configuring-enhanced-monitoring", "configuring-iam-database-auth",
    "configuring-log-exports", "creating", "maintenance", "modifying", "moving-to-vpc",
    "rebooting", "renaming", "resetting-master-credentials", "starting", "upgrading",
    "storage-config-upgrade", "delete-precheck",
})
# PendingModifiedValues key -> argument: changes requested without apply_immediately wait for
# the maintenance window, and are reported as requested (asking again would change nothing).
PENDING = {"DBInstanceClass": "instance_class", "AllocatedStorage": "allocated_storage",
           "StorageType": "storage_type", "EngineVersion": "engine_version",
           "MultiAZ": "multi_az", "BackupRetentionPeriod": "backup_retention_period"}
# ModifyDBInstance parameter -> argument.
MODIFIABLE = {**PENDING, "VpcSecurityGroupIds": "vpc_security_group_ids",
              "PubliclyAccessible": "publicly_accessible",
              "DeletionProtection": "deletion_protection",
              "ManageMasterUserPassword": "manage_master_user_password"}


# Storage sizes RDS accepts, in GiB, by storage type (SQL Server tops out at 16 TiB).
STORAGE_RANGE = {"gp2": (20, 65536), "gp3": (20, 65536), "io1": (100, 65536),
                 "io2": (100, 65536), "standard": (5, 3072)}
SQLSERVER_MAX = 16384


def _version(text: Any) -> tuple[int, ...] | None:
    parts = str(text).split(".")
    return tuple(int(p) for p in parts) if all(p.isdigit() for p in parts) else None


def _string_set(value: list[str]) -> list[str]:
    return sorted(set(value))


StringSet = Annotated[list[str], AfterValidator(_string_set)]


def _must_manage(value: bool) -> bool:
    if not value:
        raise ValueError(
            "must be true: RDS then keeps the master password in a Secrets Manager secret of "
            "its own (see the master_user_secret attribute), the only password mode mlform "
            "supports so far. A `password` argument will come with mlform's secrets support.")
    return value


def _rds_tags(client: Any, arn: str) -> dict[str, str]:
    with aws_call("rds", "ListTagsForResource"):
        return tag_dict(client.list_tags_for_resource(ResourceName=arn).get("TagList"))


class _RdsResource(TaggedResource[A]):
    """What subnet groups and instances share: RDS tags anything by ARN the same way."""

    service: ClassVar[str] = "rds"

    def _tag(self, ref: str, tags: Mapping[str, str]) -> None:
        with aws_call("rds", "AddTagsToResource"):
            self.client.add_tags_to_resource(ResourceName=ref, Tags=tag_list(tags))

    def _untag(self, ref: str, keys: Sequence[str]) -> None:
        with aws_call("rds", "RemoveTagsFromResource"):
            self.client.remove_tags_from_resource(ResourceName=ref, TagKeys=list(keys))


# -- aws_db_subnet_group ------------------------------------------------------------------------

class DbSubnetGroupArgs(ArgsModel):
    name: Annotated[str, ForceNew()] = Field(
        max_length=255, pattern=r"^[a-z0-9 ._-]+$",
        description="Name of the group, in lower case (RDS stores names in lower case) "
                    "(default: <project>-<environment>-<resource name>).")
    description: str = Field("Managed by mlform", description="Description of the group.")
    subnet_ids: StringSet = Field(
        min_length=1, description="VPC subnets of the group; RDS wants them in at least two "
                                  "Availability Zones.")
    tags: dict[str, str] = tags_field("subnet group")


class DbSubnetGroupAttrs(AttrsModel):
    arn: str
    vpc_id: str = Field(description="The VPC of the subnets.")
    tags_all: dict[str, str] = tags_all_field()


class DbSubnetGroup(_RdsResource[DbSubnetGroupArgs]):
    type_name: ClassVar[str] = "aws_db_subnet_group"
    exists_codes: ClassVar[frozenset[str]] = frozenset({"DBSubnetGroupAlreadyExists"})
    Args = DbSubnetGroupArgs
    Attrs = DbSubnetGroupAttrs
    name_max_len: ClassVar[int] = 255
    name_lower: ClassVar[bool] = True

    def create(self, args: DbSubnetGroupArgs, meta: ResourceMeta) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.create_db_subnet_group(
                DBSubnetGroupName=args.name, DBSubnetGroupDescription=args.description,
                SubnetIds=args.subnet_ids, Tags=tag_list(all_tags(args.tags, meta)))
        except (ClientError, BotoCoreError) as exc:
            if not self.already_exists(exc):
                raise translate(exc, "CreateDBSubnetGroup") from exc
            return self.adopt(args, meta, "CreateDBSubnetGroup", exc)
        return self.read_back(args.name, {})

    def read(self, id: str, prior: Mapping[str, Any]) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            groups = self.client.describe_db_subnet_groups(DBSubnetGroupName=id)
        except ClientError as exc:
            if is_not_found(exc, *NOT_FOUND):
                return None
            raise translate(exc, "DescribeDBSubnetGroups") from exc
        group = groups["DBSubnetGroups"][0]
        tags = _rds_tags(self.client, group["DBSubnetGroupArn"])
        args = DbSubnetGroupArgs.model_validate({
            "name": group["DBSubnetGroupName"],
            "description": group.get("DBSubnetGroupDescription", ""),
            "subnet_ids": [s["SubnetIdentifier"] for s in group.get("Subnets") or []],
            "tags": user_tags(tags),
        })
        return self.attributes(args, id=group["DBSubnetGroupName"],
                               arn=group["DBSubnetGroupArn"], vpc_id=group.get("VpcId", ""),
                               tags_all=tags)

    def update(self, id: str, prior: Mapping[str, Any], args: DbSubnetGroupArgs,
               meta: ResourceMeta) -> dict[str, Any]:
        have = self.read(id, prior)
        if have is None:
            raise ProviderError(f"DB subnet group {id} no longer exists; refresh and plan again")
        if (have["description"], have["subnet_ids"]) != (args.description, args.subnet_ids):
            with aws_call("rds", "ModifyDBSubnetGroup"):
                self.client.modify_db_subnet_group(
                    DBSubnetGroupName=id, DBSubnetGroupDescription=args.description,
                    SubnetIds=args.subnet_ids)
        self.sync_tags(have["arn"], have["tags_all"], args.tags, meta)
        return self.read_back(id, {})

    def delete(self, id: str, prior: Mapping[str, Any]) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.delete_db_subnet_group(DBSubnetGroupName=id)
        except ClientError as exc:
            if is_not_found(exc, *NOT_FOUND):
                return
            if error_code(exc) == "InvalidDBSubnetGroupStateFault":
                # An instance in the group is still being deleted.
                raise NotReady(f"DB subnet group {id}: {error_message(exc)}", retry_after=10.0
                               ) from None
            raise translate(exc, "DeleteDBSubnetGroup") from exc

    def list(self) -> Iterator[Discovered]:
        with aws_call("rds", "DescribeDBSubnetGroups"):
            for page in self.client.get_paginator("describe_db_subnet_groups").paginate():
                for group in page["DBSubnetGroups"]:
                    yield Discovered(id=group["DBSubnetGroupName"],
                                     tags=_rds_tags(self.client, group["DBSubnetGroupArn"]))


# -- aws_db_instance ----------------------------------------------------------------------------

class DbInstanceArgs(ArgsModel):
    identifier: Annotated[str, ForceNew()] = Field(
        max_length=63, pattern=r"^[a-z](-?[a-z0-9])*$",
        description="Name of the instance: lower-case letters, digits and single hyphens, "
                    "starting with a letter (default: <project>-<environment>-<resource name>).")
    engine: Annotated[str, ForceNew()] = Field(description="Database engine, such as `postgres`.")
    engine_version: str | None = Field(
        None, description="Engine version, such as `16.4`, or a major version such as `16`. "
        "Unset: RDS's default for the engine, and no change is planned when RDS upgrades "
        "minor versions. The running version is the `engine_version_actual` attribute.")
    instance_class: str = Field(pattern=r"^db\.", description="Instance class, such as "
                                                              "`db.t4g.micro`.")
    allocated_storage: int = Field(ge=5, description="Storage size in GiB: 20 to 65536 (gp2, "
        "gp3), 100 to 65536 (io1, io2), 5 to 3072 (standard); SQL Server at most 16384. It "
        "can grow in place, by 10% or more, never shrink.")
    storage_type: Literal["gp2", "gp3", "io1", "io2", "standard"] = Field(
        "gp3", validate_default=True, description="Storage type.")
    storage_encrypted: Annotated[bool, ForceNew()] = Field(
        True, description="Encrypt the storage (and its snapshots) at rest.")
    kms_key_id: Annotated[str | None, ForceNew()] = Field(
        None, description="ARN of the KMS key that encrypts the storage "
                          "(default: the AWS managed key `aws/rds`).")
    db_name: Annotated[str | None, ForceNew()] = Field(
        None, description="Name of a database to create in the instance (default: none).")
    username: Annotated[str, ForceNew()] = Field(description="Name of the master user.")
    manage_master_user_password: Annotated[bool, AfterValidator(_must_manage)] = Field(
        True, description="RDS generates the master password and keeps it in a Secrets "
        "Manager secret of its own (the `master_user_secret` attribute). Must be true.")
    db_subnet_group_name: Annotated[str | None, ForceNew()] = Field(
        None, description="DB subnet group, which places the instance in its VPC "
                          "(default: the default VPC).")
    vpc_security_group_ids: StringSet = Field(
        default_factory=list, description="Security groups of the instance (default: the "
                                          "VPC's default security group).")
    publicly_accessible: bool = Field(False, description="Give the instance a public address.")
    multi_az: bool = Field(False, description="Keep a standby in another Availability Zone.")
    backup_retention_period: int = Field(
        7, ge=0, le=35, description="Days to keep automated backups (0 disables them).")
    deletion_protection: bool = Field(
        False, description="Refuse to delete the instance until this is set to false again.")
    skip_final_snapshot: bool = Field(
        False, description="Delete without a final snapshot, losing the data. Not stored by "
                           "AWS: apply it before destroying.")
    final_snapshot_identifier: str | None = Field(
        None, description="Name of the snapshot taken when the instance is deleted (unless "
        "skip_final_snapshot). Without either, deleting the instance fails rather than lose "
        "its data.")
    apply_immediately: bool = Field(
        False, description="Apply changes now rather than in the next maintenance window.")
    tags: dict[str, str] = tags_field("instance")

    @field_validator("storage_type")
    @classmethod
    def _storage_in_range(cls, value: str, info: ValidationInfo) -> str:
        size, engine = info.data.get("allocated_storage"), info.data.get("engine")
        low, high = STORAGE_RANGE[value]
        if isinstance(engine, str) and engine.startswith("sqlserver"):
            high = min(high, SQLSERVER_MAX)
        if isinstance(size, int) and not low <= size <= high:
            raise ValueError(f"allocated_storage {size} GiB is outside what RDS allows for "
                             f"{value} storage{f' with {engine}' if engine else ''}: "
                             f"{low} to {high} GiB")
        return value


class MasterUserSecret(BaseModel):
    secret_arn: str
    kms_key_id: str | None = None
    secret_status: str


class DbInstanceAttrs(AttrsModel):
    arn: str
    address: str | None = Field(description="Host name of the instance (once created).")
    port: int | None = Field(description="Port the database listens on.")
    endpoint: str | None = Field(description="`address:port`.")
    engine_version_actual: str = Field(description="The engine version running.")
    master_user_secret: list[MasterUserSecret] = Field(
        description="The secret RDS keeps the master password in: `secret_arn`, `kms_key_id`, "
                    "`secret_status`.")
    tags_all: dict[str, str] = tags_all_field()


def _requested(wanted: Any, live: str | None) -> str | None:
    """An optional argument as requested, while the live value matches it: unset stays unset
    (AWS chose), and a major version (`16`) or key id stays as written."""
    if wanted is None or live is None:
        return None if wanted is None else live
    if live == wanted or live.startswith(f"{wanted}.") or live.endswith(f"/{wanted}"):
        return str(wanted)
    return live


class DbInstance(_RdsResource[DbInstanceArgs], Waitable):
    type_name: ClassVar[str] = "aws_db_instance"
    destroy_loses: ClassVar[str] = "its databases"
    exists_codes: ClassVar[frozenset[str]] = frozenset({"DBInstanceAlreadyExists"})
    Args = DbInstanceArgs
    Attrs = DbInstanceAttrs
    name_arg: ClassVar[str] = "identifier"
    name_max_len: ClassVar[int] = 63
    name_lower: ClassVar[bool] = True
    timeouts: ClassVar[Timeouts] = Timeouts(create=2400.0, update=4800.0, delete=3600.0)

    @property
    def poll(self) -> float:
        """Seconds between status checks (the sandbox is available at once)."""
        return 0.2 if self.aws.is_sandbox else 15.0

    @classmethod
    def check_change(cls, before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
        refused: list[str] = []
        was, size = before.get("allocated_storage"), after.get("allocated_storage")
        if isinstance(was, int) and isinstance(size, int) and size != was:
            if size < was:
                refused.append(f"allocated_storage cannot shrink ({was} GiB to {size} GiB): "
                               f"RDS only grows storage. Keep it at {was} GiB or more, or move "
                               "the data into a new, smaller instance yourself (a snapshot "
                               "restores only to at least its own size)")
            elif size * 10 < was * 11:
                least = -(-was * 11 // 10)
                refused.append(f"allocated_storage must grow by at least 10% ({was} GiB to "
                               f"{least} GiB or more, not {size}): RDS would round it up to "
                               f"{least} GiB itself")
        old, new = _version(before.get("engine_version")), _version(after.get("engine_version"))
        if old is not None and new is not None and new < old[: len(new)]:
            refused.append(f"engine_version cannot go down ({before.get('engine_version')} to "
                           f"{after.get('engine_version')}): RDS only upgrades. Restore a "
                           "snapshot into a new instance of the older version instead")
        return refused

    def create(self, args: DbInstanceArgs, meta: ResourceMeta) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        params: dict[str, Any] = {
            "DBInstanceIdentifier": args.identifier, "Engine": args.engine,
            "DBInstanceClass": args.instance_class, "AllocatedStorage": args.allocated_storage,
            "StorageType": args.storage_type, "StorageEncrypted": args.storage_encrypted,
            "MasterUsername": args.username, "ManageMasterUserPassword": True,
            "PubliclyAccessible": args.publicly_accessible, "MultiAZ": args.multi_az,
            "BackupRetentionPeriod": args.backup_retention_period,
            "DeletionProtection": args.deletion_protection,
            "Tags": tag_list(all_tags(args.tags, meta)),
        }
        optional = {"EngineVersion": args.engine_version, "KmsKeyId": args.kms_key_id,
                    "DBName": args.db_name, "DBSubnetGroupName": args.db_subnet_group_name,
                    "VpcSecurityGroupIds": args.vpc_security_group_ids}
        params.update({k: v for k, v in optional.items() if v})
        prior = args.model_dump(mode="json")
        try:
            created = self.client.create_db_instance(**params)["DBInstance"]
        except (ClientError, BotoCoreError) as exc:
            if not self.already_exists(exc):
                raise translate(exc, "CreateDBInstance") from exc
            return self.adopt(args, meta, "CreateDBInstance", exc)
        try:
            # Not visible yet: what CreateDBInstance answered, rather than NotReady, which
            # would only find the instance "already existing".
            return self.read(args.identifier, prior) or self._attributes(created, prior)
        except ProviderError as err:
            err.partial = self._attributes(created, prior)
            raise

    def _describe(self, id: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            found = self.client.describe_db_instances(DBInstanceIdentifier=id)["DBInstances"]
        except ClientError as exc:
            if is_not_found(exc, *NOT_FOUND):
                return None
            raise translate(exc, "DescribeDBInstances") from exc
        return found[0] if found else None

    def read(self, id: str, prior: Mapping[str, Any]) -> dict[str, Any] | None:
        found = self._describe(id)
        return None if found is None else self._attributes(found, prior)

    def _attributes(self, db: Mapping[str, Any], prior: Mapping[str, Any]) -> dict[str, Any]:
        db = {**db, **(db.get("PendingModifiedValues") or {})}
        tags = tag_dict(db.get("TagList"))
        endpoint = db.get("Endpoint") or {}
        address, port = endpoint.get("Address"), endpoint.get("Port")
        secret = db.get("MasterUserSecret")
        group = (db.get("DBSubnetGroup") or {}).get("DBSubnetGroupName")
        wanted_group = prior.get("db_subnet_group_name")
        # Unset arguments AWS fills in (the default key, group and security group) stay unset.
        security_groups = sorted({g["VpcSecurityGroupId"] for g in db.get("VpcSecurityGroups")
                                  or [] if g.get("Status") != "removing"})
        return {
            "identifier": db["DBInstanceIdentifier"],
            "engine": db["Engine"],
            "engine_version": _requested(prior.get("engine_version"), db.get("EngineVersion")),
            "instance_class": db["DBInstanceClass"],
            "allocated_storage": int(db["AllocatedStorage"]),
            "storage_type": db.get("StorageType", "gp3"),
            "storage_encrypted": bool(db.get("StorageEncrypted", False)),
            "kms_key_id": _requested(prior.get("kms_key_id"), db.get("KmsKeyId")),
            "db_name": db.get("DBName"),
            "username": db.get("MasterUsername"),
            "manage_master_user_password": secret is not None,
            "db_subnet_group_name": (None if wanted_group is None and group == "default"
                                     else group),
            "vpc_security_group_ids": aws_chosen(prior, "vpc_security_group_ids",
                                                 security_groups, unset=[]),
            "publicly_accessible": bool(db.get("PubliclyAccessible", False)),
            "multi_az": bool(db.get("MultiAZ", False)),
            "backup_retention_period": int(db.get("BackupRetentionPeriod", 0)),
            "deletion_protection": bool(db.get("DeletionProtection", False)),
            # Not stored by AWS:
            "skip_final_snapshot": bool(prior.get("skip_final_snapshot", False)),
            "final_snapshot_identifier": prior.get("final_snapshot_identifier"),
            "apply_immediately": bool(prior.get("apply_immediately", False)),
            "tags": user_tags(tags),
            "id": db["DBInstanceIdentifier"],
            "arn": db["DBInstanceArn"],
            "address": address,
            "port": port,
            "endpoint": f"{address}:{port}" if address else None,
            "engine_version_actual": db.get("EngineVersion", ""),
            "master_user_secret": [] if secret is None else [{
                "secret_arn": secret["SecretArn"], "kms_key_id": secret.get("KmsKeyId"),
                "secret_status": secret.get("SecretStatus", "")}],
            "tags_all": tags,
        }

    def update(self, id: str, prior: Mapping[str, Any], args: DbInstanceArgs,
               meta: ResourceMeta) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        want = args.model_dump(mode="json")
        # Compared with the live instance, so a second call after NotReady changes nothing.
        have = self.read(id, want)
        if have is None:
            raise ProviderError(f"DB instance {id} no longer exists; refresh and plan again")
        # An unset engine version or empty security group list asks for no change.
        changes = {key: want[name] for key, name in MODIFIABLE.items()
                   if want[name] not in (None, []) and want[name] != have[name]}
        if changes:
            try:
                self.client.modify_db_instance(DBInstanceIdentifier=id,
                                               ApplyImmediately=args.apply_immediately, **changes)
            except ClientError as exc:
                if error_code(exc) == "InvalidDBInstanceState":
                    raise NotReady(f"DB instance {id}: {error_message(exc)}",
                                   retry_after=self.poll) from None
                raise translate(exc, "ModifyDBInstance") from exc
        self.sync_tags(have["arn"], have["tags_all"], args.tags, meta)
        attrs = self.read(id, want)
        if attrs is None:
            raise ProviderError(f"DB instance {id} disappeared while it was being modified")
        return attrs

    def wait_ready(self, attributes: Mapping[str, Any]) -> dict[str, Any]:
        id = str(attributes["id"])
        found = self._describe(id)
        if found is None:
            raise ProviderError(f"DB instance {id} disappeared while it was being deployed")
        status = found.get("DBInstanceStatus", "")
        pending = sorted(PENDING[k] for k in found.get("PendingModifiedValues") or {}
                         if k in PENDING)
        if status in BUSY:
            raise NotReady(f"DB instance {id} is {status}", retry_after=self.poll)
        if status not in READY:
            raise ProviderError(f"DB instance {id} is {status}")
        if pending and attributes.get("apply_immediately"):
            # Just modified: RDS has not started applying the changes yet.
            raise NotReady(f"DB instance {id} has pending changes to {', '.join(pending)}",
                           retry_after=self.poll)
        return self._attributes(found, attributes)

    def delete(self, id: str, prior: Mapping[str, Any]) -> None:
        from botocore.exceptions import ClientError

        found = self._describe(id)
        if found is None:
            return
        if found.get("DBInstanceStatus") != "deleting":
            skip = bool(prior.get("skip_final_snapshot", False))
            final = prior.get("final_snapshot_identifier")
            if not skip and not final:
                raise ProviderError(
                    f"DB instance {id} would be deleted without a final snapshot, losing its "
                    "data: set final_snapshot_identifier to keep a snapshot, or "
                    "skip_final_snapshot: true to delete the data, and apply that before "
                    "deleting the instance")
            how: dict[str, Any] = {"SkipFinalSnapshot": skip}
            if not skip:
                how["FinalDBSnapshotIdentifier"] = final
            try:
                self.client.delete_db_instance(DBInstanceIdentifier=id, **how)
            except ClientError as exc:
                if is_not_found(exc, *NOT_FOUND):
                    return
                if error_code(exc) == "InvalidDBInstanceState":  # busy: try again later
                    raise NotReady(f"DB instance {id}: {error_message(exc)}",
                                   retry_after=self.poll) from None
                raise translate(exc, "DeleteDBInstance") from exc
            if self._describe(id) is None:
                return
        raise NotReady(f"DB instance {id} is being deleted", retry_after=self.poll)

    def list(self) -> Iterator[Discovered]:
        with aws_call("rds", "DescribeDBInstances"):
            for page in self.client.get_paginator("describe_db_instances").paginate():
                for db in page["DBInstances"]:
                    yield Discovered(id=db["DBInstanceIdentifier"],
                                     tags=tag_dict(db.get("TagList")))
