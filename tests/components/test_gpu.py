"""GPU requests resolved against the EC2 API (the sandbox answers from real AWS data), and the
GPU cluster that uses them."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from mlform.api import Workspace
from mlform.components.gpu import GpuCatalog, GpuRequest, parse_gpu, resolve
from mlform.errors import ConfigError, MlformError


def test_parse_gpu() -> None:
    assert parse_gpu("A100:8") == GpuRequest("A100", 8)
    assert parse_gpu("a10g") == GpuRequest("A10G", 1)
    assert parse_gpu("A100-80GB:8") == GpuRequest("A100", 8, 80)
    assert parse_gpu({"type": "H100", "count": 8}) == GpuRequest("H100", 8)
    for bad in ("A100:x", "", {"count": 2}, {"type": "T4", "cpus": 1}, 8):
        with pytest.raises(ValueError):
            parse_gpu(bad)


@pytest.fixture
def catalog(boto: Any) -> GpuCatalog:
    return GpuCatalog(lambda region: boto("ec2", region))


@pytest.mark.parametrize("region", ["us-east-1", "ap-northeast-1", "ap-south-1"])
def test_resolution_picks_an_offered_exact_match(catalog: GpuCatalog, boto: Any,
                                                 region: str) -> None:
    chosen, candidates = resolve(GpuRequest("A100", 8), catalog, region)
    assert chosen == candidates[0]
    ec2 = boto("ec2", region)
    (info,) = ec2.describe_instance_types(InstanceTypes=[chosen])["InstanceTypes"]
    assert info["GpuInfo"]["Gpus"][0]["Name"] == "A100"
    assert sum(g["Count"] for g in info["GpuInfo"]["Gpus"]) == 8
    offered = ec2.describe_instance_type_offerings(
        LocationType="region", Filters=[{"Name": "instance-type", "Values": candidates}])
    assert {o["InstanceType"] for o in offered["InstanceTypeOfferings"]} == set(candidates)


def test_memory_per_gpu_narrows_the_choice(catalog: GpuCatalog) -> None:
    chosen, _ = resolve(GpuRequest("A100", 8, 80), catalog, "us-east-1")
    types = catalog.types("us-east-1")
    assert round(types[chosen].memory_mib / 8 / 1024) == 80
    smallest, _ = resolve(GpuRequest("A100", 8), catalog, "us-east-1")
    assert types[smallest].memory_mib <= types[chosen].memory_mib


def test_the_cheapest_wins_when_every_candidate_is_priced(catalog: GpuCatalog) -> None:
    _, by_size = resolve(GpuRequest("A10G", 1), catalog, "us-east-1")
    assert by_size[0] == "g5.xlarge" and len(by_size) > 2
    # Were the largest the cheapest, it would be chosen...
    prices = {name: 10.0 - i for i, name in enumerate(by_size)}
    chosen, ranked = resolve(GpuRequest("A10G", 1), catalog, "us-east-1", prices.get)
    assert chosen == by_size[-1] and ranked == list(reversed(by_size))
    # ...but with one price unknown, the smallest machine is the safer choice.
    del prices[by_size[1]]
    chosen, _ = resolve(GpuRequest("A10G", 1), catalog, "us-east-1", prices.get)
    assert chosen == "g5.xlarge"


def test_no_match_names_alternatives(catalog: GpuCatalog) -> None:
    with pytest.raises(MlformError) as err:
        resolve(GpuRequest("H100", 3), catalog, "us-east-1")
    assert err.value.message.startswith("no instance type with H100:3 is offered in us-east-1")
    assert "here, H100 comes" in err.value.message


def test_a_type_offered_elsewhere_names_the_regions(catalog: GpuCatalog) -> None:
    # p4de (A100 80GB x8) is offered in us-east-1 but not in ap-south-1 (real AWS data).
    assert catalog.offered("us-east-1", ["p4de.24xlarge"])
    assert not catalog.offered("ap-south-1", ["p4de.24xlarge"])
    with pytest.raises(MlformError) as err:
        resolve(GpuRequest("A100", 8, 80), catalog, "ap-south-1")
    message = err.value.message
    assert message.startswith("no instance type with A100-80GB:8 is offered in ap-south-1; "
                              "p4de.24xlarge is offered in ")
    assert "us-east-1" in message.split("offered in ", 2)[2]
    assert "here, A100 comes 8 per instance" in message


CLUSTER = """project: g{uid}
environments: {{dev: {{}}, tokyo: {{region: ap-northeast-1}}}}
components:
  trainer: {{type: gpu_cluster, gpu: "A10G:1", nodes: "0..4", spot: true}}
"""


def test_gpu_cluster_on_the_sandbox(tmp_path: Path, uid: str, boto: Any, sandbox: Any) -> None:
    path = tmp_path / "mlform.yaml"
    path.write_text(CLUSTER.format(uid=uid))
    ws = Workspace(path)
    plan = ws.plan()
    assert len(plan.choices) == 1 and plan.choices[0].startswith(
        "trainer: gpu A10G:1 -> g5.xlarge in us-east-1")
    outcome = ws.apply(plan)
    assert outcome.result is not None and outcome.result.ok, outcome.result.failed
    eks, cluster = boto("eks"), f"g{uid}-dev-trainer"
    assert eks.describe_cluster(name=cluster)["cluster"]["status"] == "ACTIVE"
    groups = set(eks.list_nodegroups(clusterName=cluster)["nodegroups"])
    # Derived names (prefix and digest), so a replacement can come before the old group goes.
    assert {g.rsplit("-", 1)[0] for g in groups} == {f"{cluster}-gpu", f"{cluster}-system"}
    gpu_group = next(g for g in groups if g.startswith(f"{cluster}-gpu-"))
    group = eks.describe_nodegroup(clusterName=cluster, nodegroupName=gpu_group)["nodegroup"]
    # The nodes run the cluster's version, which the state records (EKS chose it).
    version = eks.describe_cluster(name=cluster)["cluster"]["version"]
    recorded = {a.rsplit(".", 1)[1]: r.attributes["version"]
                for a, r in ws.state().resources.items() if ".aws_eks_" in a}
    assert recorded == {"this": version, "system": version, "gpu": version}
    assert group["version"] == version
    assert group["instanceTypes"] == ["g5.xlarge"] and group["capacityType"] == "SPOT"
    assert group["scalingConfig"] == {"minSize": 0, "maxSize": 4, "desiredSize": 0}
    assert group["taints"] == [{"key": "nvidia.com/gpu", "value": "true",
                                "effect": "NO_SCHEDULE"}]
    assert ws.state().outputs == {}
    assert not ws.plan().has_changes
    assert ws.apply(destroy=True).result.ok  # type: ignore[union-attr]
    assert cluster not in eks.list_clusters()["clusters"]


def test_gpu_cluster_resolves_per_region_and_validates_offline(tmp_path: Path, uid: str,
                                                              sandbox: Any) -> None:
    path = tmp_path / "mlform.yaml"
    path.write_text(CLUSTER.format(uid=uid))
    tokyo = Workspace(path, environment="tokyo").plan()
    assert "in ap-northeast-1" in tokyo.choices[0]
    offline = Workspace(path, offline=True)  # validate: nothing looked up
    group = offline.stack.resources["module.trainer.aws_eks_node_group.gpu"]
    assert group.template["instance_types"] == ["gpu:A10G:1"]
    # Upgrades go control plane first, then nodes; replacements create the new group first.
    for name in ("gpu", "system"):
        rc = offline.stack.resources[f"module.trainer.aws_eks_node_group.{name}"]
        assert rc.template["version"] == "${module.trainer.aws_eks_cluster.this.version}"
        assert rc.lifecycle.create_before_destroy is True
    path.write_text(CLUSTER.format(uid=uid).replace('"0..4"', '"5..2"'))
    with pytest.raises(ConfigError, match=r"nodes: expected MIN\.\.MAX with MIN <= MAX"):
        Workspace(path, offline=True)


def test_model_endpoint_gpu_becomes_an_ml_instance_type(tmp_path: Path, uid: str,
                                                       sandbox: Any) -> None:
    path = tmp_path / "mlform.yaml"
    path.write_text(f"project: g{uid}\ncomponents:\n  api: {{type: model_endpoint, "
                    "image: img, gpu: T4}\n")
    plan = Workspace(path).plan()
    assert plan.choices == ["api: gpu T4:1 -> ml.g4dn.xlarge in us-east-1"]
    config = next(c for c in plan.changes
                  if c.address == "module.api.aws_sagemaker_endpoint_configuration.this")
    assert config.after is not None
    assert config.after["production_variants"][0]["instance_type"] == "ml.g4dn.xlarge"
    path.write_text(f"project: g{uid}\ncomponents:\n  api: {{type: model_endpoint, "
                    "image: img, gpu: T4, instance_type: ml.m5.large}\n")
    with pytest.raises(ConfigError, match="give either instance_type or gpu"):
        Workspace(path, offline=True)


def test_gpu_types_are_cached_for_a_day_per_region(boto: Any, tmp_path: Path) -> None:
    calls: list[str] = []

    def ec2(region: str) -> Any:
        client = boto("ec2", region)
        client.meta.events.register("before-call.ec2.*", lambda model, **_: calls.append(
            model.name))
        return client

    first = resolve(GpuRequest("A100", 8), GpuCatalog(ec2, tmp_path), "ap-southeast-1")
    assert first[0] == "p4de.24xlarge" and "DescribeInstanceTypes" in calls
    calls.clear()
    # another process (a new catalog) reads the types from the cache; offerings stay live
    again = resolve(GpuRequest("A100", 8), GpuCatalog(ec2, tmp_path), "ap-southeast-1")
    assert again == first
    assert calls == ["DescribeInstanceTypeOfferings"]
    # another region has its own entry
    calls.clear()
    assert resolve(GpuRequest("A100", 8), GpuCatalog(ec2, tmp_path),
                   "ap-northeast-1")[0] == "p4d.24xlarge"
    assert "DescribeInstanceTypes" in calls
    # a day later, or a cache that cannot be read, is fetched again
    (cached,) = tmp_path.glob("ap-southeast-1-*.json")
    os.utime(cached, (time.time() - 2 * 24 * 3600,) * 2)
    calls.clear()
    resolve(GpuRequest("A100", 8), GpuCatalog(ec2, tmp_path), "ap-southeast-1")
    assert "DescribeInstanceTypes" in calls
    cached.write_text("not json")
    calls.clear()
    assert resolve(GpuRequest("A100", 8), GpuCatalog(ec2, tmp_path),
                   "ap-southeast-1") == first
    assert "DescribeInstanceTypes" in calls
