"""plan and apply over an environment's regions: a section per region, a total, and a rollout
summary that says what happened where."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

import click

from mlform.cli.style import Style
from mlform.engine.plan import Action, Plan


def region_rule(region: str, style: Style) -> str:
    return style.bold(f"══ {region} " + "═" * max(3, 70 - len(region)))


def iter_regions_text(rg: Any, plans: Mapping[str, Plan], style: Style,
                      allowed: bool) -> Iterator[str]:
    """Every region's plan and cost, then the total; BudgetError (after the text) when the
    regions together are over the environment's budget."""
    from mlform.cli.cmd_core import cost_section
    from mlform.cli.render_plan import iter_plan_text
    from mlform.cost.report import usd

    reports = rg.cost(plans)
    for region, plan in plans.items():
        yield region_rule(region, style)
        yield ""
        yield from iter_plan_text(plan, rg.registry, style, prefix=f"[{region}] ")
        # the budget is the environment's, checked against every region together (below)
        yield from cost_section(replace(reports[region], budget_usd=None), plan, style)
        yield ""
    add = change = destroy = 0
    for plan in plans.values():
        a, c, d = plan.counts()
        add, change, destroy = add + a, change + c, destroy + d
    before = sum(r.before.desired for r in reports.values())
    after = sum(r.after.desired for r in reports.values())
    yield style.bold(f"Total over {len(plans)} regions: {add} to add, {change} to change, "
                     f"{destroy} to destroy; {usd(before)} -> {usd(after)} per month.")
    budget = next(iter(reports.values())).budget_usd if reports else None
    if budget is not None:
        over = after > budget
        paint = style.red if over else style.green
        yield paint(f"Budget: {usd(budget)} for '{rg.environment}' over its regions: "
                    + (f"over by {usd(after - budget)}." if over
                       else f"{usd(budget - after)} to spare."))


def plan_regions(rg: Any, plans: Mapping[str, Plan], style: Style, *, as_json: bool,
                 allowed: bool) -> None:
    """`mlform plan` for an environment of several regions."""
    from mlform.engine.planjson import plan_to_terraform_json
    from mlform.regions import check_budget

    if as_json:
        reports = rg.cost(plans)
        doc: dict[str, Any] = {"format_version": "1.2", "environment": rg.environment,
                               "regions": {}}
        for region, plan in plans.items():
            one = plan_to_terraform_json(plan, rg.registry, plan.prior)
            one["cost_estimate"] = reports[region].to_json()
            doc["regions"][region] = one
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        for line in iter_regions_text(rg, plans, style, allowed):
            sys.stdout.write(line + "\n")
    if not allowed:
        check_budget(rg.cost(plans))


def _nodes(plan: Plan) -> int:
    return sum(2 if c.action is Action.REPLACE else 1
               for c in plan.changes if c.action not in (Action.NOOP, Action.FORGET))


def apply_regions(rg: Any, style: Style, interrupts: Any, *, auto_approve: bool,
                  destroy: bool, refresh: bool, parallelism: int,
                  allow_over_budget: bool) -> int:
    """`mlform apply` / `destroy` for an environment of several regions; the exit code."""
    outcome = run_rollout(rg, style, interrupts, auto_approve=auto_approve, destroy=destroy,
                          refresh=refresh, parallelism=parallelism,
                          allow_over_budget=allow_over_budget)
    if outcome.results is None:
        click.echo(("Destroy" if destroy else "Apply") + " cancelled.")
        return 1
    return report_rollout(outcome, destroy, style)


def run_rollout(rg: Any, style: Style, interrupts: Any, *, auto_approve: bool,
                destroy: bool = False, refresh: bool = True, parallelism: int = 10,
                allow_over_budget: bool = False, approved: Any = None) -> Any:
    """Show every region's plan, ask, and apply them in rollout order, with progress lines
    and Ctrl-C handling; the `RolloutOutcome` (its `results` are None when declined).
    `approved` (a threading.Event) is set once the plans are approved."""
    from mlform.cli.cmd_core import ask_approval
    from mlform.cli.progress import ApplyDisplay
    from mlform.regions import with_region

    holder: dict[str, ApplyDisplay] = {}

    def confirm(plans: dict[str, Plan]) -> bool:
        for line in iter_regions_text(rg, plans, style, allow_over_budget or destroy):
            sys.stdout.write(line + "\n")
        if not auto_approve and not ask_approval(destroy, style):
            return False
        if approved is not None:
            approved.set()
        click.echo("")
        holder["display"] = ApplyDisplay(style, sum(_nodes(p) for p in plans.values()))
        interrupts.arm()
        return True

    def on_start(region: str) -> None:
        holder["display"].note(style.bold(f"[{region}] starting"))

    try:
        return rg.apply(destroy=destroy, refresh=refresh, parallelism=parallelism,
                        confirm=confirm, cancel=interrupts.cancel, on_start=on_start,
                        on_event=lambda r, e: holder["display"](with_region(r, e)),
                        allow_over_budget=allow_over_budget)
    finally:
        interrupts.disarm()
        if "display" in holder:
            holder["display"].close()


def report_rollout(outcome: Any, destroy: bool, style: Style) -> int:
    """Per region: what was done, what failed and what was not started; the exit code."""
    from mlform.cli.cmd_core import apply_counts, report_failures
    from mlform.regions import APPLIED, FAILED, INTERRUPTED, NO_CHANGES, NOT_STARTED

    results = outcome.results
    failed = any(r.status == FAILED for r in results.values())
    lines = ["", style.bold("Regions:")]
    for region, r in results.items():
        if r.outcome is not None and r.outcome.result is not None:
            if not r.outcome.result.ok:
                report_failures(r.outcome, style, prefix=f"[{region}] ")
            counts = apply_counts(r.outcome)
        else:
            counts = ""
        if r.error is not None:
            sys.stderr.write(f"{style.red(style.bold('Error:'))} [{region}] {r.error}\n")
        text = {APPLIED: style.green("done"), NO_CHANGES: "no changes",
                FAILED: style.red("failed"), INTERRUPTED: style.yellow("interrupted"),
                NOT_STARTED: style.yellow("not started (" + (
                    "stop_after_failures reached" if failed else "interrupted") + ")"),
                }[r.status]
        lines.append(f"  {region}: {text}" + (f". {counts}" if counts else ""))
    for line in lines:
        click.echo(line)
    statuses = {r.status for r in results.values()}
    if statuses <= {APPLIED, NO_CHANGES}:
        verb = "Destroy complete!" if destroy else "Apply complete!"
        click.echo("\n" + style.green(style.bold(f"{verb} {len(results)} region(s).")))
        return 0
    if FAILED in statuses:
        sys.stderr.write(style.bold("Apply failed") + " in "
                         + ", ".join(r for r, x in results.items() if x.status == FAILED)
                         + ". The regions done stay recorded in their own state.\n")
        return 1
    sys.stderr.write(style.bold("Apply interrupted") + ". Everything done is recorded.\n")
    return 130
