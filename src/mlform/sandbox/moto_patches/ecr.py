"""What the sandbox adds to moto for this service (see the package docstring).

- ECR image digests: moto hashes the layer digests of a manifest, or, for a manifest without
  layers, picks one of 101 random digests, so two different images could share a digest. AWS's
  digest is the SHA-256 of the manifest as pushed; so is the sandbox's. `mlform lock` pins
  images by digest, so the digest must change exactly when the image does.
"""

from __future__ import annotations

import hashlib
from typing import Any


def patch_ecr() -> None:
    from moto.ecr.models import Image

    if getattr(Image, "_mlform_patched", False):
        return

    def create_digest(self: Any) -> None:
        manifest = self.image_manifest
        data = manifest.encode("utf-8") if isinstance(manifest, str) else bytes(manifest)
        self._image_digest = "sha256:" + hashlib.sha256(data).hexdigest()

    setattr(Image, "_create_digest", create_digest)  # noqa: B010
    setattr(Image, "_mlform_patched", True)  # noqa: B010
