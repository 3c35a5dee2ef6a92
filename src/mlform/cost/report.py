"""The cost section of a plan: monthly cost per resource and per component, before and after
the plan, the difference it makes, and the check against the environment's budget.

The *before* world is what the state records (every resource the plan saw, as it is now); the
*after* world is what the plan leaves (created, updated, replaced and unchanged resources). Both
are priced with the same catalog and region, so the delta is exactly what the plan changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlform.config.refs import split_address
from mlform.cost.catalog import PriceCatalog
from mlform.cost.estimate import FREE, PRICED, Res, ResourceCost, estimate
from mlform.errors import MlformError

if TYPE_CHECKING:
    from mlform.engine.plan import Plan

RESOURCES = "(resources)"  # the group of raw resources, made by no component


class BudgetError(MlformError):
    """The plan's monthly estimate is above the environment's budget."""


@dataclass
class Totals:
    min: float = 0.0
    desired: float = 0.0
    max: float = 0.0
    unknown: int = 0  # resources of unknown cost, left out of the figures
    variable: bool = False  # some of it is spot

    def add(self, cost: ResourceCost | None) -> None:
        if cost is None:
            return
        if cost.incomplete:
            self.unknown += 1
        self.min += cost.min
        self.desired += cost.desired
        self.max += cost.max
        self.variable = self.variable or cost.variable


@dataclass
class Row:
    address: str
    type: str
    component: str  # RESOURCES for raw resources
    before: ResourceCost | None  # None: not there before the plan
    after: ResourceCost | None  # None: gone after the plan


@dataclass
class Group:
    name: str
    kind: str  # component type, or "" for raw resources
    rows: list[Row] = field(default_factory=list)
    before: Totals = field(default_factory=Totals)
    after: Totals = field(default_factory=Totals)


@dataclass
class CostReport:
    region: str
    target: str
    environment: str
    groups: list[Group]
    before: Totals
    after: Totals
    budget_usd: float | None
    sources: list[dict[str, Any]]

    @property
    def delta(self) -> float:
        return self.after.desired - self.before.desired

    def all_free(self) -> bool:
        """Nothing before or after the plan costs anything, or could."""
        return all(c is None or c.kind == FREE for g in self.groups for r in g.rows
                   for c in (r.before, r.after))

    def over_budget(self) -> str | None:
        """The error message if the estimate after the plan is above the budget, else None."""
        if self.budget_usd is None or self.after.desired <= self.budget_usd:
            return None
        top = sorted((g for g in self.groups if g.after.desired > 0),
                     key=lambda g: -g.after.desired)[:3]
        names = ", ".join(f"{g.name} {usd(g.after.desired)}" for g in top)
        left_out = (f"; {self.after.unknown} resource(s) of unknown cost not counted"
                    if self.after.unknown else "")
        return (f"the monthly estimate after this plan, {usd(self.after.desired)}, is over the "
                f"budget of {usd(self.budget_usd)} for environment '{self.environment}' "
                f"(costing most: {names}{left_out}). Lower them, raise budget.monthly_usd, or "
                f"pass --allow-over-budget")

    def check_budget(self) -> None:
        problem = self.over_budget()
        if problem:
            raise BudgetError(problem)

    def to_json(self) -> dict[str, Any]:
        """The cost section of `--json` output."""
        def totals(t: Totals) -> dict[str, Any]:
            return {"min": round(t.min, 2), "desired": round(t.desired, 2),
                    "max": round(t.max, 2), "unknown_resources": t.unknown,
                    "includes_spot": t.variable}

        def cost(c: ResourceCost | None) -> dict[str, Any] | None:
            if c is None:
                return None
            doc: dict[str, Any] = {"kind": c.kind}
            if c.kind == PRICED:
                doc.update(min=round(c.min, 2), desired=round(c.desired, 2),
                           max=round(c.max, 2), items=c.summary, sources=sorted(c.sources))
            if c.note:
                doc["note"] = c.note
            if c.missing:
                doc["missing"] = c.missing
            if c.variable:
                doc["spot"] = True
            return doc

        return {
            "currency": "USD", "period": "month", "region": self.region,
            "target": self.target,
            "before": totals(self.before), "after": totals(self.after),
            "delta": round(self.delta, 2),
            "budget": None if self.budget_usd is None else {
                "monthly_usd": self.budget_usd, "over": self.over_budget() is not None},
            "components": [{
                "name": None if g.name == RESOURCES else g.name, "type": g.kind or None,
                "before": totals(g.before), "after": totals(g.after),
                "resources": [{"address": r.address, "type": r.type,
                               "before": cost(r.before), "after": cost(r.after)}
                              for r in g.rows],
            } for g in self.groups],
            "sources": self.sources,
        }


def usd(value: float) -> str:
    return f"${value:,.2f}"


def cost_report(plan: Plan, catalog: PriceCatalog) -> CostReport:
    """Price the world before and after `plan`."""
    from mlform.engine.plan import Action

    before: dict[str, Res] = {}
    after: dict[str, Res] = {}
    for c in plan.changes:
        if c.deposed:
            continue
        if c.before is not None:
            before[c.address] = Res(c.address, c.type, c.before, tuple(c.prior_dependencies))
        if c.after is not None and c.action is not Action.DELETE:
            after[c.address] = Res(c.address, c.type, c.after, tuple(c.dependencies))
    region = plan.context.region
    was = estimate(before, catalog, region)
    will = estimate(after, catalog, region)
    groups: dict[str, Group] = {}
    for address in [*after, *(a for a in before if a not in after)]:
        component = split_address(address)[0] or RESOURCES
        group = groups.get(component)
        if group is None:
            group = groups[component] = Group(component, plan.components.get(component, ""))
        row = Row(address, (after.get(address) or before[address]).type, component,
                  was.get(address), will.get(address))
        group.rows.append(row)
        group.before.add(row.before)
        group.after.add(row.after)
    ordered = sorted(groups.values(), key=lambda g: (g.name == RESOURCES, g.name))
    totals_before, totals_after = Totals(), Totals()
    for g in ordered:
        for r in g.rows:
            totals_before.add(r.before)
            totals_after.add(r.after)
    used = sorted({s for c in [*was.values(), *will.values()] for s in c.sources})
    return CostReport(
        region=region, target=plan.context.target, environment=plan.context.environment,
        groups=ordered, before=totals_before, after=totals_after, budget_usd=plan.budget_usd,
        sources=[_source(catalog, s) for s in used],
    )


def _source(catalog: PriceCatalog, sid: str) -> dict[str, Any]:
    s = catalog.sources[sid]
    return {"id": s.id, "name": s.name, "date": s.date, "url": s.url}

