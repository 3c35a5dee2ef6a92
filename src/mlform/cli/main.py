"""The `mlform` command: argument parsing, error reporting and exit codes.

Every error a user can cause is an MlformError: printed in one or two lines, exit code 1, no
traceback unless --debug (or MLFORM_DEBUG=1).
"""

from __future__ import annotations

import os
import sys

import click

from mlform import __version__
from mlform.cli.style import Style
from mlform.errors import ConfigError, MlformError


def _debug_requested(argv: list[str]) -> bool:
    return "--debug" in argv or os.environ.get("MLFORM_DEBUG", "") not in ("", "0")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="mlform")
def cli() -> None:
    """mlform: infrastructure as code for machine learning platforms.

    Declare buckets, registries, roles, SageMaker endpoints and secrets in mlform.yaml, then
    plan, apply and destroy them, on the local sandbox cloud or on AWS.
    """


def _register() -> None:
    from mlform.cli import (
        cmd_core,
        cmd_cost,
        cmd_drift,
        cmd_import,
        cmd_init,
        cmd_lock,
        cmd_parity,
        cmd_promote,
        cmd_sandbox,
        cmd_state,
    )

    for module in (cmd_init, cmd_core, cmd_cost, cmd_drift, cmd_parity, cmd_promote, cmd_import,
                   cmd_state, cmd_lock, cmd_sandbox):
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


def report(exc: BaseException, debug: bool) -> None:
    """Print an error for a person: what went wrong, where, and (with --debug) the traceback."""
    from mlform.sensitive import redact  # values revealed in this run never reach stderr

    style = Style.for_stream(sys.stderr)
    if debug:
        import traceback

        sys.stderr.write(redact("".join(traceback.format_exception(exc))))
    if isinstance(exc, ConfigError):
        lines = [str(p) for p in exc.problems]
    elif isinstance(exc, MlformError):
        lines = [str(exc)]
    else:
        lines = [f"internal error: {type(exc).__name__}: {exc}"
                 + ("" if debug else " (run again with --debug for the traceback)")]
    for line in lines:
        first, *rest = redact(line).split("\n")
        sys.stderr.write(f"{style.red(style.bold('Error:'))} {first}\n")
        for more in rest:
            sys.stderr.write(f"  {more}\n")


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    args = sys.argv[1:] if argv is None else argv
    debug = _debug_requested(args)
    if debug:  # otherwise Python's default: warnings and errors to stderr, no set-up cost
        import logging

        from mlform.sensitive import RedactingFilter

        logging.basicConfig(level=logging.DEBUG,
                            format="%(asctime)s %(name)s %(levelname)s %(message)s")
        for handler in logging.getLogger().handlers:
            handler.addFilter(RedactingFilter())
    try:
        code = cli.main(args=args, prog_name="mlform", standalone_mode=False)
    except click.exceptions.Abort:  # click's form of a Ctrl-C outside an apply
        sys.stderr.write("\nInterrupted.\n")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(1)
    except MlformError as exc:
        report(exc, debug)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.stderr.write("Interrupted.\n")
        sys.exit(130)
    except Exception as exc:
        if _interrupted(exc):
            sys.stderr.write("Interrupted.\n")
            sys.exit(130)
        report(exc, debug)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


def _interrupted(exc: BaseException) -> bool:
    """A Ctrl-C that Python wrapped in another exception on its way up (type creation turns an
    exception in `__set_name__`, pydantic's model building among them, into a RuntimeError)."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False


if __name__ == "__main__":
    main()
