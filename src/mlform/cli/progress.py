"""Apply progress: Terraform-style lines per resource, a progress bar on a terminal, and Ctrl-C."""

from __future__ import annotations

import os
import signal
import sys
import threading
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

    def note(self, text: str) -> None:
        """A line of its own among the events (a region starting)."""
        with self._lock:
            self._line(text)

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


class Interrupts:
    """Ctrl-C (or SIGTERM) while changes are being made: the first stops new calls from
    starting, lets those in flight finish, saves the state; the second exits at once (everything
    finished is in the journal). Armed only once changes start: before that, at the
    confirmation prompt, Ctrl-C simply aborts."""

    def __init__(self, style: Style) -> None:
        self.style = style
        self.cancel = threading.Event()
        self._previous: dict[int, Any] = {}

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        if self.cancel.is_set():
            sys.stderr.write(self.style.red(
                "\nSecond interrupt: exiting now. Everything finished so far is recorded; the "
                "next mlform command settles the calls that were in flight.\n"))
            sys.stderr.flush()
            os._exit(130)
        self.cancel.set()
        sys.stderr.write(self.style.yellow(
            "\nInterrupt received: waiting for the calls in flight to finish, then saving the "
            "state. Press Ctrl-C again to exit at once.\n"))
        sys.stderr.flush()

    def arm(self) -> None:
        for s in (signal.SIGINT, signal.SIGTERM):
            self._previous[s] = signal.getsignal(s)
            signal.signal(s, self._handler)

    def disarm(self) -> None:
        for s, h in self._previous.items():
            signal.signal(s, h)
        self._previous.clear()
