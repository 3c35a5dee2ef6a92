"""The stack a crash trial applies, and what the sandbox holds of it.

Shared by `bench/crash_campaign.py` and `tests/cli/test_crash_campaign.py`. A trial's stack has
types AWS names by their arguments (bucket, role, SageMaker model and endpoint configuration)
and types whose ids AWS assigns (VPC, subnet, security group). `Inventory` lists, with plain
boto3 calls in the trial's own sandbox account, every object of those types that belongs to the
stack: it carries the stack's `mlform:stack` tag, or it is a bucket named with the stack's
prefix (S3 tags come in a second call, so a bucket can exist untagged).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

REGION = "us-east-1"
ENVIRONMENT = "dev"
TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"},
    "Action": "sts:AssumeRole"}]}
STACK_TAG, ADDRESS_TAG = "mlform:stack", "mlform:address"


@dataclass(frozen=True)
class Variant:
    """What a create-before-destroy replacement changes: the endpoint configuration's instance
    type (its name is a digest of its arguments) and the subnet's CIDR block (forces
    replacement; the subnet asks for create_before_destroy)."""

    instance_type: str = "ml.m5.large"
    subnet_cidr: str = "10.1.1.0/24"


FIRST = Variant()
SECOND = Variant(instance_type="ml.m5.xlarge", subnet_cidr="10.1.2.0/24")


@dataclass(frozen=True)
class HandMade:
    """Objects made with boto3 before an import trial: name or id by config address."""

    bucket: str
    role: str
    vpc: str

    def by_address(self) -> dict[str, str]:
        return {"aws_s3_bucket.data": self.bucket, "aws_iam_role.sagemaker": self.role,
                "aws_vpc.main": self.vpc}


def config(project: str, account: str, variant: Variant = FIRST,
           imported: HandMade | None = None) -> str:
    """mlform.yaml of a trial: every type the campaign covers, wired by references."""
    vpc_cidr = "10.1.0.0/16"
    bucket = role = ""
    imports = ""
    if imported is not None:
        bucket = f"bucket: {imported.bucket}, "
        role = f"    name: {imported.role}\n"
        imports = "import:\n" + "".join(
            f"  - {{to: {address}, id: {id}}}\n"
            for address, id in imported.by_address().items())
    return f"""project: {project}
environments:
  {ENVIRONMENT}: {{target: sandbox, region: {REGION}, account: "{account}"}}
resources:
  aws_s3_bucket.data: {{{bucket}force_destroy: true}}
  aws_s3_bucket_versioning.data:
    bucket: ${{aws_s3_bucket.data.id}}
    versioning_configuration: {{status: Enabled}}
  aws_iam_role.sagemaker:
{role}    assume_role_policy: '{json.dumps(TRUST)}'
  aws_vpc.main: {{cidr_block: {vpc_cidr}}}
  aws_subnet.a:
    vpc_id: ${{aws_vpc.main.id}}
    cidr_block: {variant.subnet_cidr}
    lifecycle: {{create_before_destroy: true}}
  aws_security_group.endpoints:
    name: {project}-endpoints
    description: inference endpoints
    vpc_id: ${{aws_vpc.main.id}}
  aws_sagemaker_model.fraud:
    execution_role_arn: ${{aws_iam_role.sagemaker.arn}}
    primary_container:
      image: {account}.dkr.ecr.{REGION}.amazonaws.com/serving:v1
      model_data_url: s3://${{aws_s3_bucket.data.id}}/models/v1/model.tar.gz
  aws_sagemaker_endpoint_configuration.fraud:
    production_variants:
      - model_name: ${{aws_sagemaker_model.fraud.name}}
        instance_type: {variant.instance_type}
        initial_instance_count: 1
{imports}"""


@dataclass(frozen=True)
class LiveObject:
    type: str
    id: str
    address: str  # its mlform:address tag ("" when it has none)


@dataclass
class Cloud:
    """boto3 clients on the sandbox, in one sandbox account."""

    url: str
    account: str
    _clients: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            import boto3

            made = boto3.client(service, endpoint_url=self.url, region_name=REGION,
                                aws_access_key_id="testing", aws_secret_access_key="testing")
            account = self.account
            made.meta.events.register(
                "before-send",
                lambda request, **_: request.headers.__setitem__("x-moto-account-id", account))
            self._clients[service] = made
        return self._clients[service]

    def make_by_hand(self, project: str) -> HandMade:
        """A bucket, a role and a VPC made outside mlform, for an import trial."""
        bucket, role = f"{project}-{ENVIRONMENT}-legacy", f"{project}-legacy"
        self.client("s3").create_bucket(Bucket=bucket)
        self.client("iam").create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(TRUST))
        vpc = self.client("ec2").create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
        return HandMade(bucket=bucket, role=role, vpc=str(vpc))

    def exists(self, type_name: str, id: str) -> bool:
        """Whether the object of `type_name` with `id` (name or EC2 id) still exists."""
        from botocore.exceptions import ClientError

        try:
            if type_name == "aws_s3_bucket":
                self.client("s3").head_bucket(Bucket=id)
            elif type_name == "aws_iam_role":
                self.client("iam").get_role(RoleName=id)
            elif type_name == "aws_vpc":
                return bool(self.client("ec2").describe_vpcs(
                    Filters=[{"Name": "vpc-id", "Values": [id]}])["Vpcs"])
            else:
                raise ValueError(type_name)
        except ClientError:
            return False
        return True

    def inventory(self, stack: str, bucket_prefix: str) -> list[LiveObject]:
        """Every object of the covered types that belongs to `stack` (see the module doc)."""
        return [*self._buckets(stack, bucket_prefix), *self._roles(stack), *self._ec2(stack),
                *self._sagemaker(stack)]

    def _buckets(self, stack: str, prefix: str) -> Iterator[LiveObject]:
        from botocore.exceptions import ClientError

        s3 = self.client("s3")
        for bucket in s3.list_buckets().get("Buckets", []):
            name = bucket["Name"]
            try:
                tags = _tags(s3.get_bucket_tagging(Bucket=name)["TagSet"])
            except ClientError:
                tags = {}
            if tags.get(STACK_TAG) == stack or name.startswith(prefix):
                yield LiveObject("aws_s3_bucket", name, tags.get(ADDRESS_TAG, ""))

    def _roles(self, stack: str) -> Iterator[LiveObject]:
        iam = self.client("iam")
        for page in iam.get_paginator("list_roles").paginate():
            for role in page["Roles"]:
                tags = _tags(iam.list_role_tags(RoleName=role["RoleName"])["Tags"])
                if tags.get(STACK_TAG) == stack:
                    yield LiveObject("aws_iam_role", role["RoleName"], tags.get(ADDRESS_TAG, ""))

    def _ec2(self, stack: str) -> Iterator[LiveObject]:
        ec2 = self.client("ec2")
        mine = [{"Name": f"tag:{STACK_TAG}", "Values": [stack]}]
        for type_name, items, key in (
                ("aws_vpc", ec2.describe_vpcs(Filters=mine)["Vpcs"], "VpcId"),
                ("aws_subnet", ec2.describe_subnets(Filters=mine)["Subnets"], "SubnetId"),
                ("aws_security_group",
                 ec2.describe_security_groups(Filters=mine)["SecurityGroups"], "GroupId")):
            for item in items:
                yield LiveObject(type_name, item[key],
                                 _tags(item.get("Tags")).get(ADDRESS_TAG, ""))

    def _sagemaker(self, stack: str) -> Iterator[LiveObject]:
        sm = self.client("sagemaker")
        for type_name, listing, noun in (
                ("aws_sagemaker_model", sm.list_models, "Model"),
                ("aws_sagemaker_endpoint_configuration", sm.list_endpoint_configs,
                 "EndpointConfig")):
            for item in listing(MaxResults=100)[f"{noun}s"]:
                tags = _tags(sm.list_tags(ResourceArn=item[f"{noun}Arn"])["Tags"])
                if tags.get(STACK_TAG) == stack:
                    yield LiveObject(type_name, item[f"{noun}Name"], tags.get(ADDRESS_TAG, ""))


def _tags(items: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in items or []}


def duplicates(live: list[LiveObject]) -> dict[str, list[str]]:
    """Addresses that more than one live object is tagged with, and those objects' ids."""
    by_address: dict[str, list[str]] = {}
    for obj in live:
        if obj.address:
            by_address.setdefault(obj.address, []).append(obj.id)
    return {a: ids for a, ids in by_address.items() if len(ids) > 1}
