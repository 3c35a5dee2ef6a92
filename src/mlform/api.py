"""The library entry point: everything the CLI does, callable from Python.

    import mlform
    ws = mlform.Workspace("mlform.yaml", environment="dev")
    plan = ws.plan()
    outcome = ws.apply(plan)

Every operation that changes the state holds its lock for its whole duration; those that only
read it (plan, drift, state, show) take none.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlform import __version__
from mlform.config.lockfile import check_versions, lock_path, read_lock
from mlform.config.stack import DEFAULT_CONFIG, Stack, load_stack
from mlform.config.validation import suggest
from mlform.cost.catalog import PriceCatalog, load_catalog
from mlform.cost.report import CostReport, cost_report
from mlform.engine import repair
from mlform.engine.adopt import adopt, apply_moves, read_imports
from mlform.engine.apply import Applier, ApplyEvent, ApplyResult
from mlform.engine.calls import provider_error
from mlform.engine.discover import Found, discover, discoverable_types
from mlform.engine.drift import DriftReport, Ignore, find_drift
from mlform.engine.generate import Generated, generate, read_live, write_config
from mlform.engine.plan import Plan, make_plan
from mlform.engine.providers import ProviderPool
from mlform.engine.refresh import RefreshResult
from mlform.engine.refresh import refresh as refresh_state
from mlform.engine.secrets import reread_plan, seal_stack
from mlform.errors import MlformError, StalePlanError
from mlform.providers.base import StackContext
from mlform.providers.registry import Registry, default_registry
from mlform.state.backend import StateBackend
from mlform.state.backends import open_backend
from mlform.state.journal import Journal
from mlform.state.local import LocalBackend
from mlform.state.models import ResourceState, State


@dataclass
class ApplyOutcome:
    plan: Plan
    result: ApplyResult | None  # None when the user declined, or there was nothing to do
    state: State


class Workspace:
    """One environment of one config: its stack, state backend and providers."""

    def __init__(
        self,
        config: str | os.PathLike[str] = DEFAULT_CONFIG,
        environment: str | None = None,
        variables: Mapping[str, Any] | None = None,
        *,
        var_files: Sequence[str | os.PathLike[str]] = (),
        registry: Registry | None = None,
        home: str | None = None,
        offline: bool = False,
        region: str | None = None,
        frozen: bool = False,
    ) -> None:
        """`var_files`: YAML mappings of variable values, later ones over earlier ones, under
        `variables` (`--var-file` and `--var`). `offline`: components make no cloud lookups
        (enough to validate, read state, draw the graph; a plan needs them). `region`: one of
        the environment's `regions:` (default: the first; `mlform.regions.Regions` works on
        all of them). The pins of `mlform.lock` beside the config are used when it exists;
        `frozen`: a config that needs a pin the lock lacks (or a lock of another mlform or
        price catalog) is an error instead of a note (see `mlform.config.lockfile`)."""
        self.registry = registry or default_registry()
        self.lock = read_lock(lock_path(config))
        self._load = (variables, tuple(var_files), home, offline, self.lock)
        self.stack: Stack = load_stack(config, environment, variables, var_files=var_files,
                                       registry=self.registry, home=home, offline=offline,
                                       region=region, lock=self.lock, frozen=frozen)
        self.context: StackContext = self.stack.context
        self.backend = backend_for(self.stack.state_dir, self.context,
                                   self.stack.env.state.model_dump(exclude_none=True))
        self._prices: PriceCatalog | None = None
        if self.lock is not None and not offline:
            self.stack.lock_notes[:0] = check_versions(self.lock, __version__,
                                                       self.prices().version, frozen)

    def pool(self) -> ProviderPool:
        pool = ProviderPool(self.registry, self.context)
        pool.open_early(r.type for r in self.stack.resources.values())
        return pool

    # -- read -----------------------------------------------------------------------------

    def state(self) -> State:
        """The current state, including what an apply in progress (or interrupted) has done so
        far. Read-only: takes no lock, so it works while an apply runs."""
        return self.backend.snapshot()

    def state_rm(self, addresses: Sequence[str]) -> dict[str, ResourceState]:
        """Forget resources without deleting them (`mlform state rm`); what was forgotten."""
        return repair.remove(self.backend, addresses)

    def state_mv(self, source: str, target: str) -> list[tuple[str, str]]:
        """Record resources at another address (`mlform state mv`); the (from, to) pairs."""
        return repair.move(self.backend, source, target)

    # -- plan -----------------------------------------------------------------------------

    def plan(self, *, destroy: bool = False, refresh: bool = True, parallelism: int = 10,
             lock: bool = False) -> Plan:
        """Refresh, then compare the config with the state: what apply would do.

        A plan changes nothing, so it reads the state without its lock (it works while an
        apply runs, showing what that apply has done so far); `lock`: hold the lock, for a
        plan that is saved to be applied (`plan -out`)."""
        if not lock:
            return self._plan(self.backend.snapshot(), destroy=destroy, refresh=refresh,
                              parallelism=parallelism)
        with self.backend.lock("plan"):
            state = self.backend.load()
            return self._plan(state, destroy=destroy, refresh=refresh, parallelism=parallelism)

    def _plan(self, state: State, *, destroy: bool, refresh: bool, parallelism: int) -> Plan:
        pool = self.pool()
        if not destroy:  # read the sensitive values the plan compares (a destroy needs none)
            seal_stack(self.stack, pool)
        moved = apply_moves(state, self.stack.moves)
        result = RefreshResult()
        notes: list[str] = []
        drifted_from: dict[str, dict[str, Any]] = {}
        if refresh and (state.resources or state.pending):
            result = refresh_state(state, pool, parallelism)
            drifted = find_drift(state.resources, result.changed, self.registry, self.ignores())
            drifted_from = {a: state.resources[a].attributes for a in result.changed
                            if a in state.resources}
            notes = [f"{d.address}: {', '.join(f.path for f in d.fields)} changed outside "
                     f"mlform ({d.risk})" for d in drifted if d.fields]
            result.apply_to(state)
        imported: dict[str, ResourceState] = {}
        if not destroy and self.stack.imports:
            imported = read_imports(state, self.stack.imports, self.stack.resources, pool,
                                    parallelism)
            state.resources.update(imported)
        plan = make_plan(self.stack, state, self.registry, destroy=destroy,
                         refreshed={**result.changed, **imported}, abandoned=result.abandoned,
                         notes=result.notes + notes, moved=moved,
                         imported={a: r.id for a, r in imported.items()})
        plan.drifted_from = drifted_from
        return plan

    # -- drift ----------------------------------------------------------------------------

    def ignores(self) -> dict[str, Ignore]:
        """`lifecycle.ignore_changes` of every resource that has one."""
        return {a: r.lifecycle.ignore_changes for a, r in self.stack.resources.items()
                if r.lifecycle.ignore_changes}

    def drift(self, *, parallelism: int = 10) -> DriftReport:
        """Read every managed object and report what changed outside mlform; change nothing
        (so it takes no lock: it works while an apply runs)."""
        return self._drift(self.backend.snapshot(), parallelism)[0]

    def refresh(self, *, parallelism: int = 10) -> DriftReport:
        """Read every managed object and record what is live: drift is accepted into the state
        (the config is not changed, so the next plan shows what apply would put back)."""
        with self.backend.lock("refresh"):
            state = self.backend.load()
            report, result = self._drift(state, parallelism)
            if result.changed or result.abandoned:
                journal = self.backend.begin(state, "refresh")
                try:
                    record_refresh(journal, result.changed, result.abandoned)
                finally:
                    self.backend.commit(state, journal)
            return report

    def _drift(self, state: State, parallelism: int) -> tuple[DriftReport, RefreshResult]:
        pool = self.pool()
        started = time.perf_counter()
        result = refresh_state(state, pool, parallelism)
        found = find_drift(state.resources, result.changed, self.registry, self.ignores())
        report = DriftReport(found, len(state.resources) + len(state.pending), pool.api_calls(),
                             time.perf_counter() - started)
        return report, result

    # -- import ---------------------------------------------------------------------------

    def import_resource(self, address: str, id: str) -> ResourceState:
        """Adopt the existing object `id` as `address` (which the config must have): record it
        as it is, changing nothing in the cloud. The next plan compares it with the config."""
        rc = self.stack.resources.get(address)
        if rc is None:
            raise MlformError(
                f"{address} is not in {self.stack.config_path}: write the resource in the "
                f"config first, then import into it"
                f"{suggest(address, self.stack.resources, 'resources')}")
        with self.backend.lock("import"):
            state = self.backend.load()
            if address in state.resources:
                raise MlformError(f"{address} is already managed (id "
                                  f"{state.resources[address].id}); nothing was imported")
            managed = {(r.type, r.id): a for a, r in state.resources.items()}
            pool = self.pool()
            try:
                res = adopt(pool, rc, id, managed)
            except MlformError as exc:
                raise MlformError(f"import {address}: {exc.message}") from None
            except Exception as exc:
                raise provider_error(exc, address) from None
            journal = self.backend.begin(state, "import")
            try:
                journal.record({"t": "put", "a": address, "r": res.to_json()})
            finally:
                self.backend.commit(state, journal)
            return res

    def discover(self, types: Sequence[str] = (), *, parallelism: int = 10) -> list[Found]:
        """Objects of `types` (default: every type that can be listed) in this environment's
        account and region that no environment of this config records, and no mlform stack's
        tags claim."""
        pool = self.pool()
        wanted = discoverable_types(self.registry, types)
        return discover(pool, wanted, self._states(self.backend.snapshot()), parallelism)

    def _states(self, current: State) -> list[State]:
        """`current` and the recorded state of every other environment of this config."""
        states = [current]
        root = state_root(self.stack.state_dir, self.context)
        for env in self.stack.environments:
            folder = root / env
            folders = [folder, *(sorted(p for p in folder.iterdir() if p.is_dir())
                                 if folder.is_dir() else [])]
            for other in folders:
                if other != getattr(self.backend, "dir", None) and (other / "state.json").exists():
                    states.append(LocalBackend(other, self.context.project, env).snapshot())
        return states

    def generate_config(self, path: str | os.PathLike[str], types: Sequence[str] = (), *,
                        parallelism: int = 10) -> Generated:
        """Import every discovered object and write config for it to `path` (the config itself,
        or a new file beside it, which the config then includes), such that a plan right after
        shows no change. See `mlform.engine.generate`."""
        target = Path(path)
        config = self.stack.config_path
        if target.resolve().parent != config.resolve().parent:
            raise MlformError(f"{target}: write the generated config beside {config}, so that "
                              "it uses the same state")
        if target.exists() and target.resolve() != config.resolve():
            raise MlformError(f"{target} already exists; name a new file, or the config "
                              f"itself ({config}) to add the imported objects to it")
        variables, var_files, home, offline, lock = self._load

        def load(p: Path) -> Stack:
            return load_stack(p, self.context.environment, variables, var_files=var_files,
                              registry=self.registry, home=home, offline=offline,
                              region=self.context.region, lock=lock)

        with self.backend.lock("import"):
            state = self.backend.load()
            pool = self.pool()
            wanted = discoverable_types(self.registry, types)
            found = discover(pool, wanted, self._states(state), parallelism)
            live = read_live(pool, found, parallelism)
            result = generate(live, self.stack, state, self.registry, load, target)
            if result.recorded:
                for written, text in result.files.items():  # the entries, then the include
                    write_config(written, text)
                journal = self.backend.begin(state, "import")
                try:
                    for address, res in result.recorded.items():
                        journal.record({"t": "put", "a": address, "r": res.to_json()})
                finally:
                    self.backend.commit(state, journal)
            return result

    # -- cost -----------------------------------------------------------------------------

    def prices(self) -> PriceCatalog:
        """The price catalog: shipped, overlaid by `mlform prices refresh`'s if there is one."""
        if self._prices is None:
            self._prices = load_catalog(self.context.home)
        return self._prices

    def cost(self, plan: Plan) -> CostReport:
        """The monthly cost before and after `plan`, per resource and component, and the
        budget check (`report.check_budget()` raises BudgetError when over)."""
        return cost_report(plan, self.prices())

    # -- apply ----------------------------------------------------------------------------

    def apply(
        self,
        plan: Plan | None = None,
        *,
        destroy: bool = False,
        refresh: bool = True,
        parallelism: int = 10,
        confirm: Callable[[Plan], bool] | None = None,
        cancel: threading.Event | None = None,
        on_event: Callable[[ApplyEvent], None] | None = None,
        allow_over_budget: bool = False,
    ) -> ApplyOutcome:
        """Apply `plan` exactly (refused if the state changed since it was made), or plan now,
        ask `confirm`, and apply that. A plan made here that is over the environment's budget
        raises BudgetError before `confirm` is asked, unless `allow_over_budget`."""
        def make(state: State) -> Plan:
            made = self._plan(state, destroy=destroy, refresh=refresh, parallelism=parallelism)
            if not (allow_over_budget or destroy):
                self.cost(made).check_budget()
            return made

        return apply_plan(
            self.backend, self.registry, plan, make=make,
            operation="destroy" if destroy else "apply", parallelism=parallelism,
            confirm=confirm, cancel=cancel, on_event=on_event,
        )


def backend_for(directory: Path, context: StackContext,
                config: dict[str, Any] | None = None) -> StateBackend:
    """The state backend of one stack (an environment, or one region of it), as its
    environment's `state:` (`config`) says."""
    return open_backend(config or {}, directory, context.project, context.environment,
                        context.region if context.regional else None,
                        session=lambda: _aws_session(context))


def _aws_session(context: StackContext) -> Any:
    """The environment's AWS session, for a state store on S3 or encrypted with KMS; imported
    (and the sandbox started) only when such a store is used."""
    from mlform.providers.aws.session import AwsSession

    return AwsSession(context)


def state_root(directory: Path, context: StackContext) -> Path:
    """The folder that holds every environment's state, from one stack's state folder."""
    return directory.parent.parent if context.regional else directory.parent


def backend_for_plan(plan: Plan) -> StateBackend:
    """The state backend a saved plan was made against."""
    return backend_for(Path(plan.state_dir), plan.context, plan.state_config)


def apply_plan(
    backend: StateBackend,
    registry: Registry,
    plan: Plan | None,
    *,
    make: Callable[[State], Plan] | None = None,
    operation: str = "apply",
    parallelism: int = 10,
    confirm: Callable[[Plan], bool] | None = None,
    cancel: threading.Event | None = None,
    on_event: Callable[[ApplyEvent], None] | None = None,
) -> ApplyOutcome:
    """Apply a saved `plan`, or one `make` builds under the lock (then ask `confirm`)."""
    with backend.lock(operation):
        state = backend.load()
        if plan is not None:
            # Serial 0 is "nothing recorded yet": no lineage has been fixed to compare.
            if plan.serial != state.serial or (plan.serial and plan.lineage != state.lineage):
                raise StalePlanError(
                    "the saved plan is stale: the state changed after it was made "
                    f"(plan made at serial {plan.serial}, state is now at serial "
                    f"{state.serial}). Run `mlform plan` again."
                )
        else:
            assert make is not None
            plan = make(state)
            if confirm is not None and plan.has_changes and not confirm(plan):
                return ApplyOutcome(plan, None, state)
        return apply_locked(backend, registry, plan, state, operation=operation,
                            parallelism=parallelism, cancel=cancel, on_event=on_event)


def apply_locked(
    backend: StateBackend,
    registry: Registry,
    plan: Plan,
    state: State,
    *,
    operation: str = "apply",
    parallelism: int = 10,
    cancel: threading.Event | None = None,
    on_event: Callable[[ApplyEvent], None] | None = None,
) -> ApplyOutcome:
    """Apply `plan` to `state`, which `backend.load()` returned under the lock the caller holds."""
    if not plan.needs_apply:
        return ApplyOutcome(plan, None, state)
    pool = ProviderPool(registry, plan.context)
    pool.open_early(c.type for c in plan.changes)
    reread_plan(plan, pool)  # a saved plan's sensitive values, read again and checked
    journal = backend.begin(state, operation)
    try:
        for source, target in plan.moved:
            journal.record({"t": "move", "a": source, "to": target})
        record_refresh(journal, plan.refreshed, plan.abandoned)
        result = Applier(plan, pool, journal, parallelism=parallelism, cancel=cancel,
                         on_event=on_event).run()
    finally:
        backend.commit(state, journal)
    return ApplyOutcome(plan, result, state)


def record_refresh(journal: Journal, changed: Mapping[str, ResourceState | None],
                   abandoned: list[str]) -> None:
    """What refresh found becomes part of the state before any change is made."""
    for address, res in changed.items():
        if res is None:
            journal.record({"t": "del", "a": address})
        else:
            journal.record({"t": "put", "a": address, "r": res.to_json()})
    for address in abandoned:
        journal.record({"t": "abandon", "a": address})
