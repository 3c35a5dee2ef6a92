"""`container_registry`: an ECR repository for training and serving images.

Images are scanned on push, tags can be made immutable, and a lifecycle policy keeps only the
most recent images so the registry does not grow without bound.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from mlform.components.base import ComponentModel, ExpandContext, Expansion
from mlform.components.kms import customer_key, one_key

REPOSITORY = "aws_ecr_repository.this"


class ContainerRegistry(ComponentModel):
    type: Literal["container_registry"]
    name: str | None = Field(
        None, description="Repository name (default: <project>-<environment>-<component>).")
    scan_on_push: bool = Field(True, description="Scan every pushed image for vulnerabilities.")
    immutable_tags: bool = Field(
        False, description="Refuse to overwrite a tag once pushed (reproducible deployments).")
    keep_last: int | None = Field(
        30, ge=1, description="Keep this many most recent images and expire older ones; "
                              "null keeps everything.")
    kms_key_arn: str | None = Field(
        None, description="Encrypt images with this KMS key instead of AES-256.")
    kms: bool = Field(
        False, description="Encrypt images with a customer-managed KMS key made for this "
                           "repository (`aws_kms_key` and `aws_kms_alias`). Not with "
                           "`kms_key_arn`.")
    force_delete: bool = Field(
        False, description="Let `mlform destroy` delete the repository even when it holds "
                           "images.")

    outputs: ClassVar[dict[str, str]] = {
        "url": "`<account>.dkr.ecr.<region>.amazonaws.com/<name>`: append `:tag` to pull",
        "arn": "The repository's ARN",
        "name": "The repository's name",
    }

    anchor: ClassVar[str | None] = "aws_ecr_repository"

    @model_validator(mode="after")
    def _one_key(self) -> ContainerRegistry:
        one_key(self.kms, self.kms_key_arn, "kms_key_arn")
        return self

    @classmethod
    def recognize(cls, found: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
        if not set(found) <= {"aws_ecr_repository", "aws_ecr_lifecycle_policy"}:
            return None
        repo = found["aws_ecr_repository"]
        settings: dict[str, Any] = {
            "name": repo["name"],
            "immutable_tags": repo.get("image_tag_mutability") == "IMMUTABLE",
            "scan_on_push": bool((repo.get("image_scanning_configuration") or {}).get(
                "scan_on_push")),
            "force_delete": bool(repo.get("force_delete")),
            "keep_last": None,
        }
        if repo.get("tags"):
            settings["tags"] = repo["tags"]
        kms = (repo.get("encryption_configuration") or {}).get("kms_key")
        if kms:
            settings["kms_key_arn"] = kms
        if "aws_ecr_lifecycle_policy" in found:
            try:
                rules = json.loads(found["aws_ecr_lifecycle_policy"]["policy"])["rules"]
                settings["keep_last"] = rules[0]["selection"]["countNumber"]
            except (KeyError, IndexError, TypeError, ValueError):
                return None
        return settings

    def expand(self, ctx: ExpandContext) -> Expansion:
        out = Expansion()
        repo: dict[str, Any] = {
            "image_tag_mutability": "IMMUTABLE" if self.immutable_tags else "MUTABLE",
            "image_scanning_configuration": {"scan_on_push": self.scan_on_push},
            "force_delete": self.force_delete, "tags": self.tags,
        }
        if self.name:
            repo["name"] = self.name
        key = customer_key(out, ctx, "the images", self.tags) if self.kms else self.kms_key_arn
        if key:
            repo["encryption_configuration"] = {"encryption_type": "KMS", "kms_key": key}
        out.add(REPOSITORY, **repo)
        if self.keep_last:
            policy = {"rules": [{
                "rulePriority": 1,
                "description": f"keep the last {self.keep_last} images",
                "selection": {"tagStatus": "any", "countType": "imageCountMoreThan",
                              "countNumber": self.keep_last},
                "action": {"type": "expire"},
            }]}
            out.add("aws_ecr_lifecycle_policy.this", repository=ctx.ref(REPOSITORY, "name"),
                    policy=json.dumps(policy))
        out.outputs = {"url": ctx.ref(REPOSITORY, "repository_url"),
                       "arn": ctx.ref(REPOSITORY, "arn"), "name": ctx.ref(REPOSITORY, "name")}
        return out
