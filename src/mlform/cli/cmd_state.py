"""`mlform state`: look at what the state records."""

from __future__ import annotations

import click

from mlform.cli.options import parse_vars, stack_options
from mlform.cli.style import stdout_style
from mlform.errors import MlformError


@click.group()
def state() -> None:
    """Inspect the recorded state."""


@state.command("list")
@stack_options
def state_list(config: str, environment: str | None, variables: tuple[str, ...], debug: bool,
               no_color: bool) -> None:
    """List every resource address in the state."""
    from mlform.api import Workspace

    st = Workspace(config, environment, parse_vars(variables), offline=True).state()
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
def state_show(address: str, config: str, environment: str | None, variables: tuple[str, ...],
               debug: bool, no_color: bool) -> None:
    """Show the recorded attributes of one resource."""
    from mlform.api import Workspace
    from mlform.cli.render_state import render_state

    ws = Workspace(config, environment, parse_vars(variables), offline=True)
    st = ws.state()
    if address not in st.resources:
        from mlform.config.validation import suggest

        raise MlformError(f"no resource '{address}' in the state"
                          f"{suggest(address, st.resources, 'resources')}")
    one = type(st)(project=st.project, environment=st.environment,
                   resources={address: st.resources[address]})
    for line in render_state(one, ws.registry, stdout_style(no_color)):
        click.echo(line)


COMMANDS = [state]
