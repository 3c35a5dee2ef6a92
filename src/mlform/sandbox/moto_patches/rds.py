"""What the sandbox adds to moto for this service (see the package docstring).

- RDS CreateDBSubnetGroup on a taken name: moto replaces the group; AWS refuses with
  DBSubnetGroupAlreadyExists, which is how mlform tells its own group from someone else's.
- RDS ModifyDBSubnetGroup: moto drops the group from its backend, so it vanished after an update.
- RDS ModifyDBInstance AllocatedStorage: moto shrinks the storage; AWS refuses to (storage only
  grows) and rounds a growth of less than 10% up to 10%. mlform refuses both at plan time; the
  sandbox behaves as AWS does for whoever calls it anyway.
"""

from __future__ import annotations

from typing import Any


def patch_rds() -> None:
    from moto.rds.exceptions import DBSubnetGroupNotFoundError, RDSClientError
    from moto.rds.models import RDSBackend

    if getattr(RDSBackend, "_mlform_patched", False):
        return
    original_create = RDSBackend.create_subnet_group

    def create_subnet_group(self: Any, subnet_name: str, *args: Any, **kwargs: Any) -> Any:
        if subnet_name in self.subnet_groups:
            raise RDSClientError("DBSubnetGroupAlreadyExists",
                                 f"DB subnet group '{subnet_name}' already exists.")
        return original_create(self, subnet_name, *args, **kwargs)

    def modify_db_subnet_group(self: Any, subnet_name: str, description: str | None,
                               subnets: list[Any]) -> Any:
        group = self.subnet_groups.get(subnet_name)
        if group is None:
            raise DBSubnetGroupNotFoundError(subnet_name)
        group.subnets = subnets
        if description is not None:
            group.description = description
        return group

    original_modify = RDSBackend.modify_db_instance

    def modify_db_instance(self: Any, db_instance_identifier: str,
                           db_kwargs: dict[str, Any]) -> Any:
        size = db_kwargs.get("allocated_storage")
        if size is not None:
            database = self.describe_db_instances(db_instance_identifier)[0]
            was = int(database.allocated_storage)
            if int(size) < was:
                raise RDSClientError(
                    "InvalidParameterCombination",
                    f"Invalid storage size for DB instance {db_instance_identifier}: "
                    f"{size} GiB is less than its allocated storage ({was} GiB); storage "
                    "cannot be decreased")
            if was < int(size) and int(size) * 10 < was * 11:
                db_kwargs = {**db_kwargs, "allocated_storage": -(-was * 11 // 10)}
        return original_modify(self, db_instance_identifier, db_kwargs)

    setattr(RDSBackend, "modify_db_instance", modify_db_instance)  # noqa: B010
    setattr(RDSBackend, "create_subnet_group", create_subnet_group)  # noqa: B010
    setattr(RDSBackend, "modify_db_subnet_group", modify_db_subnet_group)  # noqa: B010
    setattr(RDSBackend, "_mlform_patched", True)  # noqa: B010
