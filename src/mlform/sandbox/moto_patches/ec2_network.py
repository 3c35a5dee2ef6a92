"""What the sandbox adds to moto for EC2's routing objects (security groups: `ec2.py`).

- NAT gateways: moto makes them `available` at once and `deleted` at once. AWS takes a minute
  or two each way (`pending`, then `available`; `deleting`, then `deleted`), and mlform waits
  for both: a NAT gateway's routes are useless before it is available, and its subnet and
  address cannot be deleted before it is gone. Here each state shows once, on the next
  describe, so the waits are exercised without slowing tests. Deleting also frees the elastic
  IP and the network interface, as AWS does (moto kept both, so the subnet could never empty),
  and deleting an unknown id is `NatGatewayNotFound` instead of a server error. Describe
  honours tag filters (moto ignored them and returned every gateway).
- VPC endpoints: moto accepts any service name; AWS refuses one it does not offer in the
  region (`InvalidServiceName`), which is how a typo such as `com.amazonaws.us-east-1.ecr-dkr`
  fails on AWS. An interface endpoint without security groups gets the VPC's default group,
  and a gateway endpoint reports private DNS off, as on AWS. Route tables added to or
  removed from a gateway endpoint get or lose its route (moto only routed those given at
  create, and deleting the endpoint then failed on the route it never added).
"""

from __future__ import annotations

from typing import Any


def patch_ec2_network() -> None:
    from moto.ec2.exceptions import EC2ClientError
    from moto.ec2.models.nat_gateways import NatGatewayBackend

    if getattr(NatGatewayBackend, "_mlform_patched", False):
        return

    create_nat, describe_nat = (NatGatewayBackend.create_nat_gateway,
                                NatGatewayBackend.describe_nat_gateways)

    def create_nat_gateway(self: Any, *args: Any, **kwargs: Any) -> Any:
        nat = create_nat(self, *args, **kwargs)
        nat.state = "pending"
        return nat

    def describe_nat_gateways(self: Any, filters: Any, nat_gateway_ids: Any) -> Any:
        found = describe_nat(self, filters, nat_gateway_ids)
        for name, values in (filters or {}).items():
            if name.startswith("tag:"):
                key = name[4:]
                found = [n for n in found
                         if {t["key"]: t["value"] for t in n.get_tags()}.get(key) in values]
        # Shown in their transitional state once; the next describe sees the next state.
        shown = [_copy_state(n) for n in found]
        for nat in found:
            nat.state = {"pending": "available", "deleting": "deleted"}.get(nat.state,
                                                                           nat.state)
        return shown

    def delete_nat_gateway(self: Any, nat_gateway_id: str) -> Any:
        nat = self.nat_gateways.get(nat_gateway_id)
        if nat is None:
            raise EC2ClientError("NatGatewayNotFound",
                                 f"The Nat Gateway {nat_gateway_id} was not found")
        if nat.state in ("deleting", "deleted"):
            return nat
        for address in nat.address_set:
            if address.get("associationId"):
                self.disassociate_address(association_id=address["associationId"])
        self.enis.pop(nat._eni.id, None)
        nat.state = "deleting"
        return nat

    setattr(NatGatewayBackend, "create_nat_gateway", create_nat_gateway)  # noqa: B010
    setattr(NatGatewayBackend, "describe_nat_gateways", describe_nat_gateways)  # noqa: B010
    setattr(NatGatewayBackend, "delete_nat_gateway", delete_nat_gateway)  # noqa: B010
    setattr(NatGatewayBackend, "_mlform_patched", True)  # noqa: B010
    _patch_endpoints()


def _patch_endpoints() -> None:
    from moto.ec2.exceptions import InvalidServiceName
    from moto.ec2.models.vpcs import VPCBackend

    create_endpoint = VPCBackend.create_vpc_endpoint

    def create_vpc_endpoint(self: Any, vpc_id: str, service_name: str,
                            endpoint_type: str | None, *args: Any, **kwargs: Any) -> Any:
        offered = {s["ServiceName"] for s in self._collect_default_endpoint_services(
            self.account_id, self.region_name)}
        offered |= {c.to_dict()["ServiceName"] for c in self.configurations.values()}
        if service_name not in offered:
            raise InvalidServiceName(service_name)
        interface = (endpoint_type or "").lower() == "interface"
        if interface and not kwargs.get("security_group_ids"):
            group = self.get_default_security_group(vpc_id)
            kwargs["security_group_ids"] = [group.id] if group else []
        endpoint = create_endpoint(self, vpc_id, service_name, endpoint_type, *args, **kwargs)
        if not interface:
            endpoint.private_dns_enabled = False
        return endpoint

    modify_endpoint = VPCBackend.modify_vpc_endpoint

    def modify_vpc_endpoint(self: Any, vpc_id: str, *args: Any, **kwargs: Any) -> Any:
        endpoint = self.describe_vpc_endpoints(vpc_end_point_ids=[vpc_id])[0]
        before = set(endpoint.route_table_ids or [])
        modify_endpoint(self, vpc_id, *args, **kwargs)
        prefix_list = endpoint.destination_prefix_list_id
        if prefix_list:
            after = set(endpoint.route_table_ids or [])
            for table in sorted(after - before):
                self.create_route(table, None, gateway_id=endpoint.id,
                                  destination_prefix_list_id=prefix_list)
            for table in sorted(before - after):
                self.delete_route(table, prefix_list)

    setattr(VPCBackend, "modify_vpc_endpoint", modify_vpc_endpoint)  # noqa: B010
    setattr(VPCBackend, "create_vpc_endpoint", create_vpc_endpoint)  # noqa: B010


def _copy_state(nat: Any) -> Any:
    """A view of `nat` that keeps the state it has now (the response is rendered later)."""

    class Shown:
        def __init__(self) -> None:
            self.__dict__["_nat"], self.__dict__["state"] = nat, nat.state

        def __getattr__(self, name: str) -> Any:
            return getattr(self._nat, name)

    return Shown()
