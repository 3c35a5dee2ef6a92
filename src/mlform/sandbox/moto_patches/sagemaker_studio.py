"""What the sandbox adds to moto for SageMaker's model registry and Studio (see the package
docstring; the hosting, notebook and feature group patches are in `sagemaker.py`, which would
be too long with these).

- Model package groups: moto has no DeleteModelPackageGroup and none of the group policy calls
  (Put/Get/DeleteModelPackageGroupPolicy: HTTP 500). mlform manages the group and its policy
  (cross-account sharing of a registry). As on AWS a group whose policy is asked for but has
  none answers ValidationException, and deleting a group deletes its policy.
- Studio domains: moto makes a domain's id from its name (AWS: `d-` and 12 random characters,
  so two domains of one name are two objects), keeps no tags unless given at create (AddTags
  fails), and has no UpdateDomain. The sandbox gives random ids, keeps tags, changes
  DefaultUserSettings and AppNetworkAccessType in place, and refuses, as AWS does, to delete a
  domain that still has user profiles.
- Studio user profiles: moto has none of the calls (Create/Describe/Update/Delete/
  ListUserProfiles: HTTP 500). The sandbox keeps them per domain with their tags (by ARN,
  `user-profile/<domain id>/<name>`), answers ResourceNotFound for a missing one and
  ResourceInUse for a name taken in the domain, as AWS does.
"""

from __future__ import annotations

from typing import Any


def patch_sagemaker_registry() -> None:
    from moto.core.responses import ActionResult, EmptyResult
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.models import ModelPackageGroup, SageMakerModelBackend
    from moto.sagemaker.responses import SageMakerResponse

    if getattr(ModelPackageGroup, "_mlform_patched", False):
        return

    def group(self: Any) -> Any:
        """The group the request names (DescribeModelPackageGroup's error when missing)."""
        return self.sagemaker_backend.describe_model_package_group(
            self._get_param("ModelPackageGroupName"))

    def delete_group_response(self: Any) -> Any:
        found = group(self)
        del self.sagemaker_backend.model_package_groups[found.model_package_group_name]
        return EmptyResult()

    def put_policy_response(self: Any) -> Any:
        found = group(self)
        found.resource_policy = self._get_param("ResourcePolicy")
        return ActionResult({"ModelPackageGroupArn": found.arn})

    def get_policy_response(self: Any) -> Any:
        found = group(self)
        policy = getattr(found, "resource_policy", None)
        if not policy:
            raise ValidationError(message="Cannot find Model Package Group Policy for "
                                  f"{found.model_package_group_name}")
        return ActionResult({"ResourcePolicy": policy})

    def delete_policy_response(self: Any) -> Any:
        get_policy_response(self)  # the same error when there is none
        group(self).resource_policy = None
        return EmptyResult()

    # setattr: moto's classes are typed, and these names are new to them.
    setattr(SageMakerResponse, "delete_model_package_group", delete_group_response)  # noqa: B010
    setattr(SageMakerResponse, "put_model_package_group_policy",  # noqa: B010
            put_policy_response)
    setattr(SageMakerResponse, "get_model_package_group_policy",  # noqa: B010
            get_policy_response)
    setattr(SageMakerResponse, "delete_model_package_group_policy",  # noqa: B010
            delete_policy_response)
    setattr(SageMakerModelBackend, "_mlform_registry", True)  # noqa: B010
    setattr(ModelPackageGroup, "_mlform_patched", True)  # noqa: B010


class _UserProfile:
    """A Studio user profile as the sandbox keeps it."""

    def __init__(self, backend: Any, domain_id: str, name: str, settings: Any,
                 tags: list[dict[str, str]]) -> None:
        from moto.core.utils import utcnow
        from moto.sagemaker.utils import arn_formatter

        self.domain_id, self.name, self.user_settings, self.tags = domain_id, name, settings, tags
        self.arn = arn_formatter("user-profile", f"{domain_id}/{name}", backend.account_id,
                                 backend.region_name)
        self.creation_time = self.last_modified_time = utcnow()
        self.home_efs_file_system_uid = str(200000 + len(backend.domains) * 1000
                                            + len(_profiles(backend)))

    def describe(self) -> dict[str, Any]:
        found = {"DomainId": self.domain_id, "UserProfileArn": self.arn,
                 "UserProfileName": self.name, "Status": "InService",
                 "HomeEfsFileSystemUid": self.home_efs_file_system_uid,
                 "CreationTime": self.creation_time, "LastModifiedTime": self.last_modified_time}
        if self.user_settings:
            found["UserSettings"] = self.user_settings
        return found


def _profiles(backend: Any) -> dict[tuple[str, str], _UserProfile]:
    if not hasattr(backend, "mlform_user_profiles"):
        backend.mlform_user_profiles = {}
    profiles: dict[tuple[str, str], _UserProfile] = backend.mlform_user_profiles
    return profiles


def _find_domain(backend: Any, domain_id: str) -> Any:
    from moto.sagemaker.exceptions import ResourceNotFound

    found = backend.domains.get(domain_id)
    if found is None:
        raise ResourceNotFound(message=f"Domain {domain_id} does not exist")
    return found


def patch_sagemaker_studio() -> None:
    """Domains, then user profiles."""
    from moto.sagemaker.models import Domain

    if getattr(Domain, "_mlform_patched", False):
        return
    _patch_domains()
    _patch_user_profiles()
    setattr(Domain, "_mlform_patched", True)  # noqa: B010


def _patch_domains() -> None:
    from moto.core.responses import ActionResult
    from moto.core.utils import utcnow
    from moto.moto_api._internal import mock_random
    from moto.sagemaker.exceptions import ResourceInUseException
    from moto.sagemaker.models import Domain
    from moto.sagemaker.responses import SageMakerResponse
    from moto.sagemaker.utils import arn_formatter

    original_init = Domain.__init__

    def domain_init(self: Any, **kwargs: Any) -> None:
        original_init(self, **kwargs)
        self.id = "d-" + "".join(mock_random.choice("abcdefghijklmnopqrstuvwxyz0123456789")
                                 for _ in range(12))
        self.arn = arn_formatter("domain", self.id, kwargs["account_id"], kwargs["region_name"])
        self.url = f"https://{self.id}.studio.{kwargs['region_name']}.sagemaker.aws"
        self.home_efs_file_system_id = "fs-" + mock_random.get_random_hex(17)
        self.tags = list(self.tags or [])

    def update_domain_response(self: Any) -> Any:
        domain = _find_domain(self.sagemaker_backend, self._get_param("DomainId"))
        settings = self._get_param("DefaultUserSettings")
        if settings is not None:
            domain.default_user_settings = {**(domain.default_user_settings or {}), **settings}
        access = self._get_param("AppNetworkAccessType")
        if access is not None:
            domain.app_network_access_type = access
        domain.last_modified_time = utcnow()
        return ActionResult({"DomainArn": domain.arn})

    original_delete_domain = SageMakerResponse.delete_domain

    def delete_domain_response(self: Any) -> Any:
        domain_id = self._get_param("DomainId")
        users = sorted(n for d, n in _profiles(self.sagemaker_backend) if d == domain_id)
        if users:
            raise ResourceInUseException(
                message=f"Domain {domain_id} has user profiles ({', '.join(users)}): delete "
                "them before the domain")
        return original_delete_domain(self)

    # setattr: moto's classes are typed, and these names are new to them.
    setattr(Domain, "__init__", domain_init)  # noqa: B010
    setattr(SageMakerResponse, "update_domain", update_domain_response)  # noqa: B010
    setattr(SageMakerResponse, "delete_domain", delete_domain_response)  # noqa: B010


def _patch_user_profiles() -> None:
    from moto.core.responses import ActionResult, EmptyResult
    from moto.core.utils import utcnow
    from moto.sagemaker.exceptions import ResourceInUseException, ResourceNotFound, ValidationError
    from moto.sagemaker.models import SageMakerModelBackend
    from moto.sagemaker.responses import SageMakerResponse

    def profile(self: Any) -> _UserProfile:
        key = (self._get_param("DomainId"), self._get_param("UserProfileName"))
        found = _profiles(self.sagemaker_backend).get(key)
        if found is None:
            raise ResourceNotFound(message=f"User profile {key[1]} does not exist in domain "
                                   f"{key[0]}")
        return found

    def create_profile_response(self: Any) -> Any:
        backend = self.sagemaker_backend
        domain_id, name = self._get_param("DomainId"), self._get_param("UserProfileName")
        _find_domain(backend, domain_id)
        if (domain_id, name) in _profiles(backend):
            raise ResourceInUseException(message=f"User profile {name} already exists in "
                                         f"domain {domain_id}")
        made = _UserProfile(backend, domain_id, name, self._get_param("UserSettings"),
                            list(self._get_param("Tags") or []))
        _profiles(backend)[(domain_id, name)] = made
        return ActionResult({"UserProfileArn": made.arn})

    def update_profile_response(self: Any) -> Any:
        found = profile(self)
        settings = self._get_param("UserSettings")
        if settings is not None:
            found.user_settings = {**(found.user_settings or {}), **settings}
        found.last_modified_time = utcnow()
        return ActionResult({"UserProfileArn": found.arn})

    def delete_profile_response(self: Any) -> Any:
        found = profile(self)
        del _profiles(self.sagemaker_backend)[(found.domain_id, found.name)]
        return EmptyResult()

    def list_profiles_response(self: Any) -> Any:  # no paging
        domain_id = self._get_param("DomainIdEquals")
        contains = self._get_param("UserProfileNameContains") or ""
        found = [p for (d, n), p in sorted(_profiles(self.sagemaker_backend).items())
                 if (domain_id is None or d == domain_id) and contains in n]
        return ActionResult({"UserProfiles": [
            {k: v for k, v in p.describe().items()
             if k in ("DomainId", "UserProfileName", "Status", "CreationTime",
                      "LastModifiedTime")} for p in found]})

    original_resource_from_arn = SageMakerModelBackend._get_resource_from_arn

    def resource_from_arn(self: Any, arn: str) -> Any:
        if ":user-profile/" in arn:
            domain_id, name = arn.split(":user-profile/", 1)[1].split("/", 1)
            found = _profiles(self).get((domain_id, name))
            if found is None:
                raise ValidationError(message=f"Could not find user profile {arn}")
            return found
        return original_resource_from_arn(self, arn)

    # setattr: moto's classes are typed, and these names are new to them.
    setattr(SageMakerResponse, "create_user_profile", create_profile_response)  # noqa: B010
    setattr(SageMakerResponse, "describe_user_profile",  # noqa: B010
            lambda self: ActionResult(profile(self).describe()))
    setattr(SageMakerResponse, "update_user_profile", update_profile_response)  # noqa: B010
    setattr(SageMakerResponse, "delete_user_profile", delete_profile_response)  # noqa: B010
    setattr(SageMakerResponse, "list_user_profiles", list_profiles_response)  # noqa: B010
    setattr(SageMakerModelBackend, "_get_resource_from_arn", resource_from_arn)  # noqa: B010
