"""parity."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from mlform.cli.options import StackOptions, config_options
from mlform.cli.style import stdout_style
from mlform.errors import MlformError

ALIKE, UNSANCTIONED = 0, 2


@click.command()
@click.argument("environments", nargs=-1, metavar="[ENV]...")
@config_options
@click.option("--json", "as_json", is_flag=True,
              help="The report as JSON: columns, differences (path, kind, values per column, "
              "status, reason), allowances.")
@click.option("--html", "html_file", metavar="FILE", type=click.Path(dir_okay=False),
              help="Also write the report as a self-contained HTML page.")
def parity(environments: tuple[str, ...], config: str, opts: StackOptions, as_json: bool,
           html_file: str | None, debug: bool, no_color: bool) -> int:
    """Compare environments (default: all of them), each in every region it lists.

    Components, resources, settings and arguments that differ are reported, except what
    derives from the environment's or region's name. A difference is allowed (`parity.allow`
    in the config, with a reason), explained by the region (a GPU type chosen per region), or
    unsanctioned. Reads no state and changes nothing; components make their cloud lookups as
    `plan` does. Exits 0 when nothing is unsanctioned, 2 when something is, 1 on error."""
    from mlform.cli.render_parity import iter_parity_text, parity_html
    from mlform.parity import compare_environments

    report = compare_environments(config, environments, **opts.workspace_args())
    if html_file is not None:
        try:
            Path(html_file).write_text(parity_html(report), encoding="utf-8")
        except OSError as exc:
            raise MlformError(f"--html {html_file}: cannot write it ({exc.strerror})") from None
    if as_json:
        sys.stdout.write(json.dumps(report.to_json(), indent=2) + "\n")
    else:
        style = stdout_style(no_color)
        for line in iter_parity_text(report, style):
            sys.stdout.write(line + "\n")
        if html_file is not None:
            sys.stdout.write(style.dim(f"Wrote {html_file}.") + "\n")
    return ALIKE if report.ok else UNSANCTIONED


COMMANDS = [parity]
