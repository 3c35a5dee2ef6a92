"""The VPC a component makes for itself: public and private subnets in two zones, a way out
per the `nat` setting, and VPC endpoints, with the addresses of the older shape kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlform.config.stack import load_stack
from tests.config.test_stack import problems

M = "module.tracking."


def expand(tmp_path: Path, settings: str = "") -> dict[str, Any]:
    path = tmp_path / "mlform.yaml"
    path.write_text("project: demo\ncomponents:\n  tracking:\n    type: experiment_tracker\n"
                    "    artifact_store: s3://demo-artifacts/mlflow\n" + settings)
    return {a[len(M):]: r.template for a, r in load_stack(path).resources.items()
            if a.startswith(M)}


def routes(made: dict[str, Any], table: str) -> list[dict[str, Any]]:
    return made[f"aws_route_table.{table}"]["route"]  # type: ignore[no-any-return]


def test_the_default_network_routes_private_subnets_through_one_nat(tmp_path: Path) -> None:
    made = expand(tmp_path)
    # The older shape's addresses stay, with the same CIDRs: nothing applied is replaced.
    assert made["aws_subnet.a"]["cidr_block"] == "10.43.0.0/20"
    assert made["aws_subnet.b"]["cidr_block"] == "10.43.16.0/20"
    assert {"aws_vpc.this", "aws_security_group.this"} <= set(made)
    assert made["aws_subnet.public_a"]["cidr_block"] == "10.43.32.0/20"
    assert routes(made, "public") == [{"cidr_block": "0.0.0.0/0", "gateway_id":
                                       f"${{{M}aws_internet_gateway.this.id}}"}]
    nat = f"${{{M}aws_nat_gateway.a.id}}"
    assert routes(made, "private_a") == routes(made, "private_b") == [
        {"cidr_block": "0.0.0.0/0", "nat_gateway_id": nat}]
    assert "aws_nat_gateway.b" not in made
    assert made["aws_nat_gateway.a"]["subnet_id"] == f"${{{M}aws_subnet.public_a.id}}"
    assert made["aws_route_table_association.private_b"] == {
        "subnet_id": f"${{{M}aws_subnet.b.id}}",
        "route_table_id": f"${{{M}aws_route_table.private_b.id}}"}
    # Workloads stay in the private subnets.
    service = made["aws_ecs_service.this"]["network_configuration"]
    assert service["subnets"] == [f"${{{M}aws_subnet.a.id}}", f"${{{M}aws_subnet.b.id}}"]
    assert made["aws_vpc_endpoint.s3"]["service_name"] == "com.amazonaws.us-east-1.s3"
    assert made["aws_vpc_endpoint.s3"]["route_table_ids"] == [
        f"${{{M}aws_route_table.private_a.id}}", f"${{{M}aws_route_table.private_b.id}}"]
    dkr = made["aws_vpc_endpoint.ecr_dkr"]
    assert (dkr["service_name"], dkr["vpc_endpoint_type"]) == (
        "com.amazonaws.us-east-1.ecr.dkr", "Interface")
    assert "aws_vpc_endpoint.ecr_api" in made and "aws_vpc_endpoint.sts" not in made


def test_per_az_nat_gives_each_zone_its_own_gateway(tmp_path: Path) -> None:
    made = expand(tmp_path, "    nat: per_az\n")
    assert routes(made, "private_b") == [{"cidr_block": "0.0.0.0/0", "nat_gateway_id":
                                          f"${{{M}aws_nat_gateway.b.id}}"}]
    assert made["aws_nat_gateway.b"]["allocation_id"] == f"${{{M}aws_eip.nat_b.id}}"


def test_no_nat_isolates_the_private_subnets(tmp_path: Path) -> None:
    made = expand(tmp_path, "    nat: none\n    endpoints: [s3, ecr, sts, logs]\n")
    assert routes(made, "private_a") == routes(made, "private_b") == []
    assert not [a for a in made if a.startswith(("aws_nat_gateway", "aws_eip"))]
    assert {"aws_vpc_endpoint.sts", "aws_vpc_endpoint.logs"} <= set(made)


def test_an_unknown_nat_mode_or_endpoint_is_named(tmp_path: Path) -> None:
    head = ("project: demo\ncomponents:\n  tracking:\n    type: experiment_tracker\n"
            "    artifact_store: s3://a/b\n")
    assert "nat" in " ".join(problems(tmp_path, head + "    nat: two\n"))
    assert "endpoints" in " ".join(problems(tmp_path, head + "    endpoints: [dynamo]\n"))
