"""Apply: carry out a plan's changes in parallel, journaling every mutating call.

Each change becomes one or two graph nodes: `apply` (create or update) and `delete`. Ordering:
  1. a resource is created/updated after the resources it refers to;
  2. a destroy-then-create replacement deletes before it creates;
  3. an object is deleted after the objects being deleted that referred to it;
  4. a create-before-destroy replacement deletes its old object last, after everything that
     refers to it has moved to the new one;
  5. a resource removed from the config is deleted after its former dependants were updated;
  6. an update waits for the deletes of the objects that referred to it and are removed or
     replaced destroy-first (as Terraform orders them): a scaling target registered on an
     endpoint is deregistered before the endpoint changes in a way AWS refuses under it.
     Skipped where the other rules already order the two the other way.
A failed node stops only the nodes that depend on it; everything else carries on and is recorded.
Ctrl-C (`cancel`) stops new calls from starting; calls in flight finish and are recorded.
"""

from __future__ import annotations

import graphlib
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from typing import Any

from mlform.config.refs import substitute
from mlform.engine.calls import Cancelled, call_with_wait, provider_error
from mlform.engine.plan import (
    Action,
    Plan,
    ResourceChange,
    keep_ignored_args,
    resolve_args,
    resolver,
)
from mlform.engine.providers import ProviderPool
from mlform.errors import MlformError, ProviderError
from mlform.providers.base import Waitable
from mlform.providers.schema import keep_computed
from mlform.state.journal import Journal
from mlform.state.models import ResourceState, now_iso
from mlform.values import contains_unknown

APPLY, DELETE = "apply", "delete"
Node = tuple[str, str]


@dataclass(frozen=True)
class ApplyEvent:
    """Progress of one node, for display: kind is start, done, failed, skipped or waiting."""

    kind: str
    address: str
    verb: str  # create, update, delete
    elapsed: float = 0.0
    message: str = ""
    id: str | None = None


@dataclass
class ApplyResult:
    done: list[Node] = field(default_factory=list)
    failed: dict[str, ProviderError] = field(default_factory=dict)
    skipped: list[Node] = field(default_factory=list)
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        return not self.failed and not self.skipped and not self.interrupted


def build_graph(changes: list[ResourceChange]) -> dict[Node, set[Node]]:
    """Nodes of the changes and, for each, the nodes that must finish before it starts."""
    nodes: dict[Node, ResourceChange] = {}
    for c in changes:
        if c.deposed:
            nodes[(c.key, DELETE)] = c
        elif c.action in (Action.CREATE, Action.UPDATE):
            nodes[(c.address, APPLY)] = c
        elif c.action is Action.REPLACE:
            nodes[(c.address, APPLY)] = c
            nodes[(c.address, DELETE)] = c
        elif c.action is Action.DELETE:
            nodes[(c.address, DELETE)] = c
    preds: dict[Node, set[Node]] = {n: set() for n in nodes}
    new_dependants: dict[str, list[str]] = {}
    old_dependants: dict[str, list[str]] = {}
    for (key, phase), c in nodes.items():
        if phase != APPLY:
            continue
        for d in c.dependencies:
            new_dependants.setdefault(d, []).append(key)
            if (d, APPLY) in nodes:
                preds[(key, APPLY)].add((d, APPLY))  # rule 1
        for d in c.prior_dependencies:
            old_dependants.setdefault(d, []).append(key)
        if c.action is Action.REPLACE and not c.create_before_destroy:
            preds[(key, APPLY)].add((key, DELETE))  # rule 2
    for (key, phase), c in nodes.items():
        if phase != DELETE:
            continue
        for d in c.prior_dependencies:
            if d != c.address and (d, DELETE) in nodes:
                preds[(d, DELETE)].add((key, DELETE))  # rule 3
        if c.deposed:
            continue
        if c.action is Action.REPLACE and c.create_before_destroy:
            preds[(key, DELETE)].add((key, APPLY))  # rule 4
            preds[(key, DELETE)].update((x, APPLY) for x in new_dependants.get(key, ()))
        elif c.action is Action.DELETE:
            preds[(key, DELETE)].update((x, APPLY) for x in old_dependants.get(key, ()))  # 5
    for (key, phase), c in nodes.items():
        goes_first = c.action is Action.DELETE or (
            c.action is Action.REPLACE and not c.create_before_destroy)
        if phase != DELETE or c.deposed or not goes_first:
            continue
        for d in c.prior_dependencies:
            updated = (d, APPLY) in nodes and nodes[(d, APPLY)].action is Action.UPDATE
            if updated and not _reaches(preds, (key, DELETE), (d, APPLY)):
                preds[(d, APPLY)].add((key, DELETE))  # rule 6
    return preds


def _reaches(preds: dict[Node, set[Node]], node: Node, ancestor: Node) -> bool:
    """True if `ancestor` must finish before `node` already (an edge back would cycle)."""
    seen, todo = {node}, [node]
    while todo:
        for p in preds[todo.pop()]:
            if p == ancestor:
                return True
            if p not in seen:
                seen.add(p)
                todo.append(p)
    return False


class Applier:
    """Runs one plan against the cloud. Use once."""

    def __init__(
        self,
        plan: Plan,
        pool: ProviderPool,
        journal: Journal,
        *,
        parallelism: int = 10,
        cancel: threading.Event | None = None,
        on_event: Callable[[ApplyEvent], None] | None = None,
    ) -> None:
        self.plan = plan
        self.pool = pool
        self.journal = journal
        self.state = journal.state
        self.parallelism = max(1, parallelism)
        self.cancel = cancel or threading.Event()
        self.on_event = on_event or (lambda e: None)
        self.values: dict[str, dict[str, Any]] = {
            a: r.attributes for a, r in self.state.resources.items()
        }
        self.changes = {c.key: c for c in plan.changes}

    def run(self) -> ApplyResult:
        result = ApplyResult()
        # Open every provider session up front: a cloud that cannot be reached (no sandbox, no
        # credentials) is one error, not one per resource.
        for type_name in {c.type for c in self.plan.changes if c.action is not Action.NOOP}:
            self.pool.resource(type_name)
        self._record_unchanged()
        for c in self.plan.changes:
            if c.action is Action.FORGET:  # no cloud call: the object stays, unmanaged
                self.journal.record({"t": "del", "a": c.address})
                self.values.pop(c.address, None)
        graph = build_graph(self.plan.changes)
        sorter: graphlib.TopologicalSorter[Node] = graphlib.TopologicalSorter(graph)
        try:
            sorter.prepare()
        except graphlib.CycleError as exc:  # the rules above never produce one; say so if they do
            raise MlformError(f"internal error: the changes cannot be ordered: {exc.args[1]}"
                              ) from None
        running: dict[Future[None], Node] = {}
        failed: set[Node] = set()
        with ThreadPoolExecutor(max_workers=self.parallelism,
                                thread_name_prefix="mlform-apply") as pool:
            ready: deque[Node] = deque()
            while True:
                ready.extend(sorter.get_ready())
                # Never queue more than can run: queued work could not be stopped by Ctrl-C.
                while ready and len(running) < self.parallelism and not self.cancel.is_set():
                    node = ready.popleft()
                    running[pool.submit(self._run_node, node)] = node
                if not running:
                    break
                finished, _ = wait(running, timeout=0.5, return_when=FIRST_COMPLETED)
                for fut in finished:
                    node = running.pop(fut)
                    error = fut.exception()
                    if error is None:
                        result.done.append(node)
                        sorter.done(node)
                    elif isinstance(error, Cancelled):
                        result.skipped.append(node)
                    else:
                        err = provider_error(error, node[0])
                        if err.pos is None:  # point the user at the resource in the config
                            err.pos = self.changes[node[0]].pos
                        result.failed[node[0]] = err
                        failed.add(node)
                        self._emit("failed", node, 0.0, err.message)
        finished_nodes = set(result.done) | set(result.skipped) | failed
        for node in graph:
            if node not in finished_nodes:
                result.skipped.append(node)
                self._emit("skipped", node)
        result.interrupted = self.cancel.is_set()
        self._record_outputs()
        return result

    # -- nodes ----------------------------------------------------------------------------

    def _emit(self, kind: str, node: Node, elapsed: float = 0.0, message: str = "",
              id: str | None = None) -> None:
        c = self.changes[node[0]]
        if node[1] == DELETE:
            verb = "delete"
        else:
            verb = "update" if c.action is Action.UPDATE else "create"
        self.on_event(ApplyEvent(kind, node[0], verb, elapsed, message, id))

    def _run_node(self, node: Node) -> None:
        start = time.monotonic()
        self._emit("start", node)
        c = self.changes[node[0]]
        run = self._apply if node[1] == APPLY else self._delete
        id_ = run(c, start, node)
        self._emit("done", node, time.monotonic() - start, id=id_)

    def _waiter(self, node: Node, start: float) -> Callable[[str, float], None]:
        def on_wait(reason: str, _elapsed: float) -> None:
            self._emit("waiting", node, time.monotonic() - start, reason)
        return on_wait

    def _apply(self, c: ResourceChange, start: float, node: Node) -> str:
        rt = self.pool.resource(c.type)
        rtype = type(rt)
        assert c.template is not None
        args_data = resolve_args(rtype, c.template, self.values, c.address, c.pos)
        if contains_unknown(args_data):
            raise ProviderError("a value it refers to is still unknown after its dependencies "
                                "were applied", address=c.address, pos=c.pos)
        if c.action is Action.UPDATE:  # what the cloud picked stays, as planned
            args_data = keep_computed(rtype.Args, args_data,
                                      self.state.resources[c.address].attributes)
            # ...and so do the live values of ignored arguments the plan kept.
            args_data = keep_ignored_args(rtype, args_data, c.after or {}, c.ignore_changes)
        _check_consistent(c, args_data)
        args = rtype.Args.model_validate(args_data)
        meta = self.pool.meta(c.address)
        on_wait = self._waiter(node, start)
        if c.action is Action.UPDATE:
            prior = self.state.resources[c.address]
            self.journal.record({"t": "intent", "a": c.address, "op": "update", "at": now_iso()},
                                durable=rtype.reads_remote)
            attrs = call_with_wait(lambda: rt.update(prior.id, prior.attributes, args, meta),
                                   timeout=rtype.timeouts.update, cancel=self.cancel,
                                   on_wait=on_wait)
        else:
            if c.action is Action.REPLACE and c.create_before_destroy:
                self.journal.record({"t": "depose", "a": c.address})
            self.journal.record({"t": "intent", "a": c.address, "op": "create",
                                 "type": c.type, "args": args_data, "at": now_iso()},
                                durable=rtype.reads_remote)
            try:
                attrs = call_with_wait(lambda: rt.create(args, meta),
                                       timeout=rtype.timeouts.create, cancel=self.cancel,
                                       on_wait=on_wait)
            except Cancelled:
                # Ctrl-C while the create waits on NotReady: the call may already have made
                # the object (a VPC that is still pending). The outcome is unknown, exactly as
                # on a timeout, so the intent stays pending and the next refresh settles it
                # through `find`; abandoning it here would make the next apply create a twin.
                raise
            except ProviderError as exc:
                if exc.partial is not None and "id" in exc.partial:
                    self._put(c, dict(exc.partial), status="tainted")
                elif not exc.outcome_unknown:  # the cloud said no: nothing to look for later
                    self.journal.record({"t": "abandon", "a": c.address})
                raise
            if (c.action is Action.REPLACE and c.create_before_destroy and c.before
                    and rtype.same_object(attrs, c.before)):
                # Same name, so create found the old object: deleting "the old one" next
                # would delete the only one. Keep it, and say how to replace it.
                self.journal.record({"t": "abandon", "a": c.address})
                raise ProviderError(
                    "cannot replace it create-before-destroy: the replacement has the same "
                    f"id ({attrs.get('id')}) as the object it replaces. Give it a name that "
                    "changes with it, or set lifecycle.create_before_destroy: false",
                    address=c.address, pos=c.pos)
        self._put(c, attrs)
        if isinstance(rt, Waitable):
            try:
                timeout = (rtype.timeouts.update if c.action is Action.UPDATE
                           else rtype.timeouts.create)
                ready = call_with_wait(lambda: rt.wait_ready(attrs), timeout=timeout,
                                       cancel=self.cancel, on_wait=on_wait)
            except Cancelled:
                return str(attrs["id"])  # it exists and is recorded; the next refresh sees it
            except ProviderError:
                if c.action is not Action.UPDATE:
                    self._put(c, attrs, status="tainted")
                raise
            if ready != attrs:
                self._put(c, ready)
        return str(attrs["id"])

    def _put(self, c: ResourceChange, attrs: dict[str, Any], status: str = "ok") -> None:
        res = ResourceState(type=c.type, id=str(attrs["id"]), attributes=attrs,
                            dependencies=list(c.dependencies), status=status,
                            create_before_destroy=c.create_before_destroy,
                            prevent_destroy=c.prevent_destroy)
        self.journal.record({"t": "put", "a": c.address, "r": res.to_json()})
        self.values[c.address] = attrs

    def _delete(self, c: ResourceChange, start: float, node: Node) -> str:
        rt = self.pool.resource(c.type)
        before = c.before or {}
        id_ = c.deposed or str(before.get("id", ""))
        self.journal.record({"t": "intent", "a": c.address, "op": "delete", "id": id_,
                             "at": now_iso()}, durable=type(rt).reads_remote)
        call_with_wait(lambda: rt.delete(id_, before), timeout=type(rt).timeouts.delete,
                       cancel=self.cancel, on_wait=self._waiter(node, start))
        if c.deposed or (c.action is Action.REPLACE and c.create_before_destroy):
            self.journal.record({"t": "del_deposed", "a": c.address, "id": id_})
        else:
            self.journal.record({"t": "del", "a": c.address})
            self.values.pop(c.address, None)
        return id_

    # -- bookkeeping ----------------------------------------------------------------------

    def _record_unchanged(self) -> None:
        """Unchanged resources: record what the config now says about them (dependencies,
        lifecycle flags), and confirm the imports that this config declares."""
        for c in self.plan.changes:
            if c.action is not Action.NOOP:
                continue
            res = self.state.resources.get(c.address)
            if res is None:
                continue
            now = replace(res, dependencies=list(c.dependencies), imported=False,
                          create_before_destroy=c.create_before_destroy,
                          prevent_destroy=c.prevent_destroy)
            if now != res:
                self.journal.record({"t": "put", "a": c.address, "r": now.to_json()})

    def _record_outputs(self) -> None:
        outputs: dict[str, dict[str, Any]] = {}
        for name, oc in self.plan.outputs.items():
            if oc.template is None:
                continue  # removed from the config
            try:
                value = substitute(oc.template, resolver(self.values, f"outputs.{name}", None))
            except MlformError:
                value = None
            if contains_unknown(value):  # depends on something that failed: keep the old value
                if name in self.state.outputs:
                    outputs[name] = self.state.outputs[name]
                continue
            outputs[name] = {"value": value, "sensitive": oc.sensitive}
        if outputs != self.state.outputs:
            self.journal.record({"t": "outputs", "o": outputs})


def _check_consistent(c: ResourceChange, actual: dict[str, Any]) -> None:
    """Refuse to act on arguments that differ from the ones the user approved in the plan."""
    planned = c.after or {}
    for key, value in actual.items():
        want = planned.get(key)
        if key in planned and not contains_unknown(want) and want != value:
            raise ProviderError(
                f"{key} was planned as {want!r} but is {value!r} at apply time; "
                "run `mlform plan` again", address=c.address, pos=c.pos,
            )
