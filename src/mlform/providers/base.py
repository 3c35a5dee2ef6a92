"""The provider contract: one `ResourceType` subclass per resource type.

A resource type declares its arguments as a pydantic model (`Args`, what users write, in the
Terraform AWS provider's vocabulary) and its computed attributes as another (`Attrs`). Field
markers say which arguments force replacement (`ForceNew`), are never shown (`Sensitive`)
or hold JSON documents (`JsonDocument`). The engine calls the four CRUD methods
below; optional capabilities are mixins that the engine checks with `issubclass`.

Attributes are plain JSON-able dicts: every argument field (normalised as the model dumps it) plus
the computed attributes, always including `id`. `read` must return the same shape from the live
object, so that "desired vs live" compares like with like.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from mlform.values import UNKNOWN

TAG_STACK = "mlform:stack"
TAG_ADDRESS = "mlform:address"


class ForceNew:
    """Field marker: changing this argument replaces the resource (`Annotated[str, ForceNew()]`)."""

    def __repr__(self) -> str:
        return "ForceNew()"


class AddOnly(ForceNew):
    """Field marker for a list: items added to it are an in-place change; removing or changing
    an item forces replacement (the features of a feature group)."""

    def __repr__(self) -> str:
        return "AddOnly()"


class Sensitive:
    """Field marker: the value is never shown in plans, logs or errors."""

    def __repr__(self) -> str:
        return "Sensitive()"


class Computed:
    """Field marker for an argument the cloud picks when it is unset (Terraform's Optional +
    Computed, such as an EKS cluster's `version`): the state records the live value, and an
    unset argument plans as "keep what is there" (on create: known after apply)."""

    def __repr__(self) -> str:
        return "Computed()"


class JsonDocument:
    """Field marker: the string holds a JSON document (a policy, a pipeline definition);
    plans show its changes key by key, as Terraform shows `jsonencode(...)` values."""

    def __repr__(self) -> str:
        return "JsonDocument()"


class ArgsModel(BaseModel):
    """Base of every resource's arguments: unknown keys are errors, never silently ignored."""

    model_config = ConfigDict(extra="forbid", defer_build=True)


class AttrsModel(BaseModel):
    """Base of every resource's computed attributes (documentation and reference checking)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    id: str


@dataclass(frozen=True, slots=True)
class StackContext:
    """Which stack and environment resources belong to, and where they live."""

    project: str
    environment: str
    target: str = "sandbox"
    region: str = "us-east-1"
    profile: str | None = None
    home: str | None = None  # MLFORM_HOME override (sandbox data), None = default
    account: str | None = None  # the sandbox account (None: the sandbox's default)
    account_id: str | None = None  # on AWS: the account the credentials must belong to
    regional: bool = False  # one of the `regions:` of its environment: names carry the region

    @property
    def stack(self) -> str:
        """`project/environment`, and `/region` in an environment of several regions."""
        base = f"{self.project}/{self.environment}"
        return f"{base}/{self.region}" if self.regional else base

    def default_name(self, name: str, *, sep: str = "-", max_len: int = 63) -> str:
        """A deterministic cloud name for resource `name` in this stack: project-env-name, or
        project-env-region-name in an environment of several regions (S3 bucket and IAM names
        are global, so the same name in two regions would collide)."""
        parts = (self.project, self.environment, *((self.region,) if self.regional else ()),
                 name.replace("_", "-"))
        full = sep.join(parts)
        if len(full) <= max_len:
            return full
        digest = hashlib.sha256(full.encode()).hexdigest()[:8]
        return f"{full[: max_len - 9]}{sep}{digest}"


@dataclass(frozen=True, slots=True)
class ResourceMeta:
    """What a provider needs to know about the resource it is acting on besides its arguments."""

    address: str
    context: StackContext

    @property
    def tags(self) -> dict[str, str]:
        """Tags every created cloud object carries, so that it can always be found again."""
        return {TAG_STACK: self.context.stack, TAG_ADDRESS: self.address}


@dataclass(frozen=True, slots=True)
class Timeouts:
    """How long the engine waits on `NotReady` for each operation, in seconds."""

    create: float = 600.0
    update: float = 600.0
    delete: float = 600.0


A = TypeVar("A", bound=ArgsModel)


class ResourceType(ABC, Generic[A]):
    """One kind of cloud object. Instances are bound to a provider session (clients, region).

    Contract for every method:
    - Idempotent: calling it twice with the same input has the effect of calling it once.
    - "Not ready yet" (eventual consistency, a dependency still propagating) is signalled by
      raising `mlform.errors.NotReady`; the engine waits and calls again, until `timeouts`.
    - Any other failure raises `mlform.errors.ProviderError` with the cloud's own message. If a
      cloud object was created before the failure, put its attributes in `partial`.
    """

    type_name: ClassVar[str]
    Args: type[A]
    Attrs: ClassVar[type[AttrsModel]]
    # Replace by creating the new object before deleting the old one.
    create_before_destroy: ClassVar[bool] = False
    # False for types whose `read` needs no I/O (no cloud object): refresh then calls it in
    # place instead of on a worker thread, and apply does not fsync their journal intents
    # (there is no object a power cut could orphan).
    reads_remote: ClassVar[bool] = True
    timeouts: ClassVar[Timeouts] = Timeouts()
    # Arguments whose change outside mlform is benign (besides tags and descriptions).
    benign_drift: ClassVar[tuple[str, ...]] = ()
    # The type whose object this one configures and shares its id with (a bucket's versioning:
    # `aws_s3_bucket`); discovery counts it as managed where that object is.
    configures: ClassVar[str | None] = None
    # How drift describes an object that reads as gone (some "deletes" leave something).
    gone: ClassVar[str] = "deleted outside mlform"
    # What destroying the object loses that no config can make again ("the objects it holds"),
    # or "" if nothing: plans warn loudest before destroying these.
    destroy_loses: ClassVar[str] = ""
    # What replacing an object loses or keeps, shown with a planned replacement (None: the
    # plain "must be replaced" says it all).
    replace_note: ClassVar[str | None] = None

    def __init__(self, session: Any) -> None:
        self.session = session

    # -- plan-time hooks (classmethods: no cloud access) ---------------------------------------

    @classmethod
    def default_args(cls, ctx: StackContext, name: str) -> dict[str, Any]:
        """Argument defaults that depend on the stack (names); the user's values win."""
        return {}

    @classmethod
    def complete_args(cls, args: dict[str, Any]) -> dict[str, Any]:
        """Fill arguments derived from other arguments (may see UNKNOWN values at plan time)."""
        return args

    @classmethod
    def plan_attributes(
        cls, args: Mapping[str, Any], prior: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        """Computed attributes as far as they are known before apply.

        Default: on create everything computed is unknown; on update it keeps its prior value.
        """
        names = cls.Attrs.model_fields
        if prior is None:
            return dict.fromkeys(names, UNKNOWN)
        return {name: prior.get(name, UNKNOWN) for name in names}

    @classmethod
    def check_change(cls, before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
        """AWS's rules for changing an existing object in place that a plan must not let
        through (a volume cannot shrink, a version moves one step at a time): one message per
        broken rule, saying what to do instead. `before` is the recorded object, `after` the
        arguments to update it to (values only known after apply are UNKNOWN: skip those).
        Called at plan time, without cloud access, for updates only."""
        return []

    @classmethod
    def check_related(cls, after: Mapping[str, Any],
                      planned: Mapping[str, Mapping[str, Any]]) -> list[str]:
        """AWS's rules between this object and others that a plan must not let through (a node
        group's Kubernetes version against its cluster's): one message per broken rule.
        `after` is what the plan leaves of this object, `planned` the same for every resource
        in the configuration, by address. Called at plan time for every resource the plan
        keeps, creates or changes."""
        return []

    @classmethod
    def same_object(cls, a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
        """True if the attributes `a` and `b` describe the same cloud object. The id says so,
        except for types whose id names a series of objects (a task definition family)."""
        return str(a.get("id")) == str(b.get("id"))

    # -- cloud operations -------------------------------------------------------------------

    @abstractmethod
    def create(self, args: A, meta: ResourceMeta) -> dict[str, Any]:
        """Create the object and return its attributes (arguments + computed, with `id`).

        Tag it with `meta.tags` (when the service supports tags) in the create call itself if the
        API allows, so that an interrupted apply can always find it again.
        """

    @abstractmethod
    def read(self, id: str, prior: Mapping[str, Any]) -> dict[str, Any] | None:
        """The live attributes, or None if the object does not exist (never raise for missing)."""

    @abstractmethod
    def update(
        self, id: str, prior: Mapping[str, Any], args: A, meta: ResourceMeta
    ) -> dict[str, Any]:
        """Change the object in place from `prior` to `args` and return the new attributes."""

    @abstractmethod
    def delete(self, id: str, prior: Mapping[str, Any]) -> None:
        """Delete the object. If it does not exist, return silently."""

    # -- helpers for implementations -------------------------------------------------------

    @staticmethod
    def attributes(args: ArgsModel, **computed: Any) -> dict[str, Any]:
        """The attribute dict for `args` plus computed values."""
        return {**args.model_dump(mode="json"), **computed}


class Waitable(ABC):
    """Capability: after create/update the object needs time to become usable (an endpoint)."""

    @abstractmethod
    def wait_ready(self, attributes: Mapping[str, Any]) -> dict[str, Any]:
        """Return fresh attributes once ready; raise NotReady while it is still converging and
        ProviderError if it reached a failed state."""


@dataclass(frozen=True, slots=True)
class Discovered:
    """An object found in the cloud by `Discoverable.list`."""

    id: str
    tags: Mapping[str, str] = field(default_factory=dict)
    # What `read` (and `mlform import`) takes when the id alone cannot be read without a prior
    # state (a scalable target: namespace/resource id/dimension). None: the id.
    import_id: str | None = None

    @property
    def address(self) -> str | None:
        return self.tags.get(TAG_ADDRESS)

    @property
    def stack(self) -> str | None:
        return self.tags.get(TAG_STACK)


class Discoverable(ABC):
    """Capability: enumerate existing objects, and find the one an interrupted create made."""

    @abstractmethod
    def list(self) -> Iterator[Discovered]:
        """Every object of this type in the session's account and region."""

    @abstractmethod
    def find(self, args: ArgsModel, meta: ResourceMeta) -> dict[str, Any] | None:
        """The attributes of the object that creating `args` for `meta.address` would have made,
        or None. Used to adopt an object whose create was interrupted before it was recorded."""


class Prefetching(ABC):
    """Capability: read many objects of this type in a few batched calls (one Describe with
    many ids, the account's role details, the tagging API), ahead of a refresh reading them one
    by one. What a batch found is used by the next `read` of each object, once."""

    prefetch_min: ClassVar[int] = 2  # fewer objects than this: batching would not pay

    @abstractmethod
    def prefetch(self, items: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        """Fetch what batched calls can tell of `items` (id, prior attributes). Best effort:
        whatever this cannot find, `read` finds the usual way."""

    @abstractmethod
    def forget_prefetched(self) -> None:
        """Drop whatever `read` did not use (the refresh is over)."""


def stable_hash(value: Any, length: int = 8) -> str:
    """A short digest of JSON-able data, stable across runs (for content-derived names)."""
    raw = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(raw.encode()).hexdigest()[:length]
