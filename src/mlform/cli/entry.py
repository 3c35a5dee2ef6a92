"""The console script's entry point, free of imports of its own: a Ctrl-C while Python is still
loading the CLI (a few hundred milliseconds on a cold disk cache) ends as one during a command
does, with `Interrupted.` and exit code 130, not a traceback from deep inside an import."""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from mlform.cli.main import main as run
    except KeyboardInterrupt:
        sys.stderr.write("\nInterrupted.\n")
        raise SystemExit(130) from None
    run()
