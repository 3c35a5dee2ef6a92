"""Cost rules of the routing types: what bills by the hour (NAT gateways, interface endpoints
per zone, public IPv4 addresses) and what is free."""

from __future__ import annotations

from typing import Any

import pytest

from mlform.cost.catalog import PriceCatalog, load_catalog
from mlform.cost.estimate import FREE, PRICED, UNKNOWN_COST, Res, estimate
from mlform.values import UNKNOWN

R = "us-east-1"
CATALOG = PriceCatalog([{
    "format": 1, "sources": {"t": {"name": "test prices", "date": "2026-11-01"}},
    "prices": {"vpc": {R: {"nat_gateway": [0.05, "t"], "interface_endpoint": [0.01, "t"],
                           "public_ipv4": [0.005, "t"]}}},
}])


def cost(res: Res, region: str = R, catalog: PriceCatalog = CATALOG) -> Any:
    return estimate({res.address: res}, catalog, region)[res.address]


def test_nat_gateway_bills_hours_and_says_data_is_extra() -> None:
    c = cost(Res("aws_nat_gateway.n", "aws_nat_gateway", {"subnet_id": UNKNOWN}))
    assert (c.kind, c.desired) == (PRICED, pytest.approx(0.05 * 730))
    assert "each GB" in c.note


def test_interface_endpoints_bill_per_subnet_and_gateway_endpoints_are_free() -> None:
    dkr = cost(Res("aws_vpc_endpoint.d", "aws_vpc_endpoint", {
        "vpc_endpoint_type": "Interface", "subnet_ids": [UNKNOWN, UNKNOWN]}))
    assert dkr.desired == pytest.approx(2 * 0.01 * 730)
    s3 = cost(Res("aws_vpc_endpoint.s", "aws_vpc_endpoint", {"vpc_endpoint_type": "Gateway"}))
    assert s3.kind == FREE


def test_every_public_address_bills_and_routing_is_free() -> None:
    eip = cost(Res("aws_eip.e", "aws_eip", {"domain": "vpc"}))
    assert eip.desired == pytest.approx(0.005 * 730)
    for kind in ("aws_internet_gateway", "aws_route_table", "aws_route_table_association",
                 "aws_security_group_rule"):
        assert cost(Res(f"{kind}.x", kind, {})).kind == FREE


def test_the_shipped_catalog_prices_a_nat_gateway_in_us_east_1_only_where_sourced() -> None:
    shipped = load_catalog()
    nat = Res("aws_nat_gateway.n", "aws_nat_gateway", {})
    assert cost(nat, catalog=shipped).desired == pytest.approx(0.045 * 730)
    assert cost(nat, "eu-west-1", shipped).kind == UNKNOWN_COST
