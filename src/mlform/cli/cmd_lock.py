"""`mlform lock`: pin image digests, GPU instance types and EKS versions in mlform.lock."""

from __future__ import annotations

import click

from mlform.cli.options import StackOptions, stack_options
from mlform.cli.style import stdout_style


@click.command()
@stack_options
@click.option("--update", is_flag=True,
              help="Look every pin up again (a tag pushed anew, EKS's new default) and print "
              "what moved; without it, only what the lock lacks is looked up.")
def lock(config: str, environment: str | None, opts: StackOptions, update: bool,
         debug: bool, no_color: bool) -> None:
    """Pin what could change between two applies of the same config, in mlform.lock."""
    from mlform.lock import make_lock

    style = stdout_style(no_color)
    result = make_lock(config, [environment] if environment else [], opts.regions,
                       update=update, **opts.workspace_args())
    if result.changes:
        click.echo(style.bold("Moved:" if update else "Pinned:"))
        for line in result.changes:
            click.echo(f"  {line}")
    else:
        click.echo("Nothing moved." if update else "No new pins.")
    if result.unpinned:
        click.echo(style.bold("Not pinned (served by their tag):"))
        for line in result.unpinned:
            click.echo(f"  {style.yellow(line)}")
    name = result.path.name
    click.echo(style.green(f"Wrote {name}.") if result.written else f"{name} is up to date.")


COMMANDS = [lock]
