"""The routing types on the sandbox: internet and NAT gateways, elastic IPs, route tables and
their associations, VPC endpoints and single security group rules."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from mlform.engine.calls import call_with_wait
from mlform.errors import NotReady, ProviderError
from mlform.providers.aws.ec2 import Subnet, Vpc
from mlform.providers.aws.ec2_endpoint import VpcEndpoint
from mlform.providers.aws.ec2_gateway import Eip, InternetGateway, NatGateway
from mlform.providers.aws.ec2_route import RouteTable, RouteTableAssociation
from mlform.providers.aws.ec2_security_group import SecurityGroup
from mlform.providers.aws.ec2_security_group_rule import SecurityGroupRule, parse_rule_id
from mlform.providers.base import ResourceMeta, StackContext
from tests.providers.aws.contract import check_contract


def made(rtype: type[Any], session: Any, ctx: StackContext, address: str,
         **args: Any) -> dict[str, Any]:
    rt = rtype(session)
    return call_with_wait(lambda: rt.create(rtype.Args.model_validate(args),
                                            ResourceMeta(address, ctx)), timeout=60)


@pytest.fixture
def net(aws_session: Any, stack_context: StackContext, boto: Any) -> Iterator[dict[str, str]]:
    """A VPC with one subnet, emptied and deleted after the test."""
    vpc = made(Vpc, aws_session, stack_context, "aws_vpc.n", cidr_block="10.30.0.0/16")
    subnet = made(Subnet, aws_session, stack_context, "aws_subnet.n", vpc_id=vpc["id"],
                  cidr_block="10.30.1.0/24")
    yield {"vpc": vpc["id"], "subnet": subnet["id"]}
    ec2 = boto("ec2")
    in_vpc = [{"Name": "vpc-id", "Values": [vpc["id"]]}]
    for e in ec2.describe_vpc_endpoints(Filters=in_vpc)["VpcEndpoints"]:
        if e["State"] != "deleted":
            ec2.delete_vpc_endpoints(VpcEndpointIds=[e["VpcEndpointId"]])
    for table in ec2.describe_route_tables(Filters=in_vpc)["RouteTables"]:
        for a in table["Associations"]:
            if not a["Main"]:
                ec2.disassociate_route_table(AssociationId=a["RouteTableAssociationId"])
        if not any(a["Main"] for a in table["Associations"]):
            ec2.delete_route_table(RouteTableId=table["RouteTableId"])
    for igw in ec2.describe_internet_gateways(
            Filters=[{"Name": "attachment.vpc-id", "Values": [vpc["id"]]}])["InternetGateways"]:
        ec2.detach_internet_gateway(InternetGatewayId=igw["InternetGatewayId"], VpcId=vpc["id"])
        ec2.delete_internet_gateway(InternetGatewayId=igw["InternetGatewayId"])
    Subnet(aws_session).delete(subnet["id"], subnet)
    for group in ec2.describe_security_groups(Filters=in_vpc)["SecurityGroups"]:
        if group["GroupName"] != "default":
            ec2.delete_security_group(GroupId=group["GroupId"])
    Vpc(aws_session).delete(vpc["id"], vpc)


def test_internet_gateway_contract_moves_between_vpcs(
    aws_session: Any, stack_context: StackContext, net: dict[str, str], boto: Any
) -> None:
    other = made(Vpc, aws_session, stack_context, "aws_vpc.other", cidr_block="10.31.0.0/16")
    attrs = check_contract(InternetGateway, aws_session, stack_context,
                           create={"vpc_id": net["vpc"], "tags": {"Name": "igw"}},
                           update={"vpc_id": other["id"]})
    assert attrs["id"].startswith("igw-") and attrs["vpc_id"] == other["id"]
    Vpc(aws_session).delete(other["id"], other)


def test_eip_contract(aws_session: Any, stack_context: StackContext) -> None:
    attrs = check_contract(Eip, aws_session, stack_context, create={"domain": "vpc"},
                           update={"domain": "vpc", "tags": {"team": "ml"}})
    assert attrs["allocation_id"] == attrs["id"] and attrs["id"].startswith("eipalloc-")
    assert attrs["public_ip"] and attrs["association_id"] == ""


def test_nat_gateway_contract_waits_until_available_and_until_deleted(
    aws_session: Any, stack_context: StackContext, net: dict[str, str]
) -> None:
    eip = made(Eip, aws_session, stack_context, "aws_eip.nat")
    attrs = check_contract(NatGateway, aws_session, stack_context,
                           create={"allocation_id": eip["id"], "subnet_id": net["subnet"]},
                           update={"allocation_id": eip["id"], "subnet_id": net["subnet"],
                                   "tags": {"Name": "nat"}})
    assert attrs["public_ip"] == eip["public_ip"]
    # Deleting it let the address go: the address can be released.
    Eip(aws_session).delete(eip["id"], eip)


def test_nat_gateway_create_reports_pending_then_returns_when_available(
    aws_session: Any, stack_context: StackContext, net: dict[str, str]
) -> None:
    eip = made(Eip, aws_session, stack_context, "aws_eip.wait")
    rt, m = NatGateway(aws_session), ResourceMeta("aws_nat_gateway.wait", stack_context)
    args = NatGateway.Args.model_validate({"allocation_id": eip["id"],
                                           "subnet_id": net["subnet"]})
    with pytest.raises(NotReady, match="not available yet"):
        rt.create(args, m)
    attrs = rt.create(args, m)  # the engine's next call: the same gateway, now available
    assert attrs["id"].startswith("nat-")
    assert [d.id for d in rt.list() if d.address == "aws_nat_gateway.wait"] == [attrs["id"]]
    with pytest.raises(NotReady, match="being deleted"):
        rt.delete(attrs["id"], attrs)
    call_with_wait(lambda: rt.delete(attrs["id"], attrs), timeout=30)
    assert rt.read(attrs["id"], attrs) is None
    Eip(aws_session).delete(eip["id"], eip)


def test_nat_gateway_needs_an_address_when_public() -> None:
    with pytest.raises(ValidationError, match="needs allocation_id"):
        NatGateway.Args.model_validate({"subnet_id": "subnet-1"})
    NatGateway.Args.model_validate({"subnet_id": "subnet-1", "connectivity_type": "private"})


def test_route_table_contract_routes_change_in_place(
    aws_session: Any, stack_context: StackContext, net: dict[str, str], boto: Any
) -> None:
    igw = made(InternetGateway, aws_session, stack_context, "aws_internet_gateway.rt",
               vpc_id=net["vpc"])
    attrs = check_contract(
        RouteTable, aws_session, stack_context,
        create={"vpc_id": net["vpc"],
                "route": [{"cidr_block": "0.0.0.0/0", "gateway_id": igw["id"]}]},
        update={"vpc_id": net["vpc"], "tags": {"Name": "public"},
                "route": [{"cidr_block": "192.168.0.0/16", "gateway_id": igw["id"]}]})
    assert [r["cidr_block"] for r in attrs["route"]] == ["192.168.0.0/16"]


def test_route_table_update_replaces_a_route_and_keeps_the_table(
    aws_session: Any, stack_context: StackContext, net: dict[str, str], boto: Any
) -> None:
    igw = made(InternetGateway, aws_session, stack_context, "aws_internet_gateway.r2",
               vpc_id=net["vpc"])
    eip = made(Eip, aws_session, stack_context, "aws_eip.r2")
    nat = made(NatGateway, aws_session, stack_context, "aws_nat_gateway.r2",
               allocation_id=eip["id"], subnet_id=net["subnet"])
    rt, m = RouteTable(aws_session), ResourceMeta("aws_route_table.r2", stack_context)
    to_igw = {"vpc_id": net["vpc"], "route": [{"cidr_block": "0.0.0.0/0",
                                               "gateway_id": igw["id"]}]}
    attrs = call_with_wait(lambda: rt.create(RouteTable.Args.model_validate(to_igw), m),
                           timeout=30)
    to_nat = {**to_igw, "route": [{"cidr_block": "0.0.0.0/0", "nat_gateway_id": nat["id"]}]}
    updated = rt.update(attrs["id"], attrs, RouteTable.Args.model_validate(to_nat), m)
    assert updated["id"] == attrs["id"]
    assert updated["route"][0]["nat_gateway_id"] == nat["id"]
    assert updated["route"][0]["gateway_id"] is None
    # The VPC's local route is AWS's, never in `route`, and never removed.
    live = boto("ec2").describe_route_tables(RouteTableIds=[attrs["id"]])["RouteTables"][0]
    assert any(r.get("GatewayId") == "local" for r in live["Routes"])
    with pytest.raises(ValidationError, match="exactly one target"):
        RouteTable.Args.model_validate({"vpc_id": "v", "route": [{"cidr_block": "0.0.0.0/0"}]})
    rt.delete(attrs["id"], attrs)
    call_with_wait(lambda: NatGateway(aws_session).delete(nat["id"], nat), timeout=30)
    Eip(aws_session).delete(eip["id"], eip)


def test_route_table_association_contract_and_import_id(
    aws_session: Any, stack_context: StackContext, net: dict[str, str]
) -> None:
    one = made(RouteTable, aws_session, stack_context, "aws_route_table.one", vpc_id=net["vpc"])
    two = made(RouteTable, aws_session, stack_context, "aws_route_table.two", vpc_id=net["vpc"])
    attrs = check_contract(RouteTableAssociation, aws_session, stack_context, taggable=False,
                           create={"subnet_id": net["subnet"], "route_table_id": one["id"]},
                           update={"subnet_id": net["subnet"], "route_table_id": two["id"]})
    assert attrs["id"].startswith("rtbassoc-") and attrs["route_table_id"] == two["id"]
    rt = RouteTableAssociation(aws_session)
    made_again = made(RouteTableAssociation, aws_session, stack_context, "a.b",
                      subnet_id=net["subnet"], route_table_id=one["id"])
    imported = rt.read(f"{net['subnet']}/{one['id']}", {})
    assert imported == made_again
    # A second subnet on the same table: each association reads as its own.
    other = made(Subnet, aws_session, stack_context, "aws_subnet.o", vpc_id=net["vpc"],
                 cidr_block="10.30.2.0/24")
    second = made(RouteTableAssociation, aws_session, stack_context, "a.c",
                  subnet_id=other["id"], route_table_id=one["id"])
    assert rt.read(second["id"], {}) == second and second["subnet_id"] == other["id"]
    assert rt.read(made_again["id"], {}) == made_again
    rt.delete(second["id"], second)
    Subnet(aws_session).delete(other["id"], other)
    listed = {d.id: d for d in rt.list()}
    assert listed[made_again["id"]].import_id == f"{net['subnet']}/{one['id']}"
    rt.delete(made_again["id"], made_again)


def test_vpc_endpoint_contracts_gateway_and_interface(
    aws_session: Any, stack_context: StackContext, net: dict[str, str], boto: Any
) -> None:
    table = made(RouteTable, aws_session, stack_context, "aws_route_table.ep",
                 vpc_id=net["vpc"])
    s3 = "com.amazonaws.us-east-1.s3"
    attrs = check_contract(VpcEndpoint, aws_session, stack_context,
                           create={"vpc_id": net["vpc"], "service_name": s3},
                           update={"vpc_id": net["vpc"], "service_name": s3,
                                   "route_table_ids": [table["id"]]})
    assert attrs["route_table_ids"] == [table["id"]] and attrs["prefix_list_id"]
    # Deleting a gateway endpoint takes its routes with it (the table's own `route` never
    # listed them).
    live = boto("ec2").describe_route_tables(RouteTableIds=[table["id"]])["RouteTables"][0]
    assert not [r for r in live["Routes"] if r.get("GatewayId", "").startswith("vpce-")]
    dkr = check_contract(VpcEndpoint, aws_session, stack_context,
                         address="aws_vpc_endpoint.dkr",
                         create={"vpc_id": net["vpc"], "vpc_endpoint_type": "Interface",
                                 "service_name": "com.amazonaws.us-east-1.ecr.dkr",
                                 "subnet_ids": [net["subnet"]], "private_dns_enabled": True})
    assert dkr["network_interface_ids"] and dkr["dns_entry"]
    assert dkr["security_group_ids"], "AWS gives an interface endpoint the default group"


def test_vpc_endpoint_service_name_is_checked_as_aws_does(
    aws_session: Any, stack_context: StackContext, net: dict[str, str]
) -> None:
    with pytest.raises(ProviderError, match="InvalidServiceName"):
        made(VpcEndpoint, aws_session, stack_context, "aws_vpc_endpoint.typo",
             vpc_id=net["vpc"], service_name="com.amazonaws.us-east-1.ecr-dkr",
             vpc_endpoint_type="Interface", subnet_ids=[net["subnet"]])


def test_security_group_rule_contract_idempotency_and_import_id(
    aws_session: Any, stack_context: StackContext, net: dict[str, str]
) -> None:
    group = made(SecurityGroup, aws_session, stack_context, "aws_security_group.r",
                 name="rules-test", vpc_id=net["vpc"])
    rule = {"type": "ingress", "security_group_id": group["id"], "protocol": "tcp",
            "from_port": 443, "to_port": 443, "cidr_blocks": ["10.0.0.0/16"]}
    attrs = check_contract(SecurityGroupRule, aws_session, stack_context, taggable=False,
                           create={**rule, "description": "https"},
                           update={**rule, "description": "https from the VPC"})
    assert attrs["id"] == f"{group['id']}_ingress_tcp_443_443_10.0.0.0/16"
    assert parse_rule_id(attrs["id"])["cidr_blocks"] == ["10.0.0.0/16"]
    rt, m = SecurityGroupRule(aws_session), ResourceMeta("aws_security_group_rule.x",
                                                         stack_context)
    args = SecurityGroupRule.Args.model_validate({**rule, "description": "one"})
    first = rt.create(args, m)
    assert rt.create(args.model_copy(update={"description": "two"}), m)["description"] == "two"
    assert rt.read(first["id"], first)["description"] == "two"  # type: ignore[index]
    everything = {**rule, "protocol": "-1", "from_port": 0, "to_port": 0, "cidr_blocks": [],
                  "self": True}
    self_rule = rt.create(SecurityGroupRule.Args.model_validate(everything), m)
    assert self_rule["id"] == f"{group['id']}_ingress_all_0_0_self"
    assert rt.read(self_rule["id"], {}) == self_rule
    with pytest.raises(ProviderError, match="not a security group rule id"):
        parse_rule_id("sg-1_sideways_tcp_1_2_x")
    with pytest.raises(ValidationError, match="one kind of source"):
        SecurityGroupRule.Args.model_validate({**rule, "self": True})
    rt.delete(first["id"], first)
    rt.delete(self_rule["id"], self_rule)
    SecurityGroup(aws_session).delete(group["id"], group)
