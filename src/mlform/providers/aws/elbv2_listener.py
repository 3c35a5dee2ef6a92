"""Elastic Load Balancing v2: `aws_lb_target_group` and `aws_lb_listener` (see `elbv2.py`).

A listener has no name: the object an interrupted create made is the listener on the same load
balancer and port, and it is ours if its tags say so (AWS answers a create on a port in use with
the same settings by returning that listener, and with other settings by DuplicateListener).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, model_validator

from mlform.errors import NotReady, ProviderError
from mlform.providers.aws.base import all_tags, tag_list, tags_all_field, tags_field, user_tags
from mlform.providers.aws.elbv2 import ELB_NAME, NOT_FOUND, ElbResource, arn_suffix
from mlform.providers.aws.errors import aws_call, error_code, error_message, is_not_found, translate
from mlform.providers.base import (
    ArgsModel,
    AttrsModel,
    Computed,
    Discovered,
    ForceNew,
    ResourceMeta,
    Timeouts,
)

NO_PATH = frozenset({"TCP", "TLS", "UDP", "TCP_UDP"})  # health checks without path or codes


# -- aws_lb_target_group --------------------------------------------------------------------------

class HealthCheck(ArgsModel):
    enabled: bool = Field(True, description="Whether targets are health-checked.")
    path: str | None = Field("/", description="Path of the HTTP(S) check (none for TCP).")
    matcher: str | None = Field("200", description="HTTP codes of a healthy answer: `200`, "
                                "`200-299`, `200,202` (none for TCP).")
    port: str = Field("traffic-port", description="Port checked: a number or `traffic-port`.")
    protocol: Literal["HTTP", "HTTPS", "TCP"] = Field("HTTP", description="Check protocol.")
    interval: int = Field(30, ge=5, le=300, description="Seconds between checks.")
    timeout: int = Field(5, ge=2, le=120, description="Seconds without an answer that fail "
                                                      "a check (less than interval).")
    healthy_threshold: int = Field(3, ge=2, le=10,
                                   description="Successes before a target is healthy.")
    unhealthy_threshold: int = Field(3, ge=2, le=10,
                                     description="Failures before a target is unhealthy.")

    @model_validator(mode="after")
    def _as_aws_accepts(self) -> HealthCheck:
        if self.protocol in NO_PATH:
            for name in ("path", "matcher"):
                if name in self.model_fields_set and getattr(self, name) is not None:
                    raise ValueError(f"a {self.protocol} health check has no {name}")
            self.path = self.matcher = None
        if self.timeout >= self.interval:
            raise ValueError(f"timeout ({self.timeout}s) must be less than interval "
                             f"({self.interval}s)")
        return self


class TargetGroupArgs(ArgsModel):
    name: Annotated[str, ForceNew()] = Field(
        pattern=ELB_NAME, description="Target group name, at most 32 characters (default: "
        "<project>-<environment>-<resource name>, shortened with a digest when longer).")
    port: Annotated[int, ForceNew()] = Field(ge=1, le=65535,
                                             description="Port the targets receive traffic on.")
    protocol: Annotated[Literal["HTTP", "HTTPS", "TCP", "TLS", "UDP", "TCP_UDP"],
                        ForceNew()] = Field(description="Protocol to the targets.")
    vpc_id: Annotated[str, ForceNew()] = Field(description="The VPC of the targets.")
    target_type: Annotated[Literal["instance", "ip"], ForceNew()] = Field(
        "instance", description="`ip` for Fargate tasks (awsvpc), `instance` for EC2.")
    health_check: HealthCheck = Field(default_factory=HealthCheck,
                                      description="How targets are checked.")
    tags: dict[str, str] = tags_field("target group")


class ElbArnAttrs(AttrsModel):
    arn: str
    arn_suffix: str = Field(description="The ARN after its resource type (CloudWatch's name).")
    tags_all: dict[str, str] = tags_all_field()


def _health_params(check: HealthCheck) -> dict[str, Any]:
    params: dict[str, Any] = {
        "HealthCheckEnabled": check.enabled, "HealthCheckProtocol": check.protocol,
        "HealthCheckPort": check.port, "HealthCheckIntervalSeconds": check.interval,
        "HealthCheckTimeoutSeconds": check.timeout,
        "HealthyThresholdCount": check.healthy_threshold,
        "UnhealthyThresholdCount": check.unhealthy_threshold}
    if check.path is not None:
        params["HealthCheckPath"] = check.path
    if check.matcher is not None:
        params["Matcher"] = {"HttpCode": check.matcher}
    return params


class LbTargetGroup(ElbResource[TargetGroupArgs]):
    type_name: ClassVar[str] = "aws_lb_target_group"
    Args = TargetGroupArgs
    Attrs = ElbArnAttrs
    name_max_len: ClassVar[int] = 32
    exists_codes: ClassVar[frozenset[str]] = frozenset({"DuplicateTargetGroupName"})
    timeouts: ClassVar[Timeouts] = Timeouts(create=300.0, update=300.0, delete=300.0)

    def create(self, args: TargetGroupArgs, meta: ResourceMeta) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            created = self.client.create_target_group(
                Name=args.name, Port=args.port, Protocol=args.protocol, VpcId=args.vpc_id,
                TargetType=args.target_type, Tags=tag_list(all_tags(args.tags, meta)),
                **_health_params(args.health_check))["TargetGroups"][0]
        except (ClientError, BotoCoreError) as exc:
            if not self.already_exists(exc):
                raise translate(exc, "CreateTargetGroup") from exc
            return self.adopt(args, meta, "CreateTargetGroup", exc)
        have = self._settle_create(self.read(created["TargetGroupArn"], {}), args, meta,
                                   "CreateTargetGroup")
        return self.update(have["id"], have, args, meta)

    def read(self, id: str, prior: Mapping[str, Any]) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        key = {"TargetGroupArns": [id]} if id.startswith("arn:") else {"Names": [id]}
        try:
            found = self.client.describe_target_groups(**key)["TargetGroups"]
        except ClientError as exc:
            if is_not_found(exc, *NOT_FOUND):
                return None
            raise translate(exc, "DescribeTargetGroups") from exc
        return self._attributes(found[0]) if found else None

    def _attributes(self, live: Mapping[str, Any]) -> dict[str, Any]:
        arn = live["TargetGroupArn"]
        tags = self.tags_of([arn]).get(arn, {})
        protocol = live.get("HealthCheckProtocol", "HTTP")
        args = TargetGroupArgs.model_validate({
            "name": live["TargetGroupName"], "port": live["Port"], "protocol": live["Protocol"],
            "vpc_id": live["VpcId"], "target_type": live.get("TargetType", "instance"),
            "health_check": {
                "enabled": live.get("HealthCheckEnabled", True), "protocol": protocol,
                "port": str(live.get("HealthCheckPort", "traffic-port")),
                "interval": live.get("HealthCheckIntervalSeconds", 30),
                "timeout": live.get("HealthCheckTimeoutSeconds", 5),
                "healthy_threshold": live.get("HealthyThresholdCount", 3),
                "unhealthy_threshold": live.get("UnhealthyThresholdCount", 3),
                **({} if protocol in NO_PATH else {
                    "path": live.get("HealthCheckPath"),
                    "matcher": (live.get("Matcher") or {}).get("HttpCode")})},
            "tags": user_tags(tags)})
        return self.attributes(args, id=arn, arn=arn, arn_suffix=arn_suffix(arn),
                               tags_all=tags)

    def update(self, id: str, prior: Mapping[str, Any], args: TargetGroupArgs,
               meta: ResourceMeta) -> dict[str, Any]:
        have = self.read(id, prior)
        if have is None:
            raise ProviderError(f"target group {args.name} no longer exists; refresh and plan "
                                "again")
        if have["health_check"] != args.health_check.model_dump(mode="json"):
            with aws_call("elbv2", "ModifyTargetGroup"):
                self.client.modify_target_group(TargetGroupArn=id,
                                                **_health_params(args.health_check))
        self.sync_tags(have["arn"], have["tags_all"], args.tags, meta)
        return self.read_back(id, args.model_dump(mode="json"))

    def delete(self, id: str, prior: Mapping[str, Any]) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.delete_target_group(TargetGroupArn=id)
        except ClientError as exc:
            if is_not_found(exc, *NOT_FOUND):
                return
            if error_code(exc) == "ResourceInUse":
                # A listener or rule being deleted, or an ECS service deregistering, still
                # counts for a while; anything else fails at the timeout with this message.
                raise NotReady(f"target group {prior.get('name', id)}: {error_message(exc)}",
                               retry_after=5.0) from None
            raise translate(exc, "DeleteTargetGroup") from exc

    def list(self) -> Iterator[Discovered]:
        with aws_call("elbv2", "DescribeTargetGroups"):
            arns = [tg["TargetGroupArn"]
                    for page in self.client.get_paginator("describe_target_groups").paginate()
                    for tg in page["TargetGroups"]]
        tags = self.tags_of(arns)
        yield from (Discovered(id=arn, tags=tags.get(arn, {})) for arn in arns)


# -- aws_lb_listener ------------------------------------------------------------------------------

class FixedResponse(ArgsModel):
    content_type: Literal["text/plain", "text/css", "text/html", "application/javascript",
                          "application/json"] = Field(description="Content type of the body.")
    message_body: str = Field("", max_length=1024, description="The body.")
    status_code: str = Field(pattern=r"^[245]\d\d$", description="HTTP status, 2XX to 5XX.")


class DefaultAction(ArgsModel):
    type: Literal["forward", "fixed-response"] = Field(description="What the listener does.")
    target_group_arn: str | None = Field(None, description="Target group (forward).")
    fixed_response: FixedResponse | None = Field(None, description="The answer "
                                                 "(fixed-response).")

    @model_validator(mode="after")
    def _one_kind(self) -> DefaultAction:
        if (self.type == "forward") != (self.target_group_arn is not None):
            raise ValueError("a forward action names target_group_arn, and only it does")
        if (self.type == "fixed-response") != (self.fixed_response is not None):
            raise ValueError("a fixed-response action has fixed_response, and only it does")
        return self


class ListenerArgs(ArgsModel):
    load_balancer_arn: Annotated[str, ForceNew()] = Field(description="The load balancer.")
    port: int = Field(ge=1, le=65535, description="Port the listener accepts traffic on.")
    protocol: Literal["HTTP", "HTTPS", "TCP", "TLS", "UDP", "TCP_UDP"] = Field(
        "HTTP", description="HTTP or HTTPS (application), TCP, TLS, UDP or TCP_UDP (network).")
    certificate_arn: str | None = Field(None, description="Certificate (HTTPS and TLS).")
    ssl_policy: Annotated[str | None, Computed()] = Field(
        None, description="TLS negotiation policy (HTTPS and TLS; default: AWS's).")
    default_action: list[DefaultAction] = Field(min_length=1, max_length=1,
                                                description="What the listener does.")
    tags: dict[str, str] = tags_field("listener")

    @model_validator(mode="after")
    def _tls_needs_a_certificate(self) -> ListenerArgs:
        secure = self.protocol in ("HTTPS", "TLS")
        if secure and not self.certificate_arn:
            raise ValueError(f"a {self.protocol} listener needs certificate_arn")
        if not secure and (self.certificate_arn or self.ssl_policy):
            raise ValueError(f"a {self.protocol} listener takes no certificate_arn or ssl_policy")
        return self


class ListenerAttrs(AttrsModel):
    arn: str
    tags_all: dict[str, str] = tags_all_field()


def _actions(args: ListenerArgs) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for action in args.default_action:
        if action.target_group_arn is not None:
            out.append({"Type": "forward", "TargetGroupArn": action.target_group_arn})
        elif action.fixed_response is not None:
            fixed = action.fixed_response
            out.append({"Type": "fixed-response", "FixedResponseConfig": {
                "ContentType": fixed.content_type, "MessageBody": fixed.message_body,
                "StatusCode": fixed.status_code}})
    return out


class LbListener(ElbResource[ListenerArgs]):
    type_name: ClassVar[str] = "aws_lb_listener"
    Args = ListenerArgs
    Attrs = ListenerAttrs
    exists_codes: ClassVar[frozenset[str]] = frozenset({"DuplicateListener"})
    timeouts: ClassVar[Timeouts] = Timeouts(create=300.0, update=300.0, delete=300.0)

    def _call_params(self, args: ListenerArgs) -> dict[str, Any]:
        params: dict[str, Any] = {"Port": args.port, "Protocol": args.protocol,
                                  "DefaultActions": _actions(args)}
        if args.certificate_arn:
            params["Certificates"] = [{"CertificateArn": args.certificate_arn}]
        if args.ssl_policy:
            params["SslPolicy"] = args.ssl_policy
        return params

    def create(self, args: ListenerArgs, meta: ResourceMeta) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            created = self.client.create_listener(
                LoadBalancerArn=args.load_balancer_arn, Tags=tag_list(all_tags(args.tags, meta)),
                **self._call_params(args))["Listeners"][0]
        except (ClientError, BotoCoreError) as exc:
            if not self.already_exists(exc):
                raise translate(exc, "CreateListener") from exc
            return self.adopt(args, meta, "CreateListener", exc)
        prior = args.model_dump(mode="json")
        return self._settle_create(self.read(created["ListenerArn"], prior), args, meta,
                                   "CreateListener")

    def existing(self, args: ListenerArgs) -> dict[str, Any] | None:
        """The listener on the same load balancer and port (a port has one listener)."""
        from botocore.exceptions import ClientError

        try:
            found = self.client.describe_listeners(LoadBalancerArn=args.load_balancer_arn)
        except ClientError as exc:
            if is_not_found(exc, *NOT_FOUND):
                return None
            raise translate(exc, "DescribeListeners") from exc
        prior = args.model_dump(mode="json")
        return next((self._attributes(live, prior) for live in found.get("Listeners") or []
                     if live.get("Port") == args.port), None)

    def find(self, args: ArgsModel, meta: ResourceMeta) -> dict[str, Any] | None:
        assert isinstance(args, ListenerArgs)
        have = self.existing(args)
        return have if have is not None and self.owns(have, meta) else None

    def read(self, id: str, prior: Mapping[str, Any]) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            found = self.client.describe_listeners(ListenerArns=[id])["Listeners"]
        except ClientError as exc:
            if is_not_found(exc, *NOT_FOUND):
                return None
            raise translate(exc, "DescribeListeners") from exc
        return self._attributes(found[0], prior) if found else None

    def _attributes(self, live: Mapping[str, Any], prior: Mapping[str, Any]) -> dict[str, Any]:
        arn = live["ListenerArn"]
        tags = self.tags_of([arn]).get(arn, {})
        actions = []
        for action in sorted(live.get("DefaultActions") or [], key=lambda a: a.get("Order", 0)):
            fixed = action.get("FixedResponseConfig")
            actions.append({"type": action["Type"],
                            "target_group_arn": action.get("TargetGroupArn"),
                            "fixed_response": None if fixed is None else {
                                "content_type": fixed.get("ContentType"),
                                "message_body": fixed.get("MessageBody", ""),
                                "status_code": fixed.get("StatusCode")}})
        secure = live["Protocol"] in ("HTTPS", "TLS")
        certificates = live.get("Certificates") or []
        # An ssl_policy left to AWS is no change; a plain listener has none.
        policy = live.get("SslPolicy") if secure and (
            "ssl_policy" not in prior or prior["ssl_policy"]) else None
        args = ListenerArgs.model_validate({
            "load_balancer_arn": live["LoadBalancerArn"], "port": live["Port"],
            "protocol": live["Protocol"],
            "certificate_arn": certificates[0]["CertificateArn"] if secure and certificates
            else None,
            "ssl_policy": policy, "default_action": actions, "tags": user_tags(tags)})
        return self.attributes(args, id=arn, arn=arn, tags_all=tags)

    def update(self, id: str, prior: Mapping[str, Any], args: ListenerArgs,
               meta: ResourceMeta) -> dict[str, Any]:
        want = args.model_dump(mode="json")
        have = self.read(id, want)
        if have is None:
            raise ProviderError(f"listener {id} no longer exists; refresh and plan again")
        if any(have[k] != want[k] for k in ("port", "protocol", "certificate_arn",
                                            "ssl_policy", "default_action")):
            with aws_call("elbv2", "ModifyListener"):
                self.client.modify_listener(ListenerArn=id, **self._call_params(args))
        self.sync_tags(have["arn"], have["tags_all"], args.tags, meta)
        return self.read_back(id, want)

    def delete(self, id: str, prior: Mapping[str, Any]) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.delete_listener(ListenerArn=id)
        except ClientError as exc:
            if not is_not_found(exc, *NOT_FOUND):
                raise translate(exc, "DeleteListener") from exc

    def list(self) -> Iterator[Discovered]:
        with aws_call("elbv2", "DescribeListeners"):
            arns = [listener["ListenerArn"]
                    for page in self.client.get_paginator("describe_load_balancers").paginate()
                    for lb in page["LoadBalancers"]
                    for listener in self.client.describe_listeners(
                        LoadBalancerArn=lb["LoadBalancerArn"]).get("Listeners") or []]
        tags = self.tags_of(arns)
        yield from (Discovered(id=arn, tags=tags.get(arn, {})) for arn in arns)
