"""`mlform state`: look at what the state records, and repair it by hand."""

from __future__ import annotations

import click

from mlform.cli.options import StackOptions, stack_options
from mlform.cli.style import stdout_style
from mlform.errors import MlformError


@click.group()
def state() -> None:
    """Inspect the recorded state, or repair it (rm, mv)."""


@state.command("list")
@stack_options
def state_list(config: str, environment: str | None, opts: StackOptions, debug: bool,
               no_color: bool) -> None:
    """List every resource address in the state."""

    st = opts.workspace(config, environment, offline=True).state()
    for address, res in st.resources.items():
        click.echo(address + ("  (tainted)" if res.status != "ok" else ""))
    for address in st.pending:
        click.echo(f"{address}  (create interrupted; settled by the next plan or apply)")
    for address, objs in st.deposed.items():
        for obj in objs:
            click.echo(f"{address}  (deposed object {obj.id}, to be destroyed)")


@state.command("show")
@click.argument("address")
@stack_options
def state_show(address: str, config: str, environment: str | None, opts: StackOptions,
               debug: bool, no_color: bool) -> None:
    """Show the recorded attributes of one resource."""
    from mlform.cli.render_state import render_state

    ws = opts.workspace(config, environment, offline=True)
    st = ws.state()
    if address not in st.resources:
        from mlform.config.validation import suggest

        raise MlformError(f"no resource '{address}' in the state"
                          f"{suggest(address, st.resources, 'resources')}")
    one = type(st)(project=st.project, environment=st.environment,
                   resources={address: st.resources[address]})
    for line in render_state(one, ws.registry, stdout_style(no_color)):
        click.echo(line)


@state.command("rm")
@click.argument("addresses", nargs=-1, required=True, metavar="ADDRESS...")
@stack_options
def state_rm(addresses: tuple[str, ...], config: str, environment: str | None,
             opts: StackOptions, debug: bool, no_color: bool) -> None:
    """Forget resources (or every resource of `module.COMPONENT`) without deleting them.

    The objects keep existing in the cloud; mlform stops managing them. The previous state is
    kept in history/. Remove them from the config too, or the next plan creates them again."""

    ws = opts.workspace(config, environment, offline=True)
    gone = ws.state_rm(addresses)
    style = stdout_style(no_color)
    for address, res in gone.items():
        click.echo(f"Removed {address} {style.dim(f'[id={res.id}]')}")
    click.echo(f"Successfully removed {len(gone)} resource(s) from the state; the objects "
               "themselves were not changed.")


@state.command("mv")
@click.argument("source", metavar="FROM")
@click.argument("target", metavar="TO")
@stack_options
def state_mv(source: str, target: str, config: str, environment: str | None,
             opts: StackOptions, debug: bool, no_color: bool) -> None:
    """Record a resource (or every resource of `module.A`) at another address.

    For renames made after the fact; a `moved:` entry in the config does the same, reviewed in a
    plan. The objects are not changed. The previous state is kept in history/."""

    ws = opts.workspace(config, environment, offline=True)
    pairs = ws.state_mv(source, target)
    for old, new in pairs:
        click.echo(f'Moved "{old}" to "{new}"')
    click.echo(f"Successfully moved {len(pairs)} resource(s).")


COMMANDS = [state]
