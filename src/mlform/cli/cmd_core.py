"""validate, plan, apply, destroy, show, output, graph."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from mlform.cli.options import StackOptions, common_options, stack_options
from mlform.cli.style import SENSITIVE, Style, stdout_style
from mlform.errors import MlformError

# The engine is imported inside each command, so `mlform --help` and `mlform sandbox` start fast.

PARALLELISM = click.option("--parallelism", type=click.IntRange(1, 256), default=10,
                           show_default=True, help="How many cloud calls to run at once.")
ALLOW_OVER_BUDGET = click.option(
    "--allow-over-budget", is_flag=True,
    help="Go ahead even if the monthly estimate is above the config's budget.")
FROZEN = click.option(
    "--frozen", is_flag=True,
    help="Fail if mlform.lock lacks a pin the config needs (a new image tag, component or "
    "region), instead of resolving it live.")
REFRESH = click.option("--refresh/--no-refresh", default=True, show_default=True,
                       help="Read every managed object from the cloud before planning.")


def _workspace(config: str, environment: str | None, opts: StackOptions,
               *, offline: bool = False) -> Any:
    return opts.workspace(config, environment, offline=offline)


def fmt(value: Any) -> str:
    from mlform.cli.render_diff import fmt as render

    return render(value)


def iter_plan_text(plan: Any, registry: Any, style: Style) -> Any:
    from mlform.cli.render_plan import iter_plan_text as render

    return render(plan, registry, style)


def _echo_lines(lines: Any) -> None:
    write = sys.stdout.write
    for line in lines:
        write(line + "\n")


@click.command()
@stack_options
def validate(config: str, environment: str | None, opts: StackOptions,
             debug: bool, no_color: bool) -> None:
    """Check the config: YAML, schema, references and dependency cycles."""
    rg = opts.all_regions(config, environment, offline=True)
    style = stdout_style(no_color)
    n = len(rg.first.stack.resources)
    where = f", regions {', '.join(rg.names)}" if rg.several else ""
    click.echo(style.green(f"Success! The configuration is valid ({n} resource"
                           f"{'s' if n != 1 else ''}, environment '{rg.environment}'{where})."))


@click.command()
@stack_options
@click.option("-out", "--out", "out", type=click.Path(dir_okay=False), metavar="FILE",
              help="Save the plan, to apply exactly it with `mlform apply FILE`.")
@click.option("--json", "as_json", is_flag=True,
              help="Print the plan in Terraform's plan JSON format.")
@click.option("--detailed-exitcode", is_flag=True,
              help="Exit 0 when there are no changes, 2 when there are, 1 on error.")
@click.option("--destroy", is_flag=True, help="Plan to destroy everything in the state.")
@ALLOW_OVER_BUDGET
@REFRESH
@PARALLELISM
@FROZEN
def plan(config: str, environment: str | None, opts: StackOptions, out: str | None,
         as_json: bool, detailed_exitcode: bool, destroy: bool, allow_over_budget: bool,
         refresh: bool, parallelism: int, frozen: bool, debug: bool, no_color: bool) -> int:
    """Show what apply would change, and what it would cost."""
    from mlform.engine.planfile import save_plan
    from mlform.engine.planjson import plan_to_terraform_json

    allowed = allow_over_budget or destroy
    rg = opts.all_regions(config, environment, frozen=frozen)
    if rg.several:
        from mlform.cli.render_regions import plan_regions

        if out and len(rg.names) > 1:
            raise MlformError(f"--out saves one region's plan; environment "
                              f"'{rg.environment}' has several: add --region REGION")
        plans = rg.plan(destroy=destroy, refresh=refresh, parallelism=parallelism,
                         lock=bool(out))
        plan_regions(rg, plans, stdout_style(no_color), as_json=as_json, allowed=allowed)
        if out:
            save_plan(plans[rg.names[0]], out)
            if not as_json:
                _echo_lines(["", f"Saved the plan of {rg.names[0]} to: {out}", "",
                             "To perform exactly these actions, run:", f"    mlform apply {out}"])
        return 2 if detailed_exitcode and any(p.has_changes for p in plans.values()) else 0
    ws = rg.first
    p = ws.plan(destroy=destroy, refresh=refresh, parallelism=parallelism, lock=bool(out))
    if as_json:
        report = ws.cost(p)
        doc = plan_to_terraform_json(p, ws.registry, p.prior)
        doc["cost_estimate"] = report.to_json()
        sys.stdout.write(json.dumps(doc, indent=2, sort_keys=False) + "\n")
        if not allowed:
            report.check_budget()
        if out:
            save_plan(p, out)
    else:
        style = stdout_style(no_color)
        _echo_lines(iter_plan_text(p, ws.registry, style))
        _echo_lines(cost_lines(ws, p, style, allowed))
        if out:
            save_plan(p, out)
            _echo_lines(["", f"Saved the plan to: {out}", "",
                         "To perform exactly these actions, run:", f"    mlform apply {out}"])
    return 2 if detailed_exitcode and p.has_changes else 0


def ask_approval(destroy: bool, style: Style, question: str | None = None) -> bool:
    """Ask on standard input; True when the answer is `yes`."""
    question = question or ("Do you really want to destroy all resources?" if destroy
                            else "Do you want to perform these actions?")
    click.echo("\n" + style.bold(question))
    click.echo("  mlform will perform the actions described above.\n"
               "  Only 'yes' will be accepted to approve.\n")
    try:
        answer = input("  Enter a value: ")
    except EOFError:
        raise MlformError("no confirmation on standard input; pass --auto-approve to "
                          "apply without asking") from None
    return answer.strip() == "yes"


def _confirm(auto_approve: bool, destroy: bool, style: Style, ws: Any,
             allow_over_budget: bool) -> Any:
    def confirm(p: Any) -> bool:
        _echo_lines(iter_plan_text(p, ws.registry, style))
        _echo_lines(cost_lines(ws, p, style, allow_over_budget or destroy))
        if auto_approve or not p.has_changes:
            return True
        return ask_approval(destroy, style)
    return confirm


def cost_lines(ws: Any, plan: Any, style: Style, allow_over_budget: bool) -> list[str]:
    """The plan's cost section; raises BudgetError (after it is shown) when over budget."""
    report = ws.cost(plan)
    lines = cost_section(report, plan, style)
    if not allow_over_budget and report.over_budget():
        _echo_lines(lines)
        report.check_budget()
    return lines


def cost_section(report: Any, plan: Any, style: Style) -> list[str]:
    """The lines that follow a plan: the cost table, or one line when nothing changes."""
    from mlform.cli.render_cost import iter_cost_text

    if not plan.has_changes and report.all_free():
        return []  # nothing costs anything and nothing changes: nothing to say
    return ["", *iter_cost_text(report, style, full=plan.has_changes)]


def _run_apply(plan_file: str | None, config: str, environment: str | None,
               opts: StackOptions, auto_approve: bool, destroy: bool, refresh: bool,
               parallelism: int, no_color: bool, allow_over_budget: bool = False,
               frozen: bool = False) -> int:
    from mlform.api import apply_plan, backend_for_plan
    from mlform.cli.progress import ApplyDisplay, Interrupts
    from mlform.engine.plan import Action
    from mlform.engine.planfile import load_plan
    from mlform.providers.registry import default_registry

    style = stdout_style(no_color)
    interrupts = Interrupts(style)
    holder: dict[str, ApplyDisplay] = {}

    def on_event(e: Any) -> None:
        holder["display"](e)

    def start_display(p: Any) -> None:
        nodes = sum(2 if c.action is Action.REPLACE else 1
                    for c in p.changes if c.action not in (Action.NOOP, Action.FORGET))
        holder["display"] = ApplyDisplay(style, nodes)
        interrupts.arm()

    try:
        if plan_file:
            saved = load_plan(plan_file)
            start_display(saved)
            outcome = apply_plan(backend_for_plan(saved), default_registry(), saved,
                                 operation="apply", parallelism=parallelism,
                                 cancel=interrupts.cancel, on_event=on_event)
        else:
            rg = opts.all_regions(config, environment, frozen=frozen)
            if rg.several:
                from mlform.cli.render_regions import apply_regions

                return apply_regions(rg, style, interrupts, auto_approve=auto_approve,
                                     destroy=destroy, refresh=refresh, parallelism=parallelism,
                                     allow_over_budget=allow_over_budget)
            ws = rg.first
            ask = _confirm(auto_approve, destroy, style, ws, allow_over_budget)

            def confirm(p: Any) -> bool:
                ok = bool(ask(p))
                if ok:
                    click.echo("")
                    start_display(p)
                return ok

            # The budget is checked in `confirm`, once the plan and its cost are shown.
            outcome = ws.apply(destroy=destroy, refresh=refresh, parallelism=parallelism,
                               confirm=confirm, cancel=interrupts.cancel, on_event=on_event,
                               allow_over_budget=True)
            if outcome.result is None and outcome.plan.has_changes:
                click.echo(("Destroy" if destroy else "Apply") + " cancelled.")
                return 1
    finally:
        interrupts.disarm()
        if "display" in holder:
            holder["display"].close()
    return _report_apply(outcome, destroy, style)


def _report_apply(outcome: Any, destroy: bool, style: Style) -> int:
    result = outcome.result
    counts = apply_counts(outcome)
    if result is not None and not result.ok:
        report_failures(outcome, style)
        label = "Apply interrupted" if result.interrupted else "Apply failed"
        sys.stderr.write(f"{style.bold(label)}. {counts} The state records everything that "
                         "was done.\n")
        return 130 if result.interrupted and not result.failed else 1
    verb = "Destroy complete!" if destroy else "Apply complete!"
    click.echo("\n" + style.green(style.bold(f"{verb} {counts}")))
    outputs = outcome.state.outputs
    if outputs and not destroy:
        click.echo("\n" + style.green("Outputs:") + "\n")
        for name in sorted(outputs):
            o = outputs[name]
            click.echo(f"{name} = {SENSITIVE if o.get('sensitive') else fmt(o.get('value'))}")
    return 0


def report_failures(outcome: Any, style: Style, prefix: str = "") -> None:
    """Each failed resource in one line, and what was not done, on standard error."""
    result = outcome.result
    err = sys.stderr
    for address, e in result.failed.items():
        where = f" ({e.pos})" if e.pos else ""
        err.write(f"{style.red(style.bold('Error:'))} {prefix}{address}: {e.message}{where}\n")
    if result.skipped:
        err.write(f"{prefix}{len(result.skipped)} change(s) not made"
                  + (" (interrupted)" if result.interrupted else
                     " because something they depend on failed") + ".\n")


def apply_counts(outcome: Any) -> str:
    """`Resources: 2 added, 0 changed, 1 destroyed.` for what an apply did."""
    from mlform.engine.apply import APPLY, DELETE
    from mlform.engine.plan import Action

    result = outcome.result
    added = changed = destroyed = 0
    if result is not None:
        by_key = {c.key: c for c in outcome.plan.changes}
        for key, phase in result.done:
            action = by_key[key].action
            if phase == DELETE:
                destroyed += 1
            elif phase == APPLY and action is Action.UPDATE:
                changed += 1
            elif phase == APPLY:
                added += 1
    forgotten = outcome.plan.forgets if result is not None else 0
    return (f"Resources: {added} added, {changed} changed, {destroyed} destroyed"
            + (f", {forgotten} forgotten." if forgotten else "."))


@click.command()
@click.argument("plan_file", required=False, metavar="[PLAN_FILE]")
@stack_options
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation.")
@ALLOW_OVER_BUDGET
@REFRESH
@PARALLELISM
@FROZEN
def apply(plan_file: str | None, config: str, environment: str | None,
          opts: StackOptions, auto_approve: bool, allow_over_budget: bool,
          refresh: bool, parallelism: int, frozen: bool, debug: bool, no_color: bool) -> int:
    """Make the cloud match the config (or apply a saved plan exactly)."""
    return _run_apply(plan_file, config, environment, opts, auto_approve, False, refresh,
                      parallelism, no_color, allow_over_budget, frozen)


@click.command()
@stack_options
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation.")
@REFRESH
@PARALLELISM
def destroy(config: str, environment: str | None, opts: StackOptions,
            auto_approve: bool, refresh: bool, parallelism: int, debug: bool,
            no_color: bool) -> int:
    """Destroy every object in the state."""
    return _run_apply(None, config, environment, opts, auto_approve, True, refresh,
                      parallelism, no_color)


@click.command()
@click.argument("plan_file", required=False, metavar="[PLAN_FILE]")
@stack_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def show(plan_file: str | None, config: str, environment: str | None,
         opts: StackOptions, as_json: bool, debug: bool, no_color: bool) -> None:
    """Show the current state, or a saved plan."""
    from mlform.cli.render_state import render_state, state_json
    from mlform.providers.registry import default_registry

    style = stdout_style(no_color)
    registry = default_registry()
    if plan_file:
        from mlform.api import backend_for_plan
        from mlform.cost.catalog import load_catalog
        from mlform.cost.report import cost_report
        from mlform.engine.planfile import load_plan
        from mlform.engine.planjson import plan_to_terraform_json

        saved = load_plan(plan_file)
        report = cost_report(saved, load_catalog(saved.context.home))
        if as_json:
            prior = backend_for_plan(saved).read()
            doc = plan_to_terraform_json(saved, registry, prior)
            doc["cost_estimate"] = report.to_json()
            sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        else:
            _echo_lines(iter_plan_text(saved, registry, style))
            _echo_lines(cost_section(report, saved, style))
        return
    ws = _workspace(config, environment, opts, offline=True)
    state = ws.state()
    if as_json:
        sys.stdout.write(json.dumps(state_json(state, registry), indent=2) + "\n")
    else:
        _echo_lines(render_state(state, registry, style))


@click.command()
@click.argument("name", required=False)
@stack_options
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.option("--raw", is_flag=True, help="Print a string value without quotes.")
@click.option("--show-sensitive", is_flag=True, help="Print sensitive values too.")
def output(name: str | None, config: str, environment: str | None, opts: StackOptions,
           as_json: bool, raw: bool, show_sensitive: bool, debug: bool, no_color: bool) -> None:
    """Show output values from the state."""
    ws = _workspace(config, environment, opts, offline=True)
    outputs = ws.state().outputs
    if name is not None:
        if name not in outputs:
            known = ", ".join(sorted(outputs)) or "none yet: run mlform apply"
            raise MlformError(f"no output named '{name}' (outputs: {known})")
        o = outputs[name]
        if o.get("sensitive") and not show_sensitive:
            raise MlformError(f"output '{name}' is sensitive; add --show-sensitive to print it")
        value = o.get("value")
        if raw and isinstance(value, (str, int, float, bool)):
            click.echo(value if not isinstance(value, bool) else str(value).lower())
        else:
            click.echo(json.dumps(value) if as_json else fmt(value))
        return
    if as_json:
        doc = {n: {"value": (None if o.get("sensitive") and not show_sensitive
                             else o.get("value")),
                   "sensitive": bool(o.get("sensitive"))} for n, o in outputs.items()}
        click.echo(json.dumps(doc, indent=2))
        return
    for n in sorted(outputs):
        o = outputs[n]
        hidden = o.get("sensitive") and not show_sensitive
        click.echo(f"{n} = {SENSITIVE if hidden else fmt(o.get('value'))}")


@click.command()
@stack_options
@click.option("--format", "fmt_", type=click.Choice(["dot", "svg"]), default="dot",
              show_default=True, help="DOT text, or SVG rendered by Graphviz.")
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False, allow_dash=True),
              default="-", help="Write to FILE instead of standard output.")
def graph(config: str, environment: str | None, opts: StackOptions, fmt_: str,
          out: str, debug: bool, no_color: bool) -> None:
    """Print the dependency graph of the config (DOT, or SVG with Graphviz)."""
    from mlform.engine.graph import render_svg, to_dot

    ws = opts.all_regions(config, environment, offline=True).first  # alike in every region
    dot = to_dot({a: r.depends_on for a, r in ws.stack.resources.items()},
                 title=f"{ws.context.project}/{ws.context.environment}")
    data = render_svg(dot) if fmt_ == "svg" else dot.encode()
    if out == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        with open(out, "wb") as fh:
            fh.write(data)


@click.command()
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False, allow_dash=True),
              default="-", help="Write to FILE instead of standard output.")
@common_options
def schema(out: str, debug: bool, no_color: bool) -> None:
    """Print the JSON Schema of mlform.yaml (for editor completion and checks)."""
    from mlform.config.schema import config_schema
    from mlform.providers.registry import default_registry

    text = json.dumps(config_schema(default_registry()), indent=2) + "\n"
    if out == "-":
        sys.stdout.write(text)
    else:
        with open(out, "w", encoding="utf-8") as fh:
            fh.write(text)


@click.command()
@common_options
def version(debug: bool, no_color: bool) -> None:
    """Print the mlform version."""
    from mlform import __version__

    click.echo(f"mlform {__version__}")


COMMANDS = [validate, plan, apply, destroy, show, output, graph, schema, version]
