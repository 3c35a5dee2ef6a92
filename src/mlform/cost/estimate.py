"""Monthly cost of resources, one rule per resource type.

A rule reads a resource's attributes (and those of the resources it is tied to: an endpoint's
configuration, the autoscaling target that scales it) and prices what runs all month: instances
at their fewest, usual and most replicas, and storage where its size is stated. A resource is:

- *priced*: its monthly figure is known;
- *free*: AWS charges nothing for the object itself (a role, a VPC, an endpoint configuration);
- *usage-based*: what it costs depends on use (S3 storage, ECR images), so it is not estimated;
- *unknown*: a price it needs is not in the catalog, or a value it needs is known only after
  apply. Unknown is never counted as zero: totals say how many resources they leave out. A
  resource whose instances are priced but whose storage is not is priced in part, and counted
  among the unknown too.

Every registered resource type must have a rule (a test checks this), so a new type cannot be
priced as nothing by accident.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mlform.cost.catalog import Price, PriceCatalog
from mlform.values import UNKNOWN, contains_unknown

PRICED, FREE, USAGE, UNKNOWN_COST = "priced", "free", "usage-based", "unknown"


@dataclass(frozen=True)
class Res:
    """A resource as the estimate sees it: attributes, and the addresses it depends on."""

    address: str
    type: str
    attrs: Mapping[str, Any]
    deps: tuple[str, ...] = ()


World = Mapping[str, Res]


@dataclass
class Line:
    """One priced part of a resource: monthly USD at fewest, usual and most replicas."""

    what: str
    min: float
    desired: float
    max: float


@dataclass
class ResourceCost:
    address: str
    type: str
    kind: str
    lines: list[Line] = field(default_factory=list)
    note: str = ""  # why unknown / usage-based; "spot" remarks
    variable: bool = False  # spot: the figure is the on-demand ceiling
    sources: set[str] = field(default_factory=set)
    missing: list[str] = field(default_factory=list)  # parts left unpriced, and why

    @property
    def incomplete(self) -> bool:
        """Some of its cost is unknown (all of it when kind is unknown)."""
        return self.kind == UNKNOWN_COST or bool(self.missing)

    @property
    def min(self) -> float:
        return sum(line.min for line in self.lines)

    @property
    def desired(self) -> float:
        return sum(line.desired for line in self.lines)

    @property
    def max(self) -> float:
        return sum(line.max for line in self.lines)

    @property
    def summary(self) -> str:
        """What is priced, in a few words ("1-4 x p4d.24xlarge, spot")."""
        return "; ".join(line.what for line in self.lines)


class _Missing(Exception):
    """A price or value the estimate needs is not available."""


class Pricer:
    """Catalog lookups for one region; a missing price raises, to mark the resource unknown."""

    def __init__(self, catalog: PriceCatalog, region: str) -> None:
        self.catalog = catalog
        self.region = region

    def price(self, table: str, item: Any, kind: str, *, named: bool = True) -> Price:
        """The price of `item`, a `kind` ("EC2 instance type"); messages name the item too
        unless `named` is False (a fixed item such as the EKS control plane)."""
        if item is UNKNOWN or item is None:
            raise _Missing(f"the {kind} is known only after apply")
        found = self.catalog.get(table, self.region, str(item))
        if found is None:
            what = f"{kind} {item}" if named else kind
            raise _Missing(f"the price catalog has no price for {what} in {self.region}")
        return found


Rule = Callable[[Res, World, Pricer, ResourceCost], None]


def _known(value: Any, what: str) -> Any:
    if contains_unknown(value):
        raise _Missing(f"{what} is known only after apply")
    return value


def _range(low: int, usual: int, high: int) -> str:
    if low == high:
        return str(usual)
    if usual in (low, high):
        return f"{low}-{high}"
    return f"{low}-{high} (usually {usual})"


def _instances(out: ResourceCost, price: Price, name: str, counts: tuple[int, int, int],
               extra: str = "") -> None:
    low, usual, high = counts
    each = price.monthly
    out.lines.append(Line(f"{_range(low, usual, high)} x {name}{extra}",
                          low * each, usual * each, high * each))
    out.sources.add(price.source.id)


def _storage(out: ResourceCost, price: Callable[[], Price], gb: Any, what: str,
             copies: int = 1) -> None:
    """Storage of a stated size; if its price is missing the rest of the resource is still
    priced, and the storage is listed as missing."""
    try:
        size = int(_known(gb, f"{what} size"))
        found = price()
    except _Missing as exc:
        out.missing.append(f"{what}: {exc}")
        return
    cost = size * found.monthly * copies
    out.lines.append(Line(f"{size} GB {what}" + (f" x {copies}" if copies > 1 else ""),
                          cost, cost, cost))
    out.sources.add(found.source.id)


def _scaled_by(res: Res, world: World, namespace: str) -> tuple[int, int] | None:
    """(min, max) of the Application Auto Scaling target that scales `res`, if any."""
    name = res.attrs.get("name")
    for other in world.values():
        if other.type != "aws_appautoscaling_target" \
                or other.attrs.get("service_namespace") != namespace:
            continue
        resource_id = other.attrs.get("resource_id")
        if res.address in other.deps or (isinstance(name, str) and isinstance(resource_id, str)
                                         and f"/{name}/" in resource_id + "/"):
            low, high = other.attrs.get("min_capacity"), other.attrs.get("max_capacity")
            return int(_known(low, "autoscaling min")), int(_known(high, "autoscaling max"))
    return None


def _linked(res: Res, world: World, type_name: str, by: str, field_name: str) -> Res | None:
    """The resource of `type_name` that `res` refers to: a dependency, else the one whose
    `field_name` equals `res`'s `by` attribute."""
    for dep in res.deps:
        found = world.get(dep)
        if found is not None and found.type == type_name:
            return found
    wanted = res.attrs.get(by)
    for other in world.values():
        if other.type == type_name and isinstance(wanted, str) \
                and other.attrs.get(field_name) == wanted:
            return other
    return None


# -- rules ------------------------------------------------------------------------------------


def _eks_cluster(res: Res, world: World, p: Pricer, out: ResourceCost) -> None:
    price = p.price("eks", "cluster", "the EKS control plane", named=False)
    _instances(out, price, "control plane", (1, 1, 1))


def _eks_node_group(res: Res, world: World, p: Pricer, out: ResourceCost) -> None:
    types = _known(res.attrs.get("instance_types") or ["t3.medium"], "instance_types")
    scaling = _known(res.attrs.get("scaling_config") or {}, "scaling_config")
    if isinstance(scaling, list):  # plan JSON's one-item list shape
        scaling = scaling[0] if scaling else {}
    counts = (int(scaling.get("min_size", 0)), int(scaling.get("desired_size", 0)),
              int(scaling.get("max_size", 0)))
    spot = res.attrs.get("capacity_type") == "SPOT"
    price = p.price("ec2", types[0], "EC2 instance type")
    _instances(out, price, types[0], counts, ", spot" if spot else "")
    if spot:
        out.variable = True
        out.note = "spot: shown at the on-demand price, the most it can cost; usually less"


def _endpoint(res: Res, world: World, p: Pricer, out: ResourceCost) -> None:
    config = _linked(res, world, "aws_sagemaker_endpoint_configuration",
                     "endpoint_config_name", "name")
    if config is None:
        raise _Missing("its endpoint configuration is not managed by this stack")
    variants = config.attrs.get("production_variants") or []
    if variants is UNKNOWN:
        raise _Missing("production_variants is known only after apply")
    scaled = _scaled_by(res, world, "sagemaker")
    for variant in variants:
        if variant.get("serverless_config"):
            raise _Missing("serverless variants are billed per request (usage-based)")
        count = int(_known(variant.get("initial_instance_count", 1), "initial_instance_count"))
        low, high = scaled if scaled else (count, count)
        name = _known(variant.get("instance_type"), "instance_type")
        price = p.price("sagemaker_hosting", name, "SageMaker hosting instance type")
        _instances(out, price, name, (low, count, max(high, count)))


def _notebook(res: Res, world: World, p: Pricer, out: ResourceCost) -> None:
    name = _known(res.attrs.get("instance_type"), "instance_type")
    _instances(out, p.price("sagemaker_notebook", name, "notebook instance type"),
               name, (1, 1, 1))
    _storage(out, lambda: p.price("sagemaker_storage", "ml_storage", "SageMaker ML storage",
                                  named=False),
             res.attrs.get("volume_size") or 5, "ML storage")


def _db_instance(res: Res, world: World, p: Pricer, out: ResourceCost) -> None:
    engine = _known(res.attrs.get("engine"), "engine")
    if engine != "postgres":
        raise _Missing(f"the price catalog has no {engine} prices (only postgres)")
    copies = 2 if res.attrs.get("multi_az") is True else 1
    name = _known(res.attrs.get("instance_class"), "instance_class")
    price = p.price("rds_postgres", name, "RDS PostgreSQL instance class")
    _instances(out, price, name, (copies, copies, copies), ", multi-AZ" if copies > 1 else "")
    kind = _known(res.attrs.get("storage_type") or "gp2", "storage_type")
    _storage(out, lambda: p.price("rds_storage", kind, "RDS storage type"),
             res.attrs.get("allocated_storage"), f"{kind} storage", copies)


def _ecs_service(res: Res, world: World, p: Pricer, out: ResourceCost) -> None:
    if res.attrs.get("launch_type") != "FARGATE":
        raise _Missing("only Fargate services are priced (EC2 capacity is priced by its "
                       "instances)")
    task = _linked(res, world, "aws_ecs_task_definition", "task_definition", "arn")
    if task is None:
        raise _Missing("its task definition is not managed by this stack")
    vcpus = int(_known(task.attrs.get("cpu"), "task cpu")) / 1024
    memory = int(_known(task.attrs.get("memory"), "task memory")) / 1024
    vcpu_price = p.price("fargate", "vcpu", "Fargate vCPU-hours", named=False)
    hourly = (vcpus * vcpu_price.usd
              + memory * p.price("fargate", "memory_gb", "Fargate GB-hours",
                                named=False).usd)
    count = int(_known(res.attrs.get("desired_count", 1), "desired_count"))
    scaled = _scaled_by(res, world, "ecs")
    low, high = scaled if scaled else (count, count)
    each = Price(hourly, "hour", vcpu_price.source)
    _instances(out, each, f"Fargate {vcpus:g} vCPU/{memory:g} GB task",
               (low, count, max(high, count)))


def _secret(res: Res, world: World, p: Pricer, out: ResourceCost) -> None:
    _instances(out, p.price("secretsmanager", "secret", "Secrets Manager secrets",
                               named=False), "secret",
               (1, 1, 1))


def _efs(res: Res, world: World, p: Pricer, out: ResourceCost) -> None:
    """EFS bills the data stored, which no argument states: usage-based, with the price."""
    out.kind = USAGE
    try:
        price = p.price("efs_storage", "standard", "EFS Standard storage", named=False)
    except _Missing:
        out.note = "data stored (per GB-month) and, if provisioned, throughput"
        return
    out.note = f"data stored: ${price.usd:g} per GB-month (Standard)"
    out.sources.add(price.source.id)


def _load_balancer(res: Res, world: World, p: Pricer, out: ResourceCost) -> None:
    """The load balancer's hours, and one LCU-hour every hour: a light load such as a
    tracker's (each LCU is 25 new connections a second, 3,000 active a minute or 1 GB an
    hour); LCUs beyond it are billed by use and not estimated."""
    kind = _known(res.attrs.get("load_balancer_type") or "application", "load_balancer_type")
    if kind != "application":
        raise _Missing(f"the price catalog has no {kind} load balancer prices")
    hour = p.price("elb", "alb_hour", "application load balancer hours", named=False)
    lcu = p.price("elb", "alb_lcu", "application load balancer LCU-hours", named=False)
    for what, price in (("application load balancer", hour), ("1 LCU (light traffic)", lcu)):
        out.lines.append(Line(what, price.monthly, price.monthly, price.monthly))
        out.sources.add(price.source.id)
    out.note = "LCUs beyond 1 an hour are billed by use"


def _nat_gateway(res: Res, world: World, p: Pricer, out: ResourceCost) -> None:
    _instances(out, p.price("vpc", "nat_gateway", "NAT gateway hours", named=False),
               "NAT gateway", (1, 1, 1))
    out.note = "plus each GB it processes (usage-based)"


def _vpc_endpoint(res: Res, world: World, p: Pricer, out: ResourceCost) -> None:
    """Gateway endpoints are free; an interface endpoint is billed per hour in each subnet
    (availability zone) it has a network interface in."""
    if _known(res.attrs.get("vpc_endpoint_type") or "Gateway", "vpc_endpoint_type") \
            == "Gateway":
        out.kind = FREE
        return
    subnets = res.attrs.get("subnet_ids") or []
    if subnets is UNKNOWN:  # the ids themselves may be unknown: only their number counts
        raise _Missing("subnet_ids is known only after apply")
    zones = len(subnets) or 1
    price = p.price("vpc", "interface_endpoint", "interface endpoint hours", named=False)
    _instances(out, price, "interface endpoint zone", (zones, zones, zones))
    out.note = "plus each GB it processes (usage-based)"


def _eip(res: Res, world: World, p: Pricer, out: ResourceCost) -> None:
    # Since 2024-02-01 AWS bills every public IPv4 address by the hour, attached or idle.
    _instances(out, p.price("vpc", "public_ipv4", "public IPv4 address hours", named=False),
               "public IPv4 address", (1, 1, 1))


def _free(res: Res, world: World, p: Pricer, out: ResourceCost) -> None:
    out.kind = FREE


def _usage(note: str) -> Rule:
    def rule(res: Res, world: World, p: Pricer, out: ResourceCost) -> None:
        out.kind = USAGE
        out.note = note
    return rule


RULES: dict[str, Rule] = {
    "aws_eks_cluster": _eks_cluster,
    "aws_eks_node_group": _eks_node_group,
    "aws_sagemaker_endpoint": _endpoint,
    "aws_sagemaker_notebook_instance": _notebook,
    "aws_db_instance": _db_instance,
    "aws_ecs_service": _ecs_service,
    "aws_secretsmanager_secret": _secret,
    "aws_lb": _load_balancer,
    "aws_lb_target_group": _free,
    "aws_lb_listener": _free,
    "aws_nat_gateway": _nat_gateway,
    "aws_vpc_endpoint": _vpc_endpoint,
    "aws_eip": _eip,
    "aws_s3_bucket": _usage("storage and requests"),
    "aws_ecr_repository": _usage("image storage"),
    "aws_sagemaker_feature_group": _usage("storage, reads and writes"),
    "aws_sagemaker_pipeline": _usage("the jobs its steps run"),
    "aws_efs_file_system": _efs,
    # The registry and a Studio domain are free themselves: AWS bills the packages' artifacts
    # (S3 storage) and the Studio apps users run, not the group, domain or profile.
    **dict.fromkeys(("aws_sagemaker_model_package_group", "aws_sagemaker_domain",
                     "aws_sagemaker_model_package_group_policy", "aws_sagemaker_user_profile",
                     "aws_efs_mount_target"), _free),
    **dict.fromkeys((
        "mlform_data", "aws_iam_role", "aws_vpc", "aws_subnet", "aws_security_group",
        "aws_db_subnet_group", "aws_ecs_cluster", "aws_ecs_task_definition",
        "aws_secretsmanager_secret_version",
        "aws_sagemaker_model", "aws_sagemaker_endpoint_configuration",
        "aws_sagemaker_notebook_instance_lifecycle_configuration", "aws_ecr_lifecycle_policy",
        "aws_appautoscaling_target", "aws_appautoscaling_policy",
        "aws_s3_bucket_versioning", "aws_s3_bucket_server_side_encryption_configuration",
        "aws_s3_bucket_public_access_block", "aws_s3_bucket_lifecycle_configuration",
        "aws_internet_gateway", "aws_route_table", "aws_route_table_association",
        "aws_security_group_rule",
    ), _free),
    # IAM objects cost nothing.
    **dict.fromkeys(("aws_iam_policy", "aws_iam_role_policy", "aws_iam_role_policy_attachment",
                     "aws_iam_instance_profile", "aws_iam_role_policy_attachments_exclusive",
                     "aws_iam_role_policies_exclusive"), _free),
    "aws_kms_key": _usage("$1 a month per key in most regions (not in the price catalog), "
                          "and requests"),
    "aws_kms_alias": _free,
    "aws_ssm_parameter": _free,  # Standard tier; Advanced parameters are charged (not priced)
    "aws_cloudwatch_log_group": _usage("log events ingested and stored"),
    "aws_s3_bucket_policy": _free,
}


def estimate(world: World, catalog: PriceCatalog, region: str,
             only: Iterable[str] | None = None) -> dict[str, ResourceCost]:
    """The monthly cost of each resource in `world` (or of those in `only`)."""
    pricer = Pricer(catalog, region)
    out: dict[str, ResourceCost] = {}
    for address in (world if only is None else only):
        res = world[address]
        cost = ResourceCost(address, res.type, PRICED)
        rule = RULES.get(res.type)
        if rule is None:
            cost.kind, cost.note = UNKNOWN_COST, f"mlform has no cost rule for {res.type}"
        else:
            try:
                rule(res, world, pricer, cost)
            except _Missing as exc:
                cost.kind, cost.note, cost.lines = UNKNOWN_COST, str(exc), []
                cost.variable = False
        out[address] = cost
    return out
