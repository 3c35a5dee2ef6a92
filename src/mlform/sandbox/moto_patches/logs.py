"""What the sandbox adds to moto for this service (see the package docstring).

- CloudWatch Logs AssociateKmsKey and DisassociateKmsKey: moto takes a log group's KMS key at
  create only, and answers these calls with an error. AWS changes the key of an existing
  group with them, which is how mlform moves a group to a new `kms_key_id` in place.
"""

from __future__ import annotations

from typing import Any


def patch_logs() -> None:
    from moto.logs.exceptions import ResourceNotFoundException
    from moto.logs.responses import LogsResponse

    if getattr(LogsResponse, "_mlform_patched", False):
        return

    def _group(self: Any) -> Any:
        group = self.logs_backend.groups.get(self._get_param("logGroupName"))
        if group is None:
            raise ResourceNotFoundException()
        return group

    def associate_kms_key(self: Any) -> str:
        _group(self).kms_key_id = self._get_param("kmsKeyId")
        return ""

    def disassociate_kms_key(self: Any) -> str:
        _group(self).kms_key_id = None
        return ""

    setattr(LogsResponse, "associate_kms_key", associate_kms_key)  # noqa: B010
    setattr(LogsResponse, "disassociate_kms_key", disassociate_kms_key)  # noqa: B010
    setattr(LogsResponse, "_mlform_patched", True)  # noqa: B010
