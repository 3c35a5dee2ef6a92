"""A tiny in-memory cloud, registered as the provider `fake`, for engine tests that need a
cloud that assigns ids, makes objects that are not ready at once, and can "die" on cue.

It is not a mock of mlform: it is a third-party provider written against the public provider
contract (`ResourceType`, `Discoverable`), as any plug-in would be, and the engine under test is
the real one. Tests use it where moto cannot be made to behave on cue (an object that stays
"creating" while the test presses Ctrl-C; a process frozen right after a cloud call).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, TypeVar

from mlform.errors import NotReady, ProviderError
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

T = TypeVar("T")


@dataclass
class FakeCloud:
    """Objects by id.

    - `ready` (an event) says whether new objects are usable yet, or `polls` says after how
      many NotReady answers each becomes usable; `created` fires once a create call has made
      its object (before the engine hears back).
    - `freeze_after(n)`: the n-th mutating call happens, then every later one blocks, as if the
      process had been frozen right after the cloud acted; `kill()` then makes every blocked
      and later call fail without effect, so what the cloud holds is what it held at the freeze.
    """

    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    ready: threading.Event = field(default_factory=threading.Event)
    polls: int | None = None
    created: threading.Event = field(default_factory=threading.Event)
    frozen: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    calls: int = 0
    _freeze_at: int | None = None
    _dead: bool = False
    _thawed: threading.Event = field(default_factory=threading.Event)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def new_id(self) -> str:
        return f"thing-{next(self._ids):04d}"

    def tagged(self, stack: str) -> list[dict[str, Any]]:
        return [o for o in self.objects.values() if o["tags"].get(TAG_STACK) == stack]

    def freeze_after(self, calls: int) -> None:
        self._freeze_at = self.calls + calls

    def kill(self) -> None:
        self._dead = True
        self._thawed.set()

    def revive(self) -> None:
        self._dead, self._freeze_at = False, None
        self.frozen.clear()
        self._thawed.clear()

    def mutate(self, change: Callable[[], T]) -> T:
        """Run one mutating cloud call, unless the process it serves is frozen or dead."""
        while True:
            if self._dead:
                raise ProviderError("(the process was killed before this call)")
            if self.frozen.is_set():
                self._thawed.wait()
                continue
            with self.lock:
                if self.frozen.is_set() or self._dead:
                    continue
                result = change()
                self.calls += 1
                if self._freeze_at is not None and self.calls >= self._freeze_at:
                    self.frozen.set()
                return result


class ThingArgs(ArgsModel):
    size: Annotated[int, ForceNew()] = 1
    key: Annotated[str, ForceNew()] = ""
    label: str = ""
    note: str = ""  # a second setting changed in place (label may be in ignore_changes)


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

    @staticmethod
    def _attrs(obj: Mapping[str, Any]) -> dict[str, Any]:
        return {"id": obj["id"], "size": obj["size"], "key": obj["key"], "label": obj["label"],
                "note": obj.get("note", "")}

    def create(self, args: ThingArgs, meta: ResourceMeta) -> dict[str, Any]:
        id = self._creating.get(meta.address)
        if id is None or id not in self.cloud.objects:
            def make() -> str:
                new = self.cloud.new_id()
                self.cloud.objects[new] = {"id": new, "size": args.size, "key": args.key,
                                           "label": args.label, "note": args.note,
                                           "tags": dict(meta.tags),
                                           "polls": self.cloud.polls}
                return new
            id = self.cloud.mutate(make)
            self._creating[meta.address] = id
        self.cloud.created.set()
        obj = self.cloud.objects[id]
        if obj["polls"] is not None:
            if obj["polls"] > 0:
                obj["polls"] -= 1
                raise NotReady(f"{id} is still creating", retry_after=0.01)
        elif not self.cloud.ready.is_set():
            raise NotReady(f"{id} is still creating", retry_after=0.05)
        self._creating.pop(meta.address, None)
        return self._attrs(obj)

    def read(self, id: str, prior: Mapping[str, Any]) -> dict[str, Any] | None:
        obj = self.cloud.objects.get(id)
        return None if obj is None else self._attrs(obj)

    def update(self, id: str, prior: Mapping[str, Any], args: ThingArgs,
               meta: ResourceMeta) -> dict[str, Any]:
        def change() -> dict[str, Any]:
            obj = self.cloud.objects.get(id)
            if obj is None:
                raise ProviderError(f"{id} does not exist")
            obj["label"], obj["note"] = args.label, args.note
            return self._attrs(obj)
        return self.cloud.mutate(change)

    def delete(self, id: str, prior: Mapping[str, Any]) -> None:
        self.cloud.mutate(lambda: self.cloud.objects.pop(id, None))

    def list(self) -> Iterator[Discovered]:
        for obj in list(self.cloud.objects.values()):
            yield Discovered(obj["id"], obj["tags"])

    def find(self, args: ArgsModel, meta: ResourceMeta) -> dict[str, Any] | None:
        """The object tagged for this stack and address with the replace-forcing arguments of
        `args` (an object of the same address with others is the one a replacement replaces)."""
        assert isinstance(args, ThingArgs)
        for obj in list(self.cloud.objects.values()):
            if ((obj["tags"].get(TAG_STACK), obj["tags"].get(TAG_ADDRESS))
                    == (meta.context.stack, meta.address)
                    and (obj["size"], obj["key"]) == (args.size, args.key)):
                return self._attrs(obj)
        return None


def fake_registry(cloud: FakeCloud) -> Registry:
    """The built-in `mlform` provider plus `fake`, whose every session is `cloud`."""
    def session(ctx: StackContext) -> FakeCloud:
        return cloud

    registry = build_registry([ProviderSpec("fake", (FakeThing,), session)])
    registry.add(default_registry().provider_for("mlform_data"))
    return registry
