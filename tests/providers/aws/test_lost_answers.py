"""Lost answers: a create took effect in the cloud, but its answer never arrived.

mlform runs on `target: aws` with AWS_ENDPOINT_URL pointing at a fault proxy (tests/faultproxy.py)
in front of the sandbox, as it would run against AWS. The proxy forwards the create call and then
answers 503 or hangs up; or it refuses the call with a throttling error. Whatever happens, apply
must end with exactly one object, recorded in the state, and an object of the same name that is
not this resource's must fail the create in one line that says whose it is and what to do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlform.api import Workspace
from mlform.errors import ProviderError
from mlform.providers.base import TAG_ADDRESS, TAG_STACK
from tests.faultproxy import Fault, FaultProxy

LOST: list[Fault] = ["503_after", "drop_after"]


def _workspace(tmp_path: Path, uid: str, resources: str) -> Workspace:
    (tmp_path / "mlform.yaml").write_text(
        f"project: lost\nenvironments: {{e{uid}: {{target: aws, region: us-east-1}}}}\n"
        f"resources:\n{resources}")
    return Workspace(tmp_path / "mlform.yaml")


def _apply(ws: Workspace) -> None:
    outcome = ws.apply()
    assert outcome.result is not None
    assert outcome.result.ok, [str(e) for e in outcome.result.failed.values()]


def _tagged(uid: str, address: str) -> list[dict[str, str]]:
    return [{"Name": f"tag:{TAG_STACK}", "Values": [f"lost/e{uid}"]},
            {"Name": f"tag:{TAG_ADDRESS}", "Values": [address]}]


def _only(ws: Workspace, address: str) -> str:
    state = ws.state().resources
    assert list(state) == [address]
    return str(state[address].id)


# -- AWS assigns the id: a retry would make a second object -------------------------------------

@pytest.mark.parametrize("fault", LOST)
def test_vpc_create_whose_answer_is_lost(proxy: FaultProxy, boto: Any, tmp_path: Path,
                                         uid: str, fault: Fault) -> None:
    ws = _workspace(tmp_path, uid, "  aws_vpc.net: {cidr_block: 10.1.0.0/16}\n")
    proxy.add("CreateVpc", fault)
    _apply(ws)
    assert proxy.fired == [(fault, "CreateVpc")]
    live = boto("ec2").describe_vpcs(Filters=_tagged(uid, "aws_vpc.net"))["Vpcs"]
    assert [v["VpcId"] for v in live] == [_only(ws, "aws_vpc.net")]
    assert not ws.plan().has_changes


@pytest.mark.parametrize("fault", LOST)
def test_subnet_create_whose_answer_is_lost(proxy: FaultProxy, boto: Any, tmp_path: Path,
                                            uid: str, fault: Fault) -> None:
    vpc = boto("ec2").create_vpc(CidrBlock="10.2.0.0/16")["Vpc"]["VpcId"]
    ws = _workspace(tmp_path, uid, f"  aws_subnet.a: {{vpc_id: {vpc}, cidr_block: 10.2.1.0/24}}\n")
    proxy.add("CreateSubnet", fault)
    _apply(ws)
    assert proxy.fired == [(fault, "CreateSubnet")]
    live = boto("ec2").describe_subnets(Filters=_tagged(uid, "aws_subnet.a"))["Subnets"]
    assert [s["SubnetId"] for s in live] == [_only(ws, "aws_subnet.a")]


def test_vpc_create_throttled_is_retried(proxy: FaultProxy, boto: Any, tmp_path: Path,
                                         uid: str) -> None:
    ws = _workspace(tmp_path, uid, "  aws_vpc.net: {cidr_block: 10.3.0.0/16}\n")
    proxy.add("CreateVpc", "throttle", times=2)
    _apply(ws)
    assert proxy.fired == [("throttle", "CreateVpc")] * 2
    live = boto("ec2").describe_vpcs(Filters=_tagged(uid, "aws_vpc.net"))["Vpcs"]
    assert [v["VpcId"] for v in live] == [_only(ws, "aws_vpc.net")]


# -- the name is the key: the retry finds the object, ours or not -------------------------------

@pytest.mark.parametrize("fault", LOST)
def test_security_group_create_whose_answer_is_lost(proxy: FaultProxy, boto: Any,
                                                    tmp_path: Path, uid: str,
                                                    fault: Fault) -> None:
    vpc = boto("ec2").create_vpc(CidrBlock="10.4.0.0/16")["Vpc"]["VpcId"]
    ws = _workspace(tmp_path, uid, f"  aws_security_group.web: {{name: web-{uid}, "
                                   f"vpc_id: {vpc}}}\n")
    proxy.add("CreateSecurityGroup", fault)
    _apply(ws)
    assert proxy.fired == [(fault, "CreateSecurityGroup")]
    live = boto("ec2").describe_security_groups(
        Filters=[{"Name": "group-name", "Values": [f"web-{uid}"]}])["SecurityGroups"]
    assert [g["GroupId"] for g in live] == [_only(ws, "aws_security_group.web")]


@pytest.mark.parametrize("fault", LOST)
def test_bucket_create_whose_answer_is_lost(proxy: FaultProxy, boto: Any, tmp_path: Path,
                                            uid: str, fault: Fault) -> None:
    ws = _workspace(tmp_path, uid, f"  aws_s3_bucket.data: {{bucket: lost-{uid}}}\n")
    proxy.add(("PUT", rf"^/lost-{uid}/?$"), fault)
    _apply(ws)
    assert proxy.fired == [(fault, f"PUT /lost-{uid}")]
    assert _only(ws, "aws_s3_bucket.data") == f"lost-{uid}"
    tags = boto("s3").get_bucket_tagging(Bucket=f"lost-{uid}")["TagSet"]
    assert {"Key": TAG_ADDRESS, "Value": "aws_s3_bucket.data"} in tags


@pytest.mark.parametrize("fault", LOST)
def test_role_create_whose_answer_is_lost(proxy: FaultProxy, boto: Any, tmp_path: Path,
                                          uid: str, fault: Fault) -> None:
    ws = _workspace(tmp_path, uid, f"""  aws_iam_role.r:
    name: lost-{uid}
    assume_role_policy: {{Version: "2012-10-17", Statement: []}}
    tags: {{team: ml}}
""")
    proxy.add("CreateRole", fault)
    _apply(ws)
    assert proxy.fired == [(fault, "CreateRole")]
    assert _only(ws, "aws_iam_role.r") == f"lost-{uid}"
    tags = boto("iam").list_role_tags(RoleName=f"lost-{uid}")["Tags"]
    assert {"Key": "team", "Value": "ml"} in tags


@pytest.mark.parametrize("fault", LOST)
@pytest.mark.parametrize(("resource", "operation"), [
    ("aws_ecr_repository.r: {{name: lost-{uid}}}", "CreateRepository"),
    ("aws_secretsmanager_secret.s: {{name: lost-{uid}, recovery_window_in_days: 0}}",
     "CreateSecret"),
])
def test_json_protocol_create_whose_answer_is_lost(proxy: FaultProxy, tmp_path: Path, uid: str,
                                                   fault: Fault, resource: str,
                                                   operation: str) -> None:
    ws = _workspace(tmp_path, uid, f"  {resource.format(uid=uid)}\n")
    proxy.add(operation, fault)
    _apply(ws)
    assert proxy.fired == [(fault, operation)]
    assert len(ws.state().resources) == 1
    assert not ws.plan().has_changes
    assert ws.apply(destroy=True).result.ok  # type: ignore[union-attr]


# -- an object of that name that is not ours: one line that says whose, and what to do ----------

def _failure(ws: Workspace) -> str:
    """The one failure of an apply, as the CLI shows it: where in the config, then what."""
    outcome = ws.apply()
    assert outcome.result is not None and not outcome.result.ok
    (error,) = outcome.result.failed.values()
    assert isinstance(error, ProviderError)
    text = str(error)
    assert "\n" not in text
    assert text.startswith(f"{ws.stack.config_path}:4:3: ")
    return text


def test_role_made_by_hand_is_not_taken_over(proxy: FaultProxy, boto: Any, tmp_path: Path,
                                            uid: str) -> None:
    boto("iam").create_role(RoleName=f"hand-{uid}", AssumeRolePolicyDocument="{}")
    ws = _workspace(tmp_path, uid, f"""  aws_iam_role.r:
    name: hand-{uid}
    assume_role_policy: {{Version: "2012-10-17", Statement: []}}
""")
    assert _failure(ws).endswith(
        f"CreateRole: EntityAlreadyExists: aws_iam_role hand-{uid} already exists and was made "
        f"outside mlform: adopt it with `mlform import aws_iam_role.r hand-{uid}`, or give "
        "this resource another name")
    assert not ws.state().resources


def test_bucket_of_another_stack_is_not_taken_over(proxy: FaultProxy, boto: Any,
                                                   tmp_path: Path, uid: str) -> None:
    boto("s3").create_bucket(Bucket=f"theirs-{uid}")
    boto("s3").put_bucket_tagging(Bucket=f"theirs-{uid}", Tagging={"TagSet": [
        {"Key": TAG_STACK, "Value": "other/prod"},
        {"Key": TAG_ADDRESS, "Value": "aws_s3_bucket.x"}]})
    ws = _workspace(tmp_path, uid, f"  aws_s3_bucket.data: {{bucket: theirs-{uid}}}\n")
    assert _failure(ws).endswith(
        f"CreateBucket: aws_s3_bucket theirs-{uid} already exists and belongs to "
        "aws_s3_bucket.x in mlform stack other/prod: give this resource another name")


def test_security_group_made_by_hand_is_not_taken_over(proxy: FaultProxy, boto: Any,
                                                      tmp_path: Path, uid: str) -> None:
    ec2 = boto("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.5.0.0/16")["Vpc"]["VpcId"]
    group = ec2.create_security_group(GroupName=f"hand-{uid}", Description="by hand",
                                      VpcId=vpc)["GroupId"]
    ws = _workspace(tmp_path, uid, f"  aws_security_group.web: {{name: hand-{uid}, "
                                   f"vpc_id: {vpc}}}\n")
    assert _failure(ws).endswith(
        f"CreateSecurityGroup: InvalidGroup.Duplicate: aws_security_group {group} already "
        f"exists and was made outside mlform: adopt it with `mlform import "
        f"aws_security_group.web {group}`, or give this resource another name")
