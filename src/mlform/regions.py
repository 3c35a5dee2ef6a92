"""One environment in each of its regions: plan, apply and destroy them together.

An environment with `regions: [ap-southeast-1, ap-northeast-1]` is one `Workspace` per region,
each with its own state and lock. Plans are made in parallel; an apply holds every region's
lock from the plan to the end, asks once, then goes over the regions in the rollout order
(`rollout: {order, max_parallel, stop_after_failures}`, as CloudFormation StackSets do): once
`stop_after_failures` regions have failed, the regions not yet started are left untouched, and
the ones done stay recorded in their own state.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from typing import Any

from mlform.api import ApplyOutcome, Workspace, apply_locked
from mlform.config.stack import DEFAULT_CONFIG
from mlform.cost.report import BudgetError, CostReport, usd
from mlform.engine.apply import ApplyEvent
from mlform.engine.drift import DriftReport
from mlform.engine.plan import Plan
from mlform.errors import ConfigError, MlformError
from mlform.providers.registry import Registry, default_registry
from mlform.state.models import State

APPLIED, FAILED, INTERRUPTED, NOT_STARTED, NO_CHANGES = (
    "applied", "failed", "interrupted", "not started", "no changes")


@dataclass
class RegionResult:
    """What an apply did in one region."""

    region: str
    status: str  # APPLIED, FAILED, INTERRUPTED, NOT_STARTED or NO_CHANGES
    outcome: ApplyOutcome | None = None
    error: MlformError | None = None  # a failure before any change (a provider refused)

    @property
    def ok(self) -> bool:
        return self.status in (APPLIED, NO_CHANGES)


@dataclass
class RolloutOutcome:
    """The plans that were shown, and what became of each region (None: not confirmed)."""

    plans: dict[str, Plan]
    results: dict[str, RegionResult] | None

    @property
    def ok(self) -> bool:
        return self.results is not None and all(r.ok for r in self.results.values())


def _parallel(fn: Callable[[str], Any], names: Sequence[str], *,
              label: bool = False) -> dict[str, Any]:
    """`fn(region)` for every region at once; the first error (in `names` order) is raised,
    its message starting with `[region] ` when `label` and it does not name the region (a
    config error names its file and line instead)."""
    def run(region: str) -> Any:
        try:
            return fn(region)
        except ConfigError:
            raise
        except MlformError as exc:
            if label and region not in exc.message:
                exc.message = f"[{region}] {exc.message}"
                exc.args = (exc.message,)
            raise

    if len(names) == 1:
        return {names[0]: run(names[0])}
    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        futures = {n: pool.submit(run, n) for n in names}
    return {n: f.result() for n, f in futures.items()}


class Regions:
    """An environment's workspaces, one per region, in the environment's region order.

    `regions` narrows them (`--region`); each must be one of the environment's. `frozen`: see
    `Workspace`."""

    def __init__(
        self,
        config: str | os.PathLike[str] = DEFAULT_CONFIG,
        environment: str | None = None,
        regions: Sequence[str] = (),
        *,
        variables: Mapping[str, Any] | None = None,
        var_files: Sequence[str | os.PathLike[str]] = (),
        registry: Registry | None = None,
        home: str | None = None,
        offline: bool = False,
        frozen: bool = False,
    ) -> None:
        self.registry = registry or default_registry()

        def load(region: str | None) -> Workspace:
            return Workspace(config, environment, variables, var_files=var_files,
                             registry=self.registry, home=home, offline=offline, region=region,
                             frozen=frozen)

        wanted = list(dict.fromkeys(regions))
        first = load(wanted[0] if wanted else None)
        env = first.stack.env
        names = wanted or env.region_names
        rest = _parallel(load, names[1:]) if len(names) > 1 else {}
        self.workspaces: dict[str, Workspace] = {names[0]: first, **rest}
        self.environment = first.context.environment
        self.several = env.regions is not None  # addresses and output carry the region
        self.rollout = env.rollout

    @property
    def names(self) -> list[str]:
        return list(self.workspaces)

    @property
    def first(self) -> Workspace:
        return next(iter(self.workspaces.values()))

    def label(self, region: str, address: str) -> str:
        """`[ap-northeast-1] module.api.aws_sagemaker_endpoint.this` in an environment of
        several regions; the address alone otherwise."""
        return f"[{region}] {address}" if self.several else address

    # -- read -----------------------------------------------------------------------------

    def plan(self, *, destroy: bool = False, refresh: bool = True, parallelism: int = 10,
             lock: bool = False) -> dict[str, Plan]:
        """Every region's plan, made in parallel (`lock`: each under its region's lock)."""
        return _parallel(lambda r: self.workspaces[r].plan(
            destroy=destroy, refresh=refresh, parallelism=parallelism, lock=lock), self.names,
            label=self.several)

    def cost(self, plans: Mapping[str, Plan]) -> dict[str, CostReport]:
        return {r: self.workspaces[r].cost(p) for r, p in plans.items()}

    def drift(self, *, parallelism: int = 10) -> dict[str, DriftReport]:
        return _parallel(lambda r: self.workspaces[r].drift(parallelism=parallelism),
                         self.names, label=self.several)

    def refresh(self, *, parallelism: int = 10) -> dict[str, DriftReport]:
        return _parallel(lambda r: self.workspaces[r].refresh(parallelism=parallelism),
                         self.names, label=self.several)

    # -- apply ----------------------------------------------------------------------------

    @contextmanager
    def _locked(self, operation: str) -> Iterator[dict[str, State]]:
        """Every region's lock (in name order, so two runs never wait on each other in a
        cycle) and its loaded state."""
        with ExitStack() as stack:
            for region in sorted(self.names):
                stack.enter_context(self.workspaces[region].backend.lock(operation))
            yield {r: self.workspaces[r].backend.load() for r in self.names}

    def order(self) -> list[str]:
        """The regions in rollout order: `rollout.order`, then the others as listed."""
        first = [r for r in (self.rollout.order if self.rollout else []) if r in self.workspaces]
        return first + [r for r in self.names if r not in first]

    def apply(
        self,
        *,
        destroy: bool = False,
        refresh: bool = True,
        parallelism: int = 10,
        confirm: Callable[[dict[str, Plan]], bool] | None = None,
        cancel: threading.Event | None = None,
        on_event: Callable[[str, ApplyEvent], None] | None = None,
        on_start: Callable[[str], None] | None = None,
        allow_over_budget: bool = False,
    ) -> RolloutOutcome:
        """Plan every region (in parallel, holding every lock), ask `confirm` once with all
        the plans, then apply them in rollout order. `on_event(region, event)` reports
        progress; `on_start(region)` says a region's apply begins."""
        operation = "destroy" if destroy else "apply"
        with self._locked(operation) as states:
            plans = _parallel(lambda r: self.workspaces[r]._plan(
                states[r], destroy=destroy, refresh=refresh, parallelism=parallelism),
                self.names, label=self.several)
            if not (allow_over_budget or destroy):
                check_budget(self.cost(plans))
            changes = any(p.has_changes for p in plans.values())
            if confirm is not None and changes and not confirm(plans):
                return RolloutOutcome(plans, None)

            def run(region: str) -> RegionResult:
                plan = plans[region]
                if not plan.needs_apply:
                    return RegionResult(region, NO_CHANGES)
                if on_start is not None:
                    on_start(region)
                ws = self.workspaces[region]
                events = None if on_event is None else (lambda e: on_event(region, e))
                try:
                    outcome = apply_locked(ws.backend, self.registry, plan, states[region],
                                           operation=operation, parallelism=parallelism,
                                           cancel=cancel, on_event=events)
                except MlformError as exc:
                    return RegionResult(region, FAILED, error=exc)
                result = outcome.result
                if result is None or result.ok:
                    return RegionResult(region, APPLIED, outcome)
                interrupted = result.interrupted and not result.failed
                return RegionResult(region, INTERRUPTED if interrupted else FAILED, outcome)

            return RolloutOutcome(plans, self._roll_out(run, cancel))

    def _roll_out(self, run: Callable[[str], RegionResult],
                  cancel: threading.Event | None) -> dict[str, RegionResult]:
        order = self.order()
        rollout = self.rollout
        width = rollout.max_parallel if rollout else len(order)
        tolerance = rollout.stop_after_failures if rollout else len(order) + 1
        results: dict[str, RegionResult] = {}
        waiting = list(order)
        running: dict[Future[RegionResult], str] = {}
        with ThreadPoolExecutor(max_workers=max(1, width)) as pool:
            while waiting or running:
                failed = sum(1 for r in results.values() if not r.ok)
                stop = failed >= tolerance or (cancel is not None and cancel.is_set())
                while waiting and len(running) < width and not stop:
                    region = waiting.pop(0)
                    running[pool.submit(run, region)] = region
                if not running:
                    break
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    region = running.pop(future)
                    results[region] = future.result()
        for region in waiting:
            results[region] = RegionResult(region, NOT_STARTED)
        return {r: results[r] for r in order}


def check_budget(reports: Mapping[str, CostReport]) -> None:
    """The environment's budget against every region's estimate together."""
    if not reports:
        return
    if len(reports) == 1:
        next(iter(reports.values())).check_budget()
        return
    budget = next(iter(reports.values())).budget_usd
    total = sum(r.after.desired for r in reports.values())
    if budget is None or total <= budget:
        return
    parts = ", ".join(f"{region} {usd(r.after.desired)}" for region, r in reports.items())
    environment = next(iter(reports.values())).environment
    raise BudgetError(f"the plan's monthly estimate, {usd(total)} over its regions ({parts}), "
                      f"is above the budget of {usd(budget)} for environment '{environment}'. "
                      "Lower them, raise budget.monthly_usd, or pass --allow-over-budget")


def with_region(region: str, event: ApplyEvent) -> ApplyEvent:
    """`event` with its address labelled by `region`."""
    return replace(event, address=f"[{region}] {event.address}")
