"""promote."""

from __future__ import annotations

import threading

import click

from mlform.cli.cmd_core import ALLOW_OVER_BUDGET, PARALLELISM
from mlform.cli.options import StackOptions, config_options
from mlform.cli.style import stdout_style


@click.command()
@click.argument("source", metavar="SOURCE")
@click.argument("target", metavar="TARGET")
@config_options
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation.")
@ALLOW_OVER_BUDGET
@PARALLELISM
def promote(source: str, target: str, config: str, opts: StackOptions, auto_approve: bool,
            allow_over_budget: bool, parallelism: int, debug: bool, no_color: bool) -> int:
    """Make TARGET run what SOURCE runs, except for allowed differences.

    Variables and per-environment settings that make an unsanctioned difference (see
    `mlform parity`) take SOURCE's values in mlform.yaml, and TARGET's image pins in
    mlform.lock take SOURCE's digests (each must be in TARGET's repository). Then TARGET is
    planned in every region, shown, and applied on `yes`; declined, both files are put back.
    The promotion is recorded in TARGET's promotions.jsonl, beside its state."""
    from mlform.cli.progress import Interrupts
    from mlform.cli.render_regions import report_rollout, run_rollout
    from mlform.promote import plan_promotion, record, restore, write_promotion

    style = stdout_style(no_color)
    promo = plan_promotion(config, source, target, **opts.workspace_args())
    kept = [f"  {line}" for line in promo.kept]
    if promo.empty:
        click.echo(f"Nothing to promote: {target} already runs what {source} runs, but for "
                   "allowed differences.")
        if kept:
            click.echo("\n".join([style.dim("Left as they are:"), *kept]))
        return 0
    click.echo(style.bold(f"Promoting {source} -> {target}:"))
    click.echo("\n".join(promo.lines()))
    if kept:
        click.echo("\n".join([style.dim("Left as they are:"), *kept]))
    click.echo("")
    before = write_promotion(promo)
    approved = threading.Event()
    try:
        rg = opts.all_regions(config, target)
        outcome = run_rollout(rg, style, Interrupts(style), auto_approve=auto_approve,
                              parallelism=parallelism, allow_over_budget=allow_over_budget,
                              approved=approved)
    except BaseException:
        # An error or Ctrl-C before the plans were approved changed nothing: the files go
        # back. Once approved they stay, whatever happens: they say what is being applied.
        if not approved.is_set():
            restore(promo, before)
        raise
    if outcome.results is None:  # declined
        restore(promo, before)
        click.echo("Promotion cancelled; mlform.yaml and mlform.lock are as they were.")
        return 1
    where = record(promo, rg.first.stack, {r: x.status for r, x in outcome.results.items()})
    code = report_rollout(outcome, False, style)
    if code == 0:
        click.echo(f"Promoted {source} -> {target}: mlform.yaml and mlform.lock say so; "
                   f"recorded in {where}.")
    else:
        click.echo(f"The promotion of {source} -> {target} is in mlform.yaml and mlform.lock "
                   f"(recorded in {where}), but not every region applied it: `mlform apply -e "
                   f"{target}` finishes it.")
    return code


COMMANDS = [promote]
