"""EKS clusters and node groups against a real cloud on loopback.

Most tests run on the session's sandbox. The sandbox has every cluster and node group ACTIVE at
once, so the tests of transitional and failed states run on `cloud`: a moto server in this
process (with the sandbox's moto patches), whose backend they reach into to set a status.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from mlform.errors import NotReady, ProviderError
from mlform.providers.aws.eks import EksCluster
from mlform.providers.aws.eks_node_group import EksNodeGroup
from mlform.providers.base import ResourceMeta, StackContext
from tests.providers.aws.contract import check_contract

ACCOUNT, REGION = "123456789012", "us-east-1"
SANDBOX_DEFAULT_VERSION = "1.35"  # what the sandbox picks when `version` is unset


def _role(iam: Any, name: str, service: str) -> str:
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]}
    return str(iam.create_role(RoleName=name,
                               AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"])


@pytest.fixture
def roles(boto: Any, uid: str) -> tuple[str, str]:
    """(cluster role, node role). The sandbox does not check trust policies."""
    iam = boto("iam")
    return (_role(iam, f"eks-cluster-{uid}", "eks.amazonaws.com"),
            _role(iam, f"eks-nodes-{uid}", "ec2.amazonaws.com"))


@pytest.fixture
def network(boto: Any) -> dict[str, Any]:
    """A VPC with two subnets in two availability zones, and a security group."""
    ec2 = boto("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{i}.0/24",
                                 AvailabilityZone=f"{REGION}{zone}")["Subnet"]["SubnetId"]
               for i, zone in enumerate("ab")]
    sg = ec2.create_security_group(GroupName=f"eks-{vpc}", Description="control plane",
                                   VpcId=vpc)["GroupId"]
    return {"vpc": vpc, "subnets": subnets, "security_group": sg}


def _cluster_args(name: str, role: str, network: dict[str, Any], **extra: Any) -> dict[str, Any]:
    # Subnets in reverse order: a set, normalised by the field type.
    return {"name": name, "role_arn": role,
            "vpc_config": {"subnet_ids": network["subnets"][::-1]}, **extra}


def _gpu_group(cluster: str, name: str, role: str, network: dict[str, Any],
               **extra: Any) -> dict[str, Any]:
    return {"cluster_name": cluster, "node_group_name": name, "node_role_arn": role,
            "subnet_ids": network["subnets"], "instance_types": ["p3.2xlarge"],
            "ami_type": "AL2023_x86_64_NVIDIA", "capacity_type": "SPOT",
            "scaling_config": {"min_size": 0, "max_size": 4, "desired_size": 0},
            "taint": [{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}],
            "labels": {"accelerator": "nvidia-tesla-v100"}, **extra}


def _ready_cluster(session: Any, context: StackContext, name: str, role: str,
                   network: dict[str, Any]) -> dict[str, Any]:
    rt = EksCluster(session)
    args = EksCluster.Args.model_validate(_cluster_args(name, role, network))
    attrs = rt.create(args, ResourceMeta(f"aws_eks_cluster.{name}", context))
    return rt.wait_ready(attrs)


# -- the provider contract --------------------------------------------------------------------

def test_cluster_contract(aws_session: Any, stack_context: StackContext, uid: str,
                          roles: tuple[str, str], network: dict[str, Any], boto: Any) -> None:
    create = _cluster_args(f"c-{uid}", roles[0], network, version="1.29",
                           enabled_cluster_log_types=["audit", "api"], tags={"team": "ml"})
    update = _cluster_args(
        f"c-{uid}", roles[0], network, version="1.30", enabled_cluster_log_types=["scheduler"],
        tags={"team": "platform", "cost-center": "42"})
    update["vpc_config"].update(security_group_ids=[network["security_group"]],
                                endpoint_private_access=True,
                                public_access_cidrs=["10.0.0.0/8", "192.168.0.0/16"])
    attrs = check_contract(EksCluster, aws_session, stack_context, create, update)
    assert attrs["vpc_config"]["subnet_ids"] == sorted(network["subnets"])
    assert attrs["enabled_cluster_log_types"] == ["scheduler"]
    assert attrs["certificate_authority"]["data"] and attrs["endpoint"].startswith("https://")
    assert "status" not in attrs


def test_node_group_contract(aws_session: Any, stack_context: StackContext, uid: str,
                             roles: tuple[str, str], network: dict[str, Any]) -> None:
    cluster = _ready_cluster(aws_session, stack_context, f"ngc-{uid}", roles[0], network)
    create = _gpu_group(cluster["id"], f"gpu-{uid}", roles[1], network, tags={"team": "ml"})
    update = _gpu_group(
        cluster["id"], f"gpu-{uid}", roles[1], network,
        scaling_config={"min_size": 1, "max_size": 8, "desired_size": 2},
        labels={"accelerator": "nvidia-tesla-v100", "pool": "training"},
        taint=[{"key": "dedicated", "value": "training", "effect": "NO_EXECUTE"}],
        tags={"team": "platform"})
    attrs = check_contract(EksNodeGroup, aws_session, stack_context, create, update)
    assert attrs["id"] == f"{cluster['id']}:gpu-{uid}"
    assert "status" not in attrs
    EksCluster(aws_session).delete(cluster["id"], cluster)


@pytest.mark.parametrize("rtype", [EksCluster, EksNodeGroup])
def test_missing_objects(aws_session: Any, uid: str, rtype: type[Any]) -> None:
    rt = rtype(aws_session)
    for id in (f"missing-{uid}", f"missing-{uid}:group"):
        assert rt.read(id, {}) is None
        rt.delete(id, {})  # returns silently


# -- clusters ---------------------------------------------------------------------------------

def test_cluster_reaches_active(aws_session: Any, stack_context: StackContext, uid: str,
                                roles: tuple[str, str], network: dict[str, Any],
                                boto: Any) -> None:
    attrs = _ready_cluster(aws_session, stack_context, f"w-{uid}", roles[0], network)
    assert boto("eks").describe_cluster(name=f"w-{uid}")["cluster"]["status"] == "ACTIVE"
    assert attrs == EksCluster(aws_session).read(attrs["id"], attrs)
    EksCluster(aws_session).delete(attrs["id"], attrs)
    assert EksCluster(aws_session).read(attrs["id"], attrs) is None


def test_unset_version_records_the_live_one(aws_session: Any, stack_context: StackContext,
                                            uid: str, roles: tuple[str, str],
                                            network: dict[str, Any], boto: Any) -> None:
    from mlform.engine.plan import resolve_args
    from mlform.providers.schema import keep_computed

    rt = EksCluster(aws_session)
    meta = ResourceMeta("aws_eks_cluster.v", stack_context)
    config = _cluster_args(f"v-{uid}", roles[0], network)
    attrs = rt.create(EksCluster.Args.model_validate(config), meta)
    eks = boto("eks")
    assert eks.describe_cluster(name=f"v-{uid}")["cluster"]["version"] == SANDBOX_DEFAULT_VERSION
    assert attrs["version"] == SANDBOX_DEFAULT_VERSION  # recorded, so a plan can show it
    refreshed = rt.read(attrs["id"], attrs)
    assert refreshed is not None and refreshed["version"] == SANDBOX_DEFAULT_VERSION
    # What the planner compares: the config, resolved and normalised, an unset version kept.
    desired = keep_computed(EksCluster.Args,
                            resolve_args(EksCluster, config, {}, "aws_eks_cluster.v", None),
                            refreshed)
    assert [f for f in EksCluster.Args.model_fields if desired[f] != refreshed[f]] == []
    eks.update_cluster_version(name=f"v-{uid}", version="1.36")  # out of band: drift
    drifted = rt.read(attrs["id"], attrs)
    assert drifted is not None and drifted["version"] == "1.36"
    rt.delete(attrs["id"], attrs)


def test_version_upgrades_one_minor_at_a_time(aws_session: Any, stack_context: StackContext,
                                              uid: str, roles: tuple[str, str],
                                              network: dict[str, Any]) -> None:
    rt = EksCluster(aws_session)
    meta = ResourceMeta("aws_eks_cluster.u", stack_context)
    config = _cluster_args(f"u-{uid}", roles[0], network, version="1.28")
    attrs = rt.create(EksCluster.Args.model_validate(config), meta)
    with pytest.raises(ProviderError) as err:
        rt.update(attrs["id"], attrs, EksCluster.Args.model_validate(
            {**config, "version": "1.30"}), meta)
    assert err.value.message == ("UpdateClusterVersion: InvalidParameterException: Unsupported "
                                 "Kubernetes minor version update from 1.28 to 1.30")
    assert rt.read(attrs["id"], attrs)["version"] == "1.28"  # type: ignore[index]
    rt.delete(attrs["id"], attrs)


def test_create_again_finishes_ours_and_refuses_others(
        aws_session: Any, stack_context: StackContext, uid: str, roles: tuple[str, str],
        network: dict[str, Any]) -> None:
    rt = EksCluster(aws_session)
    meta = ResourceMeta("aws_eks_cluster.again", stack_context)
    args = EksCluster.Args.model_validate(_cluster_args(f"a-{uid}", roles[0], network))
    first = rt.create(args, meta)
    assert rt.create(args, meta) == first  # as after NotReady or a crash
    other = ResourceMeta("aws_eks_cluster.again", StackContext(project="other", environment="x"))
    with pytest.raises(ProviderError) as refused:
        rt.create(args, other)
    assert refused.value.message == (
        f"CreateCluster: ResourceInUseException: aws_eks_cluster a-{uid} already exists and "
        f"belongs to aws_eks_cluster.again in mlform stack {stack_context.stack}: give this "
        "resource another name")
    rt.delete(first["id"], first)


def test_node_group_version_upgrades_in_place(aws_session: Any, stack_context: StackContext,
                                              uid: str, roles: tuple[str, str],
                                              network: dict[str, Any], boto: Any) -> None:
    eks = boto("eks")
    clusters = EksCluster(aws_session)
    meta = ResourceMeta("aws_eks_cluster.up", stack_context)
    config = _cluster_args(f"up-{uid}", roles[0], network, version="1.34")
    cluster = clusters.wait_ready(clusters.create(EksCluster.Args.model_validate(config), meta))
    rt = EksNodeGroup(aws_session)
    group_meta = ResourceMeta("aws_eks_node_group.up", stack_context)
    group_config = _gpu_group(cluster["id"], f"n-{uid}", roles[1], network)
    group = rt.wait_ready(rt.create(EksNodeGroup.Args.model_validate(group_config), group_meta))
    assert group["version"] == "1.34"  # unset: the cluster's, as AWS picks it
    ahead = EksNodeGroup.Args.model_validate({**group_config, "version": "1.35"})
    with pytest.raises(ProviderError) as err:  # the sandbox refuses it as EKS does
        rt.update(group["id"], group, ahead, group_meta)
    assert "newer than cluster version 1.34" in err.value.message
    # The control plane first, then the nodes: the same node group, a new version.
    cluster = clusters.update(cluster["id"], cluster, EksCluster.Args.model_validate(
        {**config, "version": "1.35"}), meta)
    upgraded = rt.wait_ready(rt.update(group["id"], group, ahead, group_meta))
    live = eks.describe_nodegroup(clusterName=f"up-{uid}", nodegroupName=f"n-{uid}")
    assert live["nodegroup"]["version"] == upgraded["version"] == "1.35"
    assert upgraded["arn"] == group["arn"]
    rt.delete(upgraded["id"], upgraded)
    clusters.delete(cluster["id"], cluster)


def test_version_rules_at_plan_time() -> None:
    cluster, group = {"name": "c", "version": "1.30"}, {"cluster_name": "c", "version": "1.30"}
    assert EksCluster.check_change(cluster, {**cluster, "version": "1.31"}) == []
    assert EksCluster.check_change(cluster, {**cluster, "version": "1.32"}) == [
        "EKS upgrades one minor version at a time: 1.30 -> 1.32 cannot be done in one apply; "
        "apply 1.31, then 1.32"]
    assert EksCluster.check_change(cluster, {**cluster, "version": "1.29"}) == [
        "EKS cannot downgrade a cluster: version is 1.30, the configuration asks for 1.29. "
        "Put version back to 1.30 (to go back, make a new cluster)"]
    assert EksNodeGroup.check_change(group, {**group, "version": "1.29"}) != []
    assert EksNodeGroup.check_change(group, {**group, "version": "1.32"}) == []
    planned = {"module.t.aws_eks_cluster.this": cluster, "aws_eks_cluster.other":
               {"name": "o", "version": "1.20"}}
    assert EksNodeGroup.check_related(group, planned) == []
    assert EksNodeGroup.check_related({**group, "version": "1.27"}, planned) == []
    assert EksNodeGroup.check_related({**group, "version": "1.31"}, planned) == [
        "version 1.31 is ahead of its cluster's (1.30): nodes cannot run a newer Kubernetes "
        "than their control plane. Upgrade the cluster first, one minor version per apply"]
    assert EksNodeGroup.check_related({**group, "version": "1.26"}, planned) == [
        "version 1.26 is more than 3 minor versions behind its cluster's (1.30), which "
        "Kubernetes does not support: set it to 1.30 (or at least 1.27)"]


def test_amazon_linux_2_nodes_end_with_kubernetes_1_32_at_plan_time() -> None:
    planned = {"aws_eks_cluster.c": {"name": "c", "version": "1.33"}}
    gpu = {"cluster_name": "c", "ami_type": "AL2_x86_64_GPU"}
    expected = ("ami_type AL2_x86_64_GPU is an Amazon Linux 2 image, which EKS offers up to "
                "Kubernetes 1.32 only, and these nodes run 1.33: use an AL2023 type "
                "(AL2023_x86_64_NVIDIA for GPU nodes, AL2023_x86_64_STANDARD) or a "
                "Bottlerocket one")
    assert EksNodeGroup.check_related(gpu, planned) == [expected]  # the cluster's version
    assert EksNodeGroup.check_related({**gpu, "version": "1.32"}, planned) == []
    assert EksNodeGroup.check_related({**gpu, "ami_type": "AL2023_x86_64_NVIDIA"},
                                      planned) == []
    assert EksNodeGroup.check_related(gpu, {}) == []  # unknown until apply: EKS decides


def test_the_sandbox_refuses_amazon_linux_2_nodes_after_1_32(
        aws_session: Any, stack_context: StackContext, uid: str, roles: tuple[str, str],
        network: dict[str, Any], boto: Any) -> None:
    eks = boto("eks")
    clusters = EksCluster(aws_session)
    meta = ResourceMeta("aws_eks_cluster.al2", stack_context)
    config = _cluster_args(f"al2-{uid}", roles[0], network, version="1.32")
    cluster = clusters.wait_ready(clusters.create(EksCluster.Args.model_validate(config), meta))
    rt = EksNodeGroup(aws_session)
    group_meta = ResourceMeta("aws_eks_node_group.al2", stack_context)
    old = _gpu_group(cluster["id"], f"old-{uid}", roles[1], network, ami_type="AL2_x86_64_GPU")
    group = rt.wait_ready(rt.create(EksNodeGroup.Args.model_validate(old), group_meta))
    cluster = clusters.update(cluster["id"], cluster, EksCluster.Args.model_validate(
        {**config, "version": "1.33"}), meta)
    with pytest.raises(ProviderError) as err:  # an AL2 group cannot follow its cluster
        rt.update(group["id"], group, EksNodeGroup.Args.model_validate(
            {**old, "version": "1.33"}), group_meta)
    assert "AMI Type AL2_x86_64_GPU is only supported for kubernetes versions 1.32" in (
        err.value.message)
    with pytest.raises(ProviderError):  # nor be made on it
        rt.create(EksNodeGroup.Args.model_validate(
            {**old, "node_group_name": f"new-{uid}"}), group_meta)
    plain = _gpu_group(cluster["id"], f"plain-{uid}", roles[1], network, ami_type=None)
    made = rt.wait_ready(rt.create(EksNodeGroup.Args.model_validate(plain), group_meta))
    live = eks.describe_nodegroup(clusterName=f"al2-{uid}", nodegroupName=f"plain-{uid}")
    assert live["nodegroup"]["amiType"] == "AL2023_x86_64_STANDARD"  # EKS's default now
    for each in (made, group):
        rt.delete(each["id"], each)
    clusters.delete(cluster["id"], cluster)


# -- GPU node groups --------------------------------------------------------------------------

def test_gpu_node_group(aws_session: Any, stack_context: StackContext, uid: str,
                        roles: tuple[str, str], network: dict[str, Any], boto: Any) -> None:
    eks = boto("eks")
    clusters = EksCluster(aws_session)
    cluster = _ready_cluster(aws_session, stack_context, f"gpu-{uid}", roles[0], network)
    rt = EksNodeGroup(aws_session)
    meta = ResourceMeta("aws_eks_node_group.gpu", stack_context)
    config = _gpu_group(cluster["id"], f"p3-{uid}", roles[1], network)
    attrs = rt.wait_ready(rt.create(EksNodeGroup.Args.model_validate(config), meta))
    live = eks.describe_nodegroup(clusterName=f"gpu-{uid}", nodegroupName=f"p3-{uid}")
    group = live["nodegroup"]
    assert (group["instanceTypes"], group["amiType"], group["capacityType"]) == (
        ["p3.2xlarge"], "AL2023_x86_64_NVIDIA", "SPOT")
    assert group["scalingConfig"] == {"minSize": 0, "maxSize": 4, "desiredSize": 0}
    assert group["taints"] == [{"key": "nvidia.com/gpu", "value": "true",
                                "effect": "NO_SCHEDULE"}]
    assert group["labels"] == {"accelerator": "nvidia-tesla-v100"}
    assert attrs["disk_size"] is None  # unset: AWS's default, not managed

    # Scaling changes in place: same node group (ARN), new sizes.
    scaled = EksNodeGroup.Args.model_validate(
        {**config, "scaling_config": {"min_size": 0, "max_size": 8, "desired_size": 2}})
    attrs = rt.wait_ready(rt.update(attrs["id"], attrs, scaled, meta))
    group = eks.describe_nodegroup(clusterName=f"gpu-{uid}", nodegroupName=f"p3-{uid}")
    assert group["nodegroup"]["scalingConfig"] == {"minSize": 0, "maxSize": 8, "desiredSize": 2}
    assert attrs["arn"] == live["nodegroup"]["nodegroupArn"]

    # Someone scales it by hand: read shows the drift.
    eks.update_nodegroup_config(clusterName=f"gpu-{uid}", nodegroupName=f"p3-{uid}",
                                scalingConfig={"minSize": 1, "maxSize": 8, "desiredSize": 5})
    drifted = rt.read(attrs["id"], attrs)
    assert drifted is not None
    assert drifted["scaling_config"] == {"min_size": 1, "max_size": 8, "desired_size": 5}
    assert {k: v for k, v in drifted.items() if k != "scaling_config"} == {
        k: v for k, v in attrs.items() if k != "scaling_config"}

    # The cluster cannot go while the node group is attached: a final error, not a wait.
    with pytest.raises(ProviderError) as err:
        clusters.delete(cluster["id"], cluster)
    assert not isinstance(err.value, NotReady)
    assert err.value.message == (
        "DeleteCluster: ResourceInUseException: Cluster has nodegroups attached")
    assert clusters.read(cluster["id"], cluster) is not None
    rt.delete(attrs["id"], attrs)
    clusters.delete(cluster["id"], cluster)
    assert clusters.read(cluster["id"], cluster) is None


def test_node_group_args() -> None:
    base = {"cluster_name": "c", "node_group_name": "g", "node_role_arn": "r",
            "subnet_ids": ["subnet-b", "subnet-a", "subnet-b"],
            "scaling_config": {"min_size": 0, "max_size": 1, "desired_size": 0},
            "taint": [{"key": "z", "effect": "NO_SCHEDULE"},
                      {"key": "a", "value": "1", "effect": "NO_EXECUTE"}]}
    args = EksNodeGroup.Args.model_validate(base).model_dump(mode="json")
    assert args["subnet_ids"] == ["subnet-a", "subnet-b"]
    assert [t["key"] for t in args["taint"]] == ["a", "z"]
    assert (args["instance_types"], args["capacity_type"]) == (["t3.medium"], "ON_DEMAND")
    for bad in ({"min_size": 2, "max_size": 4, "desired_size": 1},
                {"min_size": 0, "max_size": 2, "desired_size": 3},
                {"min_size": 0, "max_size": 0, "desired_size": 0}):
        with pytest.raises(ValidationError):
            EksNodeGroup.Args.model_validate({**base, "scaling_config": bad})
    with pytest.raises(ValidationError, match="NO_SCHEDULE"):
        EksNodeGroup.Args.model_validate(
            {**base, "taint": [{"key": "k", "effect": "NoSchedule"}]})


def test_default_names_and_ids() -> None:
    ctx = StackContext(project="a-rather-long-project-name", environment="production")
    assert len(EksCluster.default_args(ctx, "x" * 120)["name"]) == 100
    prefix = EksNodeGroup.default_args(ctx, "x" * 80)["node_group_name_prefix"]
    assert len(prefix) == 55 and prefix.startswith("a-rather-long-project-name-production-")
    group = {"cluster_name": "c", "node_role_arn": "r", "subnet_ids": ["s"],
             "scaling_config": {"min_size": 0, "max_size": 1, "desired_size": 0}}
    args = EksNodeGroup.Args.model_validate({**group, "node_group_name": "g"})
    no_session: Any = None
    assert EksNodeGroup(no_session).id_for(args) == "c:g"
    # A derived name: the prefix and a digest of what forces a replacement, nothing else.
    derived = EksNodeGroup.complete_args({**group, "node_group_name_prefix": prefix})
    name = derived["node_group_name"]
    assert len(name) == 63 and name.startswith(prefix)
    for in_place in ({"scaling_config": {"min_size": 0, "max_size": 3, "desired_size": 1}},
                     {"version": "1.31"}, {"labels": {"a": "b"}}, {"tags": {"t": "v"}}):
        assert EksNodeGroup.complete_args(
            {**group, "node_group_name_prefix": prefix, **in_place})["node_group_name"] == name
    for replacing in ({"instance_types": ["g5.xlarge"]}, {"capacity_type": "SPOT"},
                      {"subnet_ids": ["s", "t"]}):
        assert EksNodeGroup.complete_args(
            {**group, "node_group_name_prefix": prefix, **replacing})["node_group_name"] != name


# -- the engine: a GPU cluster applies, plans clean and destroys in order ---------------------

CONFIG = """\
project: {project}
environments:
  dev:
    target: sandbox
resources:
  aws_eks_cluster.main:
    role_arn: {cluster_role}
    vpc_config:
      subnet_ids: [{subnets}]
  aws_eks_node_group.gpu:
    cluster_name: ${{aws_eks_cluster.main.name}}
    node_role_arn: {node_role}
    subnet_ids: [{subnets}]
    instance_types: [p3.2xlarge]
    ami_type: AL2023_x86_64_NVIDIA
    capacity_type: SPOT
    scaling_config: {{min_size: 0, max_size: 4, desired_size: 0}}
    taint:
      - {{key: nvidia.com/gpu, value: "true", effect: NO_SCHEDULE}}
"""


def test_engine_applies_plans_clean_and_destroys(
        sandbox: Any, tmp_path: Path, uid: str, roles: tuple[str, str],
        network: dict[str, Any], boto: Any) -> None:
    from mlform.api import Workspace
    from mlform.providers.aws import PROVIDER
    from mlform.providers.registry import ProviderSpec, build_registry

    ours = (EksCluster, EksNodeGroup)
    spec = ProviderSpec(name="aws", open_session=PROVIDER.open_session,
                        resource_types=tuple(t for t in PROVIDER.resource_types
                                             if t.type_name not in ("aws_eks_cluster",
                                                                    "aws_eks_node_group")) + ours)
    path = tmp_path / "mlform.yaml"
    path.write_text(CONFIG.format(project=f"eks{uid}", cluster_role=roles[0],
                                  node_role=roles[1], subnets=", ".join(network["subnets"])))

    def workspace() -> Workspace:
        return Workspace(path, registry=build_registry([spec]))

    first = workspace().apply()
    assert first.result is not None and first.result.ok, first.result
    state = workspace().state().resources
    cluster = state["aws_eks_cluster.main"].attributes
    assert cluster["version"] == SANDBOX_DEFAULT_VERSION and cluster["endpoint"]
    group = state["aws_eks_node_group.gpu"]
    assert group.id.startswith(f"{cluster['name']}:{cluster['name'][:-4]}gpu-")
    assert group.attributes["version"] == SANDBOX_DEFAULT_VERSION  # the cluster's, by AWS
    plan = workspace().plan()
    assert not plan.has_changes, [(c.address, c.action, c.changed) for c in plan.changes]
    gone = workspace().apply(workspace().plan(destroy=True))
    assert gone.result is not None and gone.result.ok, gone.result
    assert boto("eks").list_clusters()["clusters"].count(cluster["name"]) == 0


# -- transitional and failed states, on the in-process cloud ---------------------------------

@pytest.fixture
def backend(cloud: str) -> Any:
    from moto.eks.models import eks_backends

    return eks_backends[ACCOUNT][REGION]


ROLE = f"arn:aws:iam::{ACCOUNT}:role/eks"
SUBNETS = {"subnets": ["subnet-1", "subnet-2"]}


def test_cluster_states(cloud_session: Any, stack_context: StackContext, uid: str,
                        backend: Any) -> None:
    rt = EksCluster(cloud_session)
    meta = ResourceMeta("aws_eks_cluster.s", stack_context)
    config = _cluster_args(f"s-{uid}", ROLE, SUBNETS)
    attrs = rt.create(EksCluster.Args.model_validate(config), meta)
    cluster = backend.clusters[f"s-{uid}"]
    private = EksCluster.Args.model_validate(
        {**config, "vpc_config": {**config["vpc_config"], "endpoint_private_access": True}})
    for status in ("CREATING", "UPDATING", "PENDING"):
        cluster.status = status
        with pytest.raises(NotReady, match=status):
            rt.wait_ready(attrs)
        with pytest.raises(NotReady, match=status):
            rt.update(attrs["id"], attrs, private, meta)
        assert cluster.resources_vpc_config.get("endpointPrivateAccess") is False
    # A node group waits for its cluster to be ACTIVE.
    group = EksNodeGroup.Args.model_validate(_gpu_group(f"s-{uid}", "g", ROLE, SUBNETS))
    with pytest.raises(NotReady, match="is not in ACTIVE status"):
        EksNodeGroup(cloud_session).create(group, ResourceMeta("aws_eks_node_group.g",
                                                               stack_context))
    cluster.status = "FAILED"
    cluster.health = {"issues": [{"code": "SubnetNotFound", "message": "subnet-1 is gone"}]}
    with pytest.raises(ProviderError, match="is FAILED: SubnetNotFound: subnet-1 is gone"):
        rt.wait_ready(attrs)
    cluster.status = "DELETING"
    with pytest.raises(NotReady, match="being deleted"):
        rt.delete(attrs["id"], attrs)
    del backend.clusters[f"s-{uid}"]
    rt.delete(attrs["id"], attrs)


def test_node_group_states(cloud_session: Any, stack_context: StackContext, uid: str,
                           backend: Any) -> None:
    EksCluster(cloud_session).create(EksCluster.Args.model_validate(
        _cluster_args(f"n-{uid}", ROLE, SUBNETS)), ResourceMeta("aws_eks_cluster.n",
                                                                stack_context))
    rt = EksNodeGroup(cloud_session)
    meta = ResourceMeta("aws_eks_node_group.n", stack_context)
    config = _gpu_group(f"n-{uid}", "g", ROLE, SUBNETS)
    attrs = rt.create(EksNodeGroup.Args.model_validate(config), meta)
    group = backend.clusters[f"n-{uid}"].nodegroups["g"]
    group.health = {"issues": [{"code": "InsufficientFreeAddresses", "message": "no IPs"}]}
    for status in ("CREATING", "UPDATING"):
        group.status = status
        with pytest.raises(NotReady, match=status):
            rt.wait_ready(attrs)
    for status in ("CREATE_FAILED", "DEGRADED"):
        group.status = status
        with pytest.raises(ProviderError, match=f"is {status}: InsufficientFreeAddresses: no"):
            rt.wait_ready(attrs)
    group.status = "DELETING"
    with pytest.raises(NotReady, match="being deleted"):
        rt.delete(attrs["id"], attrs)
    group.status = "ACTIVE"
    rt.delete(attrs["id"], attrs)
    assert rt.read(attrs["id"], attrs) is None


def test_cluster_waits_for_a_new_role(cloud_session: Any, stack_context: StackContext,
                                      uid: str, backend: Any,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.eks.exceptions import InvalidParameterException

    answers = [f"Role with arn: {ROLE}, could not be assumed because it does not exist or the "
               "trusted entity is not correct", "Subnets specified must be in at least two "
               "different AZs"]
    real = type(backend).create_cluster

    def create_cluster(self: Any, **kwargs: Any) -> Any:
        if answers:
            raise InvalidParameterException(message=answers.pop(0))
        return real(self, **kwargs)

    monkeypatch.setattr(type(backend), "create_cluster", create_cluster)
    rt = EksCluster(cloud_session)
    args = EksCluster.Args.model_validate(_cluster_args(f"iam-{uid}", ROLE, SUBNETS))
    meta = ResourceMeta("aws_eks_cluster.iam", stack_context)
    with pytest.raises(NotReady, match="could not be assumed"):
        rt.create(args, meta)
    with pytest.raises(ProviderError, match="two different AZs") as err:
        rt.create(args, meta)  # any other invalid parameter is final
    assert not isinstance(err.value, NotReady)
    assert rt.create(args, meta)["name"] == f"iam-{uid}"
