"""Elastic Load Balancing v2: `aws_lb` (target groups and listeners: `elbv2_listener.py`).

Every ELB object's id is its ARN, as in Terraform (`mlform import` takes the ARN). Load
balancers and target groups are also looked up by name, which is unique per account and region,
so an interrupted create is found again by the name its arguments give. A load balancer is
`provisioning` for a minute or more after its create call: the apply waits for `active`, as
Terraform does, because a listener or an ECS service put on it earlier fails or flaps.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
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
from mlform.providers.aws.errors import aws_call, error_code, is_not_found, translate
from mlform.providers.base import (
    ArgsModel,
    AttrsModel,
    Discovered,
    ForceNew,
    ResourceMeta,
    Timeouts,
    Waitable,
)

A = TypeVar("A", bound=ArgsModel)
# Load balancer and target group names: 1 to 32 letters, digits and inner hyphens.
ELB_NAME = r"^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,30}[a-zA-Z0-9])?$"
NOT_FOUND = ("LoadBalancerNotFound", "TargetGroupNotFound", "ListenerNotFound")


def _string_set(value: list[str]) -> list[str]:
    return sorted(set(value))


StringSet = Annotated[list[str], AfterValidator(_string_set)]


def arn_suffix(arn: str) -> str:
    """`arn:...:loadbalancer/app/name/id` -> `app/name/id` (what CloudWatch metrics name)."""
    return arn.split(":", 5)[-1].split("/", 1)[-1]


class ElbResource(TaggedResource[A]):
    """What the three ELB types share: tags by ARN, read in batches of 20."""

    service: ClassVar[str] = "elbv2"

    def _tag(self, ref: str, tags: Mapping[str, str]) -> None:
        with aws_call("elbv2", "AddTags"):
            self.client.add_tags(ResourceArns=[ref], Tags=tag_list(tags))

    def _untag(self, ref: str, keys: Sequence[str]) -> None:
        with aws_call("elbv2", "RemoveTags"):
            self.client.remove_tags(ResourceArns=[ref], TagKeys=list(keys))

    def tags_of(self, arns: Sequence[str]) -> dict[str, dict[str, str]]:
        found: dict[str, dict[str, str]] = {}
        with aws_call("elbv2", "DescribeTags"):
            for start in range(0, len(arns), 20):
                answer = self.client.describe_tags(ResourceArns=list(arns[start:start + 20]))
                for item in answer.get("TagDescriptions") or []:
                    found[item["ResourceArn"]] = tag_dict(item.get("Tags"))
        return found

    def _settle_create(self, have: dict[str, Any] | None, args: A, meta: ResourceMeta,
                       operation: str) -> dict[str, Any]:
        """After a create call: AWS answers a create of an existing name with the same
        settings by returning that object, so it is ours only if its tags say so."""
        if have is None:
            raise NotReady(f"{operation}: the new {self.type_name} is not visible yet",
                           retry_after=1.0)
        if not self.owns(have, meta):
            raise self.taken(have["id"], have["tags_all"], meta, operation)
        return have


# -- aws_lb ---------------------------------------------------------------------------------------

class AccessLogs(ArgsModel):
    bucket: str = Field(description="S3 bucket the access logs go to.")
    prefix: str = Field("", description="Key prefix of the logs in the bucket.")
    enabled: bool = Field(False, description="Whether access logs are written.")


class LbArgs(ArgsModel):
    name: Annotated[str, ForceNew()] = Field(
        pattern=ELB_NAME, description="Load balancer name, at most 32 characters (default: "
        "<project>-<environment>-<resource name>, shortened with a digest when longer).")
    internal: Annotated[bool, ForceNew()] = Field(
        False, description="Reachable only inside the VPC (scheme `internal`), not from the "
                           "internet.")
    load_balancer_type: Annotated[Literal["application", "network"], ForceNew()] = Field(
        "application", description="`application` (HTTP/HTTPS) or `network` (TCP/UDP/TLS).")
    security_groups: StringSet = Field(default_factory=list,
                                       description="Security groups of the load balancer.")
    subnets: StringSet = Field(
        min_length=1, description="Subnets, one per availability zone (an application load "
                                  "balancer needs two zones or more).")
    idle_timeout: int = Field(60, ge=1, le=4000,
                              description="Seconds a connection may be idle (application).")
    enable_deletion_protection: bool = Field(
        False, description="AWS refuses to delete the load balancer while this is true.")
    access_logs: AccessLogs | None = Field(None, description="Access logs to S3.")
    tags: dict[str, str] = tags_field("load balancer")


class LbAttrs(AttrsModel):
    arn: str
    arn_suffix: str = Field(description="The ARN after `loadbalancer/` (CloudWatch's name).")
    dns_name: str = Field(description="The DNS name clients connect to.")
    zone_id: str = Field(description="Route 53 hosted zone of the DNS name (alias records).")
    vpc_id: str
    tags_all: dict[str, str] = tags_all_field()


def _lb_attributes(args: LbArgs) -> list[dict[str, str]]:
    logs = args.access_logs
    wanted = {
        "deletion_protection.enabled": str(args.enable_deletion_protection).lower(),
        "access_logs.s3.enabled": str(bool(logs and logs.enabled)).lower(),
        "access_logs.s3.bucket": logs.bucket if logs else "",
        "access_logs.s3.prefix": logs.prefix if logs else "",
    }
    if args.load_balancer_type == "application":
        wanted["idle_timeout.timeout_seconds"] = str(args.idle_timeout)
    return [{"Key": k, "Value": v} for k, v in wanted.items()]


class Lb(ElbResource[LbArgs], Waitable):
    type_name: ClassVar[str] = "aws_lb"
    Args = LbArgs
    Attrs = LbAttrs
    name_max_len: ClassVar[int] = 32
    exists_codes: ClassVar[frozenset[str]] = frozenset({"DuplicateLoadBalancerName"})
    timeouts: ClassVar[Timeouts] = Timeouts(create=600.0, update=600.0, delete=600.0)
    destroy_loses = "its DNS name (a new load balancer gets another one)"

    @property
    def poll(self) -> float:
        return 0.2 if self.aws.is_sandbox else 10.0

    def create(self, args: LbArgs, meta: ResourceMeta) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            created = self.client.create_load_balancer(
                Name=args.name, Subnets=args.subnets, SecurityGroups=args.security_groups,
                Scheme="internal" if args.internal else "internet-facing",
                Type=args.load_balancer_type, Tags=tag_list(all_tags(args.tags, meta)),
            )["LoadBalancers"][0]
        except (ClientError, BotoCoreError) as exc:
            if not self.already_exists(exc):
                raise translate(exc, "CreateLoadBalancer") from exc
            return self.adopt(args, meta, "CreateLoadBalancer", exc)
        have = self._settle_create(self.read(created["LoadBalancerArn"], {}), args, meta,
                                   "CreateLoadBalancer")
        try:
            return self.update(have["id"], have, args, meta)
        except ProviderError as err:
            err.partial = err.partial or have
            raise

    def _describe(self, id: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        key = {"LoadBalancerArns": [id]} if id.startswith("arn:") else {"Names": [id]}
        try:
            found = self.client.describe_load_balancers(**key)["LoadBalancers"]
        except ClientError as exc:
            if is_not_found(exc, *NOT_FOUND):
                return None
            raise translate(exc, "DescribeLoadBalancers") from exc
        return found[0] if found else None

    def read(self, id: str, prior: Mapping[str, Any]) -> dict[str, Any] | None:
        live = self._describe(id)
        if live is None:
            return None
        arn = live["LoadBalancerArn"]
        with aws_call("elbv2", "DescribeLoadBalancerAttributes"):
            attrs = tag_dict(self.client.describe_load_balancer_attributes(
                LoadBalancerArn=arn)["Attributes"])
        tags = self.tags_of([arn]).get(arn, {})
        bucket = attrs.get("access_logs.s3.bucket", "")
        logs = None if not bucket else {
            "bucket": bucket, "prefix": attrs.get("access_logs.s3.prefix", ""),
            "enabled": attrs.get("access_logs.s3.enabled") == "true"}
        args = LbArgs.model_validate({
            "name": live["LoadBalancerName"], "internal": live.get("Scheme") == "internal",
            "load_balancer_type": live.get("Type", "application"),
            "security_groups": live.get("SecurityGroups") or [],
            "subnets": [z["SubnetId"] for z in live.get("AvailabilityZones") or []],
            "idle_timeout": int(attrs.get("idle_timeout.timeout_seconds", 60)),
            "enable_deletion_protection": attrs.get("deletion_protection.enabled") == "true",
            "access_logs": logs, "tags": user_tags(tags)})
        return self.attributes(args, id=arn, arn=arn, arn_suffix=arn_suffix(arn),
                               dns_name=live.get("DNSName", ""),
                               zone_id=live.get("CanonicalHostedZoneId", ""),
                               vpc_id=live.get("VpcId", ""), tags_all=tags)

    def update(self, id: str, prior: Mapping[str, Any], args: LbArgs,
               meta: ResourceMeta) -> dict[str, Any]:
        # Compared with the live object, so a call made again after NotReady changes nothing.
        have = self.read(id, prior)
        if have is None:
            raise ProviderError(f"load balancer {args.name} no longer exists; refresh and plan "
                                "again")
        if have["security_groups"] != args.security_groups:
            with aws_call("elbv2", "SetSecurityGroups"):
                self.client.set_security_groups(LoadBalancerArn=id,
                                                SecurityGroups=args.security_groups)
        if have["subnets"] != args.subnets:
            with aws_call("elbv2", "SetSubnets"):
                self.client.set_subnets(LoadBalancerArn=id, Subnets=args.subnets)
        if any(have[k] != v for k, v in args.model_dump(mode="json").items() if k in (
                "idle_timeout", "enable_deletion_protection", "access_logs")):
            with aws_call("elbv2", "ModifyLoadBalancerAttributes"):
                self.client.modify_load_balancer_attributes(LoadBalancerArn=id,
                                                            Attributes=_lb_attributes(args))
        self.sync_tags(have["arn"], have["tags_all"], args.tags, meta)
        return self.read_back(id, args.model_dump(mode="json"))

    def wait_ready(self, attributes: Mapping[str, Any]) -> dict[str, Any]:
        live = self._describe(str(attributes["id"]))
        if live is None:
            raise ProviderError(f"load balancer {attributes.get('name')} disappeared while it "
                                "was being provisioned")
        state = live.get("State") or {}
        if state.get("Code") == "provisioning":
            raise NotReady(f"load balancer {live['LoadBalancerName']} is provisioning",
                           retry_after=self.poll)
        if state.get("Code") == "failed":
            raise ProviderError(f"load balancer {live['LoadBalancerName']} failed: "
                                f"{state.get('Reason', 'no reason given')}")
        return self.read_back(str(attributes["id"]), attributes)

    def delete(self, id: str, prior: Mapping[str, Any]) -> None:
        """AWS deletes the load balancer's listeners with it; its target groups stay."""
        from botocore.exceptions import ClientError

        live = self._describe(id)
        if live is None:
            return
        try:
            self.client.delete_load_balancer(LoadBalancerArn=live["LoadBalancerArn"])
        except ClientError as exc:
            if is_not_found(exc, *NOT_FOUND):
                return
            if error_code(exc) == "OperationNotPermitted":
                raise ProviderError(
                    f"load balancer {live['LoadBalancerName']} has deletion protection: set "
                    "enable_deletion_protection to false and apply first") from None
            raise translate(exc, "DeleteLoadBalancer") from exc

    def list(self) -> Iterator[Discovered]:
        with aws_call("elbv2", "DescribeLoadBalancers"):
            arns = [lb["LoadBalancerArn"]
                    for page in self.client.get_paginator("describe_load_balancers").paginate()
                    for lb in page["LoadBalancers"]]
        tags = self.tags_of(arns)
        yield from (Discovered(id=arn, tags=tags.get(arn, {})) for arn in arns)
