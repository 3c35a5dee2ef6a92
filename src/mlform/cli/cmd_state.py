"""`mlform state`: look at what the state records, and repair it by hand."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from mlform.cli.options import StackOptions, stack_options
from mlform.cli.style import stdout_style
from mlform.errors import MlformError


@click.group()
def state() -> None:
    """Inspect the recorded state and its history, or repair it (rm, mv, rollback, migrate,
    rekey)."""


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


@state.command("history")
@click.option("--json", "as_json", is_flag=True, help="Print the versions as JSON.")
@stack_options
def state_history(as_json: bool, config: str, environment: str | None, opts: StackOptions,
                  debug: bool, no_color: bool) -> None:
    """List every version of the state: serial, time, who wrote it and with which command.

    Any of them can be made current again with `mlform state rollback SERIAL`."""
    import json

    ws = opts.workspace(config, environment, offline=True)
    versions = ws.backend.versions()
    if as_json:
        click.echo(json.dumps({"location": ws.backend.store.location,
                               "versions": [v.to_json() for v in versions]}, indent=2))
        return
    style = stdout_style(no_color)
    click.echo(style.dim(f"State of {ws.backend.where} at {ws.backend.store.location}"))
    if not versions:
        click.echo("No state has been written yet.")
        return
    click.echo(f"{'SERIAL':>6}  {'WRITTEN (UTC)':<20}  {'BY':<16}  COMMAND")
    for v in versions:
        mark = "  (current)" if v is versions[-1] else ""
        click.echo(f"{v.serial:>6}  {v.written_at or '?':<20}  {v.who or '?':<16}  "
                   f"{v.operation or '?'}{mark}")


@state.command("rollback")
@click.argument("serial", type=int)
@click.option("--auto-approve", is_flag=True, help="Skip the confirmation.")
@click.option("--parallelism", default=10, show_default=True, help="Reads in flight.")
@stack_options
def state_rollback(serial: int, auto_approve: bool, parallelism: int, config: str,
                   environment: str | None, opts: StackOptions, debug: bool,
                   no_color: bool) -> None:
    """Make version SERIAL of the state current again (written as a new version).

    First shows what that means for live objects: those it stops managing (they stay in the
    cloud) and those it records again, read from the cloud now to say whether they still
    exist. Nothing in the cloud is changed; the next plan compares the config with it."""
    from mlform.cli.cmd_core import ask_approval
    from mlform.cli.render_state import rollback_lines
    from mlform.history import rollback, rollback_preview

    ws = opts.workspace(config, environment)
    style = stdout_style(no_color)
    with ws.backend.lock("state rollback"):
        current = ws.backend.load()
        if serial == current.serial:
            click.echo(f"Version {serial} is already the current state; nothing to do.")
            return
        preview = rollback_preview(ws, current, ws.backend.version(serial), parallelism)
        for line in rollback_lines(preview, style):
            click.echo(line)
        if not auto_approve and not ask_approval(
                False, style, f"Make version {serial} the current state?"):
            click.echo("Rollback cancelled; the state is unchanged.")
            return
        rollback(ws.backend, serial, current.serial)
    click.echo(f"Version {serial} is the current state again, written as serial "
               f"{current.serial + 1}; serial {current.serial} stays in the history. Run "
               "`mlform plan` to see what the config would change.")


@state.command("migrate")
@click.option("--to", "to", required=True, metavar="BACKEND",
              help="local, local:PATH, s3://BUCKET/KEY[?region=R], postgresql://HOST/DB[#SCHEMA] "
              "or env:NAME holding such a URL.")
@stack_options
def state_migrate(to: str, config: str, environment: str | None, opts: StackOptions,
                  debug: bool, no_color: bool) -> None:
    """Copy the state and every earlier version to another backend.

    Every region of the environment is copied (or those --region names), each under the
    source's lock, with serials, times and authors kept. The source is left as it was; set
    the environment's `state:` to the printed settings to use the new backend."""
    import yaml

    from mlform.api import backend_for
    from mlform.history import migrate, parse_target

    rg = opts.all_regions(config, environment, offline=True)
    first = rg.workspaces[rg.names[0]]
    target_config = parse_target(to)
    if first.stack.env.state.encryption is not None:
        target_config["encryption"] = first.stack.env.state.encryption.model_dump(
            exclude_none=True)
    for region in rg.names:
        ws = rg.workspaces[region]
        directory = _target_dir(ws, target_config)
        target = backend_for(directory, ws.context, target_config)
        if target.store.location == ws.backend.store.location:
            raise MlformError(f"the state of {ws.backend.where} is already at "
                              f"{target.store.location}; nothing to migrate")
        with ws.backend.lock("state migrate"), target.lock("state migrate"):
            copied = migrate(ws.backend, target)
        where = f" ({region})" if rg.several else ""
        click.echo(f"Copied {copied} version(s) of {ws.backend.where}{where} from "
                   f"{ws.backend.store.location} to {target.store.location}.")
    shown = {k: v for k, v in target_config.items() if k != "encryption"}
    click.echo("Now set the environment's state to:\n\n  state: "
               + yaml.safe_dump(shown, default_flow_style=True, sort_keys=False).strip()
               + "\n\nThe old state is unchanged; remove it once the new backend is in use.")


def _target_dir(ws: Any, target_config: dict[str, Any]) -> Path:
    """A local target's folder for this stack (as `state: {path: ...}` would place it)."""
    from mlform.config.stack import state_dir

    stack = ws.stack
    env = stack.env.model_copy(update={"state": stack.env.state.model_copy(
        update={"path": str(target_config.get("path", stack.env.state.path))})})
    return state_dir(Path(stack.config_path), env, stack.context.environment,
                     stack.context.region)


@click.command("force-unlock")
@click.argument("lock_id")
@stack_options
def force_unlock(lock_id: str, config: str, environment: str | None, opts: StackOptions,
                 debug: bool, no_color: bool) -> None:
    """Remove the state lock LOCK_ID, left by a holder that is gone.

    Only for remote state (S3, PostgreSQL), whose lock a killed holder cannot release; the
    id is in the message of the command that found the state locked. Make sure its holder
    is really gone: a lock taken from a running apply lets two applies run at once."""
    ws = opts.workspace(config, environment, offline=True)
    removed = ws.backend.force_unlock(lock_id)
    click.echo(f"Removed the lock of {ws.backend.where}: {removed.describe()}.")


@state.command("rekey")
@click.option("--from-key", metavar="env:NAME", help="The raw key (base64 or hex, in that "
              "environment variable) the state is encrypted with now, if not the configured "
              "one.")
@click.option("--from-passphrase", metavar="env:NAME", help="The passphrase (in that "
              "environment variable) the state is encrypted with now.")
@click.option("--from-kms-key", metavar="KEY", help="The KMS key the state is encrypted with "
              "now (not needed: KMS opens what any key of the account wrapped).")
@stack_options
def state_rekey(from_key: str | None, from_passphrase: str | None, from_kms_key: str | None,
                config: str, environment: str | None, opts: StackOptions, debug: bool,
                no_color: bool) -> None:
    """Encrypt the state with the key `state.encryption` names now.

    After a KMS key rotation, a move to another key (a passphrase to KMS, say), or to encrypt
    a state written before `state.encryption` was set. The stack's data key is kept and
    wrapped by the configured key, and the state is written as a new version under the lock.
    The key the state is encrypted with now must still be at hand (--from-key,
    --from-passphrase; KMS keys need nothing). Versions already in the history stay as they
    were: reading them still needs the key they were written with."""
    from mlform.state.crypto import rekey

    given = {name: value for name, value in (("key", from_key), ("passphrase", from_passphrase),
                                             ("kms_key_id", from_kms_key)) if value}
    if len(given) > 1:
        raise MlformError("give at most one of --from-key, --from-passphrase, --from-kms-key")
    for name, value in given.items():
        if name != "kms_key_id" and not value.startswith("env:"):
            raise MlformError(f"--from-{name} takes `env:NAME`, the environment variable that "
                              "holds it: a key on the command line is seen by anyone who can "
                              "list processes")
    ws = opts.workspace(config, environment, offline=True)
    done = rekey(ws.backend, given or None)
    click.echo(f"Rekeyed the state of {ws.backend.where}: serial {done.serial} is encrypted "
               f"with key {done.after} (was: {done.before}). Earlier versions keep their "
               "encryption.")


COMMANDS = [state, force_unlock]
