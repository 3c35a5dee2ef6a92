"""`mlform init`: a starting mlform.yaml in the current folder."""

from __future__ import annotations

import click

from mlform.cli.options import common_options
from mlform.cli.style import stdout_style
from mlform.templates import TEMPLATES


@click.command()
@click.option("--template", type=click.Choice(TEMPLATES), default="quickstart",
              show_default=True,
              help="quickstart: raw resources of a model-serving stack; ml-platform: every "
              "component; multi-region: dev on the sandbox, staging and prod on AWS in three "
              "regions.")
@click.option("--force", is_flag=True, help="Replace an existing mlform.yaml.")
@common_options
def init(template: str, force: bool, debug: bool, no_color: bool) -> None:
    """Write a starting mlform.yaml here (from an example), and its JSON Schema for editors."""
    from mlform.templates import init_config

    written = init_config(".", template, force=force)
    style = stdout_style(no_color)
    click.echo(style.green(f"Wrote {written[0]} (the {template} example) and {written[1]}."))
    click.echo("Next: `mlform plan` shows what it makes on the local sandbox, "
               "`mlform apply` makes it.")


COMMANDS = [init]
