"""SageMaker Studio: `aws_sagemaker_domain` (a Studio domain in a VPC, with its home EFS) and
`aws_sagemaker_user_profile` (a person's or a team's profile in it).

SageMaker assigns a domain's id (`d-...`), and its create call takes no client token: the
domain carries mlform's tags from its create call on, and an interrupted create is found again
by its name and tags. The create call is made once (no botocore retry, which could make a
second domain); a lost answer is settled by looking for the domain, as for VPCs (`ec2`). A user
profile is named within its domain, so it is found again by (domain, name); its id is its ARN,
as in Terraform. Both are made and changed asynchronously: creates and updates wait for
`InService`, deletes until the object is gone (a domain cannot be deleted while it has users).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, Field

from mlform.errors import NotReady, ProviderError
from mlform.providers.aws.base import (
    all_tags,
    tag_list,
    tags_all_field,
    tags_field,
    user_tags,
)
from mlform.providers.aws.errors import (
    aws_call,
    error_code,
    error_message,
    outcome_unknown,
    translate,
)
from mlform.providers.aws.sagemaker import _SagemakerResource
from mlform.providers.base import (
    ArgsModel,
    AttrsModel,
    Discovered,
    ForceNew,
    ResourceMeta,
    Timeouts,
    Waitable,
)

NAME = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"
BUSY = frozenset({"Pending", "Updating", "Deleting"})


def _as_set(value: list[str]) -> list[str]:
    return sorted(set(value))  # a set in Terraform: order and repeats mean nothing


def _missing(exc: BaseException) -> bool:
    # AWS answers ResourceNotFound; moto's DescribeDomain a ValidationException.
    return error_code(exc) == "ResourceNotFound" or (
        error_code(exc) == "ValidationException" and "Could not find" in error_message(exc))


class UserSettings(ArgsModel):
    execution_role: str = Field(description="IAM role Studio's apps run as.")
    security_groups: Annotated[list[str], AfterValidator(_as_set)] = Field(
        default_factory=list, max_length=5,
        description="Security groups of the apps' network interfaces (VpcOnly domains).")


def _settings_request(settings: UserSettings | None) -> dict[str, Any]:
    if settings is None:
        return {}
    found: dict[str, Any] = {"ExecutionRole": settings.execution_role}
    if settings.security_groups:
        found["SecurityGroups"] = settings.security_groups
    return found


def _settings_from(found: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not found or not found.get("ExecutionRole"):
        return None
    return {"execution_role": found["ExecutionRole"],
            "security_groups": _as_set(found.get("SecurityGroups") or [])}


class _StudioResource(_SagemakerResource[Any], Waitable):
    """Domains and profiles wait alike on their Status."""

    timeouts: ClassVar[Timeouts] = Timeouts(create=600.0, update=600.0, delete=600.0)

    @property
    def poll(self) -> float:
        return 0.2 if self.aws.is_sandbox else 10.0

    def _missing(self, exc: BaseException) -> bool:
        return _missing(exc)

    def _settled(self, found: Mapping[str, Any], what: str) -> None:
        status = found.get("Status")
        if status in BUSY:
            raise NotReady(f"{what} is {status}", retry_after=self.poll)
        if status != "InService":
            raise ProviderError(f"{what} is {status}: "
                                f"{found.get('FailureReason') or 'no reason given'}")

    def _gone(self, id: str, send: Any) -> None:
        """Delete (with `send`) unless already going, then NotReady until it is gone."""
        from botocore.exceptions import ClientError

        found = self._describe(id)
        if found is None:
            return
        if found.get("Status") != "Deleting":
            try:
                send()
            except ClientError as exc:
                if self._missing(exc):
                    return
                raise translate(exc, f"Delete{self.noun}") from exc
        if self._describe(id) is not None:
            raise NotReady(f"{self.kind} {id} is being deleted", retry_after=self.poll)


# -- aws_sagemaker_domain -----------------------------------------------------------------------

class SagemakerDomainArgs(ArgsModel):
    domain_name: Annotated[str, ForceNew()] = Field(
        max_length=63, pattern=NAME,
        description="Name (default: <project>-<environment>-<resource name>).")
    auth_mode: Annotated[Literal["IAM", "SSO"], ForceNew()] = Field(
        description="How users sign in: IAM, or IAM Identity Center (SSO).")
    vpc_id: Annotated[str, ForceNew()] = Field(description="VPC of the apps' traffic.")
    subnet_ids: Annotated[Annotated[list[str], AfterValidator(_as_set)], ForceNew()] = Field(
        min_length=1, max_length=16, description="Subnets of the apps' network interfaces.")
    default_user_settings: UserSettings = Field(
        description="Settings of users that set none of their own.")
    app_network_access_type: Literal["PublicInternetOnly", "VpcOnly"] = Field(
        "PublicInternetOnly", description="`VpcOnly`: apps reach the internet only through "
        "the VPC (a NAT gateway or VPC endpoints).")
    tags: dict[str, str] = tags_field("domain")


class SagemakerDomainAttrs(AttrsModel):
    arn: str
    url: str = Field(description="The domain's Studio URL.")
    home_efs_file_system_id: str = Field(description="The EFS file system of users' homes.")
    tags_all: dict[str, str] = tags_all_field()


class SagemakerDomain(_StudioResource):
    type_name: ClassVar[str] = "aws_sagemaker_domain"
    destroy_loses: ClassVar[str] = "the Studio domain (its home EFS is retained)"
    noun: ClassVar[str] = "Domain"
    kind: ClassVar[str] = "domain"
    Args = SagemakerDomainArgs
    Attrs = SagemakerDomainAttrs
    name_arg: ClassVar[str] = "domain_name"
    name_max_len: ClassVar[int] = 63

    def _send_describe(self, name: str) -> dict[str, Any]:
        return dict(self.client.describe_domain(DomainId=name))

    def _send_delete(self, name: str) -> None:
        self.client.delete_domain(DomainId=name, RetentionPolicy={"HomeEfsFileSystem": "Retain"})

    def _list_paginator(self) -> Any:
        return self.client.get_paginator("list_domains")

    def id_for(self, args: Any) -> str:
        raise ProviderError(f"{self.type_name}: SageMaker assigns the id; the domain is found "
                            "by its name and mlform's tags instead")

    def _args_from(self, found: Mapping[str, Any], prior: Mapping[str, Any]) -> dict[str, Any]:
        return {"domain_name": found["DomainName"], "auth_mode": found.get("AuthMode"),
                "vpc_id": found.get("VpcId"), "subnet_ids": _as_set(found.get("SubnetIds") or []),
                "default_user_settings": _settings_from(found.get("DefaultUserSettings")),
                "app_network_access_type":
                    found.get("AppNetworkAccessType") or "PublicInternetOnly"}

    def _attributes(self, found: Mapping[str, Any], prior: Mapping[str, Any]) -> dict[str, Any]:
        tags = self._tags(found["DomainArn"])
        return {**self._args_from(found, prior), "id": found["DomainId"],
                "arn": found["DomainArn"], "url": found.get("Url") or "",
                "home_efs_file_system_id": found.get("HomeEfsFileSystemId") or "",
                "tags": user_tags(tags), "tags_all": tags}

    def _named(self, name: str) -> list[str]:
        with aws_call("sagemaker", "ListDomains"):
            return [d["DomainId"] for page in self._list_paginator().paginate()
                    for d in page["Domains"] if d["DomainName"] == name]

    def find(self, args: ArgsModel, meta: ResourceMeta) -> dict[str, Any] | None:
        assert isinstance(args, SagemakerDomainArgs)
        for domain_id in self._named(args.domain_name):
            attrs = self.read(domain_id, args.model_dump(mode="json"))
            if attrs is not None and self.owns(attrs, meta):
                return attrs
        return None

    def create(self, args: SagemakerDomainArgs, meta: ResourceMeta) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        have = self.find(args, meta)  # a create called again after a wait, a crash or no answer
        if have is not None:
            return self.update(str(have["id"]), have, args, meta)
        try:
            created = self.aws.client("sagemaker", retries=False).create_domain(
                DomainName=args.domain_name, AuthMode=args.auth_mode, VpcId=args.vpc_id,
                SubnetIds=args.subnet_ids,
                DefaultUserSettings=_settings_request(args.default_user_settings),
                AppNetworkAccessType=args.app_network_access_type,
                Tags=tag_list(all_tags(args.tags, meta)))
        except (ClientError, BotoCoreError) as exc:
            if outcome_unknown(exc):
                raise NotReady(f"CreateDomain: no answer ({exc}); looking for the domain by "
                               "its tags before making another", retry_after=2.0) from None
            raise translate(exc, "CreateDomain") from exc
        domain_id = created["DomainArn"].rsplit("/", 1)[1]
        return self.read_back(domain_id, args.model_dump(mode="json"))

    def update(self, id: str, prior: Mapping[str, Any], args: SagemakerDomainArgs,
               meta: ResourceMeta) -> dict[str, Any]:
        found = self._describe(id)
        if found is None:
            raise ProviderError(f"domain {id} no longer exists; refresh and plan again")
        self._settled(found, f"domain {id}")
        live = self._attributes(found, prior)
        changes: dict[str, Any] = {}
        wanted = args.default_user_settings.model_dump()
        if live["default_user_settings"] != wanted:
            changes["DefaultUserSettings"] = _settings_request(args.default_user_settings)
        if live["app_network_access_type"] != args.app_network_access_type:
            changes["AppNetworkAccessType"] = args.app_network_access_type
        if changes:
            with aws_call("sagemaker", "UpdateDomain"):
                self.client.update_domain(DomainId=id, **changes)
        self.sync_tags(live["arn"], live["tags_all"], args.tags, meta)
        return self.read_back(id, args.model_dump(mode="json"))

    def wait_ready(self, attributes: Mapping[str, Any]) -> dict[str, Any]:
        id = str(attributes["id"])
        found = self._describe(id)
        if found is None:
            raise ProviderError(f"domain {id} disappeared while it was being made")
        self._settled(found, f"domain {id}")
        return self._attributes(found, attributes)

    def delete(self, id: str, prior: Mapping[str, Any]) -> None:
        self._gone(id, lambda: self._send_delete(id))

    def list(self) -> Iterator[Discovered]:
        with aws_call("sagemaker", "ListDomains"):
            for page in self._list_paginator().paginate():
                for item in page["Domains"]:
                    yield Discovered(id=item["DomainId"], tags=self._tags(item["DomainArn"]))


# -- aws_sagemaker_user_profile -----------------------------------------------------------------

class SagemakerUserProfileArgs(ArgsModel):
    domain_id: Annotated[str, ForceNew()] = Field(description="The Studio domain.")
    user_profile_name: Annotated[str, ForceNew()] = Field(
        max_length=63, pattern=NAME,
        description="Name (default: <project>-<environment>-<resource name>).")
    user_settings: UserSettings | None = Field(
        None, description="The user's own settings (unset: the domain's defaults).")
    tags: dict[str, str] = tags_field("user profile")


class SagemakerUserProfileAttrs(AttrsModel):
    arn: str
    home_efs_file_system_uid: str = Field(description="The user's id on the home EFS.")
    tags_all: dict[str, str] = tags_all_field()


def _profile_key(id: str) -> tuple[str, str]:
    """(domain id, name) of a profile's ARN (`...:user-profile/<domain>/<name>`), or of
    `<domain>/<name>` (what `mlform import` also takes)."""
    tail = id.split(":user-profile/", 1)[-1]
    domain, _, name = tail.partition("/")
    if not domain or not name:
        raise ProviderError(f"aws_sagemaker_user_profile: '{id}' is not a user profile's ARN "
                            "(arn:...:user-profile/<domain id>/<name>)")
    return domain, name


class SagemakerUserProfile(_StudioResource):
    type_name: ClassVar[str] = "aws_sagemaker_user_profile"
    destroy_loses: ClassVar[str] = "the user's Studio profile (the home folder stays on EFS)"
    noun: ClassVar[str] = "UserProfile"
    kind: ClassVar[str] = "user profile"
    Args = SagemakerUserProfileArgs
    Attrs = SagemakerUserProfileAttrs
    name_arg: ClassVar[str] = "user_profile_name"
    name_max_len: ClassVar[int] = 63

    def _send_describe(self, name: str) -> dict[str, Any]:
        domain, profile = _profile_key(name)
        return dict(self.client.describe_user_profile(DomainId=domain,
                                                      UserProfileName=profile))

    def _send_delete(self, name: str) -> None:
        domain, profile = _profile_key(name)
        self.client.delete_user_profile(DomainId=domain, UserProfileName=profile)

    def _list_paginator(self) -> Any:
        return self.client.get_paginator("list_user_profiles")

    def id_for(self, args: Any) -> str:
        return f"{args.domain_id}/{args.user_profile_name}"  # read takes it as well as the ARN

    def _args_from(self, found: Mapping[str, Any], prior: Mapping[str, Any]) -> dict[str, Any]:
        return {"domain_id": found["DomainId"], "user_profile_name": found["UserProfileName"],
                "user_settings": _settings_from(found.get("UserSettings"))}

    def _attributes(self, found: Mapping[str, Any], prior: Mapping[str, Any]) -> dict[str, Any]:
        arn = found["UserProfileArn"]
        tags = self._tags(arn)
        return {**self._args_from(found, prior), "id": arn, "arn": arn,
                "home_efs_file_system_uid": str(found.get("HomeEfsFileSystemUid") or ""),
                "tags": user_tags(tags), "tags_all": tags}

    def create(self, args: SagemakerUserProfileArgs, meta: ResourceMeta) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        have = self._mine(args, meta)
        if have is not None:
            return self.update(str(have["id"]), have, args, meta)
        request: dict[str, Any] = {"DomainId": args.domain_id,
                                   "UserProfileName": args.user_profile_name,
                                   "Tags": tag_list(all_tags(args.tags, meta))}
        if args.user_settings is not None:
            request["UserSettings"] = _settings_request(args.user_settings)
        try:
            created = self.client.create_user_profile(**request)
        except ClientError as exc:
            if self.already_exists(exc):  # a botocore retry after a lost answer
                return self.adopt(args, meta, "CreateUserProfile", exc)
            raise translate(exc, "CreateUserProfile") from exc
        return self.read_back(created["UserProfileArn"], args.model_dump(mode="json"))

    def update(self, id: str, prior: Mapping[str, Any], args: SagemakerUserProfileArgs,
               meta: ResourceMeta) -> dict[str, Any]:
        found = self._describe(id)
        if found is None:
            raise ProviderError(f"user profile {id} no longer exists; refresh and plan again")
        self._settled(found, f"user profile {id}")
        live = self._attributes(found, prior)
        wanted = args.user_settings.model_dump() if args.user_settings else None
        if wanted is not None and live["user_settings"] != wanted:
            with aws_call("sagemaker", "UpdateUserProfile"):
                self.client.update_user_profile(
                    DomainId=args.domain_id, UserProfileName=args.user_profile_name,
                    UserSettings=_settings_request(args.user_settings))
        self.sync_tags(live["arn"], live["tags_all"], args.tags, meta)
        return self.read_back(live["id"], args.model_dump(mode="json"))

    def wait_ready(self, attributes: Mapping[str, Any]) -> dict[str, Any]:
        id = str(attributes["id"])
        found = self._describe(id)
        if found is None:
            raise ProviderError(f"user profile {id} disappeared while it was being made")
        self._settled(found, f"user profile {id}")
        return self._attributes(found, attributes)

    def delete(self, id: str, prior: Mapping[str, Any]) -> None:
        self._gone(id, lambda: self._send_delete(id))

    def list(self) -> Iterator[Discovered]:
        with aws_call("sagemaker", "ListDomains"):
            domains = [d["DomainId"] for page in self.client.get_paginator(
                "list_domains").paginate() for d in page["Domains"]]
        for domain in domains:
            with aws_call("sagemaker", "ListUserProfiles"):
                pages = list(self._list_paginator().paginate(DomainIdEquals=domain))
            for page in pages:
                for item in page["UserProfiles"]:
                    attrs = self.read(f"{domain}/{item['UserProfileName']}", {})
                    if attrs is not None:
                        yield Discovered(id=attrs["id"], tags=attrs["tags_all"])
