"""The cost section of a plan, and `mlform cost`, as text."""

from __future__ import annotations

from collections.abc import Iterator

from mlform.cli.style import Style
from mlform.cost.estimate import FREE, PRICED, UNKNOWN_COST, USAGE, ResourceCost
from mlform.cost.report import RESOURCES, CostReport, Row, Totals, usd

_NAME, _WHAT, _MONEY = 40, 36, 11
_LISTED = 10  # usage-based resources listed by name


def _money(value: float) -> str:
    return usd(value).rjust(_MONEY)


def _signed(value: float) -> str:
    text = ("+" if value > 0.005 else "-" if value < -0.005 else " ") + usd(abs(value))
    return text.rjust(_MONEY + 1)


def _local(row: Row) -> str:
    return row.address if row.component == RESOURCES else row.address.split(".", 2)[2]


def _symbol(row: Row) -> str:
    if row.before is None:
        return "+"
    if row.after is None:
        return "-"
    return "~" if _changed(row.before, row.after) else " "


def _changed(a: ResourceCost, b: ResourceCost) -> bool:
    return (a.kind, a.summary, round(a.desired, 2)) != (b.kind, b.summary, round(b.desired, 2))


def _row(row: Row, style: Style) -> str | None:
    cost = row.after or row.before
    assert cost is not None
    if cost.kind not in (PRICED, UNKNOWN_COST):
        return None
    name = f"{_symbol(row)} {_local(row)}"[:_NAME].ljust(_NAME)
    delta = (row.after.desired if row.after else 0.0) - (row.before.desired if row.before
                                                         else 0.0)
    if cost.kind == UNKNOWN_COST:
        return f"    {name} {style.yellow('unknown: ' + cost.note)}"
    what = cost.summary + (" *" if cost.variable else "")
    if row.after is None:
        what = f"(destroyed) {what}"
    figures = (f"{_money(0)}{_money(0)}{_money(0)}" if row.after is None
               else f"{_money(cost.min)}{_money(cost.desired)}{_money(cost.max)}")
    wrapped = what if len(what) <= _WHAT else what[:_WHAT - 1] + "…"
    line = f"    {name} {wrapped.ljust(_WHAT)}{figures}{_signed(delta)}"
    if row.after is not None and cost.missing:
        line += "\n" + " " * (6 + _NAME) + style.yellow("also unknown: " + "; ".join(cost.missing))
    return line


def _totals(label: str, t: Totals, before: Totals, style: Style, indent: int = 4) -> str:
    text = label[:_NAME + _WHAT + 1].ljust(_NAME + _WHAT + 1)
    line = (" " * indent + text + _money(t.min) + _money(t.desired) + _money(t.max)
            + _signed(t.desired - before.desired))
    return style.bold(line)


def header(report: CostReport) -> str:
    where = f"on-demand list prices in {report.region}"
    if report.target == "sandbox":
        where += "; the sandbox itself costs nothing, these are AWS's prices"
    return f"Estimated monthly cost (USD, {where}):"


def iter_cost_text(report: CostReport, style: Style, *, full: bool = True) -> Iterator[str]:
    """The cost section: per component and resource, totals, delta, budget and sources."""
    if not full:
        yield (f"Estimated monthly cost: {usd(report.after.desired)} "
               f"(min {usd(report.after.min)}, max {usd(report.after.max)})"
               + (f", plus {report.after.unknown} resource(s) of unknown cost"
                  if report.after.unknown else "")
               + (f"; budget {usd(report.budget_usd)}" if report.budget_usd is not None
                  else "") + ". `mlform cost` shows the details.")
        return
    yield style.bold(header(report))
    yield ""
    columns = ("    " + "Resource".ljust(_NAME) + " " + "Priced as".ljust(_WHAT)
               + "Min".rjust(_MONEY) + "Usual".rjust(_MONEY) + "Max".rjust(_MONEY)
               + "Change".rjust(_MONEY + 1))
    yield style.dim(columns)
    usage: list[str] = []
    free = 0
    for group in report.groups:
        lines = [part for r in group.rows for part in (_row(r, style) or "").split("\n")
                 if part]
        for r in group.rows:
            cost = r.after or r.before
            if cost is not None and cost.kind == USAGE and r.after is not None:
                usage.append(f"{r.address}: {cost.note}")
            free += cost is not None and cost.kind == FREE and r.after is not None
        if not lines:
            continue
        title = ("resources" if group.name == RESOURCES
                 else f"{group.name} ({group.kind or 'component'})")
        yield style.bold(f"  ── {title}")
        yield from lines
        if group.name != RESOURCES and len(lines) > 1:
            unknown = f" (+{group.after.unknown} unknown)" if group.after.unknown else ""
            yield _totals(f"    {group.name} total{unknown}", group.after, group.before, style)
    yield ""
    unknown = f" (+{report.after.unknown} unknown)" if report.after.unknown else ""
    yield _totals(f"Total after this plan{unknown}", report.after, report.before, style,
                  indent=2)
    sign = "+" if report.delta >= 0 else "-"
    yield (f"  This plan changes the monthly estimate by {sign}{usd(abs(report.delta))} "
           f"(from {usd(report.before.desired)} to {usd(report.after.desired)}).")
    if report.after.variable:
        yield "  * spot capacity: shown at the on-demand price, the most it can cost; usually less."
    if report.after.unknown:
        yield style.yellow(f"  {report.after.unknown} resource(s) cannot be priced in full; "
                           "what is unknown is not in the totals (see above).")
    if usage:
        yield "  Usage-based, not estimated:"
        for item in usage[:_LISTED]:
            yield f"    {item}"
        if len(usage) > _LISTED:
            yield f"    and {len(usage) - _LISTED} more (`mlform cost --json` lists them)"
    if free:
        yield (f"  {free} resource(s) cost nothing themselves (roles, networks, configurations, "
               "policies).")
    if report.budget_usd is not None:
        if report.over_budget():
            yield style.red(f"  Budget: {usd(report.budget_usd)} for '{report.environment}': "
                            f"over by {usd(report.after.desired - report.budget_usd)}.")
        else:
            yield style.green(f"  Budget: {usd(report.budget_usd)} for '{report.environment}': "
                              f"{usd(report.budget_usd - report.after.desired)} to spare.")
    if report.sources:
        yield style.dim("  Prices from (`mlform prices show`):")
        for s in report.sources:
            yield style.dim(f"    {s['name']} ({_dated(s['date'])})")


def _dated(date: str) -> str:
    return "undated" if date == "unknown" else date
