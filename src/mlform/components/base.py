"""The component contract: an ML-level building block that expands into provider resources.

A component type is a pydantic model (the settings a user writes under `components:`, with
`type: Literal[...]` as the discriminator) with an `expand` method that returns the resources it
makes, in the Terraform AWS provider's vocabulary, and the outputs other parts of the config can
read (`${features.uri}`). Resources a component makes are addressed as Terraform addresses a
module's: `module.features.aws_s3_bucket.this`.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from mlform.config.refs import module_address
from mlform.providers.base import StackContext

if TYPE_CHECKING:
    from mlform.components.gpu import GpuCatalog
    from mlform.cost.catalog import PriceCatalog


class ComponentModel(BaseModel):
    """Base of every component type's settings: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")

    type: str
    tags: dict[str, str] = Field(default_factory=dict,
                                 description="Tags for every resource the component makes.")

    # Documented outputs: name -> description (the JSON Schema and the README list them).
    outputs: ClassVar[dict[str, str]] = {}
    # `import --discover --generate-config`: the type of the object this component is built
    # around (None: never recognised), and `recognize` below.
    anchor: ClassVar[str | None] = None
    # Settings that name container images (`image`, `images`): `mlform lock` pins their tags
    # to digests.
    image_fields: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def recognize(cls, found: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
        """The settings (without `type`) under which this component would make exactly the
        objects `found` (type -> live attributes: the anchor and the objects that configure
        it), or None. A guess is enough: it is kept only if a plan of it shows no change."""
        return None

    @abstractmethod
    def expand(self, ctx: ExpandContext) -> Expansion:
        """The resources this component is made of, and its outputs."""


@dataclass
class Made:
    """One resource of a component: its type, arguments, and optional lifecycle settings."""

    type: str
    args: dict[str, Any]
    lifecycle: dict[str, Any] = field(default_factory=dict)
    depends_on: list[str] = field(default_factory=list)  # local addresses, "type.name"


@dataclass
class Expansion:
    """What `expand` returns. Resource keys are local addresses (`aws_s3_bucket.this`)."""

    resources: dict[str, Made] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # shown in the plan (a GPU type chosen)
    # What a lock pins, as this expansion used it: choices made by a lookup or a default that
    # may change ({"gpu": {"request": "A100:8", "instance_type": "p4de.24xlarge"}}).
    pins: dict[str, Any] = field(default_factory=dict)
    # Pins the lock lacked, resolved live instead ("gpu A100:8"): a note, or with --frozen an
    # error.
    unlocked: list[str] = field(default_factory=list)

    def add(self, local: str, type_name: str | None = None, **args: Any) -> Made:
        """Add `local` ("aws_s3_bucket.this", or a name with `type_name`) and return it."""
        key = f"{type_name}.{local}" if type_name else local
        made = Made(type=key.split(".", 1)[0], args=args)
        self.resources[key] = made
        return made


class Cloud:
    """Read-only lookups components make while expanding (which GPUs a region offers), through
    a provider session opened on first use and shared by every component."""

    def __init__(self, session: Callable[[], Any], home: str | None = None) -> None:
        from mlform.components.gpu import GpuCatalog
        from mlform.sandbox.lifecycle import mlform_home

        self._session = session
        self._home = home
        self._opened: Any = None
        self._prices: PriceCatalog | None = None
        self._zones: dict[str, list[str]] = {}
        self.gpus = GpuCatalog(lambda region: self._client("ec2", region),
                               cache_dir=mlform_home(home) / "cache" / "ec2-gpu-types")

    def price(self, table: str, region: str, item: str) -> float | None:
        """USD per hour of `item` (an instance type) from the price catalog, if it has one."""
        if self._prices is None:
            from mlform.cost.catalog import load_catalog

            self._prices = load_catalog(self._home)
        found = self._prices.get(table, region, item)
        return found.usd if found else None

    def _client(self, service: str, region: str) -> Any:
        if self._opened is None:
            self._opened = self._session()
        return self._opened.client(service, region)

    def latest_approved(self, region: str, group: str) -> tuple[str | None, str]:
        """The ARN of the newest model package in `group` whose ModelApprovalStatus is
        Approved, or (None, why there is none): the group does not exist, or has no approved
        package."""
        from botocore.exceptions import ClientError

        from mlform.errors import MlformError
        from mlform.providers.aws.errors import error_code, error_message, translate

        sagemaker = self._client("sagemaker", region)
        try:
            found = sagemaker.list_model_packages(
                ModelPackageGroupName=group, ModelApprovalStatus="Approved",
                SortBy="CreationTime", SortOrder="Descending", MaxResults=1)
        except ClientError as exc:
            if error_code(exc) == "ValidationException" and "not exist" in error_message(exc):
                return None, f"model package group {group} does not exist yet"
            raise MlformError(translate(exc, "ListModelPackages").message) from None
        packages = found.get("ModelPackageSummaryList") or []
        if not packages:
            try:
                sagemaker.describe_model_package_group(ModelPackageGroupName=group)
            except ClientError:
                return None, f"model package group {group} does not exist yet"
            return None, f"model package group {group} has no approved model package yet"
        return str(packages[0]["ModelPackageArn"]), ""

    def availability_zones(self, region: str) -> list[str]:
        if region not in self._zones:
            answer = self._client("ec2", region).describe_availability_zones(
                Filters=[{"Name": "state", "Values": ["available"]}])
            self._zones[region] = sorted(z["ZoneName"] for z in answer["AvailabilityZones"]
                                         if z.get("ZoneType", "availability-zone")
                                         == "availability-zone")
        return self._zones[region]


def partition_of(region: str) -> str:
    """The AWS partition a region is in (`arn:<partition>:...`), known without a session, so
    ARNs components build at load time are right in China and GovCloud too."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


@dataclass(frozen=True)
class ExpandContext:
    """What a component knows while expanding: its name, the stack, and how to refer to the
    resources it makes."""

    name: str
    stack: StackContext
    base_dir: Path | None = None  # the config file's folder, for files components read
    cloud: Cloud | None = None  # None offline (mlform validate): no lookups
    # This component's entries in mlform.lock (kind -> pin, see `Expansion.pins`); None when
    # there is no lock for this environment and region, so nothing is "missing" from it.
    locked: Mapping[str, Any] | None = None

    @property
    def partition(self) -> str:
        return partition_of(self.stack.region)

    def pinned(self, kind: str) -> Any:
        """The lock's pin of `kind` ("gpu", "eks") for this component, or None."""
        return (self.locked or {}).get(kind)

    @property
    def gpus(self) -> GpuCatalog | None:
        return self.cloud.gpus if self.cloud is not None else None

    def price(self, table: str, item: str) -> float | None:
        """USD per hour of `item` in this region from the price catalog (None offline)."""
        return self.cloud.price(table, self.stack.region, item) if self.cloud else None

    def latest_approved(self, group: str) -> tuple[str | None, str]:
        """`Cloud.latest_approved` in this region ((None, "offline") offline)."""
        return (self.cloud.latest_approved(self.stack.region, group) if self.cloud
                else (None, "offline"))

    def availability_zones(self) -> list[str]:
        """The region's availability zones, in order ([] offline)."""
        return self.cloud.availability_zones(self.stack.region) if self.cloud else []

    def ref(self, local: str, attribute: str) -> str:
        """`${module.<component>.<local>.<attribute>}` for one of this component's resources."""
        type_name, name = local.split(".", 1)
        return "${" + module_address(self.name, type_name, name) + "." + attribute + "}"

    def default_name(self, suffix: str = "", *, max_len: int = 63) -> str:
        """<project>-<environment>-<component>[-suffix], within the service's limit."""
        return self.stack.default_name(f"{self.name}-{suffix}" if suffix else self.name,
                                       max_len=max_len)

