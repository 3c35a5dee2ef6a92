"""`aws_vpc_endpoint`: AWS services reached from inside a VPC without the internet.

A Gateway endpoint (S3, DynamoDB) is a route in the route tables it is given, and free; an
Interface endpoint (ECR, STS, logs, ...) is a network interface in each of its subnets, billed
per hour and subnet. Its route tables, subnets, security groups and private DNS change in
place; anything else replaces it. Interface endpoints given no security group get the VPC's
default one from AWS: an unset `security_group_ids` keeps what AWS chose.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from mlform.providers.aws.base import tags_all_field, tags_field, user_tags
from mlform.providers.aws.ec2 import Ec2Resource
from mlform.providers.aws.errors import aws_call
from mlform.providers.base import ArgsModel, AttrsModel, Computed, ForceNew, Timeouts


def _as_set(values: list[str]) -> list[str]:
    return sorted(set(values))


def _optional_set(values: list[str] | None) -> list[str] | None:
    return None if values is None else sorted(set(values))


IdSet = Annotated[list[str], AfterValidator(_as_set)]


class VpcEndpointArgs(ArgsModel):
    vpc_id: Annotated[str, ForceNew()] = Field(description="The VPC of the endpoint.")
    service_name: Annotated[str, ForceNew()] = Field(
        description="The service, as AWS names it in the region: "
                    "`com.amazonaws.<region>.s3`, `com.amazonaws.<region>.ecr.dkr`, ...")
    vpc_endpoint_type: Annotated[Literal["Gateway", "Interface", "GatewayLoadBalancer"],
                                 ForceNew()] = Field(
        "Gateway", description="`Gateway` (S3 and DynamoDB: routes, free) or `Interface` "
                               "(network interfaces in subnets, billed hourly).")
    route_table_ids: IdSet = Field(default_factory=list,
                                   description="Route tables of a Gateway endpoint.")
    subnet_ids: IdSet = Field(default_factory=list,
                              description="Subnets of an Interface endpoint, one per zone.")
    security_group_ids: Annotated[list[str] | None, AfterValidator(_optional_set),
                                  Computed()] = Field(
        None, description="Security groups of an Interface endpoint (default: the VPC's "
                          "default group, chosen by AWS).")
    private_dns_enabled: bool = Field(
        False, description="Resolve the service's own hostname to the endpoint (Interface; "
                           "needs the VPC's DNS support and hostnames).")
    tags: dict[str, str] = tags_field("VPC endpoint")


class VpcEndpointAttrs(AttrsModel):
    arn: str
    owner_id: str = Field(description="The AWS account that owns the endpoint.")
    state: str = Field(description="`available` once usable.")
    prefix_list_id: str = Field(description="A Gateway endpoint's destination prefix list.")
    network_interface_ids: list[str] = Field(description="An Interface endpoint's "
                                                         "network interfaces.")
    dns_entry: list[dict[str, str]] = Field(description="An Interface endpoint's DNS names "
                                                        "(`dns_name`, `hosted_zone_id`).")
    tags_all: dict[str, str] = tags_all_field()


# (argument, Describe field, Modify's add parameter, its remove parameter)
SETS = (("route_table_ids", "RouteTableIds", "AddRouteTableIds", "RemoveRouteTableIds"),
        ("subnet_ids", "SubnetIds", "AddSubnetIds", "RemoveSubnetIds"),
        ("security_group_ids", "Groups", "AddSecurityGroupIds", "RemoveSecurityGroupIds"))


def _live_set(live: Mapping[str, Any], field: str) -> list[str]:
    items = live.get(field) or []
    return sorted(i["GroupId"] if isinstance(i, dict) else i for i in items)


class VpcEndpoint(Ec2Resource[VpcEndpointArgs]):
    type_name = "aws_vpc_endpoint"
    Args = VpcEndpointArgs
    Attrs = VpcEndpointAttrs
    kind, noun, id_key = "vpc-endpoint", "VpcEndpoint", "VpcEndpointId"
    id_filter = "vpc-endpoint-id"
    missing = ("InvalidVpcEndpointId.NotFound", "InvalidVpcEndpointId.Malformed")
    timeouts = Timeouts(create=600.0, update=600.0, delete=600.0)

    def _described(self, **params: Any) -> Iterator[dict[str, Any]]:
        pages = self.client.get_paginator("describe_vpc_endpoints").paginate(**params)
        yield from (found for page in pages for found in page["VpcEndpoints"]
                    if found.get("State", "").lower() not in ("deleted", "deleting"))

    def _create(self, args: VpcEndpointArgs, tags: list[dict[str, Any]]) -> str:
        params: dict[str, Any] = {"VpcId": args.vpc_id, "ServiceName": args.service_name,
                                  "VpcEndpointType": args.vpc_endpoint_type,
                                  "TagSpecifications": tags}
        if args.route_table_ids:
            params["RouteTableIds"] = args.route_table_ids
        if args.subnet_ids:
            params["SubnetIds"] = args.subnet_ids
        if args.security_group_ids:
            params["SecurityGroupIds"] = args.security_group_ids
        if args.vpc_endpoint_type == "Interface":
            params["PrivateDnsEnabled"] = args.private_dns_enabled
        return str(self.once.create_vpc_endpoint(**params)["VpcEndpoint"]["VpcEndpointId"])

    def _converge(self, id: str, live: Mapping[str, Any], args: VpcEndpointArgs) -> None:
        change: dict[str, Any] = {}
        for arg, field, add, remove in SETS:
            want = getattr(args, arg)
            if want is None:
                continue  # left to AWS
            have = _live_set(live, field)
            if plus := sorted(set(want) - set(have)):
                change[add] = plus
            if minus := sorted(set(have) - set(want)):
                change[remove] = minus
        if (args.vpc_endpoint_type == "Interface"
                and bool(live.get("PrivateDnsEnabled")) != args.private_dns_enabled):
            change["PrivateDnsEnabled"] = args.private_dns_enabled
        if change:
            with aws_call("ec2", "ModifyVpcEndpoint"):
                self.client.modify_vpc_endpoint(VpcEndpointId=id, **change)

    def _attributes(self, live: Mapping[str, Any], prior: Mapping[str, Any]) -> dict[str, Any]:
        computed = self._computed(live, "vpc-endpoint")
        kind = live.get("VpcEndpointType") or "Gateway"
        args = VpcEndpointArgs.model_validate({
            "vpc_id": live["VpcId"], "service_name": live["ServiceName"],
            "vpc_endpoint_type": kind,
            "route_table_ids": _live_set(live, "RouteTableIds"),
            "subnet_ids": _live_set(live, "SubnetIds"),
            "security_group_ids": _live_set(live, "Groups"),  # Computed: AWS's choice kept
            "private_dns_enabled": bool(live.get("PrivateDnsEnabled")) and kind == "Interface",
            "tags": user_tags(computed["tags_all"])})
        return self.attributes(
            args, **computed, owner_id=live.get("OwnerId", ""), state=live.get("State", ""),
            prefix_list_id=self._prefix_list(live),
            network_interface_ids=sorted(live.get("NetworkInterfaceIds") or []),
            dns_entry=[{"dns_name": e.get("DnsName", ""),
                        "hosted_zone_id": e.get("HostedZoneId", "")}
                       for e in live.get("DnsEntries") or []])

    def _prefix_list(self, live: Mapping[str, Any]) -> str:
        """A Gateway endpoint's prefix list: the destination of the routes it adds."""
        if live.get("VpcEndpointType") != "Gateway":
            return ""
        with aws_call("ec2", "DescribePrefixLists"):
            lists = self.client.describe_prefix_lists(
                Filters=[{"Name": "prefix-list-name", "Values": [live["ServiceName"]]}])
        found = lists.get("PrefixLists") or []
        return str(found[0]["PrefixListId"]) if found else ""

    def _delete(self, id: str, prior: Mapping[str, Any]) -> None:
        from botocore.exceptions import ClientError

        if self._describe(id) is None:
            return  # gone, or deleting: AWS finishes on its own
        failed = self.client.delete_vpc_endpoints(VpcEndpointIds=[id]).get("Unsuccessful")
        for item in failed or []:
            error = item.get("Error") or {}
            code = str(error.get("Code", ""))
            if code not in self.missing:
                raise ClientError({"Error": {"Code": code, "Message": error.get("Message", "")}},
                                  "DeleteVpcEndpoints")
