"""Routing: `aws_route_table` (its routes managed exclusively, changed in place) and
`aws_route_table_association`.

A route table's `route` list is the routes mlform manages; two kinds of route are AWS's and
are never compared or removed: the VPC's `local` route, and the prefix-list routes a gateway
VPC endpoint adds to the tables it is given (the endpoint owns those, as in Terraform).
An association has no tags: it is found again by its subnet (a subnet has one association at
most) and imported as `<subnet id>/<route table id>`, Terraform's import id.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, Field, model_validator

from mlform.providers.aws.base import AwsResource, tags_all_field, tags_field, user_tags
from mlform.providers.aws.ec2 import Ec2Resource, Ipv4Cidr, Ipv6Cidr
from mlform.providers.aws.errors import aws_call, error_code, translate
from mlform.providers.base import (
    ArgsModel,
    AttrsModel,
    Discovered,
    ForceNew,
    ResourceMeta,
    Timeouts,
)

# (argument, API field) of a route's destination, and of its target.
DESTINATIONS = (("cidr_block", "DestinationCidrBlock"),
                ("ipv6_cidr_block", "DestinationIpv6CidrBlock"),
                ("destination_prefix_list_id", "DestinationPrefixListId"))
TARGETS = (("gateway_id", "GatewayId"), ("nat_gateway_id", "NatGatewayId"),
           ("vpc_endpoint_id", "VpcEndpointId"), ("network_interface_id", "NetworkInterfaceId"),
           ("transit_gateway_id", "TransitGatewayId"),
           ("vpc_peering_connection_id", "VpcPeeringConnectionId"),
           ("egress_only_gateway_id", "EgressOnlyInternetGatewayId"))


class RouteBlock(ArgsModel):
    cidr_block: Ipv4Cidr | None = Field(None, description="IPv4 destination (`0.0.0.0/0`: "
                                                          "the internet).")
    ipv6_cidr_block: Ipv6Cidr | None = Field(None, description="IPv6 destination.")
    destination_prefix_list_id: str | None = Field(None, description="Managed prefix list "
                                                                     "destination.")
    gateway_id: str | None = Field(None, description="An internet (or virtual private) "
                                                     "gateway.")
    nat_gateway_id: str | None = Field(None, description="A NAT gateway.")
    vpc_endpoint_id: str | None = Field(None, description="A Gateway Load Balancer endpoint.")
    network_interface_id: str | None = Field(None, description="A network interface.")
    transit_gateway_id: str | None = Field(None, description="A transit gateway.")
    vpc_peering_connection_id: str | None = Field(None, description="A VPC peering connection.")
    egress_only_gateway_id: str | None = Field(None, description="An egress-only internet "
                                                                 "gateway (IPv6).")

    @model_validator(mode="after")
    def _one_each(self) -> RouteBlock:
        given = [name for name, _ in DESTINATIONS if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("a route needs exactly one destination: cidr_block, "
                             "ipv6_cidr_block or destination_prefix_list_id")
        targets = [name for name, _ in TARGETS if getattr(self, name) is not None]
        if len(targets) != 1:
            raise ValueError(f"the route to {self.destination} needs exactly one target "
                             f"({', '.join(n for n, _ in TARGETS)}), not {len(targets)}")
        return self

    @property
    def destination(self) -> str:
        return next(str(getattr(self, n)) for n, _ in DESTINATIONS if getattr(self, n))


def _by_destination(routes: list[RouteBlock]) -> list[RouteBlock]:
    seen: set[str] = set()
    for route in routes:
        if route.destination in seen:
            raise ValueError(f"two routes to {route.destination}")
        seen.add(route.destination)
    return sorted(routes, key=lambda r: r.destination)


class RouteTableArgs(ArgsModel):
    vpc_id: Annotated[str, ForceNew()] = Field(description="The VPC of the route table.")
    route: Annotated[list[RouteBlock], AfterValidator(_by_destination)] = Field(
        default_factory=list, description="Routes (exclusive: any other is removed, but for "
        "the VPC's local route and those gateway VPC endpoints add).")
    tags: dict[str, str] = tags_field("route table")


class RouteTableAttrs(AttrsModel):
    arn: str
    owner_id: str = Field(description="The AWS account that owns the route table.")
    tags_all: dict[str, str] = tags_all_field()


def _managed_routes(live: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The live routes the `route` argument manages, by destination, as arguments."""
    found = {}
    for route in live.get("Routes") or []:
        gateway = route.get("GatewayId") or ""
        if (route.get("Origin") != "CreateRoute" or gateway == "local"
                or gateway.startswith("vpce-")):
            continue
        block = {name: route[field] for name, field in DESTINATIONS + TARGETS if route.get(field)}
        if not any(name in block for name, _ in TARGETS):
            continue  # its target is gone (a blackhole route with only an instance id)
        found[RouteBlock.model_validate(block).destination] = block
    return found


def _route_params(block: Mapping[str, Any]) -> dict[str, Any]:
    return {field: block[name] for name, field in DESTINATIONS + TARGETS if block.get(name)}


class RouteTable(Ec2Resource[RouteTableArgs]):
    type_name = "aws_route_table"
    Args = RouteTableArgs
    Attrs = RouteTableAttrs
    kind, noun, id_key, id_filter = "route-table", "RouteTable", "RouteTableId", "route-table-id"
    missing = ("InvalidRouteTableID.NotFound", "InvalidRouteTableId.Malformed")
    timeouts = Timeouts(create=300.0, update=120.0, delete=300.0)

    def _described(self, **params: Any) -> Iterator[dict[str, Any]]:
        pages = self.client.get_paginator("describe_route_tables").paginate(**params)
        yield from (found for page in pages for found in page["RouteTables"])

    def _create(self, args: RouteTableArgs, tags: list[dict[str, Any]]) -> str:
        return str(self.once.create_route_table(
            VpcId=args.vpc_id, TagSpecifications=tags)["RouteTable"]["RouteTableId"])

    def _converge(self, id: str, live: Mapping[str, Any], args: RouteTableArgs) -> None:
        have = _managed_routes(live)
        want = {r.destination: r.model_dump(exclude_none=True) for r in args.route}
        # Replaced in place, so traffic to a destination never finds no route.
        for destination, block in want.items():
            if destination not in have:
                with aws_call("ec2", "CreateRoute"):
                    self.client.create_route(RouteTableId=id, **_route_params(block))
            elif have[destination] != block:
                with aws_call("ec2", "ReplaceRoute"):
                    self.client.replace_route(RouteTableId=id, **_route_params(block))
        for destination, block in have.items():
            if destination not in want:
                dest = {f: v for f, v in _route_params(block).items()
                        if f in dict(DESTINATIONS).values()}
                with aws_call("ec2", "DeleteRoute"):
                    self.client.delete_route(RouteTableId=id, **dest)

    def _attributes(self, live: Mapping[str, Any], prior: Mapping[str, Any]) -> dict[str, Any]:
        computed = self._computed(live, "route-table")
        args = RouteTableArgs.model_validate({
            "vpc_id": live["VpcId"], "route": list(_managed_routes(live).values()),
            "tags": user_tags(computed["tags_all"])})
        return self.attributes(args, **computed, owner_id=live["OwnerId"])

    def _delete(self, id: str, prior: Mapping[str, Any]) -> None:
        self.client.delete_route_table(RouteTableId=id)

    def list(self) -> Iterator[Discovered]:
        """Every route table but each VPC's main one, which AWS made with the VPC."""
        with aws_call("ec2", "DescribeRouteTables"):
            for live in self._described():
                if any(a.get("Main") for a in live.get("Associations") or []):
                    continue
                yield Discovered(id=live["RouteTableId"],
                                 tags={t["Key"]: t["Value"] for t in live.get("Tags") or []})


# -- aws_route_table_association ---------------------------------------------------------------


class RouteTableAssociationArgs(ArgsModel):
    subnet_id: Annotated[str | None, ForceNew()] = Field(
        None, description="The subnet to route with the table (this or gateway_id).")
    gateway_id: Annotated[str | None, ForceNew()] = Field(
        None, description="An internet or virtual private gateway to route with the table "
                          "(edge association; this or subnet_id).")
    route_table_id: str = Field(description="The route table (changing it re-associates the "
                                            "subnet in place, without a moment unrouted).")

    @model_validator(mode="after")
    def _one_target(self) -> RouteTableAssociationArgs:
        if (self.subnet_id is None) == (self.gateway_id is None):
            raise ValueError("give exactly one of subnet_id and gateway_id")
        return self


class RouteTableAssociationAttrs(AttrsModel):
    pass


# Describe filters on associations, and the association field each compares.
ASSOCIATION_FIELDS = {"association.route-table-association-id": "RouteTableAssociationId",
                      "association.subnet-id": "SubnetId", "association.gateway-id": "GatewayId"}


class RouteTableAssociation(AwsResource[RouteTableAssociationArgs]):
    type_name = "aws_route_table_association"
    Args = RouteTableAssociationArgs
    Attrs = RouteTableAssociationAttrs
    service = "ec2"
    timeouts = Timeouts(create=300.0, update=300.0, delete=300.0)
    missing = frozenset({"InvalidAssociationID.NotFound", "InvalidRouteTableID.NotFound"})

    def _associations(self, **filters: str) -> Iterator[dict[str, Any]]:
        params = {"Filters": [{"Name": k, "Values": [v]} for k, v in filters.items()]}
        with aws_call("ec2", "DescribeRouteTables"):
            pages = self.client.get_paginator("describe_route_tables").paginate(**params)
            for page in pages:
                for table in page["RouteTables"]:
                    # The filters pick tables: each of their associations is checked again.
                    for assoc in table.get("Associations") or []:
                        state = (assoc.get("AssociationState") or {}).get("State", "associated")
                        if (not assoc.get("Main") and state in ("associated", "associating")
                                and all(assoc.get(ASSOCIATION_FIELDS[k]) == v
                                        for k, v in filters.items())):
                            yield assoc

    def _as_attrs(self, assoc: Mapping[str, Any]) -> dict[str, Any]:
        args = RouteTableAssociationArgs.model_validate({
            "subnet_id": assoc.get("SubnetId"), "gateway_id": assoc.get("GatewayId"),
            "route_table_id": assoc["RouteTableId"]})
        return self.attributes(args, id=assoc["RouteTableAssociationId"])

    def read(self, id: str, prior: Mapping[str, Any]) -> dict[str, Any] | None:
        if "/" in id:  # the import id: <subnet or gateway id>/<route table id>
            target, _, table = id.partition("/")
            key = "association.gateway-id" if target.startswith(("igw-", "vgw-")) \
                else "association.subnet-id"
            found = [a for a in self._associations(**{key: target})
                     if a["RouteTableId"] == table]
        else:
            found = list(self._associations(**{"association.route-table-association-id": id}))
        return self._as_attrs(found[0]) if found else None

    def id_for(self, args: RouteTableAssociationArgs) -> str:
        return f"{args.subnet_id or args.gateway_id}/{args.route_table_id}"

    def find(self, args: Any, meta: ResourceMeta) -> dict[str, Any] | None:
        return self.read(self.id_for(args), {})

    def create(self, args: RouteTableAssociationArgs, meta: ResourceMeta) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        target = ({"SubnetId": args.subnet_id} if args.subnet_id
                  else {"GatewayId": args.gateway_id})
        try:
            self.client.associate_route_table(RouteTableId=args.route_table_id, **target)
        except ClientError as exc:
            # Called again after a lost answer, or the association is there already: ours.
            if error_code(exc) != "Resource.AlreadyAssociated" or self.find(args, meta) is None:
                raise translate(exc, "AssociateRouteTable") from exc
        return self.read_back(self.id_for(args), {})

    def update(self, id: str, prior: Mapping[str, Any], args: RouteTableAssociationArgs,
               meta: ResourceMeta) -> dict[str, Any]:
        if prior.get("route_table_id") != args.route_table_id:
            with aws_call("ec2", "ReplaceRouteTableAssociation"):
                self.client.replace_route_table_association(
                    AssociationId=id, RouteTableId=args.route_table_id)
        return self.read_back(self.id_for(args), {})

    def delete(self, id: str, prior: Mapping[str, Any]) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.disassociate_route_table(AssociationId=id)
        except ClientError as exc:
            if error_code(exc) not in self.missing:
                raise translate(exc, "DisassociateRouteTable") from exc

    def list(self) -> Iterator[Discovered]:
        for assoc in self._associations():
            target = assoc.get("SubnetId") or assoc.get("GatewayId")
            yield Discovered(id=assoc["RouteTableAssociationId"],
                             import_id=f"{target}/{assoc['RouteTableId']}")

