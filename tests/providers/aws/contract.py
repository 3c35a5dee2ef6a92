"""The provider contract, checked against the real sandbox for any AWS resource type.

`check_contract` drives one type through create, read, update, find, list and delete and
asserts what `mlform.providers.base.ResourceType` promises: read returns what create returned,
update converges, delete is idempotent, a missing object reads as None, and the object can be
found again (by its tags or id) after a crash.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mlform.engine.calls import call_with_wait
from mlform.providers.base import TAG_ADDRESS, TAG_STACK, ResourceMeta, StackContext
from mlform.providers.schema import computed_fields


def _echoed(rtype: type[Any], args: Any) -> dict[str, Any]:
    """The arguments an object must echo: all but the `Computed` ones left to the cloud."""
    computed = computed_fields(rtype.Args)
    return {k: v for k, v in args.model_dump(mode="json").items()
            if not (k in computed and v is None)}


def check_contract(
    rtype: type[Any],
    session: Any,
    context: StackContext,
    create: dict[str, Any],
    update: dict[str, Any] | None = None,
    *,
    address: str | None = None,
    taggable: bool = True,
    detached: Callable[[], None] | None = None,
    leaves: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Run the full lifecycle; return the attributes after update (or create).

    `detached`: for a type that manages part of another object and whose delete only stops
    managing it (Terraform's `*_exclusive` resources), removes that other object. The contract
    then asserts that delete changed nothing (or left what `leaves(attrs)` says: S3 cannot
    unversion a bucket, so deleting its versioning suspends it), and that once the other
    object is gone the type's object reads as None."""
    rt = rtype(session)
    address = address or f"{rtype.type_name}.contract"
    meta = ResourceMeta(address=address, context=context)
    args = rtype.Args.model_validate(rtype.complete_args(dict(create)))
    # Through the engine's NotReady waits, as apply calls them (a NAT gateway comes up and
    # goes away over several calls).
    attrs = call_with_wait(lambda: rt.create(args, meta), timeout=120)
    assert attrs["id"], "create must return an id"
    for name in rtype.Args.model_fields:
        assert name in attrs, f"create must return argument {name}"
    assert attrs == {**attrs, **_echoed(rtype, args)}, "create must echo its arguments"
    again = rt.read(attrs["id"], attrs)
    assert again == attrs, "read right after create must return what create returned"
    if taggable:
        assert attrs["tags_all"][TAG_STACK] == context.stack
        assert attrs["tags_all"][TAG_ADDRESS] == address
    found = rt.find(args, meta)
    assert found == attrs, "find must locate the object an interrupted create made"
    other = ResourceMeta(address=address,
                         context=StackContext(project="other", environment="x"))
    if taggable:
        assert rt.find(args, other) is None, "find must not adopt another stack's object"
    listed = {d.id: d for d in rt.list()}
    assert attrs["id"] in listed, "list must include the object"
    if taggable:
        assert listed[attrs["id"]].address == address
    if update is not None:
        new_args = rtype.Args.model_validate(rtype.complete_args(dict(update)))
        updated = call_with_wait(lambda: rt.update(attrs["id"], attrs, new_args, meta),
                                 timeout=120)
        wanted = _echoed(rtype, new_args)
        assert {k: updated[k] for k in wanted} == wanted, (
            "update must converge to the new arguments")
        assert rt.read(updated["id"], updated) == updated
        attrs = updated
    call_with_wait(lambda: rt.delete(attrs["id"], attrs), timeout=120)
    if detached is not None:
        left = attrs if leaves is None else leaves(attrs)
        assert rt.read(attrs["id"], attrs) == left, "delete must only stop the management"
        detached()
    assert rt.read(attrs["id"], attrs) is None, "read of a deleted object must return None"
    call_with_wait(lambda: rt.delete(attrs["id"], attrs), timeout=120)  # gone: succeeds
    return attrs
