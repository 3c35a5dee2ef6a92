"""What the sandbox adds to moto for this service (see the package docstring).

- EFS UpdateFileSystem: moto lacks it (HTTP 500). mlform changes a file system's throughput
  mode in place with it, as Terraform does. As on AWS, `provisioned` needs
  ProvisionedThroughputInMibps, and the answer is the file system's description.
- EFS CreateFileSystem with KMS encryption but no key: AWS uses the account's
  `aws/elasticfilesystem` key and names it in KmsKeyId; moto names none, so an encrypted file
  system would read back differently on the sandbox than on AWS.
- EFS DeleteFileSystem: moto keeps the creation token of a deleted file system, refusing a new
  one with it (FileSystemAlreadyExists); AWS takes the token again once the old one is gone,
  which a replaced file system of the same name needs.
"""

from __future__ import annotations

import json
from typing import Any


def patch_efs() -> None:
    from moto.efs.exceptions import BadRequest, FileSystemNotFound
    from moto.efs.models import EFSBackend, FileSystem
    from moto.efs.responses import EFSResponse

    if getattr(FileSystem, "_mlform_patched", False):
        return

    original_init = FileSystem.__init__

    def file_system_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        if self.encrypted and not self.kms_key_id:
            account_id, region = args[0], args[1]
            self.kms_key_id = (f"arn:aws:kms:{region}:{account_id}:"
                               "key/aws-elasticfilesystem-default")

    def update_file_system_response(self: Any) -> Any:
        fs_id = self._get_param("FileSystemId")
        found = self.efs_backend.file_systems_by_id.get(fs_id)
        if found is None:
            raise FileSystemNotFound(fs_id)
        mode = self._get_param("ThroughputMode")
        mibps = self._get_param("ProvisionedThroughputInMibps")
        if (mode or found.throughput_mode) == "provisioned" and not (
                mibps or found.provisioned_throughput_in_mibps):
            raise BadRequest("ProvisionedThroughputInMibps is required when ThroughputMode "
                             "is provisioned")
        if mode:
            found.throughput_mode = mode
        if mibps is not None:
            found.provisioned_throughput_in_mibps = mibps
        return json.dumps(found.info_json()), {"status": 202,
                                               "Content-Type": "application/json"}

    original_delete = EFSBackend.delete_file_system

    def delete_file_system(self: Any, file_system_id: str) -> None:
        found = self.file_systems_by_id.get(file_system_id)
        original_delete(self, file_system_id)
        if found is not None:
            self.creation_tokens.discard(found.creation_token)

    # setattr: moto's classes are typed, and these names are new to them.
    setattr(FileSystem, "__init__", file_system_init)  # noqa: B010
    setattr(EFSResponse, "update_file_system", update_file_system_response)  # noqa: B010
    setattr(EFSBackend, "delete_file_system", delete_file_system)  # noqa: B010
    setattr(FileSystem, "_mlform_patched", True)  # noqa: B010
