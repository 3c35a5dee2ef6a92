"""Refresh: read every recorded object from the cloud, and settle interrupted creates.

The result is a set of state changes (not applied to any file): objects whose live attributes
differ from the record, objects deleted outside mlform, and pending creates that either made an
object (adopted) or made nothing (abandoned).
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from pydantic import ValidationError

from mlform.engine.calls import provider_error
from mlform.engine.providers import ProviderPool
from mlform.errors import MlformError, ProviderError
from mlform.providers.base import Discoverable, Prefetching
from mlform.state.models import PendingCreate, ResourceState, State, apply_record

log = logging.getLogger(__name__)


@dataclass
class RefreshResult:
    changed: dict[str, ResourceState | None] = field(default_factory=dict)
    abandoned: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def apply_to(self, state: State) -> None:
        """Make the in-memory `state` reflect the refresh."""
        for address, res in self.changed.items():
            if res is None:
                state.resources.pop(address, None)
            else:
                state.resources[address] = res
            state.pending.pop(address, None)
        for address in self.abandoned:
            apply_record(state, {"t": "abandon", "a": address})


def refresh(
    state: State, pool: ProviderPool, parallelism: int = 10,
    on_read: Callable[[str], None] | None = None,
) -> RefreshResult:
    """Read every resource and pending create in `state` from the cloud, in parallel."""
    result = RefreshResult()
    errors: list[ProviderError] = []

    def read(address: str, res: ResourceState) -> None:
        try:
            live = pool.resource(res.type).read(res.id, res.attributes)
        except Exception as exc:
            errors.append(provider_error(exc, address))
            return
        if on_read is not None:
            on_read(address)
        if live is None:
            result.changed[address] = None
            result.notes.append(f"{address} was deleted outside mlform; it will be created again")
        elif live != res.attributes:
            result.changed[address] = replace(res, id=str(live.get("id", res.id)),
                                              attributes=live)

    def settle(address: str, pending: PendingCreate) -> None:
        try:
            found = _find(pool, address, pending)
        except Exception as exc:
            errors.append(provider_error(exc, address))
            return
        if found is None:
            result.abandoned.append(address)
            result.notes.append(f"{address}: an interrupted create made nothing; "
                                "it will be created")
        else:
            result.changed[address] = ResourceState(
                type=pending.type, id=str(found["id"]), attributes=found,
                dependencies=[],
            )
            result.notes.append(f"{address}: found the object an interrupted create made "
                                f"(id {found['id']}); adopted into state")

    remote = []
    for address, res in state.resources.items():
        if pool.registry.get(res.type).reads_remote:
            remote.append((address, res))
        else:
            read(address, res)
    if remote or state.pending:
        batched = _batchable(pool, remote)
        # No service gets more than half the workers, so one slow or throttled service (each
        # also has its own rate limit in its session) does not hold up the others' reads.
        per_service = max(1, parallelism // 2)
        ordered = _interleaved(pool, remote)
        limits = {service: threading.Semaphore(per_service)
                  for service in {_service(pool, r.type) for _, r in ordered}}

        def limited(service: str, work: Callable[[], None]) -> None:
            with limits[service]:
                work()

        with ThreadPoolExecutor(max_workers=max(1, parallelism),
                                thread_name_prefix="mlform-refresh") as ex:
            try:
                for f in [ex.submit(_prefetch, rt, items) for rt, items in batched]:
                    f.result()
                futures = [ex.submit(limited, _service(pool, r.type), partial(read, a, r))
                           for a, r in ordered]
                futures += [ex.submit(settle, a, p) for a, p in state.pending.items()]
                for f in futures:
                    f.result()
            finally:
                for rt, _ in batched:
                    rt.forget_prefetched()
    if errors:
        raise MlformError("refresh failed:\n" + "\n".join(
            f"  {e.address}: {e.message}" for e in errors))
    return result


def _service(pool: ProviderPool, type_name: str) -> str:
    return str(getattr(pool.registry.get(type_name), "service", type_name))


def _interleaved(pool: ProviderPool, remote: list[tuple[str, ResourceState]],
                 ) -> list[tuple[str, ResourceState]]:
    """Reads ordered round-robin across services, so every service's reads start early."""
    queues: dict[str, list[tuple[str, ResourceState]]] = defaultdict(list)
    for item in remote:
        queues[_service(pool, item[1].type)].append(item)
    lanes = list(queues.values())
    return [lane[i] for i in range(max(map(len, lanes), default=0)) for lane in lanes
            if i < len(lane)]


def _batchable(pool: ProviderPool, remote: list[tuple[str, ResourceState]],
               ) -> list[tuple[Prefetching, list[tuple[str, dict[str, Any]]]]]:
    """The types that can read many objects at once, with their objects, where it pays."""
    by_type: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    for _, res in remote:
        by_type[res.type].append((res.id, res.attributes))
    out: list[tuple[Prefetching, list[tuple[str, dict[str, Any]]]]] = []
    for type_name, items in by_type.items():
        rt = pool.resource(type_name)
        if isinstance(rt, Prefetching) and len(items) >= rt.prefetch_min:
            out.append((rt, items))
    return out


def _prefetch(rt: Prefetching, items: list[tuple[str, dict[str, Any]]]) -> None:
    """Best effort: a batch that fails (a permission the tagging API needs, a throttle) only
    means the objects are read one by one."""
    try:
        rt.prefetch(items)
    except Exception:
        log.debug("batched read of %s failed; reading one by one", type(rt).__name__,
                  exc_info=True)
        rt.forget_prefetched()


def _find(pool: ProviderPool, address: str, pending: PendingCreate) -> dict[str, Any] | None:
    rt = pool.resource(pending.type)
    if not isinstance(rt, Discoverable):
        raise ProviderError(
            f"{pending.type} cannot look up the object an interrupted create may have made "
            "(its provider does not implement Discoverable)", address=address,
        )
    try:
        args = type(rt).Args.model_validate(pending.args)
    except ValidationError as exc:
        raise ProviderError(f"recorded arguments are no longer valid: {exc}") from None
    return rt.find(args, pool.meta(address))
