"""Amazon EC2 security groups: `aws_security_group`, with its rules managed exclusively.

Rules are sets of grants (one source each); they are normalised so that rules written in any
order or grouping, and a fresh read, compare equal. See `ec2.py` for how EC2 objects are found
again after an interrupted create.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field

from mlform.providers.aws.base import tags_all_field, tags_field, user_tags
from mlform.providers.aws.ec2 import Ec2Resource, Ipv4Cidr, Ipv6Cidr, unless_unset
from mlform.providers.aws.errors import aws_call
from mlform.providers.base import (
    ArgsModel,
    AttrsModel,
    ForceNew,
    Timeouts,
)

# How the API names protocols given by number; "all" is Terraform's spelling of -1.
PROTOCOL_NAMES = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6", "all": "-1"}
PORTED = frozenset({"tcp", "udp", "icmp", "icmpv6"})  # AWS ignores the ports of any other


def _protocol(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return value  # left for validation to refuse
    value = value.strip().lower()
    return PROTOCOL_NAMES.get(value, value)


def _as_set(values: list[str]) -> list[str]:
    return sorted(set(values))


class SecurityGroupRuleBlock(ArgsModel):
    from_port: int = Field(ge=-1, le=65535, description="Start port (ICMP: type, -1 for all).")
    to_port: int = Field(ge=-1, le=65535, description="End port (ICMP: code, -1 for all).")
    protocol: Annotated[str, BeforeValidator(_protocol, json_schema_input_type=str | int)] = Field(
        description="`tcp`, `udp`, `icmp`, `icmpv6`, a protocol number, or `-1` for all "
                    "(other protocols have no ports: they read back as 0).")
    cidr_blocks: Annotated[list[Ipv4Cidr], AfterValidator(_as_set)] = Field(
        default_factory=list, description="IPv4 CIDR blocks.")
    ipv6_cidr_blocks: Annotated[list[Ipv6Cidr], AfterValidator(_as_set)] = Field(
        default_factory=list, description="IPv6 CIDR blocks.")
    prefix_list_ids: Annotated[list[str], AfterValidator(_as_set)] = Field(
        default_factory=list, description="Managed prefix list ids.")
    security_groups: Annotated[list[str], AfterValidator(_as_set)] = Field(
        default_factory=list,
        description="Security group ids (`<account>/<id>` for another account's group).")
    self: bool = Field(False, description="The security group itself is a source.")
    description: str = Field("", max_length=255, description="Description of the rule.")


SOURCES = ("cidr_blocks", "ipv6_cidr_blocks", "prefix_list_ids", "security_groups")
# Rules are a set of grants of one source each; AWS identifies a grant without its description.
Grant = tuple[str, int, int, str, str]  # protocol, from_port, to_port, source kind, source


def _grants(rule: SecurityGroupRuleBlock) -> Iterator[Grant]:
    head = (rule.protocol, rule.from_port, rule.to_port)
    yield from ((*head, kind, source) for kind in SOURCES for source in getattr(rule, kind))
    if rule.self:
        yield (*head, "self", "")


def _canonical_rules(rules: list[SecurityGroupRuleBlock]) -> list[SecurityGroupRuleBlock]:
    """The same grants however written: one block per protocol, ports and description (each
    grant has its own description), sorted, so that rules in any order or grouping and a
    fresh read compare equal."""
    blocks: dict[tuple[str, int, int, str], dict[str, Any]] = {}
    described: dict[Grant, str] = {}
    for written in rules:
        if not any(getattr(written, kind) for kind in SOURCES) and not written.self:
            raise ValueError(f"a {written.protocol} rule for ports {written.from_port}-"
                             f"{written.to_port} needs a source: {', '.join(SOURCES)} or self")
        rule = (written if written.protocol in PORTED
                else written.model_copy(update={"from_port": 0, "to_port": 0}))
        for grant in _grants(rule):
            if described.setdefault(grant, rule.description) != rule.description:
                raise ValueError(f"{grant[3]} {grant[4]} is given twice for {grant[0]} ports "
                                 f"{grant[1]}-{grant[2]}, with different descriptions")
        block = blocks.setdefault(
            (rule.protocol, rule.from_port, rule.to_port, rule.description),
            {**rule.model_dump(include={"protocol", "from_port", "to_port", "description"}),
             "self": False, **{kind: [] for kind in SOURCES}})
        for kind in SOURCES:
            block[kind] += getattr(rule, kind)
        block["self"] = block["self"] or rule.self
    return [SecurityGroupRuleBlock.model_validate(blocks[key]) for key in sorted(blocks)]


SecurityGroupRules = Annotated[list[SecurityGroupRuleBlock], AfterValidator(_canonical_rules)]


class SecurityGroupArgs(ArgsModel):
    name: Annotated[str, ForceNew()] = Field(
        min_length=1, max_length=255,
        description="Group name (default: <project>-<environment>-<resource name>).")
    description: Annotated[str, ForceNew()] = Field(
        "Managed by mlform", min_length=1, max_length=255,
        description="Group description (AWS cannot change it: use tags to classify groups).")
    vpc_id: Annotated[str | None, ForceNew()] = Field(
        None, description="The VPC of the group (default: the region's default VPC).")
    ingress: SecurityGroupRules = Field(
        default_factory=list, description="Inbound rules. Exclusive: any other is revoked.")
    egress: SecurityGroupRules = Field(
        default_factory=list, description="Outbound rules. Exclusive: any other is revoked, "
        "AWS's default allow-all rule included, as Terraform does.")
    revoke_rules_on_delete: bool = Field(
        False, description="Revoke every rule before deleting the group (breaks cycles of "
                           "groups referencing each other).")
    tags: dict[str, str] = tags_field("security group")


class SecurityGroupAttrs(AttrsModel):
    arn: str
    owner_id: str = Field(description="The AWS account that owns the group.")
    tags_all: dict[str, str] = tags_all_field()


# (argument, IpPermission field, key of its value) of each kind of source but groups.
RANGES = (("cidr_blocks", "IpRanges", "CidrIp"), ("ipv6_cidr_blocks", "Ipv6Ranges", "CidrIpv6"),
          ("prefix_list_ids", "PrefixListIds", "PrefixListId"))
DIRECTIONS = (("Ingress", "ingress", "IpPermissions"), ("Egress", "egress", "IpPermissionsEgress"))


def _live_grants(live: Mapping[str, Any], key: str) -> dict[Grant, tuple[str, dict[str, Any]]]:
    """Each grant of a described group's `key` permissions: (its description, the permission
    that revokes exactly it, as described: the sandbox matches source groups by description)."""
    found = {}
    for perm in live.get(key) or []:
        protocol = _protocol(perm["IpProtocol"])
        ports = (perm.get("FromPort", 0), perm.get("ToPort", 0)) if protocol in PORTED else (0, 0)
        head = {k: perm[k] for k in ("IpProtocol", "FromPort", "ToPort") if k in perm}
        for kind, field, value_key in RANGES:
            for item in perm.get(field) or []:
                found[(protocol, *ports, kind, item[value_key])] = (
                    item.get("Description", ""), {**head, field: [item]})
        for pair in perm.get("UserIdGroupPairs") or []:
            group, user = pair["GroupId"], pair.get("UserId", live["OwnerId"])
            source = ("self", "") if group == live["GroupId"] else (
                "security_groups", group if user == live["OwnerId"] else f"{user}/{group}")
            bare = {k: pair[k] for k in ("GroupId", "UserId", "Description") if k in pair}
            found[(protocol, *ports, *source)] = (pair.get("Description", ""),
                                                  {**head, "UserIdGroupPairs": [bare]})
    return found


def _permission(grant: Grant, description: str, group_id: str) -> dict[str, Any]:
    protocol, from_port, to_port, kind, source = grant
    perm: dict[str, Any] = {"IpProtocol": protocol, "FromPort": from_port, "ToPort": to_port}
    item = {"Description": description} if description else {}
    perm.update({field: [{value_key: source, **item}]
                 for name, field, value_key in RANGES if name == kind})
    if kind in ("self", "security_groups"):
        user, _, group = source.rpartition("/")
        perm["UserIdGroupPairs"] = [
            {"GroupId": group or group_id, **({"UserId": user} if user else {}), **item}]
    return perm


class SecurityGroup(Ec2Resource[SecurityGroupArgs]):
    type_name = "aws_security_group"
    Args = SecurityGroupArgs
    Attrs = SecurityGroupAttrs
    kind, noun, id_key, id_filter = "security-group", "SecurityGroup", "GroupId", "group-id"
    missing = ("InvalidGroup.NotFound", "InvalidGroupId.Malformed")
    name_max_len = 255
    exists_codes = frozenset({"InvalidGroup.Duplicate"})
    timeouts = Timeouts(create=600.0, update=600.0, delete=900.0)

    def _create(self, args: SecurityGroupArgs, tags: list[dict[str, Any]]) -> str:
        vpc = {"VpcId": args.vpc_id} if args.vpc_id else {}
        return str(self.once.create_security_group(
            GroupName=args.name, Description=args.description, TagSpecifications=tags,
            **vpc)["GroupId"])

    def existing(self, args: SecurityGroupArgs) -> dict[str, Any] | None:
        """The group of that name in the same VPC (names are unique per VPC)."""
        vpc = args.vpc_id
        if vpc is None:
            with aws_call("ec2", "DescribeVpcs"):
                default = self.client.describe_vpcs(
                    Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
            if not default:
                return None
            vpc = default[0]["VpcId"]
        filters = [{"Name": "group-name", "Values": [args.name]},
                   {"Name": "vpc-id", "Values": [vpc]}]
        with aws_call("ec2", "DescribeSecurityGroups"):
            found = list(self._described(Filters=filters))
        return self._attributes(found[0], args.model_dump(mode="json")) if found else None

    def _described(self, **params: Any) -> Iterator[dict[str, Any]]:
        pages = self.client.get_paginator("describe_security_groups").paginate(**params)
        yield from (found for page in pages for found in page["SecurityGroups"])

    def _rule_calls(self, direction: str) -> tuple[Callable[..., Any], Callable[..., Any],
                                                   Callable[..., Any]]:
        """The calls that authorize, describe and revoke rules of `direction`."""
        ec2 = self.client
        if direction == "Ingress":
            return (ec2.authorize_security_group_ingress,
                    ec2.update_security_group_rule_descriptions_ingress,
                    ec2.revoke_security_group_ingress)
        return (ec2.authorize_security_group_egress,
                ec2.update_security_group_rule_descriptions_egress,
                ec2.revoke_security_group_egress)

    def _converge(self, id: str, live: Mapping[str, Any], args: SecurityGroupArgs) -> None:
        for direction, arg, key in DIRECTIONS:
            authorize, describe, revoke = self._rule_calls(direction)
            have = _live_grants(live, key)
            want = {grant: rule.description for rule in getattr(args, arg)
                    for grant in _grants(rule)}
            # Granted before the rest is revoked, so that traffic allowed before and after never
            # stops; a new description is changed in place, for the same reason.
            changes = (
                (f"AuthorizeSecurityGroup{direction}", authorize,
                 [_permission(g, d, id) for g, d in want.items() if g not in have]),
                (f"UpdateSecurityGroupRuleDescriptions{direction}", describe,
                 [_permission(g, d, id) for g, d in want.items() if g in have and have[g][0] != d]),
                (f"RevokeSecurityGroup{direction}", revoke,
                 [perm for g, (_, perm) in have.items() if g not in want]))
            for operation, call, perms in changes:
                if perms:
                    with aws_call("ec2", operation):
                        call(GroupId=id, IpPermissions=perms)

    def _attributes(self, live: Mapping[str, Any], prior: Mapping[str, Any]) -> dict[str, Any]:
        rules: dict[str, list[dict[str, Any]]] = {}
        for _, arg, key in DIRECTIONS:
            rules[arg] = [{"protocol": protocol, "from_port": low, "to_port": high,
                           "description": text, **({"self": True} if kind == "self"
                                                   else {kind: [source]})}
                          for (protocol, low, high, kind, source), (text, _)
                          in _live_grants(live, key).items()]
        computed = self._computed(live, "security-group")
        args = SecurityGroupArgs.model_validate({
            **rules, "name": live["GroupName"], "description": live["Description"],
            "vpc_id": unless_unset("vpc_id", live.get("VpcId"), prior),
            "revoke_rules_on_delete": bool(prior.get("revoke_rules_on_delete", False)),
            "tags": user_tags(computed["tags_all"])})
        return self.attributes(args, **computed, owner_id=live["OwnerId"])

    def _delete(self, id: str, prior: Mapping[str, Any]) -> None:
        live = self._describe(id) if prior.get("revoke_rules_on_delete") else None
        for direction, _, key in DIRECTIONS if live else ():
            perms = [perm for _, perm in _live_grants(live or {}, key).values()]
            if perms:
                _, _, revoke = self._rule_calls(direction)
                revoke(GroupId=id, IpPermissions=perms)
        self.client.delete_security_group(GroupId=id)
