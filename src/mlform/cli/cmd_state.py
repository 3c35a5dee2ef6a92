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


COMMANDS = [state]
