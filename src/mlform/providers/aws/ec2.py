"""Amazon EC2 networking: `aws_vpc` and `aws_subnet` (security groups: `ec2_security_group.py`).

EC2 assigns the ids and none of these create calls takes a client token, so the object an
interrupted create made cannot be named from its arguments: it carries mlform's tags from its
create call on (TagSpecifications), and `find` looks it up by them. A create retried after
NotReady carries on with the object it made (remembered per address), never with one found by
tags: during a create-before-destroy replacement the old object carries the same tags.

For the same reason botocore must not retry a create call whose answer was lost (a 5xx, a
connection dropped after sending): the retry would make a second object. The create call is
made once (`AwsSession.client(retries=False)`); when its outcome is unknown, the object is
looked up by its tags, and made again only if two looks a moment apart find nothing.
"""

from __future__ import annotations

import ipaddress
from abc import abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import AfterValidator, Field

from mlform.errors import NotReady, ProviderError
from mlform.providers.aws.base import (
    TaggedResource,
    all_tags,
    tag_dict,
    tag_list,
    tags_all_field,
    tags_field,
    user_tags,
)
from mlform.providers.aws.errors import (
    aws_call,
    error_code,
    error_message,
    is_throttled,
    outcome_unknown,
    translate,
)
from mlform.providers.base import (
    TAG_ADDRESS,
    TAG_STACK,
    ArgsModel,
    AttrsModel,
    Discovered,
    ForceNew,
    Prefetching,
    ResourceMeta,
    Timeouts,
)
from mlform.providers.schema import force_new_fields


def _cidr(version: int) -> Callable[[str], str]:
    def check(value: str) -> str:
        try:
            network = ipaddress.ip_network(value.strip(), strict=True)
        except ValueError as exc:
            raise ValueError(f"not a CIDR block: {exc}") from None
        if network.version != version:
            raise ValueError(f"{value} is not an IPv{version} CIDR block")
        return str(network)  # as AWS spells it: IPv6 compressed, lower case
    return check


Ipv4Cidr = Annotated[str, AfterValidator(_cidr(4))]
Ipv6Cidr = Annotated[str, AfterValidator(_cidr(6))]
A = TypeVar("A", bound=ArgsModel)


class Ec2Resource(TaggedResource[A], Prefetching):
    """What the three types share: EC2 names its calls alike, and ids come from AWS."""

    service: ClassVar[str] = "ec2"
    kind: ClassVar[str]  # as TagSpecifications names the type
    noun: ClassVar[str]  # as the API names it (in messages): Describe<noun>s, Delete<noun>
    id_key: ClassVar[str]
    id_filter: ClassVar[str]  # the Describe filter on ids: vpc-id, subnet-id, group-id
    missing: ClassVar[tuple[str, ...]]  # the error codes of a missing object

    def __init__(self, session: Any) -> None:
        super().__init__(session)
        self._creating: dict[str, str] = {}  # address -> id, until its create returns
        # Addresses whose last create call's answer was lost and nothing was found by tags:
        # looked for once more before the call is made again.
        self._unsure: set[str] = set()

    @property
    def once(self) -> Any:
        """The EC2 client for create calls: it makes each call once (no botocore retry)."""
        return self.aws.client("ec2", retries=False)

    def id_for(self, args: A) -> str:
        raise ProviderError(f"{self.type_name}: AWS assigns the id at create time; the object "
                            "is found by mlform's tags instead")

    @abstractmethod
    def _create(self, args: A, tags: list[dict[str, Any]]) -> str:
        """Make the object with `tags` (TagSpecifications) through `self.once`; its id.
        Botocore's errors are left to `_create_once`."""

    @abstractmethod
    def _converge(self, id: str, live: Mapping[str, Any], args: A) -> None:
        """Change the object from `live` (as described) to `args`, tags aside."""

    @abstractmethod
    def _attributes(self, live: Mapping[str, Any], prior: Mapping[str, Any]) -> dict[str, Any]:
        """The attributes of a described object, `prior` giving what AWS does not store."""

    @abstractmethod
    def _delete(self, id: str, prior: Mapping[str, Any]) -> None:
        """The delete call (botocore errors are translated by `delete`)."""

    @abstractmethod
    def _described(self, **params: Any) -> Iterator[dict[str, Any]]:
        """Every object Describe<noun>s lists with `params`, all pages."""

    def _tag(self, ref: str, tags: Mapping[str, str]) -> None:
        with aws_call("ec2", "CreateTags"):
            self.client.create_tags(Resources=[ref], Tags=tag_list(tags))

    def _untag(self, ref: str, keys: Sequence[str]) -> None:
        with aws_call("ec2", "DeleteTags"):
            self.client.delete_tags(Resources=[ref], Tags=[{"Key": k} for k in keys])

    prefetch_min: ClassVar[int] = 2

    def prefetch(self, items: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        # A filter rather than the ids parameter: an id that no longer exists is left out
        # instead of failing the whole call (and is then read, and found missing, alone).
        ids = [id for id, _ in items]
        for start in range(0, len(ids), 100):
            filters = [{"Name": self.id_filter, "Values": ids[start:start + 100]}]
            for live in self._described(Filters=filters):
                self._prefetched[live[self.id_key]] = live

    def _describe(self, id: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        batched = self._take(id)
        if batched is not None:
            return dict(batched)

        try:
            found = list(self._described(**{f"{self.id_key}s": [id]}))
        except ClientError as exc:
            if error_code(exc) in self.missing:
                return None
            raise translate(exc, f"Describe{self.noun}s") from exc
        return found[0] if found else None

    def read(self, id: str, prior: Mapping[str, Any]) -> dict[str, Any] | None:
        live = self._describe(id)
        return None if live is None else self._attributes(live, prior)

    def create(self, args: A, meta: ResourceMeta) -> dict[str, Any]:
        tags = all_tags(args.tags, meta)  # type: ignore[attr-defined]
        id = self._creating.get(meta.address)
        if id is None:
            id = self._create_once(args, meta, [{"ResourceType": self.kind,
                                                 "Tags": tag_list(tags)}])
            self._creating[meta.address] = id
        try:
            live = self._describe(id)
            if live is None or live.get("State") == "pending":
                raise NotReady(f"{self.kind} {id} is not available yet", retry_after=1.0)
            attrs = self._update_live(id, live, args, meta)
        except ProviderError as err:
            self._creating.pop(meta.address, None)
            # The object exists: the engine records it (tainted) rather than orphan it.
            blank = dict.fromkeys(self.Attrs.model_fields, "")
            err.partial = err.partial or self.attributes(args, **{**blank, "id": id,
                                                                  "tags_all": tags})
            raise
        self._creating.pop(meta.address, None)
        return attrs

    def _create_once(self, args: A, meta: ResourceMeta, tags: list[dict[str, Any]]) -> str:
        """The id of the object the create call makes, made at most once (see the module
        docstring). A throttled call did nothing: NotReady, and the engine calls again."""
        from botocore.exceptions import BotoCoreError, ClientError

        operation = f"Create{self.noun}"
        if meta.address in self._unsure:
            self._unsure.discard(meta.address)
            found = self.find(args, meta)
            if found is not None:
                return str(found["id"])
        try:
            return self._create(args, tags)
        except (ClientError, BotoCoreError) as exc:
            if is_throttled(exc):
                raise NotReady(f"{operation}: {error_message(exc)}", retry_after=1.0) from None
            if self.already_exists(exc):
                return str(self.claim(args, meta, operation, exc)["id"])
            if not outcome_unknown(exc):
                raise translate(exc, operation) from exc
            found = self.find(args, meta)
            if found is not None:
                return str(found["id"])
            self._unsure.add(meta.address)
            raise NotReady(f"{operation}: no answer ({error_message(exc)}); looking for the "
                           f"{self.kind} by its tags once more before making another",
                           retry_after=2.0) from None

    def update(self, id: str, prior: Mapping[str, Any], args: A,
               meta: ResourceMeta) -> dict[str, Any]:
        live = self._describe(id)
        if live is None:
            raise ProviderError(f"{self.kind} {id} no longer exists; refresh and plan again")
        return self._update_live(id, live, args, meta)

    def _update_live(self, id: str, live: Mapping[str, Any], args: A,
                     meta: ResourceMeta) -> dict[str, Any]:
        # From the live object rather than `prior`: it may have changed out of band.
        self._converge(id, live, args)
        self.sync_tags(id, tag_dict(live.get("Tags")), args.tags, meta)  # type: ignore[attr-defined]
        return self.read_back(id, args.model_dump(mode="json"))

    def delete(self, id: str, prior: Mapping[str, Any]) -> None:
        from botocore.exceptions import ClientError

        try:
            self._delete(id, prior)
        except ClientError as exc:
            if error_code(exc) in self.missing:
                return
            if error_code(exc) == "DependencyViolation":
                # Transient on AWS: the ENIs of deleted load balancers, Lambda functions or
                # NAT gateways linger for minutes, and Terraform retries until the delete
                # timeout. Dependants that mlform manages reference this object and are
                # deleted first, so what remains is mostly AWS's own clean-up; anything else
                # fails at the timeout with this message, which is shown while waiting.
                raise NotReady(f"Delete{self.noun}: DependencyViolation: {error_message(exc)}",
                               retry_after=5.0) from None
            raise translate(exc, f"Delete{self.noun}") from exc

    def find(self, args: ArgsModel, meta: ResourceMeta) -> dict[str, Any] | None:
        """The object tagged with this stack and address that creating `args` could have made:
        one whose replace-forcing arguments differ is the object a create-before-destroy
        replacement replaces."""
        filters = [{"Name": f"tag:{TAG_STACK}", "Values": [meta.context.stack]},
                   {"Name": f"tag:{TAG_ADDRESS}", "Values": [meta.address]}]
        with aws_call("ec2", f"Describe{self.noun}s"):
            tagged = list(self._described(Filters=filters))
        wanted = args.model_dump(mode="json")
        fixed = [f for f in force_new_fields(type(args)) if wanted[f] is not None]
        found = [attrs for attrs in (self._attributes(live, wanted) for live in tagged)
                 if self.owns(attrs, meta) and all(attrs[f] == wanted[f] for f in fixed)]
        if len(found) > 1:
            raise ProviderError(
                f"{len(found)} {self.kind}s are tagged for {meta.address} in stack "
                f"{meta.context.stack} ({', '.join(sorted(a['id'] for a in found))}): cannot "
                "tell which one an interrupted create made; delete the extra one")
        return found[0] if found else None

    def list(self) -> Iterator[Discovered]:
        """Every object but those AWS makes itself in each region (the default VPC, its
        subnets and every VPC's `default` security group): nobody made them to adopt."""
        with aws_call("ec2", f"Describe{self.noun}s"):
            for live in self._described():
                if (live.get("IsDefault") or live.get("DefaultForAz")
                        or live.get("GroupName") == "default"):
                    continue
                yield Discovered(id=live[self.id_key], tags=tag_dict(live.get("Tags")))

    def _computed(self, live: Mapping[str, Any], arn_noun: str) -> dict[str, Any]:
        arn = (f"arn:{self.aws.partition}:ec2:{self.aws.region}:{live['OwnerId']}:"
               f"{arn_noun}/{live[self.id_key]}")
        return {"id": live[self.id_key], "arn": live.get(f"{self.noun}Arn") or arn,
                "tags_all": tag_dict(live.get("Tags"))}


class VpcArgs(ArgsModel):
    cidr_block: Annotated[Ipv4Cidr, ForceNew()] = Field(description="IPv4 CIDR, /16 to /28.")
    enable_dns_support: bool = Field(True, description="Amazon DNS resolution in the VPC.")
    enable_dns_hostnames: bool = Field(
        False, description="DNS hostnames for instances with public IPs (needs DNS support).")
    instance_tenancy: Annotated[Literal["default", "dedicated"], ForceNew()] = Field(
        "default", description="Tenancy of instances launched into the VPC.")
    tags: dict[str, str] = tags_field("VPC")


class VpcAttrs(AttrsModel):
    arn: str
    default_security_group_id: str = Field(description="The security group AWS made with it.")
    main_route_table_id: str = Field(description="The VPC's main route table.")
    tags_all: dict[str, str] = tags_all_field()


# The VPC's DNS flags, as arguments and as the API names them; support first: hostnames need it.
DNS_FLAGS = {"enable_dns_support": "EnableDnsSupport", "enable_dns_hostnames": "EnableDnsHostnames"}


class Vpc(Ec2Resource[VpcArgs]):
    type_name = "aws_vpc"
    Args = VpcArgs
    Attrs = VpcAttrs
    kind, noun, id_key, id_filter = "vpc", "Vpc", "VpcId", "vpc-id"
    missing = ("InvalidVpcID.NotFound", "InvalidVpcID.Malformed")
    # Terraform's aws_vpc has no timeouts block: these are its fixed waits.
    timeouts = Timeouts(create=600.0, update=300.0, delete=300.0)

    def _described(self, **params: Any) -> Iterator[dict[str, Any]]:
        pages = self.client.get_paginator("describe_vpcs").paginate(**params)
        yield from (found for page in pages for found in page["Vpcs"])

    def _delete(self, id: str, prior: Mapping[str, Any]) -> None:
        self.client.delete_vpc(VpcId=id)

    def _create(self, args: VpcArgs, tags: list[dict[str, Any]]) -> str:
        return str(self.once.create_vpc(CidrBlock=args.cidr_block, TagSpecifications=tags,
                                         InstanceTenancy=args.instance_tenancy)["Vpc"]["VpcId"])

    def _dns(self, id: str) -> dict[str, bool]:
        with aws_call("ec2", "DescribeVpcAttribute"):
            return {arg: bool(self.client.describe_vpc_attribute(
                VpcId=id, Attribute=name[0].lower() + name[1:])[name]["Value"])
                for arg, name in DNS_FLAGS.items()}

    def _converge(self, id: str, live: Mapping[str, Any], args: VpcArgs) -> None:
        have = self._dns(id)
        # One flag per call; turn support on before hostnames, and hostnames off before it.
        for arg in DNS_FLAGS if args.enable_dns_support else reversed(DNS_FLAGS):
            if have[arg] != getattr(args, arg):
                with aws_call("ec2", "ModifyVpcAttribute"):
                    self.client.modify_vpc_attribute(
                        VpcId=id, **{DNS_FLAGS[arg]: {"Value": getattr(args, arg)}})

    def _attributes(self, live: Mapping[str, Any], prior: Mapping[str, Any]) -> dict[str, Any]:
        in_vpc = {"Name": "vpc-id", "Values": [live["VpcId"]]}
        with aws_call("ec2", "DescribeSecurityGroups"):
            groups = self.client.describe_security_groups(
                Filters=[in_vpc, {"Name": "group-name", "Values": ["default"]}])["SecurityGroups"]
        with aws_call("ec2", "DescribeRouteTables"):
            tables = self.client.describe_route_tables(
                Filters=[in_vpc, {"Name": "association.main", "Values": ["true"]}])["RouteTables"]
        computed = self._computed(live, "vpc")
        args = VpcArgs.model_validate({
            **self._dns(live["VpcId"]), "cidr_block": live["CidrBlock"],
            "instance_tenancy": live.get("InstanceTenancy", "default"),
            "tags": user_tags(computed["tags_all"])})
        return self.attributes(
            args, **computed, default_security_group_id=groups[0]["GroupId"] if groups else "",
            main_route_table_id=tables[0]["RouteTableId"] if tables else "")


class SubnetArgs(ArgsModel):
    vpc_id: Annotated[str, ForceNew()] = Field(description="The VPC the subnet belongs to.")
    cidr_block: Annotated[Ipv4Cidr, ForceNew()] = Field(description="IPv4 CIDR, in the VPC's.")
    availability_zone: Annotated[str | None, ForceNew()] = Field(
        None, description="Availability zone (default: one AWS picks; then only its id, "
                          "`availability_zone_id`, is reported).")
    map_public_ip_on_launch: bool = Field(
        False, description="Give instances launched into the subnet a public IPv4 address.")
    tags: dict[str, str] = tags_field("subnet")


class SubnetAttrs(AttrsModel):
    arn: str
    availability_zone_id: str = Field(description="Id of the availability zone (`use1-az1`).")
    tags_all: dict[str, str] = tags_all_field()


def unless_unset(name: str, live_value: Any, prior: Mapping[str, Any]) -> Any:
    """`live_value` of an argument AWS fills in when it is not set, or None if it was not.

    Terraform plans an unset `availability_zone` (or a security group's `vpc_id`) as "keep what
    AWS picked" (Optional + Computed). mlform's planner compares every argument of the
    configuration with the state before any hook sees the state (complete_args sees only the
    configuration; plan_attributes runs after the comparison), and create must echo its
    arguments: so an unset argument stays unset in the state, as in the configuration. Without
    the argument in `prior` (an object adopted from elsewhere) the live value is reported."""
    return None if name in prior and prior[name] is None else live_value


class Subnet(Ec2Resource[SubnetArgs]):
    type_name = "aws_subnet"
    Args = SubnetArgs
    Attrs = SubnetAttrs
    kind, noun, id_key, id_filter = "subnet", "Subnet", "SubnetId", "subnet-id"
    missing = ("InvalidSubnetID.NotFound", "InvalidSubnetID.Malformed")
    timeouts = Timeouts(create=600.0, update=1200.0, delete=1200.0)

    def _described(self, **params: Any) -> Iterator[dict[str, Any]]:
        pages = self.client.get_paginator("describe_subnets").paginate(**params)
        yield from (found for page in pages for found in page["Subnets"])

    def _delete(self, id: str, prior: Mapping[str, Any]) -> None:
        self.client.delete_subnet(SubnetId=id)

    def _create(self, args: SubnetArgs, tags: list[dict[str, Any]]) -> str:
        zone = {"AvailabilityZone": args.availability_zone} if args.availability_zone else {}
        return str(self.once.create_subnet(
            VpcId=args.vpc_id, CidrBlock=args.cidr_block, TagSpecifications=tags,
            **zone)["Subnet"]["SubnetId"])

    def _converge(self, id: str, live: Mapping[str, Any], args: SubnetArgs) -> None:
        if bool(live.get("MapPublicIpOnLaunch")) != args.map_public_ip_on_launch:
            with aws_call("ec2", "ModifySubnetAttribute"):
                self.client.modify_subnet_attribute(
                    SubnetId=id, MapPublicIpOnLaunch={"Value": args.map_public_ip_on_launch})

    def _attributes(self, live: Mapping[str, Any], prior: Mapping[str, Any]) -> dict[str, Any]:
        computed = self._computed(live, "subnet")
        args = SubnetArgs.model_validate({
            "vpc_id": live["VpcId"], "cidr_block": live["CidrBlock"],
            "availability_zone": unless_unset("availability_zone", live["AvailabilityZone"],
                                               prior),
            "map_public_ip_on_launch": bool(live.get("MapPublicIpOnLaunch")),
            "tags": user_tags(computed["tags_all"])})
        return self.attributes(args, **computed,
                               availability_zone_id=live.get("AvailabilityZoneId", ""))
