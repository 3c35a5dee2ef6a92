"""drift, refresh."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from mlform.cli.cmd_core import PARALLELISM
from mlform.cli.options import StackOptions, stack_options
from mlform.cli.style import Style, stdout_style

NO_DRIFT, DRIFT = 0, 2


def _value(value: Any) -> str:
    if value is None:
        return "(none)"
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def render_drift(report: Any, style: Style, *, accepted: bool = False) -> list[str]:
    """The drift report as text: per resource, the fields that changed, recorded -> live."""
    from mlform.engine.drift import RISKY, summary

    calls = report.api_calls
    by_service = ", ".join(f"{s} {n}" for s, n in sorted(calls.items(), key=lambda i: -i[1]))
    lines = [style.dim(f"Read {report.read} object(s) with {sum(calls.values())} API call(s) in "
                       f"{report.seconds:.1f}s" + (f" ({by_service})" if by_service else "")
                       + "."), ""]
    for d in report.resources:
        if not d.fields and d.status != "deleted":
            lines.append(style.dim(f"{d.address}: only ignored changes "
                                   f"({', '.join(d.ignored)})"))
            continue
        paint = style.red if d.risk == RISKY else style.yellow
        lines.append(f"{style.bold(d.address)}  {paint(d.risk)}")
        if d.status == "deleted":
            lines.append(f"  {style.red('-')} {d.note or 'deleted outside mlform'}")
        for f in d.fields:
            lines.append(f"  {style.yellow('~')} {f.path}: {_value(f.recorded)} -> "
                         f"{_value(f.live)}" + ("" if f.risk == d.risk else f"  ({f.risk})"))
        if d.ignored:
            lines.append(style.dim(f"    ignored by lifecycle.ignore_changes: "
                                   f"{', '.join(d.ignored)}"))
    if report.resources:
        lines.append("")
    lines.append(style.bold(summary(report.resources)))
    if report.has_drift:
        lines.append("The state now records these live values; the next plan shows what apply "
                     "would put back." if accepted else
                     "`mlform apply` puts them back as configured; `mlform refresh` accepts "
                     "them into the state.")
    return lines


@click.command()
@stack_options
@click.option("--json", "as_json", is_flag=True, help="The report as JSON.")
@PARALLELISM
def drift(config: str, environment: str | None, opts: StackOptions, as_json: bool,
          parallelism: int, debug: bool, no_color: bool) -> int:
    """Report what changed outside mlform since the last apply, field by field.

    Reads every managed object and changes nothing. Exits 0 without drift, 2 with drift, 1 on
    error, so a scheduled job can alert on it."""
    rg = opts.all_regions(config, environment, offline=True)
    reports = rg.drift(parallelism=parallelism)
    _print_reports(rg, reports, as_json, stdout_style(no_color), accepted=False)
    return DRIFT if any(r.has_drift for r in reports.values()) else NO_DRIFT


def _print_reports(rg: Any, reports: dict[str, Any], as_json: bool, style: Style,
                   accepted: bool) -> None:
    """One report, or a section per region in an environment of several."""
    from mlform.cli.render_regions import region_rule

    if as_json:
        doc = ({"regions": {r: rep.to_json() for r, rep in reports.items()}} if rg.several
               else next(iter(reports.values())).to_json())
        sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")
        return
    for region, report in reports.items():
        if rg.several:
            sys.stdout.write(region_rule(region, style) + "\n\n")
        for line in render_drift(report, style, accepted=accepted):
            sys.stdout.write(line + "\n")


@click.command()
@stack_options
@click.option("--json", "as_json", is_flag=True, help="What was accepted, as JSON.")
@PARALLELISM
def refresh(config: str, environment: str | None, opts: StackOptions, as_json: bool,
            parallelism: int, debug: bool, no_color: bool) -> None:
    """Accept changes made outside mlform: record every managed object's live values in the
    state (the config is unchanged; the next plan shows what apply would put back)."""
    rg = opts.all_regions(config, environment, offline=True)
    reports = rg.refresh(parallelism=parallelism)
    _print_reports(rg, reports, as_json, stdout_style(no_color), accepted=True)


COMMANDS = [drift, refresh]
