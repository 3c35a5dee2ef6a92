"""The console script's entry point, free of imports of its own: a Ctrl-C while Python is still
loading the CLI (a few hundred milliseconds on a cold disk cache) ends as one during a command
does, with `Interrupted.` and exit code 130, not a traceback from deep inside an import."""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # the C module, without stubs
import sys

_report_unraisable = sys.unraisablehook


def _redeliver_interrupt(info: object) -> None:
    """A Ctrl-C that landed in a callback Python cannot raise from (a weakref callback inside
    importlib, a finalizer) is printed as "Exception ignored ... Traceback" and lost. Deliver
    it again, so it ends the command as any other Ctrl-C does: one line, exit code 130."""
    exc_type = getattr(info, "exc_type", None)
    if isinstance(exc_type, type) and issubclass(exc_type, (KeyboardInterrupt, SystemExit)):
        _signal.raise_signal(_signal.SIGINT)
        return
    _report_unraisable(info)  # type: ignore[arg-type]


sys.unraisablehook = _redeliver_interrupt


def main() -> None:
    try:
        from mlform.cli.main import main as run
    except KeyboardInterrupt:
        sys.stderr.write("\nInterrupted.\n")
        raise SystemExit(130) from None
    finally:
        # `python -m mlform` exits at once on Ctrl-C while it loads (see __main__); the CLI
        # itself handles KeyboardInterrupt, Python's default, from here on.
        _signal.signal(_signal.SIGINT, _signal.default_int_handler)
    run()
