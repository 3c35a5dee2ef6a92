"""Amazon EKS: `aws_eks_cluster`, and what it shares with `aws_eks_node_group`.

Both take minutes to create, change and delete, and EKS refuses a change while another is under
way, so `update` raises NotReady while the object is busy and, called again, carries on from what
the live object still lacks. `wait_ready` waits for ACTIVE, `delete` until the object is gone.

Arguments AWS chooses a value for when unset are of two kinds. The Kubernetes `version` of a
cluster or a node group is `Computed`: the state records the live one, an unset `version` plans
as "keep it", and `${aws_eks_cluster.x.version}` is the version the cluster runs (a node group
follows its cluster by that reference). A node group's `ami_type` and `disk_size` are managed
only when set: `read` reports the live value only if the prior attributes hold one, else None.

EKS upgrades a control plane one minor version at a time and never downgrades, and a node
group's kubelet may be older than its control plane (by at most three minor versions), never
newer: `check_change` and `check_related` refuse such plans before anything is called.

Node groups are in `eks_node_group.py`.
"""

from __future__ import annotations

import re
from abc import abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Annotated, Any, ClassVar, Literal, TypeVar, get_args

from pydantic import AfterValidator, Field

from mlform.errors import NotReady, ProviderError
from mlform.providers.aws.base import (
    TaggedResource,
    all_tags,
    tags_all_field,
    tags_field,
    user_tags,
)
from mlform.providers.aws.errors import aws_call, error_code, error_message, is_not_found, translate
from mlform.providers.base import (
    ArgsModel,
    AttrsModel,
    Computed,
    Discovered,
    ForceNew,
    ResourceMeta,
    Timeouts,
    Waitable,
)
from mlform.providers.schema import computed_fields

# A role created seconds ago is not yet usable by EKS (IAM is eventually consistent).
IAM_NOT_READY = re.compile(r"could not be assumed|doesn't have the Amazon EKS Managed Policies|"
                           r"IAM role's policy must include", re.IGNORECASE)
LogType = Literal["api", "audit", "authenticator", "controllerManager", "scheduler"]
AmiType = Literal[
    "AL2_x86_64", "AL2_x86_64_GPU", "AL2_ARM_64", "CUSTOM", "BOTTLEROCKET_ARM_64",
    "BOTTLEROCKET_x86_64", "BOTTLEROCKET_ARM_64_FIPS", "BOTTLEROCKET_x86_64_FIPS",
    "BOTTLEROCKET_ARM_64_NVIDIA", "BOTTLEROCKET_x86_64_NVIDIA", "BOTTLEROCKET_ARM_64_NVIDIA_FIPS",
    "BOTTLEROCKET_x86_64_NVIDIA_FIPS", "WINDOWS_CORE_2019_x86_64", "WINDOWS_FULL_2019_x86_64",
    "WINDOWS_CORE_2022_x86_64", "WINDOWS_FULL_2022_x86_64", "WINDOWS_CORE_2025_x86_64",
    "WINDOWS_FULL_2025_x86_64", "AL2023_x86_64_STANDARD", "AL2023_ARM_64_STANDARD",
    "AL2023_x86_64_NEURON", "AL2023_x86_64_NVIDIA", "AL2023_ARM_64_NVIDIA"]


VERSION = r"^\d+\.\d+$"
# Kubernetes' version skew policy: a kubelet may be up to three minor versions older than its
# API server (two before 1.28), never newer.
KUBELET_SKEW = 3
# Amazon Linux 2 node images end with Kubernetes 1.32 (AL2 reached end of support on 26 November
# 2025): from 1.33 EKS refuses AL2_* AMI types and defaults to AL2023. The plan checks it
# (EksNodeGroup.check_related) and the sandbox refuses it, as EKS does.
LAST_AL2 = (1, 33)


def minor_version(version: Any) -> tuple[int, int] | None:
    """`"1.31"` -> (1, 31); None for anything unset, unknown or unparsable."""
    if not isinstance(version, str):
        return None
    major, _, minor = version.partition(".")
    return (int(major), int(minor)) if major.isdigit() and minor.isdigit() else None


def version_steps(before: Any, after: Any, what: str) -> list[str]:
    """Why EKS cannot move `what` from version `before` to `after` in one update (empty: it
    can): it never downgrades, and a control plane moves one minor version at a time."""
    have, want = minor_version(before), minor_version(after)
    if have is None or want is None or want == have:
        return []
    if want < have:
        return [f"EKS cannot downgrade a {what}: version is {before}, the configuration asks "
                f"for {after}. Put version back to {before} (to go back, make a new {what})"]
    if what == "cluster" and (want[0] != have[0] or want[1] > have[1] + 1):
        path = [f"{want[0]}.{m}" for m in range(have[1] + 1, want[1] + 1)] \
            if want[0] == have[0] else [str(after)]
        return [f"EKS upgrades one minor version at a time: {before} -> {after} cannot be "
                f"done in one apply; apply {', then '.join(path)}"]
    return []


def _as_set(value: list[Any]) -> list[Any]:
    return sorted(set(value))  # a set in Terraform: order and repeats mean nothing


StringSet = Annotated[list[str], AfterValidator(_as_set)]


A = TypeVar("A", bound=ArgsModel)


class EksResource(TaggedResource[A], Waitable):
    """What clusters and node groups share: both go through the same states, and EKS refuses
    a change to either while another is under way."""

    service: ClassVar[str] = "eks"
    # Also the answer to a retry after a lost answer: botocore sends the same client token,
    # but an object of that name exists by then.
    exists_codes: ClassVar[frozenset[str]] = frozenset({"ResourceInUseException"})
    noun: ClassVar[str]  # Cluster, Nodegroup
    kind: ClassVar[str]  # how messages name it
    busy: ClassVar[frozenset[str]]  # still converging: wait (any other status but ACTIVE fails)

    @property
    def poll(self) -> float:
        """Seconds between status checks (the sandbox is ACTIVE at once)."""
        return 0.2 if self.aws.is_sandbox else 15.0

    @abstractmethod
    def _key(self, id: str) -> dict[str, str] | None:
        """The parameters that name the object `id` in EKS calls (None: not a valid id)."""

    @abstractmethod
    def _attributes(self, found: Mapping[str, Any], prior: Mapping[str, Any]) -> dict[str, Any]:
        """The attributes of a described object."""

    @abstractmethod
    def _send_create(self, args: A, meta: ResourceMeta) -> dict[str, Any]:
        """Make the create call; the object it returns."""

    @abstractmethod
    def _ids(self) -> Iterator[str]:
        """The ids of every object of this type."""

    @abstractmethod
    def _send_describe(self, key: Mapping[str, str]) -> dict[str, Any]:
        """Make the Describe call for the object `key` names; the object it returns."""

    @abstractmethod
    def _send_delete(self, key: Mapping[str, str]) -> None:
        """Make the Delete call for the object `key` names."""

    @contextmanager
    def _calling(self, operation: str) -> Iterator[None]:
        """Botocore errors of `operation` as ProviderError, or NotReady while EKS is busy."""
        from botocore.exceptions import ClientError

        try:
            yield
        except ClientError as exc:
            # Busy with another change: that passes by itself. Except "Cluster has nodegroups
            # attached": the engine deletes a cluster's node groups (its dependants) first and
            # waits until they are gone, so these were made outside this plan, and waiting
            # would only give the same error after the whole delete timeout.
            message = error_message(exc)
            if error_code(exc) == "ResourceInUseException" and "attached" not in message:
                raise NotReady(f"{operation}: {message}", retry_after=self.poll) from None
            raise translate(exc, operation) from exc

    def _describe(self, id: str) -> dict[str, Any] | None:
        key = self._key(id)
        if key is None:
            return None
        try:
            with self._calling(f"Describe{self.noun}"):
                return self._send_describe(key)
        except ProviderError as err:
            # For a node group, also its cluster. EKS sometimes says ClientException.
            if is_not_found(err.__cause__ or err) or "No cluster found" in err.message:
                return None
            raise

    def create(self, args: A, meta: ResourceMeta) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        wanted = args.model_dump(mode="json")
        try:
            # From the response: a Describe* right after could still miss the new object.
            return self._attributes(self._send_create(args, meta), wanted)
        except ClientError as exc:
            operation, message = f"Create{self.noun}", error_message(exc)
            # A new IAM role EKS cannot use yet, or a cluster still being created or changed.
            if IAM_NOT_READY.search(message) or "not in ACTIVE status" in message:
                raise NotReady(f"{operation}: {message}", retry_after=5.0) from exc
            if not self.already_exists(exc):
                raise translate(exc, operation) from exc
            return self.adopt(args, meta, operation, exc)

    def read(self, id: str, prior: Mapping[str, Any]) -> dict[str, Any] | None:
        found = self._describe(id)
        return None if found is None else self._attributes(found, prior)

    def _idle(self, id: str) -> dict[str, Any]:
        """The described object, once it takes changes."""
        found = self._describe(id)
        if found is None:
            raise ProviderError(f"{self.kind} {id} no longer exists; refresh and plan again")
        if found["status"] in self.busy:
            raise NotReady(f"{self.kind} {id} is {found['status']}", retry_after=self.poll)
        return found

    def _tag(self, ref: str, tags: Mapping[str, str]) -> None:
        with aws_call("eks", "TagResource"):
            self.client.tag_resource(resourceArn=ref, tags=dict(tags))

    def _untag(self, ref: str, keys: Sequence[str]) -> None:
        with aws_call("eks", "UntagResource"):
            self.client.untag_resource(resourceArn=ref, tagKeys=list(keys))

    def _converged(self, id: str, args: A) -> dict[str, Any]:
        # Until EKS finishes a change it may report the old values; wait_ready reads them
        # again once the object is ACTIVE.
        wanted = args.model_dump(mode="json")
        attrs = self.read(id, wanted)
        if attrs is None:
            raise ProviderError(f"{self.kind} {id} disappeared while it was being changed")
        left_to_aws = computed_fields(type(args))  # unset: what EKS picked, as read
        return {**attrs, **{k: v for k, v in wanted.items()
                            if not (v is None and k in left_to_aws)}}

    def wait_ready(self, attributes: Mapping[str, Any]) -> dict[str, Any]:
        id = str(attributes["id"])
        found = self._describe(id)
        if found is None:
            raise ProviderError(f"{self.kind} {id} disappeared while it was being deployed")
        status = found["status"]
        if status in self.busy:
            raise NotReady(f"{self.kind} {id} is {status}", retry_after=self.poll)
        if status != "ACTIVE":
            issues = (found.get("health") or {}).get("issues") or []
            reason = "; ".join(f"{i.get('code')}: {i.get('message')}" for i in issues)
            raise ProviderError(f"{self.kind} {id} is {status}: {reason or 'no reason given'}")
        return self._attributes(found, attributes)

    def delete(self, id: str, prior: Mapping[str, Any]) -> None:
        """Delete, then wait until it is gone (what it depends on may go only then)."""
        found = self._describe(id)
        key = self._key(id)
        if found is None or key is None:
            return
        if found["status"] != "DELETING":
            try:
                with self._calling(f"Delete{self.noun}"):
                    self._send_delete(key)
            except ProviderError as err:
                if not is_not_found(err.__cause__ or err):
                    raise
            if self._describe(id) is None:
                return
        raise NotReady(f"{self.kind} {id} is being deleted", retry_after=self.poll)

    def list(self) -> Iterator[Discovered]:
        for id in self._ids():
            found = self._describe(id)
            if found is not None:  # else deleted since it was listed
                yield Discovered(id=id, tags=found.get("tags") or {})


# -- aws_eks_cluster -----------------------------------------------------------------------------

class VpcConfig(ArgsModel):
    # Not ForceNew: EKS now changes a cluster's subnets and security groups in place (as
    # Terraform does), and the planner reads ForceNew on top-level arguments only.
    subnet_ids: StringSet = Field(min_length=1, description="Subnets, in at least two "
                                  "availability zones, for the control plane's interfaces.")
    security_group_ids: StringSet = Field(default_factory=list,
                                          description="Security groups for those interfaces.")
    endpoint_private_access: bool = Field(False, description="API server reachable in the VPC.")
    endpoint_public_access: bool = Field(True, description="API server reachable from anywhere.")
    public_access_cidrs: StringSet = Field(default_factory=lambda: ["0.0.0.0/0"], description=(
        "CIDR blocks that may reach the public API server endpoint."))


class EksClusterArgs(ArgsModel):
    name: Annotated[str, ForceNew()] = Field(
        max_length=100, pattern=r"^[0-9A-Za-z][A-Za-z0-9_-]*$",
        description="Cluster name (default: <project>-<environment>-<resource name>).")
    role_arn: Annotated[str, ForceNew()] = Field(
        description="IAM role the Kubernetes control plane uses to call AWS on your behalf.")
    version: Annotated[str | None, Computed()] = Field(
        None, pattern=VERSION, description="Kubernetes version, such as `1.31` (default: the "
        "latest EKS offers at creation, then kept). Raise it one minor version at a time to "
        "upgrade; EKS cannot downgrade.")
    vpc_config: VpcConfig = Field(description="Where the cluster's network interfaces live and "
                                  "who can reach its API server.")
    enabled_cluster_log_types: Annotated[list[LogType], AfterValidator(_as_set)] = Field(
        default_factory=list, description="Control plane logs to send to CloudWatch.")
    tags: dict[str, str] = tags_field("cluster")


class EksClusterAttrs(AttrsModel):
    arn: str
    endpoint: str | None = Field(None, description="URL of the Kubernetes API server.")
    certificate_authority: dict[str, str | None] = Field(
        default_factory=dict, description="`data`: the base64 CA certificate for kubeconfig.")
    platform_version: str | None = Field(None, description="EKS platform version (`eks.N`).")
    tags_all: dict[str, str] = tags_all_field()


def _logging(enabled: Sequence[str]) -> dict[str, Any]:
    disabled = [t for t in get_args(LogType) if t not in enabled]
    return {"clusterLogging": [{"types": types, "enabled": on}
                               for types, on in ((enabled, True), (disabled, False)) if types]}


class EksCluster(EksResource[EksClusterArgs]):
    type_name: ClassVar[str] = "aws_eks_cluster"
    destroy_loses: ClassVar[str] = "the cluster's workloads and their state"
    Args = EksClusterArgs
    Attrs = EksClusterAttrs
    kind: ClassVar[str] = "cluster"
    busy: ClassVar[frozenset[str]] = frozenset({"CREATING", "UPDATING", "PENDING"})
    noun: ClassVar[str] = "Cluster"
    name_max_len: ClassVar[int] = 100
    timeouts: ClassVar[Timeouts] = Timeouts(create=1800.0, update=3600.0, delete=900.0)

    @classmethod
    def check_change(cls, before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
        return version_steps(before.get("version"), after.get("version"), "cluster")

    def _send_create(self, args: EksClusterArgs, meta: ResourceMeta) -> dict[str, Any]:
        vpc = args.vpc_config
        params: dict[str, Any] = {
            "name": args.name, "roleArn": args.role_arn,
            "resourcesVpcConfig": {
                "subnetIds": vpc.subnet_ids, "securityGroupIds": vpc.security_group_ids,
                "endpointPrivateAccess": vpc.endpoint_private_access,
                "endpointPublicAccess": vpc.endpoint_public_access,
                "publicAccessCidrs": vpc.public_access_cidrs},
            "logging": _logging(args.enabled_cluster_log_types),
            "tags": all_tags(args.tags, meta)}
        if args.version:
            params["version"] = args.version
        cluster: dict[str, Any] = self.client.create_cluster(**params)["cluster"]
        return cluster

    def _key(self, id: str) -> dict[str, str] | None:
        return {"name": id}

    def _send_describe(self, key: Mapping[str, str]) -> dict[str, Any]:
        return dict(self.client.describe_cluster(**key)["cluster"])

    def _send_delete(self, key: Mapping[str, str]) -> None:
        self.client.delete_cluster(**key)

    def _ids(self) -> Iterator[str]:
        with aws_call("eks", "ListClusters"):
            for page in self.client.get_paginator("list_clusters").paginate():
                yield from page["clusters"]

    def _attributes(self, found: Mapping[str, Any], prior: Mapping[str, Any]) -> dict[str, Any]:
        vpc = found.get("resourcesVpcConfig") or {}
        logging = (found.get("logging") or {}).get("clusterLogging") or []
        tags = dict(found.get("tags") or {})
        args = EksClusterArgs.model_validate({
            "name": found["name"], "role_arn": found["roleArn"],
            "version": found.get("version"),  # Computed: the live one, always
            "vpc_config": {  # AWS's defaults where a response leaves a field out
                "subnet_ids": vpc.get("subnetIds") or [],
                "security_group_ids": vpc.get("securityGroupIds") or [],
                "endpoint_private_access": vpc.get("endpointPrivateAccess", False),
                "endpoint_public_access": vpc.get("endpointPublicAccess", True),
                "public_access_cidrs": vpc.get("publicAccessCidrs") or ["0.0.0.0/0"]},
            "enabled_cluster_log_types": [t for entry in logging if entry.get("enabled")
                                          for t in entry.get("types") or []],
            "tags": user_tags(tags)})
        return self.attributes(
            args, id=found["name"], arn=found["arn"], endpoint=found.get("endpoint"),
            certificate_authority={"data": (found.get("certificateAuthority") or {}).get("data")},
            platform_version=found.get("platformVersion"), tags_all=tags)

    def _pending(self, found: Mapping[str, Any], args: EksClusterArgs) -> dict[str, Any]:
        """UpdateClusterConfig parameters still to send, by what they change, in order (EKS
        takes one kind of change at a time); "version" is for UpdateClusterVersion."""
        have = self._attributes(found, {})
        hv, wv = have["vpc_config"], args.vpc_config
        steps: dict[str, Any] = {}
        if args.version is not None and have["version"] != args.version:
            steps["version"] = {"version": args.version}
        access = {"endpointPrivateAccess": "endpoint_private_access",
                  "endpointPublicAccess": "endpoint_public_access",
                  "publicAccessCidrs": "public_access_cidrs"}
        if any(hv[k] != getattr(wv, k) for k in access.values()):
            steps["access"] = {"resourcesVpcConfig": {
                key: getattr(wv, field) for key, field in access.items()}}
        for key, field in (("subnetIds", "subnet_ids"), ("securityGroupIds", "security_group_ids")):
            if hv[field] != getattr(wv, field):
                steps[field] = {"resourcesVpcConfig": {key: getattr(wv, field)}}
        if have["enabled_cluster_log_types"] != args.enabled_cluster_log_types:
            steps["logging"] = {"logging": _logging(args.enabled_cluster_log_types)}
        return steps

    def update(self, id: str, prior: Mapping[str, Any], args: EksClusterArgs,
               meta: ResourceMeta) -> dict[str, Any]:
        done: set[str] = set()
        while True:  # on AWS the cluster is UPDATING after each step: _idle raises NotReady
            found = self._idle(id)
            # A change EKS accepted but does not show yet is not made twice in one call.
            todo = [(k, v) for k, v in self._pending(found, args).items() if k not in done]
            if not todo:
                break
            what, params = todo[0]
            if what == "version":
                with self._calling("UpdateClusterVersion"):
                    self.client.update_cluster_version(name=id, **params)
            else:
                with self._calling("UpdateClusterConfig"):
                    self.client.update_cluster_config(name=id, **params)
            done.add(what)
        self.sync_tags(found["arn"], found.get("tags") or {}, args.tags, meta)
        return self._converged(id, args)
