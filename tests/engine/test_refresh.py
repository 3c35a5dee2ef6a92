"""Refresh on the sandbox: batched reads give exactly what one-by-one reads give, in fewer API
calls, and still see every change made out of band."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlform.api import Workspace

TRUST = ('{Version: "2012-10-17", Statement: [{Effect: Allow, Action: "sts:AssumeRole", '
         'Principal: {Service: sagemaker.amazonaws.com}}]}')


def _config(uid: str) -> str:
    roles = "".join(f"  aws_iam_role.r{i}:\n    assume_role_policy: {TRUST}\n"
                    f"    inline_policy: [{{name: p{i}, policy: {{Version: '2012-10-17', "
                    f"Statement: [{{Effect: Allow, Action: 's3:GetObject', Resource: '*'}}]}}}}]\n"
                    # Its attachments: none, managed by a resource of their own.
                    f"  aws_iam_role_policy_attachments_exclusive.r{i}:\n"
                    f"    role_name: ${{aws_iam_role.r{i}.name}}\n    policy_arns: []\n"
                    for i in range(4))
    models = "".join(
        f"  aws_sagemaker_model.m{i}:\n    execution_role_arn: ${{aws_iam_role.r0.arn}}\n"
        f"    primary_container: {{image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/m:{i}'}}\n"
        f"    tags: {{team: ml}}\n" for i in range(2))
    subnets = "".join(
        f"  aws_subnet.{z}: {{vpc_id: '${{aws_vpc.net.id}}', cidr_block: 10.30.{i}.0/24, "
        f"availability_zone: us-east-1{z}}}\n" for i, z in enumerate("ab", 1))
    return f"""project: batch-{uid}
environments:
  dev: {{target: sandbox, region: us-east-1}}
resources:
{roles}{models}  aws_vpc.net: {{cidr_block: 10.30.0.0/16}}
{subnets}"""


def test_batched_reads_match_single_reads_in_fewer_calls(
        tmp_path: Path, sandbox: Any, boto: Any, uid: str) -> None:
    path = tmp_path / "mlform.yaml"
    path.write_text(_config(uid))
    ws = Workspace(path)
    ws.apply()
    # Every object was recorded by a one-by-one read right after it was made; a batched
    # refresh that read anything differently would report it as drift.
    report = Workspace(path, offline=True).drift()
    assert report.read == 13 and not report.has_drift, report.to_json()
    calls = report.api_calls
    # IAM: one GetAccountAuthorizationDetails for the four roles' policies and tags, plus a
    # GetRole each (the only source of a role's description), plus one more for the four
    # roles' attachment lists: 6, where one by one it is 4 x 3 + 4.
    assert calls["iam"] == 6, calls
    # SageMaker: a Describe each, and the tags of both in one tagging-API call.
    assert calls["sagemaker"] == 2 and calls["resourcegroupstaggingapi"] == 1, calls
    # EC2: both subnets in one Describe; the VPC alone (one object: nothing to batch), with
    # its two DNS attributes, default security group and main route table.
    assert calls["ec2"] == 6, calls
    assert sum(calls.values()) < 2 * report.read

    state = ws.state().resources
    iam, sm = boto("iam"), boto("sagemaker")
    iam.attach_role_policy(RoleName=state["aws_iam_role.r1"].id,
                           PolicyArn="arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")
    iam.delete_role_policy(RoleName=state["aws_iam_role.r2"].id, PolicyName="p2")
    sm.add_tags(ResourceArn=state["aws_sagemaker_model.m1"].attributes["arn"],
                Tags=[{"Key": "team", "Value": "research"}])
    boto("ec2").create_tags(Resources=[state["aws_subnet.b"].id],
                            Tags=[{"Key": "Name", "Value": "by-hand"}])
    found = {d.address: [f.path for f in d.fields]
             for d in Workspace(path, offline=True).drift().resources}
    assert found == {
        "aws_iam_role_policy_attachments_exclusive.r1": ["policy_arns"],
        "aws_iam_role.r2": ["inline_policy"],
        "aws_sagemaker_model.m1": ["tags.team"],
        "aws_subnet.b": ["tags.Name"],
    }
    ws.apply(destroy=True)
