"""Ctrl-C while apply waits for a just-created object whose id AWS assigned, on the sandbox.

The sandbox makes every object usable at once, so a fault proxy in front of it (as AWS itself
would answer for a while) reports the new object as pending, or not visible yet, until the test
has pressed Ctrl-C. mlform runs on `target: aws` with AWS_ENDPOINT_URL at the proxy. Then the
next apply must settle what the interrupted one made, and never make a second object.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mlform.api import Workspace
from mlform.engine.apply import ApplyEvent
from mlform.providers.base import TAG_ADDRESS, TAG_STACK
from tests.faultproxy import FaultProxy

Boto = Callable[..., Any]


@dataclass(frozen=True)
class Case:
    address: str
    operation: str | tuple[str, str]  # the Describe call that reports the object as pending
    sub: tuple[bytes, bytes]
    config: Callable[[Boto, str], str]  # the resource's arguments (made-by-hand parts first)
    live: Callable[[Boto, str], list[str]]  # ids of live objects tagged with the stack


def _vpc(boto: Boto, uid: str) -> str:
    return str(boto("ec2").create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"])


def _tag_filters(uid: str, address: str) -> list[dict[str, Any]]:
    return [{"Name": f"tag:{TAG_STACK}", "Values": [f"waits/e{uid}"]},
            {"Name": f"tag:{TAG_ADDRESS}", "Values": [address]}]


def _eks_cluster(boto: Boto, uid: str) -> tuple[str, list[str]]:
    ec2 = boto("ec2")
    vpc = _vpc(boto, uid)
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.40.{i}.0/24",
                                 AvailabilityZone=f"us-east-1{z}")["Subnet"]["SubnetId"]
               for i, z in ((1, "a"), (2, "b"))]
    boto("eks").create_cluster(name=f"waits-{uid}",
                               roleArn=f"arn:aws:iam::123456789012:role/c{uid}",
                               resourcesVpcConfig={"subnetIds": subnets})
    return f"waits-{uid}", subnets


def _nodegroup_config(boto: Boto, uid: str) -> str:
    cluster, subnets = _eks_cluster(boto, uid)
    return (f"cluster_name: {cluster}\n    node_group_name: gpu-{uid}\n"
            f"    node_role_arn: arn:aws:iam::123456789012:role/n{uid}\n"
            f"    subnet_ids: [{', '.join(subnets)}]\n"
            "    scaling_config: {min_size: 0, max_size: 2, desired_size: 0}")


def _nodegroups(boto: Boto, uid: str) -> list[str]:
    return list(boto("eks").list_nodegroups(clusterName=f"waits-{uid}")["nodegroups"])


CASES = [
    Case("aws_vpc.net", "DescribeVpcs", (rb"<state>available</state>", b"<state>pending</state>"),
         lambda boto, uid: "cidr_block: 10.41.0.0/16",
         lambda boto, uid: [v["VpcId"] for v in boto("ec2").describe_vpcs(
             Filters=_tag_filters(uid, "aws_vpc.net"))["Vpcs"]]),
    Case("aws_subnet.a", "DescribeSubnets",
         (rb"<state>available</state>", b"<state>pending</state>"),
         lambda boto, uid: f"vpc_id: {_vpc(boto, uid)}\n    cidr_block: 10.40.9.0/24",
         lambda boto, uid: [s["SubnetId"] for s in boto("ec2").describe_subnets(
             Filters=_tag_filters(uid, "aws_subnet.a"))["Subnets"]]),
    Case("aws_security_group.web", "DescribeSecurityGroups",  # not visible yet
         (rb"(?s)<securityGroupInfo>.*</securityGroupInfo>", b"<securityGroupInfo/>"),
         lambda boto, uid: (f"name: web-{uid}\n    description: web\n"
                            f"    vpc_id: {_vpc(boto, uid)}"),
         lambda boto, uid: [g["GroupId"] for g in boto("ec2").describe_security_groups(
             Filters=_tag_filters(uid, "aws_security_group.web"))["SecurityGroups"]]),
    Case("aws_db_instance.db", "DescribeDBInstances",
         (rb"<DBInstanceStatus>available</DBInstanceStatus>",
          b"<DBInstanceStatus>creating</DBInstanceStatus>"),
         lambda boto, uid: (f"identifier: pg-{uid}\n    engine: postgres\n"
                            "    instance_class: db.t4g.micro\n    allocated_storage: 20\n"
                            "    username: mlflow\n    skip_final_snapshot: true"),
         lambda boto, uid: [d["DBInstanceIdentifier"] for d in boto("rds").describe_db_instances(
             )["DBInstances"] if d["DBInstanceIdentifier"] == f"pg-{uid}"]),
    Case("aws_eks_node_group.gpu", ("GET", r"^/clusters/[^/]+/node-groups/"),
         (rb'"status":\s*"ACTIVE"', b'"status": "CREATING"'),
         _nodegroup_config, _nodegroups),
]


@pytest.mark.parametrize("case", CASES, ids=[c.address.split(".")[0] for c in CASES])
def test_ctrl_c_while_a_new_object_is_pending_makes_no_twin(
        case: Case, proxy: FaultProxy, boto: Boto, tmp_path: Path, uid: str) -> None:
    (tmp_path / "mlform.yaml").write_text(
        f"project: waits\nenvironments: {{e{uid}: {{target: aws, region: us-east-1}}}}\n"
        f"resources:\n  {case.address}:\n    {case.config(boto, uid)}\n")
    ws = Workspace(tmp_path / "mlform.yaml")
    proxy.add(case.operation, "rewrite", times=10**6, sub=case.sub)
    cancel = threading.Event()

    def press_ctrl_c_while_waiting(event: ApplyEvent) -> None:
        if event.kind == "waiting" and event.address == case.address:
            cancel.set()

    outcome = ws.apply(cancel=cancel, on_event=press_ctrl_c_while_waiting)
    assert outcome.result is not None and outcome.result.interrupted
    assert any(op == case.operation or isinstance(case.operation, tuple)
               for _, op in proxy.fired)
    made = case.live(boto, uid)
    assert len(made) == 1  # the create call made it before the wait began
    state = ws.state()
    # Either recorded (the create returned before the wait) or pending (it did not): never
    # forgotten, which is what made the next apply create a twin.
    assert case.address in state.resources or case.address in state.pending
    proxy.clear()  # the object becomes usable, as it would on AWS
    again = ws.apply()  # nothing left to do when the create returned before the wait
    assert again.result is None or again.result.ok, again.result
    assert case.live(boto, uid) == made
    recorded = ws.state().resources[case.address].id
    assert recorded == made[0] or recorded.endswith(f":{made[0]}")
    assert not ws.plan().has_changes
