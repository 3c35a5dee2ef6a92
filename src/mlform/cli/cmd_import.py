"""import, discover."""

from __future__ import annotations

import json
import sys

import click

from mlform.cli.cmd_core import PARALLELISM, _workspace
from mlform.cli.options import StackOptions, stack_options
from mlform.cli.style import stdout_style
from mlform.errors import MlformError

TYPES = click.option("--type", "types", multiple=True, metavar="TYPE",
                     help="Only this resource type (repeat for more), such as aws_s3_bucket.")


@click.command(name="import")
@stack_options
@click.argument("address", required=False)
@click.argument("id", required=False)
@click.option("--discover", "discover_", is_flag=True,
              help="Import every object discovery finds (needs --generate-config).")
@click.option("--generate-config", "generate", metavar="FILE",
              help="With --discover: write config for the imported objects to FILE (the config "
                   "itself, or a new file beside it).")
@TYPES
@PARALLELISM
def import_(config: str, environment: str | None, opts: StackOptions,
            address: str | None, id: str | None, discover_: bool, generate: str | None,
            types: tuple[str, ...], parallelism: int, debug: bool, no_color: bool) -> None:
    """Adopt existing objects into the state without changing them.

    `mlform import ADDRESS ID` records the object ID (a bucket or role name, an endpoint name, a
    VPC id) as ADDRESS, which the config must already have; `mlform plan` then shows how the
    object differs from its config. `mlform import --discover --generate-config FILE` imports
    every object that belongs to no mlform state and writes config for it, so that the next
    plan shows no changes."""
    style = stdout_style(no_color)
    if discover_:
        if address or id:
            raise MlformError("give either ADDRESS ID, or --discover, not both")
        if not generate:
            raise MlformError("--discover needs --generate-config FILE: imported objects must "
                              "be in the config, or the next plan would destroy them")
        ws = _workspace(config, environment, opts)
        result = ws.generate_config(generate, types, parallelism=parallelism)
        cod = result.codified
        if not result.recorded:
            sys.stdout.write("Nothing to import: every object discovery can list belongs to an "
                             "mlform state.\n")
            return
        for where in sorted(result.recorded):
            res = result.recorded[where]
            sys.stdout.write(f"{style.green('Imported')} {where} {style.dim(f'[id={res.id}]')}\n")
        sys.stdout.write(
            f"\n{style.bold('Import successful!')} {len(result.recorded)} object(s) recorded; "
            f"{generate} has {len(cod.components)} component(s) and {len(cod.resources)} "
            "resource(s) for them.\n")
        for where, fields in sorted(result.differs.items()):
            sys.stdout.write(style.yellow(f"Warning: {where}: the plan would still change "
                                          f"{', '.join(fields)} (settings mlform does not "
                                          "model); review it before applying.\n"))
        for path in cod.left_out:
            sys.stdout.write(style.yellow(f"Warning: {path} is sensitive and was not written; "
                                          "set it (from a variable) in the config.\n"))
        sys.stdout.write("Run `mlform plan` to check: it should show no changes.\n")
        return
    if generate:
        raise MlformError("--generate-config goes with --discover")
    if not (address and id):
        raise MlformError("give the ADDRESS in the config and the ID of the object to import "
                          "(mlform import aws_s3_bucket.raw my-raw-bucket), or --discover")
    ws = _workspace(config, environment, opts, offline=True)
    res = ws.import_resource(address, id)
    sys.stdout.write(f"{style.green(f'{address}: Import prepared!')}\n"
                     f"  Imported {res.type} {style.dim(f'[id={res.id}]')}\n\n"
                     f"{style.bold('Import successful!')}\n\nThe object is now managed by "
                     "mlform; run `mlform plan` to see how it differs from its config.\n")


@click.command()
@stack_options
@TYPES
@click.option("--json", "as_json", is_flag=True, help="The list as JSON.")
@PARALLELISM
def discover(config: str, environment: str | None, opts: StackOptions,
             types: tuple[str, ...], as_json: bool, parallelism: int, debug: bool,
             no_color: bool) -> None:
    """List objects in the environment's account and region that belong to no mlform state
    (made by hand, or by another tool): candidates for `mlform import`."""
    ws = _workspace(config, environment, opts, offline=True)
    found = ws.discover(types, parallelism=parallelism)
    if as_json:
        sys.stdout.write(json.dumps([{"type": f.type, "id": f.id, "import_id": f.import_id or f.id,
                                      "tags": f.tags} for f in found], indent=2) + "\n")
        return
    style = stdout_style(no_color)
    ctx = ws.context
    if not found:
        sys.stdout.write(f"Nothing unmanaged found in {ctx.target} {ctx.region}.\n")
        return
    width = max(len(f.type) for f in found)
    for f in found:
        name = f.tags.get("Name")
        sys.stdout.write(f"{f.type.ljust(width)}  {f.import_id or f.id}"
                         + (style.dim(f"  (Name: {name})") if name and name != f.id else "")
                         + "\n")
    sys.stdout.write(f"\n{len(found)} object(s) in {ctx.target} {ctx.region} belong to no "
                     "mlform state. Adopt them with `mlform import ADDRESS ID`, or all at once "
                     "with `mlform import --discover --generate-config FILE`.\n")


COMMANDS = [import_, discover]
