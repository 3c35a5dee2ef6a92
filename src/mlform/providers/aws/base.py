"""What every AWS resource type shares: clients, tags, reading back after a write, and finding
objects again after a crash."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar, TypeVar

from pydantic import Field

from mlform.errors import NotReady, ProviderError
from mlform.providers.aws.errors import error_code
from mlform.providers.aws.session import AwsSession
from mlform.providers.base import (
    TAG_ADDRESS,
    TAG_STACK,
    ArgsModel,
    Discoverable,
    Discovered,
    ResourceMeta,
    ResourceType,
    StackContext,
)

A = TypeVar("A", bound=ArgsModel)

MLFORM_TAG_PREFIX = "mlform:"


def tags_field(what: str = "resource") -> Any:
    return Field(default_factory=dict, description=f"Tags to put on the {what}. mlform adds "
                 f"`{TAG_STACK}` and `{TAG_ADDRESS}` itself.")


def tags_all_field() -> Any:
    return Field(default_factory=dict, description="Every tag on the object, mlform's included.")


def all_tags(user: Mapping[str, str] | None, meta: ResourceMeta) -> dict[str, str]:
    """The user's tags plus mlform's own, which always win."""
    return {**(user or {}), **meta.tags}


def user_tags(tags: Mapping[str, str]) -> dict[str, str]:
    """Live tags without mlform's own (what the `tags` argument is compared with)."""
    return {k: v for k, v in tags.items() if not k.startswith(MLFORM_TAG_PREFIX)}


def tag_list(
    tags: Mapping[str, str], key: str = "Key", value: str = "Value"
) -> list[dict[str, str]]:
    """`{"a": "b"}` -> `[{"Key": "a", "Value": "b"}]` (the key names vary by service)."""
    return [{key: k, value: v} for k, v in tags.items()]


def aws_chosen(prior: Mapping[str, Any], key: str, live: Any, unset: Any = None) -> Any:
    """An argument AWS fills in when the config leaves it unset (Terraform's optional and
    computed): the live value if the config set it, or if nothing is recorded yet (an import
    reads what exists); `unset` if the config left it to AWS, so AWS's choice is no change."""
    return live if key not in prior or prior[key] else unset


def tags_by_arn(session: AwsSession, arns: Sequence[str]) -> dict[str, dict[str, str]]:
    """The tags of many objects in one call per 100 ARNs (the Resource Groups Tagging API).
    Objects that never had a tag are not returned (by AWS either): ask their service."""
    client = session.client("resourcegroupstaggingapi")
    found: dict[str, dict[str, str]] = {}
    for start in range(0, len(arns), 100):
        for page in client.get_paginator("get_resources").paginate(
                ResourceARNList=list(arns[start:start + 100])):
            for item in page.get("ResourceTagMappingList", []):
                found[item["ResourceARN"]] = tag_dict(item.get("Tags"))
    return found


def tag_dict(items: list[dict[str, str]] | None, key: str = "Key",
             value: str = "Value") -> dict[str, str]:
    return {t[key]: t[value] for t in items or []}


class AwsResource(ResourceType[A], Discoverable):
    """Base of AWS resource types. `self.aws` is the stack's AwsSession."""

    service: ClassVar[str]
    # The argument that names the object and is its id (types whose id is not an argument
    # override `id_for`).
    name_arg: ClassVar[str] = "name"
    # Its default, <project>-<environment>-<resource name>, cut to the service's limit (0: none).
    name_max_len: ClassVar[int] = 0
    name_lower: ClassVar[bool] = False
    # Whether the create call itself sets mlform's tags. If it does, an object without them was
    # not made by us; if tags come in a later call (S3), an untagged object may be ours.
    tagged_at_create: ClassVar[bool] = True
    # The error codes with which the create call says an object of that name exists already.
    exists_codes: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, session: AwsSession) -> None:
        super().__init__(session)
        self.aws: AwsSession = session
        # What a batched read (`Prefetching.prefetch`) found, by id or ARN: taken once.
        self._prefetched: dict[str, Any] = {}

    def _take(self, key: str) -> Any:
        """What a batched read found for `key` (None if nothing): used once."""
        return self._prefetched.pop(key, None)

    def forget_prefetched(self) -> None:
        self._prefetched.clear()

    @property
    def client(self) -> Any:
        return self.aws.client(self.service)

    @classmethod
    def default_args(cls, ctx: StackContext, name: str) -> dict[str, Any]:
        if not cls.name_max_len:
            return {}
        default = ctx.default_name(name, max_len=cls.name_max_len)
        return {cls.name_arg: default.lower() if cls.name_lower else default}

    def read_back(self, id: str, prior: Mapping[str, Any]) -> dict[str, Any]:
        """The attributes of the object just created or changed, read again.

        AWS is eventually consistent: an object may not be visible for a moment after its
        create call returned. That raises NotReady, and the engine calls the create or update
        again, which carries on with the object (every type's create is idempotent)."""
        attrs = self.read(id, prior)
        if attrs is None:
            raise NotReady(f"{self.type_name} {id} was written but is not visible yet",
                           retry_after=1.0)
        return attrs

    def id_for(self, args: A) -> str:
        """The id the object created from `args` has (its name, for name-keyed services)."""
        return str(getattr(args, self.name_arg))

    @abstractmethod
    def list(self) -> Iterator[Discovered]:
        """Every object of this type in the account and region, with its tags."""

    def find(self, args: ArgsModel, meta: ResourceMeta) -> dict[str, Any] | None:
        """The object an interrupted create of `args` made, unless it belongs to someone else.

        Names are deterministic, so the object is looked up by the id `args` give it. It is
        adopted if its mlform tags name this address and stack, or, for types whose tags are
        set after the create call (`tagged_at_create = False`), if it has none. Anything else
        is left alone, and the create that follows reports the conflict.
        """
        # The arguments stand in for the prior state: arguments AWS does not store (force_destroy,
        # name_prefix) then read back as the create had them.
        attrs = self.read(self.id_for(args), args.model_dump(mode="json"))  # type: ignore[arg-type]
        if attrs is None:
            return None
        if self.owns(attrs, meta):
            return attrs
        tags = attrs.get("tags_all") or {}
        if not tags.get(TAG_STACK) and not tags.get(TAG_ADDRESS) and not self.tagged_at_create:
            return attrs
        return None

    # -- a create that finds its name taken ---------------------------------------------------

    def already_exists(self, exc: BaseException) -> bool:
        """True if `exc`, raised by the create call, says an object of that name exists."""
        return error_code(exc) in self.exists_codes

    def existing(self, args: A) -> dict[str, Any] | None:
        """The live object whose name `args` give (for types whose ids are not names, the one
        with that name in the same scope), or None."""
        return self.read(self.id_for(args), args.model_dump(mode="json"))

    def claim(self, args: A, meta: ResourceMeta, operation: str,
              exc: BaseException | None = None) -> dict[str, Any]:
        """The attributes of the object a create call found already there, if it is ours.

        It is ours when its tags name this stack and address: the create was called again
        after NotReady or a crash, or botocore retried a call whose answer was lost (a 5xx,
        a dropped connection) and the retry found what the first call made. Anything else
        is someone else's, and raises the ProviderError of `taken`. `exc`: the create call's
        error, whose code the message keeps."""
        have = self.existing(args)
        if have is None:
            raise NotReady(f"{operation}: the {self.type_name} exists, but cannot be read yet",
                           retry_after=1.0)
        if not self.owns(have, meta):
            raise self.taken(str(have["id"]), have.get("tags_all") or {}, meta, operation,
                             exc) from exc
        return have

    def adopt(self, args: A, meta: ResourceMeta, operation: str,
              exc: BaseException | None = None) -> dict[str, Any]:
        """Carry on with our own object that a create call found (`claim`), converging it
        to `args` as the create would have."""
        have = self.claim(args, meta, operation, exc)
        try:
            return self.update(str(have["id"]), have, args, meta)
        except ProviderError as err:
            err.partial = err.partial or have  # it exists: the engine records it (tainted)
            raise

    def taken(self, id: str, tags: Mapping[str, str], meta: ResourceMeta, operation: str,
              exc: BaseException | None = None) -> ProviderError:
        """The one-line error for a create that finds object `id` (with `tags`) in its way:
        whose it is, and what to do."""
        stack, address = tags.get(TAG_STACK), tags.get(TAG_ADDRESS)
        code = error_code(exc) if exc is not None else ""
        operation = f"{operation}: {code}" if code else operation
        if stack:
            return ProviderError(
                f"{operation}: {self.type_name} {id} already exists and belongs to "
                f"{address or 'a resource'} in mlform stack {stack}: give this resource "
                "another name")
        ctx = meta.context
        where = f"-e {ctx.environment} --region {ctx.region} " if ctx.regional else ""
        return ProviderError(
            f"{operation}: {self.type_name} {id} already exists and was made outside mlform: "
            f"adopt it with `mlform import {where}{meta.address} {id}`, or give this resource "
            "another name")

    @staticmethod
    def owns(attrs: Mapping[str, Any], meta: ResourceMeta) -> bool:
        """True if the object's tags say mlform made it for this stack and address."""
        tags = attrs.get("tags_all") or {}
        return (tags.get(TAG_STACK), tags.get(TAG_ADDRESS)) == (meta.context.stack, meta.address)


class TaggedResource(AwsResource[A]):
    """An AWS type whose objects carry tags that a tag and an untag call change (most services;
    S3, which replaces a bucket's whole tag set in one call, is the exception)."""

    @abstractmethod
    def _tag(self, ref: str, tags: Mapping[str, str]) -> None:
        """Add `tags` to the object, or change their values. `ref` is what the service's tag
        call takes: its id or its ARN."""

    @abstractmethod
    def _untag(self, ref: str, keys: Sequence[str]) -> None:
        """Remove the tags named `keys` from the object."""

    def sync_tags(self, ref: str, live: Mapping[str, str], tags: Mapping[str, str] | None,
                  meta: ResourceMeta) -> None:
        """Make the object's tags exactly the user's `tags` plus mlform's own.

        `live` is every tag the object has now, as read from it in this call, never the
        recorded state: tags are changed by hand, and a stale `live` would miss a tag added
        outside mlform (never removed) or one removed outside it (never put back)."""
        wanted = all_tags(tags, meta)
        to_set = {k: v for k, v in wanted.items() if live.get(k) != v}
        to_remove = [k for k in live if k not in wanted]
        if to_set:
            self._tag(ref, to_set)
        if to_remove:
            self._untag(ref, to_remove)
