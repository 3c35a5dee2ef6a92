"""`aws_security_group_rule`: one rule of a security group, managed on its own.

Do not use it on a group whose `ingress`/`egress` an `aws_security_group` manages: that group
revokes every rule it does not list (Terraform has the same conflict). A rule has no id of its
own in AWS's older API, so its id is Terraform's import id, which names it completely:
`<group id>_<ingress|egress>_<protocol>_<from port>_<to port>_<source>[_<source>...]`, with
`self` for the group itself and `all` for protocol -1. Creating one that exists is no error:
it is adopted (with its description set), so a retried create is harmless.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from mlform.errors import ProviderError
from mlform.providers.aws.base import AwsResource
from mlform.providers.aws.ec2 import Ipv4Cidr, Ipv6Cidr
from mlform.providers.aws.ec2_security_group import (
    DIRECTIONS,
    PORTED,
    Grant,
    _live_grants,
    _permission,
    _protocol,
)
from mlform.providers.aws.errors import aws_call, error_code, translate
from mlform.providers.base import (
    ArgsModel,
    AttrsModel,
    Discovered,
    ForceNew,
    ResourceMeta,
    Timeouts,
)


def _as_set(values: list[str]) -> list[str]:
    return sorted(set(values))


class SecurityGroupRuleArgs(ArgsModel):
    type: Annotated[Literal["ingress", "egress"], ForceNew()] = Field(
        description="`ingress` (inbound) or `egress` (outbound).")
    security_group_id: Annotated[str, ForceNew()] = Field(description="The group of the rule.")
    from_port: Annotated[int, ForceNew()] = Field(ge=-1, le=65535, description="Start port "
                                                  "(ICMP: type, -1 for all).")
    to_port: Annotated[int, ForceNew()] = Field(ge=-1, le=65535, description="End port "
                                                "(ICMP: code, -1 for all).")
    protocol: Annotated[str, ForceNew(), BeforeValidator(_protocol,
                                                         json_schema_input_type=str | int)] = \
        Field(description="`tcp`, `udp`, `icmp`, `icmpv6`, a number, or `-1`/`all` for all.")
    cidr_blocks: Annotated[list[Ipv4Cidr], ForceNew(), AfterValidator(_as_set)] = Field(
        default_factory=list, description="IPv4 CIDR blocks.")
    ipv6_cidr_blocks: Annotated[list[Ipv6Cidr], ForceNew(), AfterValidator(_as_set)] = Field(
        default_factory=list, description="IPv6 CIDR blocks.")
    prefix_list_ids: Annotated[list[str], ForceNew(), AfterValidator(_as_set)] = Field(
        default_factory=list, description="Managed prefix list ids.")
    source_security_group_id: Annotated[str | None, ForceNew()] = Field(
        None, description="A security group as the source (ingress) or destination (egress).")
    self: Annotated[bool, ForceNew()] = Field(False, description="The group itself is the "
                                                                 "source.")
    description: str = Field("", max_length=255, description="Description of the rule "
                                                             "(changes in place).")

    @model_validator(mode="after")
    def _one_kind_of_source(self) -> SecurityGroupRuleArgs:
        kinds = [bool(self.cidr_blocks or self.ipv6_cidr_blocks or self.prefix_list_ids),
                 self.source_security_group_id is not None, self.self]
        if sum(kinds) != 1:
            raise ValueError("give one kind of source: cidr_blocks/ipv6_cidr_blocks/"
                             "prefix_list_ids, source_security_group_id, or self")
        if self.protocol not in PORTED and (self.from_port, self.to_port) != (0, 0):
            # AWS ignores the ports of other protocols and reads them back as 0.
            raise ValueError(f"protocol {self.protocol} has no ports: set from_port and "
                             "to_port to 0")
        return self


class SecurityGroupRuleAttrs(AttrsModel):
    pass


def _grants(args: SecurityGroupRuleArgs) -> list[Grant]:
    head = (args.protocol, args.from_port, args.to_port)
    grants: list[Grant] = [(*head, kind, source) for kind in
                           ("cidr_blocks", "ipv6_cidr_blocks", "prefix_list_ids")
                           for source in getattr(args, kind)]
    if args.source_security_group_id:
        grants.append((*head, "security_groups", args.source_security_group_id))
    if args.self:
        grants.append((*head, "self", ""))
    return grants


def rule_id(args: SecurityGroupRuleArgs) -> str:
    """Terraform's import id of the rule."""
    sources = [source or "self" for *_, source in _grants(args)]
    protocol = "all" if args.protocol == "-1" else args.protocol
    return "_".join([args.security_group_id, args.type, protocol, str(args.from_port),
                     str(args.to_port), *sources])


def parse_rule_id(id: str) -> dict[str, Any]:
    """The arguments an import id names (description aside)."""
    parts = id.split("_")
    if len(parts) < 6 or parts[1] not in ("ingress", "egress"):
        raise ProviderError(f"{id!r} is not a security group rule id: expected "
                          "<group id>_<ingress|egress>_<protocol>_<from>_<to>_<source>, as in "
                          "sg-0123_ingress_tcp_443_443_10.0.0.0/16")
    group, kind, protocol, low, high, *sources = parts
    args: dict[str, Any] = {"security_group_id": group, "type": kind, "protocol": protocol,
                            "from_port": int(low), "to_port": int(high)}
    for source in sources:
        if source == "self":
            args["self"] = True
        elif source.startswith("sg-") or "/sg-" in source:
            args["source_security_group_id"] = source
        elif source.startswith("pl-"):
            args.setdefault("prefix_list_ids", []).append(source)
        elif ":" in source:
            args.setdefault("ipv6_cidr_blocks", []).append(source)
        else:
            args.setdefault("cidr_blocks", []).append(source)
    return args


class SecurityGroupRule(AwsResource[SecurityGroupRuleArgs]):
    type_name = "aws_security_group_rule"
    # Discovery lists security groups with their rules inline; listing each rule again would
    # offer what the group already holds as objects of their own (`list` still serves import).
    discovered_with = "aws_security_group"
    Args = SecurityGroupRuleArgs
    Attrs = SecurityGroupRuleAttrs
    service = "ec2"
    timeouts = Timeouts(create=300.0, update=300.0, delete=300.0)

    def id_for(self, args: SecurityGroupRuleArgs) -> str:
        return rule_id(args)

    def _group(self, id: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            found = self.client.describe_security_groups(GroupIds=[id])["SecurityGroups"]
        except ClientError as exc:
            if error_code(exc) in ("InvalidGroup.NotFound", "InvalidGroupId.Malformed"):
                return None
            raise translate(exc, "DescribeSecurityGroups") from exc
        return found[0] if found else None

    def _grants_of(self, group: Mapping[str, Any], kind: str) -> dict[Grant, tuple[str, Any]]:
        key = {arg: perm for _, arg, perm in DIRECTIONS}[kind]
        return _live_grants(group, key)

    def read(self, id: str, prior: Mapping[str, Any]) -> dict[str, Any] | None:
        args = SecurityGroupRuleArgs.model_validate(parse_rule_id(id))
        group = self._group(args.security_group_id)
        if group is None:
            return None
        live = self._grants_of(group, args.type)
        wanted = _grants(args)
        if not all(grant in live for grant in wanted):
            return None
        args = args.model_copy(update={"description": live[wanted[0]][0]})
        return self.attributes(args, id=rule_id(args))

    def find(self, args: Any, meta: ResourceMeta) -> dict[str, Any] | None:
        return self.read(rule_id(args), {})

    def _call(self, args: SecurityGroupRuleArgs, verb: str) -> None:
        direction = "Ingress" if args.type == "ingress" else "Egress"
        operation = f"{verb}SecurityGroup{direction}" if verb != "Describe" else \
            f"UpdateSecurityGroupRuleDescriptions{direction}"
        call = getattr(self.client, {
            "Authorize": f"authorize_security_group_{args.type}",
            "Revoke": f"revoke_security_group_{args.type}",
            "Describe": f"update_security_group_rule_descriptions_{args.type}"}[verb])
        perms = [_permission(g, args.description, args.security_group_id)
                 for g in _grants(args)]
        with aws_call("ec2", operation):
            call(GroupId=args.security_group_id, IpPermissions=perms)

    def create(self, args: SecurityGroupRuleArgs, meta: ResourceMeta) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        try:
            self._call(args, "Authorize")
        except ProviderError as err:
            cause = err.__cause__
            if not (isinstance(cause, ClientError)
                    and error_code(cause) == "InvalidPermission.Duplicate"):
                raise
            self._call(args, "Describe")  # it exists: ours now, with our description
        return self.read_back(rule_id(args), {})

    def update(self, id: str, prior: Mapping[str, Any], args: SecurityGroupRuleArgs,
               meta: ResourceMeta) -> dict[str, Any]:
        self._call(args, "Describe")
        return self.read_back(rule_id(args), {})

    def delete(self, id: str, prior: Mapping[str, Any]) -> None:
        args = SecurityGroupRuleArgs.model_validate(parse_rule_id(id))
        if self.read(id, prior) is None:
            return
        self._call(args, "Revoke")

    def list(self) -> Iterator[Discovered]:
        """Each grant of every group but VPCs' `default` ones, by its one-source id."""
        with aws_call("ec2", "DescribeSecurityGroups"):
            pages = self.client.get_paginator("describe_security_groups").paginate()
            groups = [g for page in pages for g in page["SecurityGroups"]
                      if g.get("GroupName") != "default"]
        for group in groups:
            for _, kind, _ in DIRECTIONS:
                for protocol, low, high, _, source in self._grants_of(group, kind):
                    name = "all" if protocol == "-1" else protocol
                    yield Discovered(id="_".join([group["GroupId"], kind, name, str(low),
                                                  str(high), source or "self"]))
