"""`gpu_cluster`: an EKS cluster with a small system node group and a GPU node group.

`gpu: "A100:8"` is resolved to an instance type offered in the region (see `gpu.py`); the
choice is shown in the plan and recorded with the node group. `nodes: "0..4"` lets the GPU pool
scale to zero; `spot: true` buys spot capacity. GPU nodes are tainted, so only pods that
tolerate `nvidia.com/gpu` land on them. Without `subnet_ids` the component makes a VPC with two
subnets in two availability zones and a security group. The control plane's api, audit and
authenticator logs go to `/aws/eks/<cluster>/cluster`, a group made first with
`log_retention_days` (EKS would otherwise make it, keeping everything forever).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from mlform.components.base import ExpandContext, Expansion
from mlform.components.gpu import GpuRequest, parse_gpu, pinned_type, resolve, unpinned
from mlform.components.iam import aws_policy, role_policies, trust
from mlform.components.logs import Logged
from mlform.components.network import (
    Endpoint,
    Nat,
    endpoints_field,
    nat_field,
    private_network,
)

_NODES = re.compile(r"^\s*(\d+)\s*\.\.\s*(\d+)\s*$")
CLUSTER_POLICIES = ["AmazonEKSClusterPolicy"]  # AWS managed policies (`aws_policy`)
NODE_POLICIES = ["AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy",
                 "AmazonEC2ContainerRegistryReadOnly"]
GPU_AMI_TYPE = "AL2023_x86_64_NVIDIA"  # AL2 AMIs end with Kubernetes 1.32
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}
# Who called the API server, what it did, and who was let in; not the scheduler's and
# controller manager's chatter, which is most of the volume.
CONTROL_PLANE_LOGS = ["api", "audit", "authenticator"]
CLUSTER_NAME_MAX = 100  # EKS's limit, as aws_eks_cluster names it by default


class GpuCluster(Logged):
    type: Literal["gpu_cluster"]
    gpu: str | dict[str, Any] = Field(
        description="GPUs per node: `A100:8`, `A100-80GB:8`, `T4`, or {type, count, "
                    "memory_gib}.")
    nodes: str | int = Field("0..1", description="GPU nodes: `MIN..MAX` (`0..4` scales to "
                                                "zero) or a fixed number.")
    spot: bool = Field(False, description="Run GPU nodes on spot capacity.")
    kubernetes_version: str | None = Field(None, description=(
        "Kubernetes version of the control plane and the nodes, such as `1.31` (default: "
        "EKS's default when the cluster is made, then kept; `mlform lock` pins it). Raise it "
        "one minor version per apply to upgrade: the control plane first, then each node "
        "group."))
    system_instance_type: str = Field("t3.medium",
                                      description="Instance type of the system node group.")
    subnet_ids: list[str] | None = Field(
        None, description="Subnets of an existing network (at least two availability "
                          "zones); without them a VPC is made.")
    vpc_cidr: str = Field("10.42.0.0/16", description="CIDR of the VPC made when no "
                                                      "subnet_ids are given.")
    nat: Nat = nat_field()
    endpoints: list[Endpoint] = endpoints_field()

    outputs: ClassVar[dict[str, str]] = {
        "name": "The EKS cluster's name",
        "endpoint": "The Kubernetes API endpoint",
        "arn": "The cluster's ARN",
        "gpu_instance_type": "The instance type chosen for the GPU nodes",
        "node_role_arn": "The role the nodes run as",
    }

    @field_validator("gpu")
    @classmethod
    def _gpu_spec(cls, value: str | dict[str, Any]) -> str | dict[str, Any]:
        parse_gpu(value)
        return value

    @model_validator(mode="after")
    def _node_range(self) -> GpuCluster:
        self.scaling()
        if self.subnet_ids is not None and len(self.subnet_ids) < 2:
            raise ValueError("subnet_ids: EKS needs subnets in at least two availability zones")
        ipaddress.ip_network(self.vpc_cidr)
        return self

    def scaling(self) -> tuple[int, int]:
        if isinstance(self.nodes, int):
            return self.nodes, self.nodes
        m = _NODES.match(self.nodes)
        if not m or int(m.group(1)) > int(m.group(2)) or int(m.group(2)) < 1:
            raise ValueError(f"nodes: expected MIN..MAX with MIN <= MAX and MAX >= 1 (such as "
                             f"0..4) or a number, got {self.nodes!r}")
        return int(m.group(1)), int(m.group(2))

    def expand(self, ctx: ExpandContext) -> Expansion:
        out = Expansion()
        request = parse_gpu(self.gpu)
        instance_type = self._choose(request, ctx, out)
        version, ami_type = self._eks_pins(ctx, out)
        subnets, groups = self._network(ctx, out)
        out.add("aws_iam_role.cluster", assume_role_policy=trust("eks.amazonaws.com"),
                description=f"Runs EKS cluster {ctx.name}", tags=self.tags)
        cluster_policies = role_policies(
            out, ctx, "aws_iam_role.cluster",
            managed=[aws_policy(p, ctx.partition) for p in CLUSTER_POLICIES])
        # EKS writes to the group named after the cluster, which must be there first.
        cluster_name = ctx.default_name(max_len=CLUSTER_NAME_MAX)
        log_group = self.log_group(out, ctx, f"/aws/eks/{cluster_name}/cluster")
        cluster: dict[str, Any] = {
            "name": cluster_name, "role_arn": ctx.ref("aws_iam_role.cluster", "arn"),
            "vpc_config": {"subnet_ids": subnets, "security_group_ids": groups,
                           "endpoint_private_access": True, "endpoint_public_access": True},
            "enabled_cluster_log_types": CONTROL_PLANE_LOGS, "tags": self.tags,
        }
        if version:
            cluster["version"] = version
        out.add("aws_eks_cluster.this", **cluster).depends_on = [*cluster_policies, log_group]
        out.add("aws_iam_role.nodes", assume_role_policy=trust("ec2.amazonaws.com"),
                description=f"Runs the nodes of EKS cluster {ctx.name}", tags=self.tags)
        node_policies = role_policies(
            out, ctx, "aws_iam_role.nodes",
            managed=[aws_policy(p, ctx.partition) for p in NODE_POLICIES])
        name = ctx.ref("aws_eks_cluster.this", "name")
        nodes_role = ctx.ref("aws_iam_role.nodes", "arn")
        # The nodes run the cluster's version: an upgrade moves the control plane first, then
        # each node group (the reference orders them).
        version = ctx.ref("aws_eks_cluster.this", "version")
        system = out.add("aws_eks_node_group.system", cluster_name=name, version=version,
                node_role_arn=nodes_role, subnet_ids=subnets,
                instance_types=[self.system_instance_type],
                scaling_config={"min_size": 1, "max_size": 2, "desired_size": 1},
                labels={"mlform/pool": "system"}, tags=self.tags)
        # A new instance type or capacity type replaces a group: the new one first, so that
        # CoreDNS and the jobs always have nodes to run on.
        system.lifecycle = {"create_before_destroy": True}
        system.depends_on = node_policies
        low, high = self.scaling()
        # The cluster autoscaler moves desired_size between min and max: not drift.
        gpu = out.add("aws_eks_node_group.gpu", cluster_name=name, version=version,
                node_role_arn=nodes_role,
                subnet_ids=subnets, instance_types=[instance_type],
                capacity_type="SPOT" if self.spot else "ON_DEMAND", ami_type=ami_type,
                scaling_config={"min_size": low, "max_size": high, "desired_size": low},
                labels={"mlform/pool": "gpu", "mlform/gpu": request.model},
                taint=[GPU_TAINT], tags=self.tags)
        gpu.lifecycle = {"ignore_changes": ["scaling_config.desired_size"],
                         "create_before_destroy": True}
        gpu.depends_on = node_policies
        out.outputs = {
            "name": name, "endpoint": ctx.ref("aws_eks_cluster.this", "endpoint"),
            "arn": ctx.ref("aws_eks_cluster.this", "arn"), "gpu_instance_type": instance_type,
            "node_role_arn": nodes_role,
        }
        return out

    def _choose(self, request: GpuRequest, ctx: ExpandContext, out: Expansion) -> str:
        chosen = pinned_type(ctx.pinned("gpu"), request)
        if chosen is not None:  # the lock's: no lookup
            out.notes.append(f"{ctx.name}: gpu {request} -> {chosen} in {ctx.stack.region} "
                             "(mlform.lock)")
        elif ctx.gpus is None:  # offline (mlform validate): chosen when planning
            return f"gpu:{request}"
        else:
            chosen, candidates = resolve(request, ctx.gpus, ctx.stack.region,
                                         lambda name: ctx.price("ec2", name))
            others = [c for c in candidates if c != chosen]
            out.notes.append(f"{ctx.name}: gpu {request} -> {chosen} in {ctx.stack.region}"
                             + (f" (also possible: {', '.join(others)})" if others else ""))
            if ctx.locked is not None:
                out.unlocked.append(unpinned(ctx.pinned("gpu"), request))
        out.pins["gpu"] = {"request": str(request), "instance_type": chosen}
        return chosen

    def _eks_pins(self, ctx: ExpandContext, out: Expansion) -> tuple[str | None, str]:
        """The Kubernetes version (the config's, else the lock's; None: EKS's default at
        creation) and the GPU nodes' AMI type (the lock's, else mlform's default)."""
        pin = ctx.pinned("eks") or {}
        version = self.kubernetes_version or pin.get("kubernetes_version")
        ami = (pin.get("ami_types") or {}).get("gpu") or GPU_AMI_TYPE
        if ctx.locked is not None:
            if version is None:
                out.unlocked.append("Kubernetes version (EKS's default)")
            if "gpu" not in (pin.get("ami_types") or {}):
                out.unlocked.append("AMI type of the GPU nodes")
        out.pins["eks"] = {
            "kubernetes_version": None if self.kubernetes_version else version,
            "ami_types": {"gpu": ami}}
        return version, ami

    def _network(self, ctx: ExpandContext, out: Expansion) -> tuple[Any, Any]:
        if self.subnet_ids is not None:
            return self.subnet_ids, []
        net = private_network(
            out, ctx, self.vpc_cidr, self.tags, purpose=f"EKS cluster {ctx.name}",
            nat=self.nat, endpoints=self.endpoints,
            ingress=[{"from_port": 0, "to_port": 0, "protocol": "-1", "self": True,
                      "description": "nodes and control plane"}])
        return net.private_subnets, [net.security_group]
