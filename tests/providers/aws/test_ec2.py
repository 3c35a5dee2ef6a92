from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from mlform.engine.calls import call_with_wait
from mlform.engine.plan import resolve_args
from mlform.errors import NotReady, ProviderError
from mlform.providers.aws.ec2 import Subnet, Vpc
from mlform.providers.aws.ec2_security_group import SecurityGroup
from mlform.providers.base import ResourceMeta, StackContext
from mlform.providers.schema import force_new_fields
from tests.providers.aws.contract import check_contract

ALL_TRAFFIC = {"from_port": 0, "to_port": 0, "protocol": "-1", "cidr_blocks": ["0.0.0.0/0"]}


def meta(ctx: StackContext, address: str) -> ResourceMeta:
    return ResourceMeta(address, ctx)


@pytest.fixture
def vpc(aws_session: Any, stack_context: StackContext) -> Iterator[dict[str, Any]]:
    """A VPC made through mlform, deleted after the test (its subnets and groups first)."""
    rt = Vpc(aws_session)
    attrs = rt.create(Vpc.Args.model_validate({"cidr_block": "10.20.0.0/16"}),
                      meta(stack_context, "aws_vpc.main"))
    yield attrs
    ec2 = aws_session.client("ec2")
    in_vpc = [{"Name": "vpc-id", "Values": [attrs["id"]]}]
    for subnet in ec2.describe_subnets(Filters=in_vpc)["Subnets"]:
        ec2.delete_subnet(SubnetId=subnet["SubnetId"])
    for group in ec2.describe_security_groups(Filters=in_vpc)["SecurityGroups"]:
        if group["GroupName"] != "default":
            ec2.delete_security_group(GroupId=group["GroupId"])
    rt.delete(attrs["id"], attrs)


@pytest.fixture
def ec2_calls(aws_session: Any) -> Iterator[list[str]]:
    """The EC2 operations mlform calls during the test, in order."""
    calls: list[str] = []

    def record(model: Any, **_: Any) -> None:
        calls.append(model.name)

    events = aws_session.client("ec2").meta.events
    events.register("before-call.ec2", record, unique_id="test-ec2-calls")
    yield calls
    events.unregister("before-call.ec2", unique_id="test-ec2-calls")


class FakeHttp:
    status_code = 400
    headers: dict[str, str] = {}


def no_change(rtype: type[Any], config: dict[str, Any], live: dict[str, Any]) -> list[str]:
    """The arguments a plan of `config` against the state `live` would show as changed."""
    args = resolve_args(rtype, config, {}, "test", None)
    return [f for f in rtype.Args.model_fields if args.get(f) != live.get(f)]


# -- aws_vpc -----------------------------------------------------------------------------------


def test_vpc_contract(aws_session: Any, stack_context: StackContext, boto: Any) -> None:
    attrs = check_contract(
        Vpc, aws_session, stack_context,
        create={"cidr_block": "10.10.0.0/16", "tags": {"Name": "main"}},
        update={"cidr_block": "10.10.0.0/16", "enable_dns_hostnames": True,
                "tags": {"team": "ml"}},
    )
    assert attrs["id"].startswith("vpc-")
    assert attrs["arn"] == f"arn:aws:ec2:us-east-1:123456789012:vpc/{attrs['id']}"
    assert attrs["enable_dns_support"] is True
    assert attrs["enable_dns_hostnames"] is True
    assert attrs["default_security_group_id"].startswith("sg-")
    assert attrs["main_route_table_id"].startswith("rtb-")
    assert not boto("ec2").describe_vpcs(
        Filters=[{"Name": "vpc-id", "Values": [attrs["id"]]}])["Vpcs"]


def test_vpc_dns_flags_change_in_a_valid_order(
    aws_session: Any, stack_context: StackContext, boto: Any
) -> None:
    rt, m = Vpc(aws_session), meta(stack_context, "aws_vpc.dns")
    both = Vpc.Args.model_validate({"cidr_block": "10.11.0.0/16", "enable_dns_hostnames": True})
    attrs = rt.create(both, m)
    assert (attrs["enable_dns_support"], attrs["enable_dns_hostnames"]) == (True, True)
    neither = both.model_copy(update={"enable_dns_support": False, "enable_dns_hostnames": False})
    attrs = rt.update(attrs["id"], attrs, neither, m)
    live = boto("ec2").describe_vpc_attribute(VpcId=attrs["id"], Attribute="enableDnsSupport")
    assert live["EnableDnsSupport"]["Value"] is False
    assert (attrs["enable_dns_support"], attrs["enable_dns_hostnames"]) == (False, False)
    rt.delete(attrs["id"], attrs)


def test_vpc_cidr_must_be_a_network() -> None:
    with pytest.raises(ValidationError, match="host bits set"):
        Vpc.Args.model_validate({"cidr_block": "10.0.0.1/16"})
    with pytest.raises(ValidationError, match="not an IPv4"):
        Vpc.Args.model_validate({"cidr_block": "fd00::/56"})
    assert {"cidr_block", "instance_tenancy"} == force_new_fields(Vpc.Args)


def test_find_locates_a_vpc_by_its_tags_after_its_create_result_was_lost(
    aws_session: Any, stack_context: StackContext
) -> None:
    m = meta(stack_context, "aws_vpc.lost")
    args = Vpc.Args.model_validate({"cidr_block": "10.12.0.0/16", "tags": {"Name": "lost"}})
    Vpc(aws_session).create(args, m)  # the engine crashed before recording the result
    fresh = Vpc(aws_session)  # a new run
    found = fresh.find(args, m)
    assert found is not None
    assert found == fresh.read(found["id"], found)
    assert found["tags"] == {"Name": "lost"} and found["cidr_block"] == "10.12.0.0/16"
    # Another address, another stack, or different replace-forcing arguments (the object a
    # create-before-destroy replacement is replacing) are not what creating `args` made.
    assert fresh.find(args, meta(stack_context, "aws_vpc.other")) is None
    assert fresh.find(args, meta(StackContext("other", "x"), "aws_vpc.lost")) is None
    assert fresh.find(args.model_copy(update={"cidr_block": "10.13.0.0/16"}), m) is None
    with pytest.raises(ProviderError, match="AWS assigns the id"):
        fresh.id_for(args)
    fresh.delete(found["id"], found)
    assert fresh.find(args, m) is None


def test_create_called_again_after_not_ready_finishes_the_same_vpc(
    aws_session: Any, stack_context: StackContext, boto: Any
) -> None:
    """AWS is eventually consistent: a VPC just made may not be described yet."""
    m = meta(stack_context, "aws_vpc.slow")
    args = Vpc.Args.model_validate({"cidr_block": "10.15.0.0/16", "enable_dns_hostnames": True})
    unseen = {"Error": {"Code": "InvalidVpcID.NotFound", "Message": "not yet"}}
    answers = [(FakeHttp(), unseen)]

    def not_yet(params: dict[str, Any], **_: Any) -> Any:
        by_id = "VpcId.1" in params["body"]
        return answers.pop() if by_id and answers else None

    rt, events = Vpc(aws_session), aws_session.client("ec2").meta.events
    events.register("before-call.ec2.DescribeVpcs", not_yet, unique_id="test-not-yet")
    try:
        with pytest.raises(NotReady, match="not available yet"):
            rt.create(args, m)
    finally:
        events.unregister("before-call.ec2.DescribeVpcs", unique_id="test-not-yet")
    attrs = rt.create(args, m)  # what the engine does after NotReady
    assert attrs["enable_dns_hostnames"] is True
    tagged = boto("ec2").describe_vpcs(Filters=[
        {"Name": "tag:mlform:address", "Values": ["aws_vpc.slow"]},
        {"Name": "tag:mlform:stack", "Values": [stack_context.stack]}])["Vpcs"]
    assert [v["VpcId"] for v in tagged] == [attrs["id"]]  # one VPC, not two
    rt.delete(attrs["id"], attrs)


def test_find_refuses_to_choose_between_two_tagged_vpcs(
    aws_session: Any, stack_context: StackContext
) -> None:
    m = meta(stack_context, "aws_vpc.twice")
    args = Vpc.Args.model_validate({"cidr_block": "10.14.0.0/16"})
    first, second = Vpc(aws_session).create(args, m), Vpc(aws_session).create(args, m)
    with pytest.raises(ProviderError, match=r"2 vpcs are tagged for aws_vpc\.twice"):
        Vpc(aws_session).find(args, m)
    for attrs in (first, second):
        Vpc(aws_session).delete(attrs["id"], attrs)


def test_deleting_a_vpc_that_still_has_a_subnet_waits_then_fails_with_the_clouds_message(
    aws_session: Any, stack_context: StackContext, vpc: dict[str, Any]
) -> None:
    subnet = Subnet(aws_session).create(
        Subnet.Args.model_validate({"vpc_id": vpc["id"], "cidr_block": "10.20.1.0/24"}),
        meta(stack_context, "aws_subnet.left"))
    rt = Vpc(aws_session)
    # Transient on AWS while dependants are being deleted: the engine waits and calls again.
    with pytest.raises(NotReady, match=r"DeleteVpc: DependencyViolation: .*has dependencies"):
        rt.delete(vpc["id"], vpc)
    # Until the timeout, when the cloud's message is the error.
    with pytest.raises(ProviderError, match=r"timed out .* DependencyViolation") as caught:
        call_with_wait(lambda: rt.delete(vpc["id"], vpc), timeout=1.0)
    assert vpc["id"] in caught.value.message
    assert rt.read(vpc["id"], vpc) == vpc
    Subnet(aws_session).delete(subnet["id"], subnet)
    rt.delete(vpc["id"], vpc)
    assert rt.read(vpc["id"], vpc) is None


def test_read_of_missing_objects_is_none(aws_session: Any) -> None:
    assert Vpc(aws_session).read("vpc-0123456789abcdef0", {}) is None
    assert Subnet(aws_session).read("subnet-0123456789abcdef0", {}) is None
    assert SecurityGroup(aws_session).read("sg-0123456789abcdef0", {}) is None


# -- aws_subnet --------------------------------------------------------------------------------


def test_subnet_contract(
    aws_session: Any, stack_context: StackContext, vpc: dict[str, Any]
) -> None:
    base = {"vpc_id": vpc["id"], "cidr_block": "10.20.2.0/24", "availability_zone": "us-east-1b"}
    attrs = check_contract(
        Subnet, aws_session, stack_context,
        create={**base, "tags": {"tier": "private"}},
        update={**base, "map_public_ip_on_launch": True, "tags": {"tier": "public"}},
    )
    assert attrs["id"].startswith("subnet-")
    assert attrs["arn"].endswith(f":subnet/{attrs['id']}")
    assert attrs["availability_zone_id"] == "use1-az1"


def test_vpc_with_two_subnets_in_two_zones(
    aws_session: Any, stack_context: StackContext, vpc: dict[str, Any], boto: Any
) -> None:
    zones = boto("ec2").describe_availability_zones()["AvailabilityZones"][:2]
    rt = Subnet(aws_session)
    made = [rt.create(Subnet.Args.model_validate({
        "vpc_id": vpc["id"], "cidr_block": f"10.20.{10 + i}.0/24",
        "availability_zone": zone["ZoneName"]}), meta(stack_context, f"aws_subnet.s{i}"))
        for i, zone in enumerate(zones)]
    assert [(s["availability_zone"], s["availability_zone_id"]) for s in made] == [
        (z["ZoneName"], z["ZoneId"]) for z in zones]
    assert {s["vpc_id"] for s in made} == {vpc["id"]}
    live = boto("ec2").describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["id"]]}])
    assert {s["SubnetId"] for s in live["Subnets"]} == {s["id"] for s in made}
    assert all(s["map_public_ip_on_launch"] is False for s in made)
    for subnet in made:
        rt.delete(subnet["id"], subnet)


def test_subnet_without_a_zone_reads_back_without_a_change(
    aws_session: Any, stack_context: StackContext, vpc: dict[str, Any], boto: Any
) -> None:
    config = {"vpc_id": vpc["id"], "cidr_block": "10.20.3.0/24"}
    rt = Subnet(aws_session)
    attrs = rt.create(Subnet.Args.model_validate(config), meta(stack_context, "aws_subnet.any"))
    live = boto("ec2").describe_subnets(SubnetIds=[attrs["id"]])["Subnets"][0]
    assert attrs["availability_zone"] is None  # as configured; AWS picked one:
    assert attrs["availability_zone_id"] == live["AvailabilityZoneId"] != ""
    again = rt.read(attrs["id"], attrs)
    assert again == attrs
    assert no_change(Subnet, config, again) == []
    # Someone who asks for a zone gets it compared: naming another one replaces the subnet.
    assert no_change(Subnet, {**config, "availability_zone": "us-east-1c"},
                     again) == ["availability_zone"]
    # Without a recorded argument (an adopted subnet) the live zone is reported.
    assert rt.read(attrs["id"], {})["availability_zone"] == live["AvailabilityZone"]
    rt.delete(attrs["id"], attrs)


# -- aws_security_group ------------------------------------------------------------------------


def test_security_group_contract(
    aws_session: Any, stack_context: StackContext, vpc: dict[str, Any], uid: str
) -> None:
    base = {"name": f"web-{uid}", "description": "web servers", "vpc_id": vpc["id"]}
    https = {"from_port": 443, "to_port": 443, "protocol": "tcp", "cidr_blocks": ["10.0.0.0/8"]}
    attrs = check_contract(
        SecurityGroup, aws_session, stack_context,
        create={**base, "ingress": [https], "tags": {"tier": "web"}},
        update={**base, "ingress": [{**https, "description": "TLS"},
                                    {**https, "from_port": 80, "to_port": 80}],
                "egress": [ALL_TRAFFIC], "revoke_rules_on_delete": True,
                "tags": {"tier": "edge"}},
    )
    assert attrs["id"].startswith("sg-")
    assert attrs["owner_id"] == "123456789012"
    assert attrs["arn"].endswith(f":security-group/{attrs['id']}")


def test_security_group_default_name_and_description(stack_context: StackContext) -> None:
    defaults = SecurityGroup.default_args(stack_context, "web")
    args = SecurityGroup.Args.model_validate(defaults)
    assert args.name == f"test-{stack_context.environment}-web"
    assert args.description == "Managed by mlform"
    assert args.vpc_id is None and args.egress == []


@pytest.fixture
def group(aws_session: Any, stack_context: StackContext, vpc: dict[str, Any],
          uid: str) -> Iterator[tuple[SecurityGroup, dict[str, Any], ResourceMeta]]:
    rt, m = SecurityGroup(aws_session), meta(stack_context, "aws_security_group.app")
    config = {"name": f"app-{uid}", "vpc_id": vpc["id"], "ingress": [
        {"from_port": 22, "to_port": 22, "protocol": "tcp", "cidr_blocks": ["10.0.0.0/8"],
         "description": "ssh"},
        {"from_port": 443, "to_port": 443, "protocol": "tcp", "self": True,
         "cidr_blocks": ["192.168.0.0/16", "172.16.0.0/12"]}]}
    attrs = rt.create(SecurityGroup.Args.model_validate(config), m)
    yield rt, {**attrs, "config": config}, m
    rt.delete(attrs["id"], attrs)


def ingress_of(boto: Any, group_id: str) -> list[dict[str, Any]]:
    return list(boto("ec2").describe_security_groups(
        GroupIds=[group_id])["SecurityGroups"][0]["IpPermissions"])


def test_security_group_rules_changed_reordered_and_revoked(
    group: tuple[SecurityGroup, dict[str, Any], ResourceMeta], boto: Any,
    aws_session: Any, stack_context: StackContext, uid: str, vpc: dict[str, Any],
) -> None:
    rt, attrs, m = group
    config = attrs.pop("config")
    assert [(r["from_port"], r["cidr_blocks"], r["self"]) for r in attrs["ingress"]] == [
        (22, ["10.0.0.0/8"], False), (443, ["172.16.0.0/12", "192.168.0.0/16"], True)]
    assert attrs["egress"] == []  # AWS's default allow-all egress was revoked
    assert boto("ec2").describe_security_groups(
        GroupIds=[attrs["id"]])["SecurityGroups"][0]["IpPermissionsEgress"] == []

    # Changed: a source and a description, and a rule from another group.
    other = SecurityGroup(aws_session).create(SecurityGroup.Args.model_validate(
        {"name": f"lb-{uid}", "vpc_id": vpc["id"]}), meta(stack_context, "aws_security_group.lb"))
    changed = {**config, "ingress": [
        {"from_port": 22, "to_port": 22, "protocol": "tcp", "cidr_blocks": ["10.0.0.0/8"],
         "description": "admin ssh"},
        {"from_port": 443, "to_port": 443, "protocol": "6", "self": True,
         "cidr_blocks": ["192.168.0.0/16"], "security_groups": [other["id"]]}]}
    attrs = rt.update(attrs["id"], attrs, SecurityGroup.Args.model_validate(changed), m)
    assert [(r["description"], r["cidr_blocks"], r["security_groups"])
            for r in attrs["ingress"]] == [("admin ssh", ["10.0.0.0/8"], []),
                                           ("", ["192.168.0.0/16"], [other["id"]])]
    assert rt.read(attrs["id"], attrs) == attrs
    # A new description on a rule from another group is changed in place, and a removed one
    # is cleared.
    described = {**changed, "ingress": [{**changed["ingress"][0], "description": ""}, {
        "from_port": 443, "to_port": 443, "protocol": "tcp", "security_groups": [other["id"]],
        "description": "from the load balancer"}, {**changed["ingress"][1],
                                                   "security_groups": []}]}
    attrs = rt.update(attrs["id"], attrs, SecurityGroup.Args.model_validate(described), m)
    assert [(r["description"], r["security_groups"]) for r in attrs["ingress"]] == [
        ("", []), ("", []), ("from the load balancer", [other["id"]])]
    assert rt.read(attrs["id"], attrs) == attrs

    # Reordered, regrouped and respelled: the same rules, so no change.
    reordered = {**described, "ingress": [
        {"from_port": 443, "to_port": 443, "protocol": "TCP", "cidr_blocks": ["192.168.0.0/16"]},
        {"from_port": 443, "to_port": 443, "protocol": 6, "self": True},
        described["ingress"][1],
        {"from_port": 22, "to_port": 22, "protocol": "tcp", "cidr_blocks": ["10.0.0.0/8"]}]}
    assert no_change(SecurityGroup, reordered, attrs) == []

    # Revoked: every inbound rule.
    attrs = rt.update(attrs["id"], attrs,
                      SecurityGroup.Args.model_validate({**config, "ingress": []}), m)
    assert attrs["ingress"] == []
    assert ingress_of(boto, attrs["id"]) == []
    SecurityGroup(aws_session).delete(other["id"], other)


def test_out_of_band_ingress_shows_up_in_read(
    group: tuple[SecurityGroup, dict[str, Any], ResourceMeta], boto: Any
) -> None:
    rt, attrs, m = group
    config = attrs.pop("config")
    boto("ec2").authorize_security_group_ingress(GroupId=attrs["id"], IpPermissions=[
        {"IpProtocol": "udp", "FromPort": 53, "ToPort": 53,
         "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "dns"}]}])
    live = rt.read(attrs["id"], attrs)
    assert live is not None
    added = [r for r in live["ingress"] if r["protocol"] == "udp"]
    assert added == [{"from_port": 53, "to_port": 53, "protocol": "udp",
                      "cidr_blocks": ["0.0.0.0/0"], "ipv6_cidr_blocks": [],
                      "prefix_list_ids": [], "security_groups": [], "self": False,
                      "description": "dns"}]
    assert no_change(SecurityGroup, config, live) == ["ingress"]
    # Rules are managed exclusively: applying the configuration again revokes it.
    attrs = rt.update(attrs["id"], live, SecurityGroup.Args.model_validate(config), m)
    assert [r for r in attrs["ingress"] if r["protocol"] == "udp"] == []
    assert all(p["IpProtocol"] == "tcp" for p in ingress_of(boto, attrs["id"]))


def test_security_group_egress_kept_when_configured(
    aws_session: Any, stack_context: StackContext, vpc: dict[str, Any], uid: str, boto: Any
) -> None:
    rt = SecurityGroup(aws_session)
    config = {"name": f"out-{uid}", "vpc_id": vpc["id"],
              "egress": [{**ALL_TRAFFIC, "from_port": 0, "to_port": 65535, "protocol": "all"}]}
    attrs = rt.create(SecurityGroup.Args.model_validate(config),
                      meta(stack_context, "aws_security_group.out"))
    # -1 ignores ports: they read back as 0, as the configuration is normalised.
    assert attrs["egress"] == [{**ALL_TRAFFIC, "ipv6_cidr_blocks": [], "prefix_list_ids": [],
                                "security_groups": [], "self": False, "description": ""}]
    assert no_change(SecurityGroup, config, attrs) == []
    live = boto("ec2").describe_security_groups(GroupIds=[attrs["id"]])["SecurityGroups"][0]
    assert [r["IpRanges"] for r in live["IpPermissionsEgress"]] == [[{"CidrIp": "0.0.0.0/0"}]]
    rt.delete(attrs["id"], attrs)


def test_security_group_in_the_default_vpc_reads_back_without_a_change(
    aws_session: Any, stack_context: StackContext, uid: str, boto: Any
) -> None:
    rt = SecurityGroup(aws_session)
    config = {"name": f"dflt-{uid}"}
    attrs = rt.create(SecurityGroup.Args.model_validate(config),
                      meta(stack_context, "aws_security_group.dflt"))
    assert attrs["vpc_id"] is None
    assert no_change(SecurityGroup, config, rt.read(attrs["id"], attrs) or {}) == []
    default_vpc = boto("ec2").describe_vpcs(
        Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    assert (rt.read(attrs["id"], {}) or {})["vpc_id"] == default_vpc
    rt.delete(attrs["id"], attrs)


def test_revoke_rules_on_delete_revokes_before_deleting(
    aws_session: Any, stack_context: StackContext, vpc: dict[str, Any], uid: str,
    ec2_calls: list[str], boto: Any,
) -> None:
    rt = SecurityGroup(aws_session)
    made = []
    for name in ("a", "b"):  # two groups that allow each other: a cycle
        made.append(rt.create(SecurityGroup.Args.model_validate(
            {"name": f"{name}-{uid}", "vpc_id": vpc["id"], "revoke_rules_on_delete": True}),
            meta(stack_context, f"aws_security_group.{name}")))
    a, b = made
    for one, other in ((a, b), (b, a)):
        boto("ec2").authorize_security_group_ingress(GroupId=one["id"], IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
             "UserIdGroupPairs": [{"GroupId": other["id"]}]}])
    ec2_calls.clear()
    rt.delete(a["id"], a)
    assert ec2_calls == ["DescribeSecurityGroups", "RevokeSecurityGroupIngress",
                         "DeleteSecurityGroup"]
    ec2_calls.clear()
    rt.delete(b["id"], {**b, "revoke_rules_on_delete": False})
    assert ec2_calls == ["DeleteSecurityGroup"]


def test_security_group_failing_rule_leaves_a_partial_group(
    aws_session: Any, stack_context: StackContext, vpc: dict[str, Any], uid: str
) -> None:
    rt, m = SecurityGroup(aws_session), meta(stack_context, "aws_security_group.bad")
    args = SecurityGroup.Args.model_validate({"name": f"bad-{uid}", "vpc_id": vpc["id"],
        "ingress": [{"from_port": 1, "to_port": 1, "protocol": "tcp",
                     "security_groups": ["sg-0123456789abcdef0"]}]})
    with pytest.raises(ProviderError, match="AuthorizeSecurityGroupIngress") as caught:
        rt.create(args, m)
    partial = caught.value.partial
    assert partial is not None and str(partial["id"]).startswith("sg-")
    assert rt.find(args, m) is not None  # the group exists, tagged: recorded, then replaced
    rt.delete(str(partial["id"]), partial)


def test_rules_are_normalised_as_sets() -> None:
    def ingress(*rules: dict[str, Any]) -> list[dict[str, Any]]:
        args = SecurityGroup.Args.model_validate({"name": "x", "ingress": list(rules)})
        return list(args.model_dump(mode="json")["ingress"])

    tcp = {"from_port": 80, "to_port": 80, "protocol": "tcp"}
    merged = ingress({**tcp, "cidr_blocks": ["10.0.0.0/8"]},
                     {**tcp, "protocol": "6", "cidr_blocks": ["192.168.0.0/16", "10.0.0.0/8"]},
                     {**tcp, "description": "b", "ipv6_cidr_blocks": ["FD00:0::/8"]})
    assert [(r["cidr_blocks"], r["ipv6_cidr_blocks"], r["description"]) for r in merged] == [
        (["10.0.0.0/8", "192.168.0.0/16"], [], ""), ([], ["fd00::/8"], "b")]
    assert ingress({"from_port": 5, "to_port": 9, "protocol": 50, "self": True})[0][
        "from_port"] == 0  # only tcp, udp, icmp and icmpv6 have ports
    with pytest.raises(ValidationError, match="needs a source"):
        ingress(tcp)
    with pytest.raises(ValidationError, match="different descriptions"):
        ingress({**tcp, "self": True}, {**tcp, "self": True, "description": "again"})
    with pytest.raises(ValidationError, match="not an IPv4"):
        ingress({**tcp, "cidr_blocks": ["::/0"]})


def test_sandbox_changes_rule_descriptions_as_aws_does(boto: Any, vpc: dict[str, Any],
                                                       uid: str) -> None:
    """moto_patches: moto matched a rule from a group by its old description (so it never
    changed it) and could not remove a description."""
    ec2 = boto("ec2")
    group, other = (ec2.create_security_group(GroupName=f"{n}-{uid}", Description="d",
                                              VpcId=vpc["id"])["GroupId"] for n in ("g", "o"))
    rule = {"IpProtocol": "tcp", "FromPort": 1, "ToPort": 2}

    def described() -> list[tuple[str, str]]:
        perm = ingress_of(boto, group)[0]
        return [(p["GroupId"], p.get("Description", "-")) for p in perm["UserIdGroupPairs"]] + [
            (r["CidrIp"], r.get("Description", "-")) for r in perm["IpRanges"]]

    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[{**rule,
        "UserIdGroupPairs": [{"GroupId": other, "Description": "old"}],
        "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "old"}]}])
    ec2.update_security_group_rule_descriptions_ingress(GroupId=group, IpPermissions=[{**rule,
        "UserIdGroupPairs": [{"GroupId": other, "Description": "new"}],
        "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])
    assert described() == [(other, "new"), ("10.0.0.0/8", "-")]
    ec2.update_security_group_rule_descriptions_ingress(GroupId=group, IpPermissions=[{**rule,
        "UserIdGroupPairs": [{"GroupId": other}]}])
    assert described() == [(other, "-"), ("10.0.0.0/8", "-")]
    for one in (group, other):
        ec2.delete_security_group(GroupId=one)
