"""The small VPC a component makes for itself when it is not given subnets: two subnets in
two availability zones and a security group. It has no route to the internet yet (no internet
or NAT gateway): on AWS, components are usually given the subnets of an existing network."""

from __future__ import annotations

import ipaddress
from typing import Any

from mlform.components.base import ExpandContext, Expansion


def private_network(out: Expansion, ctx: ExpandContext, cidr: str, tags: dict[str, str],
                    ingress: list[dict[str, Any]], purpose: str) -> tuple[list[str], str]:
    """Add the VPC, subnets and security group; return (subnet id refs, group id ref)."""
    out.add("aws_vpc.this", cidr_block=cidr, enable_dns_support=True,
            enable_dns_hostnames=True, tags=tags)
    vpc = ctx.ref("aws_vpc.this", "id")
    network = ipaddress.ip_network(cidr)
    halves = list(network.subnets(new_prefix=min(network.prefixlen + 4, 28)))
    zones = ctx.availability_zones()
    subnets = []
    for i, suffix in enumerate(("a", "b")):
        args: dict[str, Any] = {"vpc_id": vpc, "cidr_block": str(halves[i]), "tags": tags}
        if zones:
            args["availability_zone"] = zones[i % len(zones)]
        out.add(f"aws_subnet.{suffix}", **args)
        subnets.append(ctx.ref(f"aws_subnet.{suffix}", "id"))
    out.add("aws_security_group.this", description=purpose, vpc_id=vpc, ingress=ingress,
            egress=[{"from_port": 0, "to_port": 0, "protocol": "-1",
                     "cidr_blocks": ["0.0.0.0/0"], "description": "all out"}],
            tags=tags)
    return subnets, ctx.ref("aws_security_group.this", "id")
