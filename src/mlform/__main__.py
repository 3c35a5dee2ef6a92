"""`python -m mlform` runs the CLI.

A Ctrl-C from the first moment ends in one line and exit code 130: the handler is set before
anything else is imported (through `_signal`, the C module: `signal` would import `enum`
first), and `mlform.cli.entry` hands Ctrl-C back to Python once the CLI is loaded."""

import _signal  # type: ignore[import-not-found]  # the C module, without stubs
import sys


def _interrupted(signum: int, frame: object) -> None:
    sys.stderr.write("\nInterrupted.\n")
    raise SystemExit(130)


_signal.signal(_signal.SIGINT, _interrupted)

from mlform.cli.entry import main  # noqa: E402

main()
