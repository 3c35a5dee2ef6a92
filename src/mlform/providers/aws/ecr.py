"""Amazon ECR: `aws_ecr_repository`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, ValidationInfo, field_validator

from mlform.errors import ProviderError
from mlform.providers.aws.base import (
    TaggedResource,
    all_tags,
    tag_dict,
    tag_list,
    tags_all_field,
    tags_field,
    user_tags,
)
from mlform.providers.aws.errors import aws_call, is_not_found, translate
from mlform.providers.base import (
    ArgsModel,
    AttrsModel,
    Discovered,
    ForceNew,
    ResourceMeta,
)

REPOSITORY_NAME = r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$"


class ImageScanningConfiguration(ArgsModel):
    scan_on_push: bool = Field(False, description="Scan every image for vulnerabilities on push.")


class EncryptionConfiguration(ArgsModel):
    encryption_type: Literal["AES256", "KMS"] = "AES256"
    kms_key: str | None = Field(None, description="KMS key ARN when encryption_type is KMS.")

    @field_validator("kms_key")
    @classmethod
    def _only_with_kms(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("encryption_type") != "KMS":
            raise ValueError("a kms_key goes only with encryption_type KMS")
        return value


class EcrRepositoryArgs(ArgsModel):
    name: Annotated[str, ForceNew()] = Field(
        min_length=2, max_length=256, pattern=REPOSITORY_NAME,
        description="Repository name: lower-case letters, digits, and `.`, `_`, `-` or `/` "
                    "between them (default: <project>-<environment>-<resource name>).")
    image_tag_mutability: Literal["MUTABLE", "IMMUTABLE"] = "MUTABLE"
    image_scanning_configuration: ImageScanningConfiguration = Field(
        default_factory=ImageScanningConfiguration)
    encryption_configuration: Annotated[EncryptionConfiguration, ForceNew()] = Field(
        default_factory=EncryptionConfiguration)
    force_delete: bool = Field(False, description="Delete the repository even if it holds images.")
    tags: dict[str, str] = tags_field("repository")


class EcrRepositoryAttrs(AttrsModel):
    arn: str
    registry_id: str
    repository_url: str = Field(description="`<account>.dkr.ecr.<region>.amazonaws.com/<name>`.")
    tags_all: dict[str, str] = tags_all_field()


class EcrRepository(TaggedResource[EcrRepositoryArgs]):
    type_name: ClassVar[str] = "aws_ecr_repository"
    destroy_loses: ClassVar[str] = "the images it holds"
    service: ClassVar[str] = "ecr"
    Args = EcrRepositoryArgs
    Attrs = EcrRepositoryAttrs
    name_max_len: ClassVar[int] = 256
    name_lower: ClassVar[bool] = True  # ECR accepts lower-case names only
    exists_codes: ClassVar[frozenset[str]] = frozenset({"RepositoryAlreadyExistsException"})

    def create(self, args: EcrRepositoryArgs, meta: ResourceMeta) -> dict[str, Any]:
        encryption: dict[str, str] = {
            "encryptionType": args.encryption_configuration.encryption_type}
        if args.encryption_configuration.kms_key:
            encryption["kmsKey"] = args.encryption_configuration.kms_key
        from botocore.exceptions import ClientError

        try:
            self.client.create_repository(
                repositoryName=args.name,
                imageTagMutability=args.image_tag_mutability,
                imageScanningConfiguration={
                    "scanOnPush": args.image_scanning_configuration.scan_on_push},
                encryptionConfiguration=encryption,
                tags=tag_list(all_tags(args.tags, meta)),
            )
        except ClientError as exc:
            if not self.already_exists(exc):
                raise translate(exc, "CreateRepository") from exc
            return self.adopt(args, meta, "CreateRepository", exc)
        return self.read_back(args.name, {"force_delete": args.force_delete})

    def read(self, id: str, prior: Mapping[str, Any]) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            repos = self.client.describe_repositories(repositoryNames=[id])["repositories"]
        except ClientError as exc:
            if is_not_found(exc):
                return None
            raise translate(exc, "DescribeRepositories") from exc
        if not repos:
            return None
        repo = repos[0]
        with aws_call("ecr", "ListTagsForResource"):
            tags = tag_dict(self.client.list_tags_for_resource(
                resourceArn=repo["repositoryArn"]).get("tags"))
        enc = repo.get("encryptionConfiguration") or {}
        return {
            "name": repo["repositoryName"],
            "image_tag_mutability": repo.get("imageTagMutability", "MUTABLE"),
            "image_scanning_configuration": {
                "scan_on_push": bool(repo.get("imageScanningConfiguration", {})
                                     .get("scanOnPush", False))},
            "encryption_configuration": {
                "encryption_type": enc.get("encryptionType", "AES256"),
                "kms_key": enc.get("kmsKey")},
            "force_delete": bool(prior.get("force_delete", False)),  # not stored by AWS
            "tags": user_tags(tags),
            "id": repo["repositoryName"],
            "arn": repo["repositoryArn"],
            "registry_id": repo["registryId"],
            "repository_url": repo["repositoryUri"],
            "tags_all": tags,
        }

    def update(self, id: str, prior: Mapping[str, Any], args: EcrRepositoryArgs,
               meta: ResourceMeta) -> dict[str, Any]:
        # From the live repository: it may have changed outside mlform since `prior`.
        have = self.read(id, prior)
        if have is None:
            raise ProviderError(f"repository {id} no longer exists; refresh and plan again")
        if have["image_tag_mutability"] != args.image_tag_mutability:
            with aws_call("ecr", "PutImageTagMutability"):
                self.client.put_image_tag_mutability(
                    repositoryName=id, imageTagMutability=args.image_tag_mutability)
        scan = args.image_scanning_configuration.scan_on_push
        if have["image_scanning_configuration"]["scan_on_push"] != scan:
            with aws_call("ecr", "PutImageScanningConfiguration"):
                self.client.put_image_scanning_configuration(
                    repositoryName=id, imageScanningConfiguration={"scanOnPush": scan})
        self.sync_tags(have["arn"], have["tags_all"], args.tags, meta)
        return self.read_back(id, {"force_delete": args.force_delete})

    def _tag(self, ref: str, tags: Mapping[str, str]) -> None:
        with aws_call("ecr", "TagResource"):
            self.client.tag_resource(resourceArn=ref, tags=tag_list(tags))

    def _untag(self, ref: str, keys: Sequence[str]) -> None:
        with aws_call("ecr", "UntagResource"):
            self.client.untag_resource(resourceArn=ref, tagKeys=list(keys))

    def delete(self, id: str, prior: Mapping[str, Any]) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.delete_repository(repositoryName=id,
                                          force=bool(prior.get("force_delete", False)))
        except ClientError as exc:
            if is_not_found(exc):
                return
            raise translate(exc, "DeleteRepository") from exc

    def list(self) -> Iterator[Discovered]:
        with aws_call("ecr", "DescribeRepositories"):
            pages = self.client.get_paginator("describe_repositories").paginate()
            for page in pages:
                for repo in page["repositories"]:
                    tags = tag_dict(self.client.list_tags_for_resource(
                        resourceArn=repo["repositoryArn"]).get("tags"))
                    yield Discovered(id=repo["repositoryName"], tags=tags)
