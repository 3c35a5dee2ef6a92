"""Apply progress: Terraform-style lines per resource, a progress bar on a terminal, and Ctrl-C."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, TextIO

from mlform.cli.style import Style
from mlform.engine.apply import ApplyEvent

_START = {"create": "Creating...", "update": "Modifying...", "delete": "Destroying..."}
_DONE = {"create": "Creation complete", "update": "Modifications complete",
         "delete": "Destruction complete"}
_STILL = {"create": "Still creating...", "update": "Still modifying...",
          "delete": "Still destroying..."}
STILL_EVERY = 10.0


class ApplyDisplay:
    """Receives engine events from worker threads and prints them in order."""

    def __init__(self, style: Style, total: int, stream: TextIO | None = None) -> None:
        self.style = style
        self.stream = stream or sys.stdout
        self.total = total
        self.finished = 0
        self._lock = threading.Lock()
        self._last_still: dict[str, float] = {}
        self._bar: Any = None
        self._task: Any = None
        if total > 0 and self.stream.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            console = Console(file=self.stream, no_color=not style.enabled, highlight=False)
            self._bar = Progress(TextColumn("Applying"), BarColumn(), MofNCompleteColumn(),
                                 console=console, transient=True)
            self._task = self._bar.add_task("apply", total=total)
            self._bar.start()

    def _line(self, text: str) -> None:
        if self._bar is not None:
            self._bar.console.print(text, markup=False, highlight=False, soft_wrap=True)
        else:
            self.stream.write(text + "\n")

    def __call__(self, e: ApplyEvent) -> None:
        with self._lock:
            addr = self.style.bold(e.address)
            if e.kind == "start":
                self._line(f"{addr}: {_START[e.verb]}")
            elif e.kind == "waiting":
                last = self._last_still.get(e.address, 0.0)
                if e.elapsed - last >= STILL_EVERY:
                    self._last_still[e.address] = e.elapsed
                    self._line(f"{addr}: {_STILL[e.verb]} [{e.elapsed:.0f}s elapsed] ({e.message})")
            elif e.kind == "done":
                ident = f" [id={e.id}]" if e.id and e.verb != "delete" else ""
                self._line(f"{addr}: {_DONE[e.verb]} after {e.elapsed:.0f}s{ident}")
                self._advance()
            elif e.kind == "failed":
                self._line(self.style.red(f"{e.address}: {e.verb} failed"))
                self._advance()

    def _advance(self) -> None:
        self.finished += 1
        if self._bar is not None:
            self._bar.update(self._task, completed=self.finished)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        self.stream.flush()


@contextmanager
def interruptible(style: Style) -> Iterator[threading.Event]:
    """First Ctrl-C (or SIGTERM): stop starting calls, finish those in flight, save, exit.
    Second Ctrl-C: exit at once; everything already done is in the journal."""
    cancel = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        if cancel.is_set():
            sys.stderr.write(style.red(
                "\nSecond interrupt: exiting now. Everything finished so far is recorded; the "
                "next mlform command settles the calls that were in flight.\n"))
            sys.stderr.flush()
            os._exit(130)
        cancel.set()
        sys.stderr.write(style.yellow(
            "\nInterrupt received: waiting for the calls in flight to finish, then saving the "
            "state. Press Ctrl-C again to exit at once.\n"))
        sys.stderr.flush()

    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for s in previous:
        signal.signal(s, handler)
    try:
        yield cancel
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def elapsed_since(start: float) -> str:
    return f"{time.monotonic() - start:.1f}s"
