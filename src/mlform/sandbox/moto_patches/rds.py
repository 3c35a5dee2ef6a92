"""What the sandbox adds to moto for this service (see the package docstring).

- RDS CreateDBSubnetGroup on a taken name: moto replaces the group; AWS refuses with
  DBSubnetGroupAlreadyExists, which is how mlform tells its own group from someone else's.
- RDS ModifyDBSubnetGroup: moto drops the group from its backend, so it vanished after an update.
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

    setattr(RDSBackend, "create_subnet_group", create_subnet_group)  # noqa: B010
    setattr(RDSBackend, "modify_db_subnet_group", modify_db_subnet_group)  # noqa: B010
    setattr(RDSBackend, "_mlform_patched", True)  # noqa: B010
