"""Terminal colours, as plain ANSI codes: plans of thousands of resources print in milliseconds."""

from __future__ import annotations

import os
import sys
from typing import TextIO

SENSITIVE = "(sensitive value)"  # what a plan or output shows instead of a secret

_CODES = {"green": "32", "yellow": "33", "red": "31", "cyan": "36", "bold": "1", "dim": "2"}


class Style:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    @classmethod
    def for_stream(cls, stream: TextIO, no_color: bool = False) -> Style:
        enabled = (not no_color and "NO_COLOR" not in os.environ
                   and hasattr(stream, "isatty") and stream.isatty())
        return cls(enabled)

    def paint(self, text: str, *names: str) -> str:
        if not self.enabled or not names:
            return text
        codes = ";".join(_CODES[n] for n in names)
        return f"\x1b[{codes}m{text}\x1b[0m"

    def green(self, text: str) -> str:
        return self.paint(text, "green")

    def yellow(self, text: str) -> str:
        return self.paint(text, "yellow")

    def red(self, text: str) -> str:
        return self.paint(text, "red")

    def bold(self, text: str) -> str:
        return self.paint(text, "bold")

    def dim(self, text: str) -> str:
        return self.paint(text, "dim")


def stdout_style(no_color: bool = False) -> Style:
    return Style.for_stream(sys.stdout, no_color)
