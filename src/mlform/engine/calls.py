"""Calling provider code: waiting on NotReady, and turning any failure into a ProviderError."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

from mlform.errors import ConfigError, MlformError, NotReady, ProviderError

T = TypeVar("T")


class Cancelled(MlformError):
    """The run was interrupted (Ctrl-C) while this call was waiting."""


def provider_error(exc: BaseException, address: str) -> ProviderError:
    """`exc` as a ProviderError for `address`; unexpected exceptions keep their traceback in the
    debug log, and their type and text in the message."""
    if isinstance(exc, ProviderError):
        if exc.address is None:
            exc.address = address
        return exc
    if isinstance(exc, ConfigError):  # a value known only now is invalid for its argument
        first = exc.problems[0]
        return ProviderError("; ".join(p.message for p in exc.problems), address=address,
                             pos=first.pos)
    if isinstance(exc, MlformError):
        return ProviderError(exc.message, address=address, pos=exc.pos)
    import logging  # only on this rare path: logging costs start-up time

    logging.getLogger("mlform.engine").debug(
        "unexpected error from provider code for %s", address, exc_info=exc)
    return ProviderError(f"{type(exc).__name__}: {exc}", address=address, outcome_unknown=True)


def call_with_wait(
    fn: Callable[[], T],
    *,
    timeout: float,
    cancel: threading.Event | None = None,
    on_wait: Callable[[str, float], None] | None = None,
) -> T:
    """Call `fn` until it stops raising NotReady, sleeping as it asks, for at most `timeout` s."""
    start = time.monotonic()
    while True:
        try:
            return fn()
        except NotReady as nr:
            elapsed = time.monotonic() - start
            if elapsed + nr.retry_after > timeout:
                # The call may have done its work before asking to wait (a create that is
                # not visible yet): the outcome is unknown, so a create stays pending.
                raise ProviderError(
                    f"timed out after {elapsed:.0f}s waiting: {nr.message}",
                    outcome_unknown=True,
                ) from None
            if on_wait is not None:
                on_wait(nr.message, elapsed)
            if cancel is not None:
                if cancel.wait(nr.retry_after):
                    raise Cancelled(f"interrupted while waiting: {nr.message}") from None
            else:
                time.sleep(nr.retry_after)
