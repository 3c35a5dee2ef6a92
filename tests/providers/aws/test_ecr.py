from __future__ import annotations

from typing import Any

from mlform.providers.aws.ecr import EcrRepository
from mlform.providers.base import StackContext
from tests.providers.aws.contract import check_contract


def test_ecr_repository_contract(aws_session: Any, stack_context: StackContext, uid: str) -> None:
    name = f"models-{uid}"
    check_contract(
        EcrRepository, aws_session, stack_context,
        create={"name": name, "image_scanning_configuration": {"scan_on_push": True},
                "tags": {"team": "ml"}},
        update={"name": name, "image_tag_mutability": "IMMUTABLE",
                "image_scanning_configuration": {"scan_on_push": False},
                "tags": {"team": "platform", "cost-center": "42"}},
    )


def test_ecr_read_missing_is_none(aws_session: Any) -> None:
    assert EcrRepository(aws_session).read("does-not-exist", {}) is None


def test_ecr_delete_with_images_needs_force_delete(
    aws_session: Any, stack_context: StackContext, uid: str, boto: Any
) -> None:
    from mlform.errors import ProviderError
    from mlform.providers.base import ResourceMeta

    rt = EcrRepository(aws_session)
    args = EcrRepository.Args.model_validate({"name": f"full-{uid}"})
    attrs = rt.create(args, ResourceMeta("aws_ecr_repository.full", stack_context))
    manifest = ('{"schemaVersion": 2, "layers": [], '
                '"mediaType": "application/vnd.docker.distribution.manifest.v2+json"}')
    boto("ecr").put_image(repositoryName=f"full-{uid}", imageManifest=manifest, imageTag="v1")
    try:
        rt.delete(attrs["id"], attrs)
    except ProviderError as exc:
        assert "RepositoryNotEmptyException" in exc.message
    else:
        raise AssertionError("deleting a repository with images must fail without force_delete")
    rt.delete(attrs["id"], {**attrs, "force_delete": True})
    assert rt.read(attrs["id"], attrs) is None
