"""cost, prices refresh, prices show."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from mlform.cli.cmd_core import ALLOW_OVER_BUDGET, PARALLELISM, REFRESH
from mlform.cli.options import StackOptions, common_options, stack_options
from mlform.cli.style import stdout_style
from mlform.errors import MlformError


@click.command()
@stack_options
@click.option("--json", "as_json", is_flag=True, help="The estimate as JSON.")
@click.option("--destroy", is_flag=True, help="Price a plan that destroys everything.")
@ALLOW_OVER_BUDGET
@REFRESH
@PARALLELISM
def cost(config: str, environment: str | None, opts: StackOptions, as_json: bool,
         destroy: bool, allow_over_budget: bool, refresh: bool, parallelism: int, debug: bool,
         no_color: bool) -> None:
    """Estimate the monthly cost of the plan, per component and resource.

    Exits 1 when the estimate is over the config's budget, unless --allow-over-budget."""
    from mlform.cli.render_cost import iter_cost_text
    from mlform.cli.render_regions import region_rule
    from mlform.regions import check_budget

    rg = opts.all_regions(config, environment)
    reports = rg.cost(rg.plan(destroy=destroy, refresh=refresh, parallelism=parallelism))
    style = stdout_style(no_color)
    if as_json:
        doc = ({"regions": {r: rep.to_json() for r, rep in reports.items()}} if rg.several
               else next(iter(reports.values())).to_json())
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        for region, report in reports.items():
            if rg.several:
                sys.stdout.write(region_rule(region, style) + "\n\n")
            for line in iter_cost_text(report, style):
                sys.stdout.write(line + "\n")
            if rg.several:
                sys.stdout.write("\n")
    if not (allow_over_budget or destroy):
        check_budget(reports)


@click.group()
def prices() -> None:
    """The price catalog cost estimates use."""


@prices.command("show")
@click.option("--region", default=None, help="Only this region.")
@click.option("--json", "as_json", is_flag=True, help="The whole catalog as JSON.")
@common_options
def show(region: str | None, as_json: bool, debug: bool, no_color: bool) -> None:
    """Where prices come from, and how many there are per table and region."""
    from mlform.cost.catalog import TABLES, load_catalog, refreshed_path

    catalog = load_catalog()
    if as_json:
        doc = {t: {r: {i: {"usd": p.usd, "unit": p.unit, "source": p.source.id}
                       for i, p in sorted(catalog.items(t, r).items())}
                   for r in sorted(catalog.regions(t)) if region in (None, r)}
               for t in TABLES}
        sys.stdout.write(json.dumps({"prices": doc, "sources": {
            s.id: {"name": s.name, "date": s.date, "url": s.url}
            for s in catalog.sources.values()}}, indent=2) + "\n")
        return
    style = stdout_style(no_color)
    refreshed = refreshed_path()
    click.echo(style.bold("Price catalog") + (f" (shipped, overlaid by {refreshed})"
                                              if refreshed.exists() else " (shipped)"))
    for table, (what, unit) in TABLES.items():
        regions = sorted(r for r in catalog.regions(table) if region in (None, r))
        counts = ", ".join(f"{r} {len(catalog.items(table, r))}" for r in regions)
        click.echo(f"  {table:<20} {what}, USD per {unit}: {counts or 'none'}")
    click.echo(style.bold("Sources"))
    for s in sorted(catalog.sources.values(), key=lambda s: s.id):
        click.echo(f"  {s.id}: {s.name}, {s.date}" + (f" <{s.url}>" if s.url else ""))


@prices.command("refresh")
@click.option("--region", "regions", multiple=True, metavar="REGION",
              help="Region to fetch (repeatable; default: the six regions mlform ships).")
@click.option("--profile", default=None, help="AWS named profile (default credential chain).")
@common_options
def refresh(regions: tuple[str, ...], profile: str | None, debug: bool,
            no_color: bool) -> None:
    """Rebuild the price catalog from the AWS Price List API (needs an AWS account).

    Writes $MLFORM_HOME/prices.json (default ~/.mlform/prices.json), which cost estimates then
    prefer over the catalog shipped with mlform, price by price."""
    from mlform.cost.catalog import check_catalog, read_catalog_file, refreshed_path
    from mlform.cost.refresh import REGIONS, pricing_client, refresh_catalog
    from mlform.providers.aws.errors import translate

    client = pricing_client(profile)

    def progress(table: str, region: str, n: int) -> None:
        click.echo(f"  {table:<20} {region:<16} {n} price(s)", err=True)

    from botocore.exceptions import BotoCoreError, ClientError

    try:
        result = refresh_catalog(client, tuple(regions) or REGIONS, progress)
    except (BotoCoreError, ClientError) as exc:
        raise translate(exc, "pricing GetProducts") from None
    target = refreshed_path()
    doc = result.catalog
    if target.exists():  # keep what an earlier refresh found for other regions or tables
        doc = _merge(read_catalog_file(target), doc)
    problem = check_catalog(doc)
    if problem:
        raise MlformError(f"the Price List API answered with data mlform cannot use: {problem}")
    if not result.catalog["prices"]:
        raise MlformError("the Price List API returned no prices; the catalog is unchanged")
    _write(target, doc)
    found = sum(result.counts.values())
    click.echo(stdout_style(no_color).green(f"Wrote {found} price(s) to {target}."))


def _merge(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    merged = {"format": new["format"], "sources": {**old["sources"], **new["sources"]},
              "prices": {t: dict(r) for t, r in old["prices"].items()}}
    for table, regions in new["prices"].items():
        merged["prices"].setdefault(table, {}).update(regions)
    used = {sid for regions in merged["prices"].values() for items in regions.values()
            for _, sid in items.values()}
    merged["sources"] = {k: v for k, v in merged["sources"].items() if k in used}
    return merged


def _write(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


COMMANDS = [cost, prices]
