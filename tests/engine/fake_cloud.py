"""A tiny in-memory cloud, registered as the provider `fake`, for engine tests that need a
cloud that assigns ids and makes objects that are not ready at once.

It is not a mock of mlform: it is a third-party provider written against the public provider
contract (`ResourceType`, `Discoverable`), as any plug-in would be, and the engine under test is
the real one. Tests use it where moto cannot be made to behave on cue (an object that stays
"creating" while the test presses Ctrl-C).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar

from mlform.errors import NotReady
from mlform.providers.base import (
    TAG_ADDRESS,
    TAG_STACK,
    ArgsModel,
    AttrsModel,
    Discoverable,
    Discovered,
    ForceNew,
    ResourceMeta,
    ResourceType,
    StackContext,
)
from mlform.providers.registry import ProviderSpec, Registry, build_registry, default_registry


@dataclass
class FakeCloud:
    """Objects by id. `ready` says whether new objects are usable yet; `created` fires after a
    create call has made its object (before the engine hears back)."""

    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    ready: threading.Event = field(default_factory=threading.Event)
    created: threading.Event = field(default_factory=threading.Event)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def new_id(self) -> str:
        return f"thing-{next(self._ids):04d}"

    def tagged(self, stack: str) -> list[dict[str, Any]]:
        return [o for o in self.objects.values() if o["tags"].get(TAG_STACK) == stack]


class ThingArgs(ArgsModel):
    size: Annotated[int, ForceNew()] = 1
    label: str = ""


class ThingAttrs(AttrsModel):
    pass


class FakeThing(ResourceType[ThingArgs], Discoverable):
    """An object whose id the cloud assigns and which takes a while to become ready: create
    makes it and then says NotReady until the cloud says it is ready (as EC2 and RDS do)."""

    type_name: ClassVar[str] = "fake_thing"
    Args = ThingArgs
    Attrs = ThingAttrs

    def __init__(self, session: FakeCloud) -> None:
        super().__init__(session)
        self.cloud = session
        self._creating: dict[str, str] = {}

    def _attrs(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        return {"id": obj["id"], "size": obj["size"], "label": obj["label"]}

    def create(self, args: ThingArgs, meta: ResourceMeta) -> dict[str, Any]:
        with self.cloud.lock:
            id = self._creating.get(meta.address)
            if id is None:
                id = self.cloud.new_id()
                self.cloud.objects[id] = {"id": id, "size": args.size, "label": args.label,
                                          "tags": dict(meta.tags)}
                self._creating[meta.address] = id
        self.cloud.created.set()
        if not self.cloud.ready.is_set():
            raise NotReady(f"{id} is still creating", retry_after=0.05)
        self._creating.pop(meta.address, None)
        return self._attrs(self.cloud.objects[id])

    def read(self, id: str, prior: Mapping[str, Any]) -> dict[str, Any] | None:
        obj = self.cloud.objects.get(id)
        return None if obj is None else self._attrs(obj)

    def update(self, id: str, prior: Mapping[str, Any], args: ThingArgs,
               meta: ResourceMeta) -> dict[str, Any]:
        self.cloud.objects[id]["label"] = args.label
        return self._attrs(self.cloud.objects[id])

    def delete(self, id: str, prior: Mapping[str, Any]) -> None:
        self.cloud.objects.pop(id, None)

    def list(self) -> Iterator[Discovered]:
        for obj in list(self.cloud.objects.values()):
            yield Discovered(obj["id"], obj["tags"])

    def find(self, args: ArgsModel, meta: ResourceMeta) -> dict[str, Any] | None:
        assert isinstance(args, ThingArgs)
        for obj in list(self.cloud.objects.values()):
            if (obj["tags"].get(TAG_STACK), obj["tags"].get(TAG_ADDRESS)) == (
                    meta.context.stack, meta.address) and obj["size"] == args.size:
                return self._attrs(obj)
        return None


def fake_registry(cloud: FakeCloud) -> Registry:
    """The installed providers plus `fake`, whose every session is `cloud`."""
    def session(ctx: StackContext) -> FakeCloud:
        return cloud

    registry = build_registry([ProviderSpec("fake", (FakeThing,), session)])
    installed = default_registry()
    for name in ("mlform",):
        registry.add(installed.provider_for(f"{name}_data"))
    return registry
