"""An exclusive, non-blocking lock on a state, held with flock(2).

The kernel releases an flock when its holder dies, even by SIGKILL, so a crashed apply never
leaves a lock behind that someone must break by hand. The file also says who holds it and since
when, so that the second apply can tell its user.
"""

from __future__ import annotations

import fcntl
import getpass
import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mlform.errors import StateLockedError
from mlform.state.models import now_iso


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        return (f"{info['operation']} by {info['who']} (pid {info['pid']} on {info['host']}) "
                f"since {info['since']}")
    except (OSError, ValueError, KeyError, TypeError):
        return "another mlform process (holder details unreadable)"


@contextmanager
def state_lock(path: Path, operation: str, where: str) -> Iterator[None]:
    """Hold the lock at `path` for the duration; StateLockedError at once if it is taken.
    `where`: whose state it is, for the message (`environment 'prod' in ap-south-1`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StateLockedError(
                f"the state of {where} is locked: {_holder(path)}. "
                "Wait for it to finish, then run this again."
            ) from None
        info = {"operation": operation, "who": _user(), "pid": os.getpid(),
                "host": socket.gethostname(), "since": now_iso()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"
