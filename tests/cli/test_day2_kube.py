"""Day two of a GPU cluster, on the sandbox through the CLI: examples/ml-platform applied once,
then its `trainer` changed the ways a platform team changes it (node counts, spot, GPUs per
node, a Kubernetes upgrade), each planned, applied and planned clean again. Replacements keep
capacity: the new node group exists before the old one is deleted."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.cli.conftest import Cli, Result

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ml-platform" / "mlform.yaml"
TRAINER = """  trainer:
    type: gpu_cluster
    gpu: "A10G:1"
    nodes: {dev: "0..2", prod: "0..8"}
    spot: true
"""
PROJECT = "kube2"  # not the example's: test_ml_platform applies that in the same sandbox
CLUSTER = f"{PROJECT}-dev-trainer"
GPU = "module.trainer.aws_eks_node_group.gpu"
SYSTEM = "module.trainer.aws_eks_node_group.system"
CONTROL_PLANE = "module.trainer.aws_eks_cluster.this"


def _trainer(cli: Cli, **settings: str) -> None:
    """Rewrite the example's trainer with `settings` (YAML values) in place of its own."""
    text = (cli.cwd / "mlform.yaml").read_text()
    start = text.index("  trainer:\n")
    end = text.index("\n\n", start) + 1
    block = "  trainer:\n    type: gpu_cluster\n" + "".join(
        f"    {key}: {value}\n" for key, value in settings.items())
    (cli.cwd / "mlform.yaml").write_text(text[:start] + block + text[end:])


def _summary(r: Result) -> str:
    return next(line for line in r.out.splitlines() if line.startswith("Plan: "))


def _headers(r: Result) -> list[str]:
    """The plan's `# <address> ...` lines for the trainer's resources."""
    return [line.strip() for line in r.out.splitlines()
            if line.strip().startswith("# module.trainer.")]


def _groups(eks: Any) -> dict[str, dict[str, Any]]:
    """The cluster's node groups, by pool label."""
    names = eks.list_nodegroups(clusterName=CLUSTER)["nodegroups"]
    found = [eks.describe_nodegroup(clusterName=CLUSTER, nodegroupName=n)["nodegroup"]
             for n in names]
    assert len(found) == len({g["labels"]["mlform/pool"] for g in found}), names
    return {g["labels"]["mlform/pool"]: g for g in found}


def _apply(cli: Cli) -> Result:
    r = cli.run("apply", "--auto-approve", timeout=300)
    assert r.code == 0, r.out + r.err
    clean = cli.run("plan", "--detailed-exitcode")
    assert clean.code == 0, clean.out + clean.err
    return r


def _line(r: Result, address: str, what: str) -> int:
    """The position of `address: what` in the apply's progress output."""
    lines = r.out.splitlines()
    return next(i for i, line in enumerate(lines) if line.startswith(f"{address}: {what}"))


def test_trainer_day_two(cli: Cli, sandbox: Any, boto: Any) -> None:
    example = EXAMPLE.read_text()
    assert TRAINER in example and example.count("project: fraud\n") == 1
    (cli.cwd / "mlform.yaml").write_text(example.replace("project: fraud\n",
                                                         f"project: {PROJECT}\n"))
    _apply(cli)
    eks = boto("eks", "eu-west-1")
    first = _groups(eks)
    assert first["gpu"]["capacityType"] == "SPOT"
    assert first["gpu"]["instanceTypes"] == ["g5.xlarge"]
    version = eks.describe_cluster(name=CLUSTER)["cluster"]["version"]
    assert version == "1.35"  # the sandbox's default, left to EKS by the example
    assert first["gpu"]["version"] == first["system"]["version"] == version

    # More GPU nodes: the node group scales in place.
    _trainer(cli, gpu='"A10G:1"', nodes='"0..3"', spot="true")
    r = cli.run("plan")
    assert r.code == 0, r.err
    assert _headers(r) == [f"# {GPU} will be updated in-place"]
    assert _summary(r) == "Plan: 0 to add, 1 to change, 0 to destroy."
    _apply(cli)
    scaled = _groups(eks)["gpu"]
    assert scaled["nodegroupArn"] == first["gpu"]["nodegroupArn"]
    assert (scaled["scalingConfig"]["minSize"], scaled["scalingConfig"]["maxSize"]) == (0, 3)

    # On-demand instead of spot: a new node group, created before the old one is deleted.
    _trainer(cli, gpu='"A10G:1"', nodes='"0..3"', spot="false")
    r = cli.run("plan")
    assert _headers(r) == [f"# {GPU} must be replaced"]
    assert '+/- resource "aws_eks_node_group" "gpu"' in r.out
    assert _summary(r) == "Plan: 1 to add, 0 to change, 1 to destroy."
    r = _apply(cli)
    assert _line(r, GPU, "Creation complete") < _line(r, GPU, "Destroying...")
    on_demand = _groups(eks)["gpu"]  # exactly one GPU group is left
    assert on_demand["capacityType"] == "ON_DEMAND"
    assert on_demand["nodegroupName"] != scaled["nodegroupName"]

    # Four GPUs per node: another instance type, the same way.
    _trainer(cli, gpu='"A10G:4"', nodes='"0..3"', spot="false")
    r = cli.run("plan")
    assert "  - trainer: gpu A10G:4 -> g5.12xlarge in eu-west-1" in r.out
    assert _headers(r) == [f"# {GPU} must be replaced"]
    assert re.search(r'~ instance_types\s+= \[ # forces replacement\n\s+- "g5.xlarge",\n'
                     r'\s+\+ "g5.12xlarge",', r.out), r.out
    assert re.search(rf'~ node_group_name = "{CLUSTER}-gpu-\w{{8}}" -> '
                     rf'"{CLUSTER}-gpu-\w{{8}}" # forces replacement', r.out), r.out
    r = _apply(cli)
    assert _line(r, GPU, "Creation complete") < _line(r, GPU, "Destroying...")
    four = _groups(eks)
    assert four["gpu"]["instanceTypes"] == ["g5.12xlarge"]
    assert four["system"]["nodegroupArn"] == first["system"]["nodegroupArn"]

    # The cluster autoscaler runs two GPU nodes (desired_size is the autoscaler's: ignored);
    # they cost more than dev's budget, which the team raises.
    config = cli.cwd / "mlform.yaml"
    config.write_text(config.read_text().replace("monthly_usd: {dev: 2500,",
                                                 "monthly_usd: {dev: 12000,"))
    eks.update_nodegroup_config(clusterName=CLUSTER, nodegroupName=four["gpu"]["nodegroupName"],
                                scalingConfig={"desiredSize": 2})
    assert cli.run("plan", "--detailed-exitcode").code == 0

    # A Kubernetes upgrade: the version EKS chose is shown, then the control plane moves
    # first and each node group after it; the GPU group keeps the nodes the autoscaler set.
    _trainer(cli, gpu='"A10G:4"', nodes='"0..3"', spot="false", kubernetes_version='"1.36"')
    r = cli.run("plan")
    assert r.code == 0, r.err
    assert _headers(r) == [f"# {CONTROL_PLANE} will be updated in-place",
                           f"# {SYSTEM} will be updated in-place",
                           f"# {GPU} will be updated in-place"]
    assert len(re.findall(r'~ version\s+= "1.35" -> "1.36"', r.out)) == 3, r.out
    assert _summary(r) == "Plan: 0 to add, 3 to change, 0 to destroy."
    r = _apply(cli)
    done = _line(r, CONTROL_PLANE, "Modifications complete")
    assert done < _line(r, SYSTEM, "Modifying...") and done < _line(r, GPU, "Modifying...")
    assert eks.describe_cluster(name=CLUSTER)["cluster"]["version"] == "1.36"
    upgraded = _groups(eks)
    assert upgraded["gpu"]["version"] == upgraded["system"]["version"] == "1.36"
    assert upgraded["gpu"]["nodegroupArn"] == four["gpu"]["nodegroupArn"]  # in place
    assert upgraded["gpu"]["scalingConfig"]["desiredSize"] == 2

    # Two minor versions at once, or back down: refused at plan time, nothing touched.
    state = cli.cwd / ".mlform" / "state" / "dev" / "state.json"
    recorded = state.read_bytes()
    _trainer(cli, gpu='"A10G:4"', nodes='"0..3"', spot="false", kubernetes_version='"1.38"')
    r = cli.run("plan")
    assert r.code == 1
    assert r.err == (
        f"Error: mlform.yaml:{_trainer_line(cli)}:3: {CONTROL_PLANE}: EKS upgrades one minor "
        "version at a time: 1.36 -> 1.38 cannot be done in one apply; apply 1.37, then 1.38\n"
    ), r.err
    r = cli.run("apply", "--auto-approve")
    assert r.code == 1 and "apply 1.37, then 1.38" in r.err
    _trainer(cli, gpu='"A10G:4"', nodes='"0..3"', spot="false", kubernetes_version='"1.35"')
    r = cli.run("plan")
    assert r.code == 1 and "EKS cannot downgrade a cluster: version is 1.36" in r.err, r.err
    assert eks.describe_cluster(name=CLUSTER)["cluster"]["version"] == "1.36"
    assert _groups(eks) == upgraded
    assert state.read_bytes() == recorded


def _trainer_line(cli: Cli) -> int:
    lines = (cli.cwd / "mlform.yaml").read_text().splitlines()
    return lines.index("  trainer:") + 1
