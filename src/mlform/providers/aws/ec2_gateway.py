"""A VPC's ways out: `aws_internet_gateway`, `aws_eip` and `aws_nat_gateway`.

They are EC2 objects with ids AWS assigns, tagged at create and found again by their tags
(see `ec2.py`). A NAT gateway takes a minute or two to become available and as long to go:
create waits for `available` (routes through a pending gateway drop traffic) and delete waits
for `deleted` (until then its subnet and elastic IP are still in use, and deleting them fails).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from mlform.errors import NotReady, ProviderError
from mlform.providers.aws.base import tags_all_field, tags_field, user_tags
from mlform.providers.aws.ec2 import Ec2Resource
from mlform.providers.aws.errors import aws_call
from mlform.providers.base import ArgsModel, AttrsModel, ForceNew, Timeouts


class Ec2Owned:
    """The account of objects whose description carries no OwnerId (elastic IPs)."""

    _account: str | None = None

    def account(self, aws: Any) -> str:
        if self._account is None:
            with aws_call("sts", "GetCallerIdentity"):
                self._account = str(aws.client("sts").get_caller_identity()["Account"])
        return self._account


# -- aws_internet_gateway ----------------------------------------------------------------------


class InternetGatewayArgs(ArgsModel):
    vpc_id: str | None = Field(None, description="The VPC to attach the gateway to (moving it "
                                                 "detaches it from the old VPC first).")
    tags: dict[str, str] = tags_field("internet gateway")


class InternetGatewayAttrs(AttrsModel):
    arn: str
    owner_id: str = Field(description="The AWS account that owns the gateway.")
    tags_all: dict[str, str] = tags_all_field()


def _attached(live: Mapping[str, Any]) -> str | None:
    for attachment in live.get("Attachments") or []:
        if attachment.get("State", "available") in ("available", "attached", "attaching"):
            return str(attachment["VpcId"])
    return None


class InternetGateway(Ec2Resource[InternetGatewayArgs]):
    type_name = "aws_internet_gateway"
    Args = InternetGatewayArgs
    Attrs = InternetGatewayAttrs
    kind, noun, id_key = "internet-gateway", "InternetGateway", "InternetGatewayId"
    id_filter = "internet-gateway-id"
    missing = ("InvalidInternetGatewayID.NotFound", "InvalidInternetGatewayId.Malformed")
    timeouts = Timeouts(create=1200.0, update=1200.0, delete=1200.0)

    def _described(self, **params: Any) -> Iterator[dict[str, Any]]:
        pages = self.client.get_paginator("describe_internet_gateways").paginate(**params)
        yield from (found for page in pages for found in page["InternetGateways"])

    def _create(self, args: InternetGatewayArgs, tags: list[dict[str, Any]]) -> str:
        return str(self.once.create_internet_gateway(
            TagSpecifications=tags)["InternetGateway"]["InternetGatewayId"])

    def _converge(self, id: str, live: Mapping[str, Any], args: InternetGatewayArgs) -> None:
        have = _attached(live)
        if have == args.vpc_id:
            return
        if have is not None:
            with aws_call("ec2", "DetachInternetGateway"):
                self.client.detach_internet_gateway(InternetGatewayId=id, VpcId=have)
        if args.vpc_id is not None:
            with aws_call("ec2", "AttachInternetGateway"):
                self.client.attach_internet_gateway(InternetGatewayId=id, VpcId=args.vpc_id)

    def _attributes(self, live: Mapping[str, Any], prior: Mapping[str, Any]) -> dict[str, Any]:
        computed = self._computed(live, "internet-gateway")
        args = InternetGatewayArgs.model_validate(
            {"vpc_id": _attached(live), "tags": user_tags(computed["tags_all"])})
        return self.attributes(args, **computed, owner_id=live["OwnerId"])

    def _delete(self, id: str, prior: Mapping[str, Any]) -> None:
        live = self._describe(id)
        vpc = _attached(live) if live else None
        if vpc is not None:
            # AWS refuses while the VPC has public addresses mapped (a NAT gateway being
            # deleted): DependencyViolation, which `delete` waits out.
            self.client.detach_internet_gateway(InternetGatewayId=id, VpcId=vpc)
        self.client.delete_internet_gateway(InternetGatewayId=id)


# -- aws_eip -----------------------------------------------------------------------------------


class EipArgs(ArgsModel):
    domain: Annotated[Literal["vpc", "standard"], ForceNew()] = Field(
        "vpc", description="`vpc` (EC2-Classic's `standard` is gone from AWS).")
    tags: dict[str, str] = tags_field("elastic IP")


class EipAttrs(AttrsModel):
    arn: str
    allocation_id: str = Field(description="The id AWS gives the allocation (also `id`).")
    public_ip: str = Field(description="The public IPv4 address.")
    association_id: str = Field(description="Its association with a network interface (a NAT "
                                            "gateway's), or empty while it is idle.")
    tags_all: dict[str, str] = tags_all_field()


class Eip(Ec2Resource[EipArgs], Ec2Owned):
    type_name = "aws_eip"
    Args = EipArgs
    Attrs = EipAttrs
    kind, noun, id_key, id_filter = "elastic-ip", "Address", "AllocationId", "allocation-id"
    missing = ("InvalidAllocationID.NotFound", "InvalidAllocationID.Malformed")
    timeouts = Timeouts(create=300.0, update=300.0, delete=180.0)

    def _described(self, **params: Any) -> Iterator[dict[str, Any]]:
        # DescribeAddresses is not paginated: one answer holds every address.
        yield from self.client.describe_addresses(**params)["Addresses"]

    def _create(self, args: EipArgs, tags: list[dict[str, Any]]) -> str:
        return str(self.once.allocate_address(Domain=args.domain,
                                              TagSpecifications=tags)["AllocationId"])

    def _converge(self, id: str, live: Mapping[str, Any], args: EipArgs) -> None:
        return None  # only tags change in place

    def _attributes(self, live: Mapping[str, Any], prior: Mapping[str, Any]) -> dict[str, Any]:
        owner = live.get("OwnerId") or self.account(self.aws)
        computed = self._computed({**live, "OwnerId": owner}, "elastic-ip")
        args = EipArgs.model_validate({"domain": live.get("Domain") or "vpc",
                                       "tags": user_tags(computed["tags_all"])})
        return self.attributes(args, **computed, allocation_id=live["AllocationId"],
                               public_ip=live.get("PublicIp", ""),
                               association_id=live.get("AssociationId") or "")

    def _delete(self, id: str, prior: Mapping[str, Any]) -> None:
        # While a NAT gateway still holds it AWS refuses (AuthFailure/InUse): the gateway is a
        # dependant, deleted first, and its delete waits until it has let the address go.
        self.client.release_address(AllocationId=id)


# -- aws_nat_gateway ---------------------------------------------------------------------------


class NatGatewayArgs(ArgsModel):
    allocation_id: Annotated[str | None, ForceNew()] = Field(
        None, description="The elastic IP (`aws_eip`'s `id`) of a public NAT gateway.")
    subnet_id: Annotated[str, ForceNew()] = Field(
        description="The subnet the gateway lives in: a public one (routed to an internet "
                    "gateway) for a public NAT gateway.")
    connectivity_type: Annotated[Literal["public", "private"], ForceNew()] = Field(
        "public", description="`public` (to the internet, needs `allocation_id`) or `private` "
                              "(to other VPCs and on-premises networks only).")
    tags: dict[str, str] = tags_field("NAT gateway")

    @model_validator(mode="after")
    def _address(self) -> NatGatewayArgs:
        if self.connectivity_type == "public" and self.allocation_id is None:
            raise ValueError("a public NAT gateway needs allocation_id (an aws_eip's id)")
        if self.connectivity_type == "private" and self.allocation_id is not None:
            raise ValueError("a private NAT gateway takes no allocation_id")
        return self


class NatGatewayAttrs(AttrsModel):
    arn: str
    network_interface_id: str = Field(description="The gateway's network interface.")
    private_ip: str = Field(description="Its private IPv4 address in the subnet.")
    public_ip: str = Field(description="Its public IPv4 address (public gateways).")
    association_id: str = Field(description="The elastic IP's association (public gateways).")
    tags_all: dict[str, str] = tags_all_field()


class NatGateway(Ec2Resource[NatGatewayArgs], Ec2Owned):
    type_name = "aws_nat_gateway"
    Args = NatGatewayArgs
    Attrs = NatGatewayAttrs
    kind, noun, id_key, id_filter = "natgateway", "NatGateway", "NatGatewayId", "nat-gateway-id"
    missing = ("NatGatewayNotFound", "InvalidNatGatewayID.NotFound",
               "NatGatewayMalformed")
    # Terraform's defaults: 10 minutes to come up, 30 to go.
    timeouts = Timeouts(create=600.0, update=600.0, delete=1800.0)

    def _described(self, **params: Any) -> Iterator[dict[str, Any]]:
        pages = self.client.get_paginator("describe_nat_gateways").paginate(**params)
        # A deleted gateway stays listed for about an hour: it is gone all the same.
        yield from (found for page in pages for found in page["NatGateways"]
                    if found.get("State") != "deleted")

    def _create(self, args: NatGatewayArgs, tags: list[dict[str, Any]]) -> str:
        address = {"AllocationId": args.allocation_id} if args.allocation_id else {}
        return str(self.once.create_nat_gateway(
            SubnetId=args.subnet_id, ConnectivityType=args.connectivity_type,
            TagSpecifications=tags, **address)["NatGateway"]["NatGatewayId"])

    def _converge(self, id: str, live: Mapping[str, Any], args: NatGatewayArgs) -> None:
        # `create` waits out `pending`; what is left to check is whether it came up.
        if live.get("State") == "failed":
            raise ProviderError(
                f"NAT gateway {id} failed: {live.get('FailureCode', '')} "
                f"{live.get('FailureMessage', '')}; delete it and apply again".replace("  ", " "))

    def _attributes(self, live: Mapping[str, Any], prior: Mapping[str, Any]) -> dict[str, Any]:
        owner = live.get("OwnerId") or self.account(self.aws)
        computed = self._computed({**live, "OwnerId": owner}, "natgateway")
        addresses = live.get("NatGatewayAddresses") or [{}]
        first = addresses[0]
        args = NatGatewayArgs.model_validate({
            "allocation_id": first.get("AllocationId") or None, "subnet_id": live["SubnetId"],
            "connectivity_type": live.get("ConnectivityType") or "public",
            "tags": user_tags(computed["tags_all"])})
        return self.attributes(
            args, **computed, network_interface_id=first.get("NetworkInterfaceId", ""),
            private_ip=first.get("PrivateIp", ""), public_ip=first.get("PublicIp") or "",
            association_id=first.get("AssociationId") or "")

    def _delete(self, id: str, prior: Mapping[str, Any]) -> None:
        live = self._describe(id)
        if live is None:
            return
        if live.get("State") != "deleting":
            self.client.delete_nat_gateway(NatGatewayId=id)
        raise NotReady(f"NAT gateway {id} is being deleted", retry_after=5.0)
