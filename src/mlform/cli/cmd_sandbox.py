"""`mlform sandbox`: the local AWS-compatible cloud that `target: sandbox` uses."""

from __future__ import annotations

import time

import click

from mlform.cli.options import common_options
from mlform.cli.style import stdout_style


@click.group()
def sandbox() -> None:
    """Start, stop and inspect the local sandbox cloud (moto on loopback)."""


@sandbox.command("start")
@click.option("--port", type=click.IntRange(0, 65535), default=None,
              help="Port on 127.0.0.1 (default: $MLFORM_SANDBOX_PORT or 4750; 0 picks a free one).")
@common_options
def sandbox_start(port: int | None, debug: bool, no_color: bool) -> None:
    """Start the sandbox in the background (no-op if it is running)."""
    from mlform.sandbox import lifecycle

    before = lifecycle.status()
    info = lifecycle.start(port=port)
    style = stdout_style(no_color)
    state = "already running" if before is not None else "started"
    click.echo(style.green(f"Sandbox {state} at {info.url} (pid {info.pid}); "
                           f"data in {info.data_dir}"))


@sandbox.command("stop")
@common_options
def sandbox_stop(debug: bool, no_color: bool) -> None:
    """Stop the sandbox; its contents are saved and come back at the next start."""
    from mlform.sandbox import lifecycle

    if lifecycle.stop():
        click.echo("Sandbox stopped; its contents are saved.")
    else:
        click.echo("The sandbox is not running.")


@sandbox.command("status")
@common_options
def sandbox_status(debug: bool, no_color: bool) -> int:
    """Say whether the sandbox is running, where, and how much it holds (exit 3 if stopped)."""
    from mlform.sandbox import lifecycle

    info = lifecycle.status()
    if info is None:
        click.echo(f"The sandbox is not running (data folder: {lifecycle.sandbox_dir()}).")
        return 3
    up = time.time() - info.started_at
    click.echo(f"Sandbox running at {info.url} (pid {info.pid}, up {up:.0f}s); "
               f"data in {info.data_dir} ({info.snapshot_bytes / 1e6:.1f} MB saved)")
    return 0


COMMANDS = [sandbox]
