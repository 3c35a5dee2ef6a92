"""Amazon EKS managed node groups: `aws_eks_node_group` (see `eks.py` for what clusters and
node groups share, and for the version rules).

A node group's default name is `node_group_name_prefix` followed by a digest of the arguments
that force its replacement, so a replacement has a new name and can be created before the old
group is deleted (`lifecycle.create_before_destroy`, which `gpu_cluster` sets): the cluster is
never left without nodes for CoreDNS and the workloads. `version` changes in place
(UpdateNodegroupVersion, a rolling replacement of the nodes that EKS runs).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, Field, ValidationError, model_validator

from mlform.providers.aws.base import all_tags, aws_chosen, tags_all_field, tags_field, user_tags
from mlform.providers.aws.eks import (
    KUBELET_SKEW,
    LAST_AL2,
    VERSION,
    AmiType,
    EksCluster,
    EksResource,
    StringSet,
    minor_version,
    version_steps,
)
from mlform.providers.aws.errors import aws_call
from mlform.providers.base import (
    ArgsModel,
    AttrsModel,
    Computed,
    ForceNew,
    ResourceMeta,
    StackContext,
    Timeouts,
    stable_hash,
)
from mlform.providers.schema import force_new_fields
from mlform.values import UNKNOWN, contains_unknown

NAME_MAX = 63  # a node group's name
DIGEST = 8


class ScalingConfig(ArgsModel):
    min_size: int = Field(ge=0, description="Fewest nodes; 0 lets a GPU pool scale to zero.")
    max_size: int = Field(ge=1, description="Most nodes.")
    desired_size: int = Field(ge=0, description="Nodes to run now, from min_size to max_size.")

    @model_validator(mode="after")
    def _ordered(self) -> ScalingConfig:
        if not self.min_size <= self.desired_size <= self.max_size:
            raise ValueError("need min_size <= desired_size <= max_size")
        return self

    def request(self) -> dict[str, int]:
        return {"minSize": self.min_size, "maxSize": self.max_size,
                "desiredSize": self.desired_size}


class Taint(ArgsModel):
    key: str = Field(min_length=1, max_length=63, description="Taint key.")
    value: str | None = Field(None, max_length=63, description="Taint value.")
    effect: Literal["NO_SCHEDULE", "NO_EXECUTE", "PREFER_NO_SCHEDULE"] = Field(
        description="What the taint does to pods that do not tolerate it.")


def _taint_set(value: list[Taint]) -> list[Taint]:
    unique = {(t.key, t.effect, t.value or ""): t for t in value}
    return [unique[k] for k in sorted(unique)]


class EksNodeGroupArgs(ArgsModel):
    cluster_name: Annotated[str, ForceNew()] = Field(description="The cluster the nodes join.")
    node_group_name: Annotated[str | None, ForceNew()] = Field(
        None, max_length=NAME_MAX, description="Node group name. Leave it unset: it is then "
        "`node_group_name_prefix` followed by a digest of the arguments that force a "
        "replacement, so a replacement can be created before the old group is deleted.")
    node_group_name_prefix: Annotated[str | None, ForceNew()] = Field(
        None, max_length=NAME_MAX - DIGEST, description="Start of the name when "
        "`node_group_name` is unset (default: <project>-<environment>-<resource name>-).")
    version: Annotated[str | None, Computed()] = Field(
        None, pattern=VERSION, description="Kubernetes version of the nodes (default: the "
        "cluster's at creation, then kept). Changed in place, never ahead of the cluster's.")
    node_role_arn: Annotated[str, ForceNew()] = Field(description="IAM role of the nodes.")
    subnet_ids: Annotated[StringSet, ForceNew()] = Field(
        min_length=1, description="Subnets the nodes are launched in.")
    instance_types: Annotated[list[str], ForceNew()] = Field(
        default_factory=lambda: ["t3.medium"], min_length=1,
        description="EC2 instance types, such as `p3.2xlarge` (the first is preferred).")
    capacity_type: Annotated[Literal["ON_DEMAND", "SPOT"], ForceNew()] = Field(
        "ON_DEMAND", description="ON_DEMAND or SPOT instances.")
    ami_type: Annotated[AmiType | None, ForceNew()] = Field(None, description=(
        "Node image, such as AL2023_x86_64_NVIDIA (default: EKS's choice, not managed). "
        "Amazon Linux 2 types (AL2_*) run Kubernetes 1.32 at most."))
    disk_size: Annotated[int | None, ForceNew()] = Field(None, ge=1, description=(
        "Root disk size in GiB (default: EKS's, 20 or 50 on Windows; not managed)."))
    scaling_config: ScalingConfig = Field(description="How many nodes the group may run.")
    labels: dict[str, str] = Field(default_factory=dict, description="Kubernetes node labels.")
    taint: Annotated[list[Taint], AfterValidator(_taint_set)] = Field(
        default_factory=list, description="Kubernetes taints on the nodes, such as "
        "`{key: nvidia.com/gpu, value: 'true', effect: NO_SCHEDULE}`.")
    tags: dict[str, str] = tags_field("node group")

    @model_validator(mode="after")
    def _has_a_name(self) -> EksNodeGroupArgs:
        if self.node_group_name is None and self.node_group_name_prefix is None:
            raise ValueError("set `node_group_name` or `node_group_name_prefix`")
        return self

    def derived_name(self) -> str:
        content = self.model_dump(mode="json", include=set(_NAMED_BY))
        return f"{self.node_group_name_prefix}{stable_hash(content, DIGEST)}"

    @property
    def name(self) -> str:
        return self.node_group_name or self.derived_name()


# What a derived name is a digest of: what forces a new group.
_NAMED_BY = sorted(force_new_fields(EksNodeGroupArgs)
                   - {"node_group_name", "node_group_name_prefix"})


class EksNodeGroupAttrs(AttrsModel):
    arn: str
    tags_all: dict[str, str] = tags_all_field()


class EksNodeGroup(EksResource[EksNodeGroupArgs]):
    type_name: ClassVar[str] = "aws_eks_node_group"
    Args = EksNodeGroupArgs
    Attrs = EksNodeGroupAttrs
    kind: ClassVar[str] = "node group"
    busy: ClassVar[frozenset[str]] = frozenset({"CREATING", "UPDATING"})
    noun: ClassVar[str] = "Nodegroup"
    name_arg: ClassVar[str] = "node_group_name"
    name_max_len: ClassVar[int] = 63
    timeouts: ClassVar[Timeouts] = Timeouts(create=3600.0, update=3600.0, delete=3600.0)

    @classmethod
    def default_args(cls, ctx: StackContext, name: str) -> dict[str, Any]:
        prefix = ctx.default_name(name, max_len=NAME_MAX - DIGEST - 1)
        return {"node_group_name_prefix": prefix + "-"}

    @classmethod
    def complete_args(cls, args: dict[str, Any]) -> dict[str, Any]:
        if args.get("node_group_name") is not None:
            return args
        content = {k: v for k, v in args.items() if k in _NAMED_BY}
        if contains_unknown(content):
            return {**args, "node_group_name": UNKNOWN}
        try:
            parsed = EksNodeGroupArgs.model_validate({**args, "node_group_name": "placeholder"})
        except ValidationError:
            return args  # resolve_args validates again and reports the problem
        return {**args, "node_group_name": parsed.derived_name()}

    @classmethod
    def check_change(cls, before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
        return version_steps(before.get("version"), after.get("version"), "node group")

    @classmethod
    def check_related(cls, after: Mapping[str, Any],
                      planned: Mapping[str, Mapping[str, Any]]) -> list[str]:
        theirs = next((attrs.get("version") for address, attrs in planned.items()
                       if address.split(".")[-2] == EksCluster.type_name
                       and attrs.get("name") == after.get("cluster_name")), None)
        mine = after.get("version")
        nodes, ours = minor_version(mine), minor_version(theirs)
        runs = nodes or ours  # a group whose version is left to its cluster runs the cluster's
        ami = after.get("ami_type")
        if isinstance(ami, str) and ami.startswith("AL2_") and runs and runs >= LAST_AL2:
            return [f"ami_type {ami} is an Amazon Linux 2 image, which EKS offers up to "
                    f"Kubernetes 1.32 only, and these nodes run {mine or theirs}: use an AL2023 "
                    "type (AL2023_x86_64_NVIDIA for GPU nodes, AL2023_x86_64_STANDARD) or a "
                    "Bottlerocket one"]
        if nodes is None or ours is None or nodes[0] != ours[0]:
            return []  # unknown until apply, or left to EKS (then the cluster's)
        if nodes > ours:
            return [f"version {mine} is ahead of its cluster's ({theirs}): nodes cannot run a "
                    "newer Kubernetes than their control plane. Upgrade the cluster first, "
                    "one minor version per apply"]
        if ours[1] - nodes[1] > KUBELET_SKEW:
            return [f"version {mine} is more than {KUBELET_SKEW} minor versions behind its "
                    f"cluster's ({theirs}), which Kubernetes does not support: set it to "
                    f"{theirs} (or at least {ours[0]}.{ours[1] - KUBELET_SKEW})"]
        return []

    def id_for(self, args: EksNodeGroupArgs) -> str:
        return f"{args.cluster_name}:{args.name}"  # Terraform's import id

    def _send_create(self, args: EksNodeGroupArgs, meta: ResourceMeta) -> dict[str, Any]:
        params: dict[str, Any] = {
            "clusterName": args.cluster_name, "nodegroupName": args.name,
            "nodeRole": args.node_role_arn, "subnets": args.subnet_ids,
            "instanceTypes": args.instance_types, "capacityType": args.capacity_type,
            "scalingConfig": args.scaling_config.request(), "tags": all_tags(args.tags, meta)}
        optional = {"amiType": args.ami_type, "diskSize": args.disk_size, "labels": args.labels,
                    "version": args.version,
                    "taints": [t.model_dump(exclude_none=True) for t in args.taint]}
        params.update({k: v for k, v in optional.items() if v})
        group: dict[str, Any] = self.client.create_nodegroup(**params)["nodegroup"]
        return group

    def _key(self, id: str) -> dict[str, str] | None:
        cluster, _, group = id.partition(":")
        return {"clusterName": cluster, "nodegroupName": group} if group else None

    def _send_describe(self, key: Mapping[str, str]) -> dict[str, Any]:
        return dict(self.client.describe_nodegroup(**key)["nodegroup"])

    def _send_delete(self, key: Mapping[str, str]) -> None:
        self.client.delete_nodegroup(**key)

    def _ids(self) -> Iterator[str]:
        with aws_call("eks", "ListNodegroups"):
            for page in self.client.get_paginator("list_clusters").paginate():
                for cluster in page["clusters"]:
                    groups = self.client.get_paginator("list_nodegroups")
                    for group_page in groups.paginate(clusterName=cluster):
                        yield from (f"{cluster}:{g}" for g in group_page["nodegroups"])

    def _attributes(self, found: Mapping[str, Any], prior: Mapping[str, Any]) -> dict[str, Any]:
        scaling = found.get("scalingConfig") or {}
        tags = dict(found.get("tags") or {})
        args = EksNodeGroupArgs.model_validate({
            "cluster_name": found["clusterName"], "node_group_name": found["nodegroupName"],
            "node_group_name_prefix": prior.get("node_group_name_prefix"),  # not AWS's
            "version": found.get("version"),  # Computed: the live one, always
            "node_role_arn": found["nodeRole"], "subnet_ids": found.get("subnets") or [],
            "instance_types": found.get("instanceTypes") or ["t3.medium"],
            "capacity_type": found.get("capacityType", "ON_DEMAND"),
            "ami_type": aws_chosen(prior, "ami_type", found.get("amiType")),
            "disk_size": aws_chosen(prior, "disk_size", found.get("diskSize")),
            "scaling_config": {"min_size": scaling.get("minSize", 0),
                               "max_size": scaling.get("maxSize", 1),
                               "desired_size": scaling.get("desiredSize", 0)},
            "labels": found.get("labels") or {},
            "taint": found.get("taints") or [],
            "tags": user_tags(tags)})
        return self.attributes(args, id=f"{found['clusterName']}:{found['nodegroupName']}",
                               arn=found["nodegroupArn"], tags_all=tags)

    def update(self, id: str, prior: Mapping[str, Any], args: EksNodeGroupArgs,
               meta: ResourceMeta) -> dict[str, Any]:
        found = self._idle(id)
        if args.version is not None and found.get("version") != args.version:
            # A rolling replacement of the nodes: the group is UPDATING until it is done,
            # and the calls below wait (NotReady) until it takes changes again.
            with self._calling("UpdateNodegroupVersion"):
                self.client.update_nodegroup_version(**self._key(id) or {},
                                                     version=args.version)
            found = self._idle(id)
        have = self._attributes(found, {})
        changes: dict[str, Any] = {}
        add = {k: v for k, v in args.labels.items() if have["labels"].get(k) != v}
        remove = sorted(have["labels"].keys() - args.labels.keys())
        if add or remove:
            changes["labels"] = {"addOrUpdateLabels": add, "removeLabels": remove}
        # Kubernetes tells taints apart by key and effect.
        have_taints = {(t["key"], t["effect"]): t for t in have["taint"]}
        want_taints = {(t.key, t.effect): t.model_dump() for t in args.taint}
        put = [{k: v for k, v in t.items() if v is not None}
               for key, t in want_taints.items() if have_taints.get(key) != t]
        drop = [{"key": k, "effect": e} for k, e in sorted(have_taints.keys() - want_taints)]
        if put or drop:
            changes["taints"] = {"addOrUpdateTaints": put, "removeTaints": drop}
        if have["scaling_config"] != args.scaling_config.model_dump():
            changes["scalingConfig"] = args.scaling_config.request()
        if changes:  # one change for EKS: labels, taints and scaling go in the same call
            with self._calling("UpdateNodegroupConfig"):
                self.client.update_nodegroup_config(**self._key(id) or {}, **changes)
        self.sync_tags(found["nodegroupArn"], found.get("tags") or {}, args.tags, meta)
        return self._converged(id, args)
