"""What the sandbox adds to moto for this service (see the package docstring).

- IAM ListInstanceProfileTags: moto keeps an instance profile's tags (TagInstanceProfile) but
  has no call to list them, so the server answered 500. mlform lists them to discover
  profiles and tell its own from others'; the sandbox answers as AWS does.
"""

from __future__ import annotations

from typing import Any


def patch_iam() -> None:
    from moto.core.responses import ActionResult
    from moto.iam.responses import IamResponse

    if getattr(IamResponse, "_mlform_patched", False):
        return

    def list_instance_profile_tags(self: Any) -> Any:
        name = self._get_param("InstanceProfileName")
        profile = self.backend.get_instance_profile(profile_name=name)
        return ActionResult({"Tags": list(profile.tags or []), "IsTruncated": False})

    setattr(IamResponse, "list_instance_profile_tags", list_instance_profile_tags)  # noqa: B010
    setattr(IamResponse, "_mlform_patched", True)  # noqa: B010
