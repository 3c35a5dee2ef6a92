"""The VPC a component makes for itself when it is not given subnets: one that works on AWS.

Two availability zones, each with a private subnet (workloads: nodes, tasks, databases) and a
public one (the NAT gateway, and later public load balancers). Public subnets route to an
internet gateway; private ones to a NAT gateway (`nat: single`, one for both zones, the cheap
default; `per_az`, one per zone, so losing a zone never cuts the other off; `none`, no way out
at all). An S3 gateway endpoint (free) sits on the private route tables, and interface
endpoints (ECR, STS, CloudWatch Logs: billed per hour and zone) in the private subnets, so
GPU nodes pull images without the NAT's per-GB charge, or with `nat: none` at all.

Addresses that predate this shape are kept: `aws_vpc.this`, the private subnets `aws_subnet.a`
and `.b` (the same CIDRs as before: the first two sixteenths of the VPC) and
`aws_security_group.this`, so an applied stack gains the new objects without replacing any.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field

from mlform.components.base import ExpandContext, Expansion

Nat = Literal["single", "per_az", "none"]
Endpoint = Literal["s3", "ecr", "sts", "logs"]
# Interface endpoints each setting makes, by the service's name in `com.amazonaws.<region>.`.
INTERFACE = {"ecr": ("ecr.api", "ecr.dkr"), "sts": ("sts",), "logs": ("logs",)}
ZONES = ("a", "b")


def nat_field() -> Any:
    return Field("single", description=(
        "NAT gateways of the VPC made without subnet_ids: `single` (one, in the first zone; "
        "the cheapest), `per_az` (one per zone: a zone's outage never cuts the other off), or "
        "`none` (isolated: no route to the internet; nodes then reach AWS only through VPC "
        "endpoints, so `endpoints` must list every service they use, and nothing else, "
        "such as Docker Hub or PyPI, is reachable)."))


def endpoints_field() -> Any:
    return Field(default_factory=lambda: ["s3", "ecr"], description=(
        "VPC endpoints of the VPC made without subnet_ids: `s3` (a gateway endpoint, free), "
        "`ecr` (ECR's api and dkr interface endpoints: image pulls skip the NAT's per-GB "
        "charge), `sts`, `logs`. Interface endpoints bill per hour in each of the two zones."))


@dataclass(frozen=True)
class Network:
    """References to what `private_network` made."""

    vpc: str
    private_subnets: list[str]  # where workloads go
    public_subnets: list[str]  # the NAT gateways; public load balancers
    security_group: str


def private_network(out: Expansion, ctx: ExpandContext, cidr: str, tags: dict[str, str],
                    ingress: list[dict[str, Any]], purpose: str, nat: Nat = "single",
                    endpoints: list[Endpoint] | None = None) -> Network:
    """Add the VPC, its subnets, gateways, routes, endpoints and security group."""
    endpoints = ["s3", "ecr"] if endpoints is None else endpoints
    out.add("aws_vpc.this", cidr_block=cidr, enable_dns_support=True,
            enable_dns_hostnames=True, tags=tags)
    vpc = ctx.ref("aws_vpc.this", "id")
    network = ipaddress.ip_network(cidr)
    blocks = list(network.subnets(new_prefix=min(network.prefixlen + 4, 28)))
    zones = ctx.availability_zones()
    private, public = [], []
    for i, zone in enumerate(ZONES):
        where = {"availability_zone": zones[i % len(zones)]} if zones else {}
        out.add(f"aws_subnet.{zone}", vpc_id=vpc, cidr_block=str(blocks[i]),
                tags={**tags, "Name": f"{ctx.name}-private-{zone}"}, **where)
        out.add(f"aws_subnet.public_{zone}", vpc_id=vpc, cidr_block=str(blocks[2 + i]),
                tags={**tags, "Name": f"{ctx.name}-public-{zone}"}, **where)
        private.append(ctx.ref(f"aws_subnet.{zone}", "id"))
        public.append(ctx.ref(f"aws_subnet.public_{zone}", "id"))

    out.add("aws_internet_gateway.this", vpc_id=vpc, tags=tags)
    out.add("aws_route_table.public", vpc_id=vpc, tags={**tags, "Name": f"{ctx.name}-public"},
            route=[{"cidr_block": "0.0.0.0/0",
                    "gateway_id": ctx.ref("aws_internet_gateway.this", "id")}])
    nats = {"single": ZONES[:1], "per_az": ZONES, "none": ()}[nat]
    for zone in nats:
        out.add(f"aws_eip.nat_{zone}", domain="vpc", tags=tags)
        gateway = out.add(f"aws_nat_gateway.{zone}", tags=tags,
                          subnet_id=ctx.ref(f"aws_subnet.public_{zone}", "id"),
                          allocation_id=ctx.ref(f"aws_eip.nat_{zone}", "id"))
        # Its subnet routes to the internet gateway first, or the gateway is of no use.
        gateway.depends_on.append(f"aws_route_table_association.public_{zone}")
    for zone in ZONES:
        out.add(f"aws_route_table_association.public_{zone}",
                subnet_id=ctx.ref(f"aws_subnet.public_{zone}", "id"),
                route_table_id=ctx.ref("aws_route_table.public", "id"))
        via = zone if zone in nats else (nats[0] if nats else None)
        routes = [{"cidr_block": "0.0.0.0/0",
                   "nat_gateway_id": ctx.ref(f"aws_nat_gateway.{via}", "id")}] if via else []
        out.add(f"aws_route_table.private_{zone}", vpc_id=vpc, route=routes,
                tags={**tags, "Name": f"{ctx.name}-private-{zone}"})
        out.add(f"aws_route_table_association.private_{zone}",
                subnet_id=ctx.ref(f"aws_subnet.{zone}", "id"),
                route_table_id=ctx.ref(f"aws_route_table.private_{zone}", "id"))

    out.add("aws_security_group.this", description=purpose, vpc_id=vpc, ingress=ingress,
            egress=[{"from_port": 0, "to_port": 0, "protocol": "-1",
                     "cidr_blocks": ["0.0.0.0/0"], "description": "all out"}],
            tags=tags)
    _endpoints(out, ctx, cidr, tags, endpoints)
    return Network(vpc, private, public, ctx.ref("aws_security_group.this", "id"))


def _endpoints(out: Expansion, ctx: ExpandContext, cidr: str, tags: dict[str, str],
               wanted: list[Endpoint]) -> None:
    vpc, region = ctx.ref("aws_vpc.this", "id"), ctx.stack.region
    if "s3" in wanted:
        out.add("aws_vpc_endpoint.s3", vpc_id=vpc, service_name=f"com.amazonaws.{region}.s3",
                vpc_endpoint_type="Gateway", tags=tags,
                route_table_ids=[ctx.ref(f"aws_route_table.private_{z}", "id") for z in ZONES])
    services = [s for kind in wanted for s in INTERFACE.get(kind, ())]
    if not services:
        return
    out.add("aws_security_group.endpoints", description=f"VPC endpoints of {ctx.name}",
            vpc_id=vpc, tags=tags,
            ingress=[{"from_port": 443, "to_port": 443, "protocol": "tcp",
                      "cidr_blocks": [cidr], "description": "HTTPS from the VPC"}])
    for service in services:
        out.add(f"aws_vpc_endpoint.{service.replace('.', '_')}", vpc_id=vpc,
                service_name=f"com.amazonaws.{region}.{service}",
                vpc_endpoint_type="Interface", private_dns_enabled=True, tags=tags,
                subnet_ids=[ctx.ref(f"aws_subnet.{z}", "id") for z in ZONES],
                security_group_ids=[ctx.ref("aws_security_group.endpoints", "id")])
