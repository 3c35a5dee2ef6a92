"""The exceptions mlform raises. Everything a user can cause derives from MlformError.

A message is written for the person reading it at 2 a.m.: it names the file, line and column or
the resource address, says what is wrong, and lists the valid choices when there are some.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SourcePos:
    """A position in a config file (1-based line and column)."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class MlformError(Exception):
    """Root of every error mlform reports to a user."""

    def __init__(self, message: str, *, pos: SourcePos | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos

    def __str__(self) -> str:
        return f"{self.pos}: {self.message}" if self.pos else self.message


class ConfigError(MlformError):
    """The configuration is invalid: syntax, schema, references or cycles.

    Holds one or more problems so that `validate` reports them all at once.
    """

    def __init__(self, problems: list[MlformError]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))

    def __str__(self) -> str:
        return self.message

    @classmethod
    def single(cls, message: str, pos: SourcePos | None = None) -> ConfigError:
        return cls([MlformError(message, pos=pos)])


class StateError(MlformError):
    """The state cannot be read, written or trusted."""


class StateLockedError(StateError):
    """Another process holds the state lock."""


class StalePlanError(MlformError):
    """A saved plan no longer matches the state it was made against."""


class ProviderError(MlformError):
    """A provider call failed for one resource.

    `partial` holds the attributes of a cloud object that was created before the failure, so the
    engine can record it (tainted) instead of orphaning it. `outcome_unknown` says the call may
    have taken effect although it failed (a timeout after the request was sent): the engine then
    keeps a failed create pending, to be looked for, instead of forgetting it.
    """

    def __init__(
        self,
        message: str,
        *,
        address: str | None = None,
        pos: SourcePos | None = None,
        partial: dict[str, object] | None = None,
        outcome_unknown: bool = False,
    ) -> None:
        super().__init__(message, pos=pos)
        self.address = address
        self.partial = partial
        self.outcome_unknown = outcome_unknown


class NotReady(MlformError):
    """The cloud is not ready yet: the engine waits `retry_after` seconds and calls again."""

    def __init__(self, reason: str, retry_after: float = 2.0) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class RegistryError(MlformError):
    """A provider or resource type cannot be registered or found."""


class SandboxError(MlformError):
    """The local sandbox cloud cannot be started, reached or stopped."""
