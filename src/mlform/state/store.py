"""Where a stack's state lives: the small contract every backend implements.

A `Store` holds bytes for one stack (an environment, or one region of it); everything that gives
them meaning (the state document, checksums, encryption, journal replay, lock waiting) is in
`mlform.state.backend`, the same for every store. A store provides:

- the current state document, with an opaque `version` token (an S3 ETag, a row version, a
  file's identity) and a compare-and-swap `write` against it, so that two writers can never
  both believe they replaced the same version (no lost update, even with a broken lock);
- every version ever written (`versions`, `read_version`), newest last, with who wrote it;
- the journal of the change in progress: records appended one at a time and readable after a
  crash, from any machine that can reach the store;
- the lock: `try_lock` takes it or says who has it; stores whose holder cannot be noticed dead
  by the operating system (everything but local files) also renew it (`heartbeat`), and a lock
  whose heartbeat is older than its TTL may be taken over (`take_over`) by the next writer.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from mlform.errors import StateError
from mlform.state.models import now_iso


def current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


class WriteConflict(StateError):
    """The state changed after it was read: someone else wrote it (lost update prevented)."""


@dataclass(frozen=True)
class Stored:
    data: bytes
    version: str  # opaque; passed back to `write` as `expect`


@dataclass(frozen=True)
class VersionMeta:
    """One version of the state, as `mlform state history` lists it."""

    serial: int
    written_at: str
    who: str
    operation: str
    ref: str = ""  # the store's own handle (file name, S3 version id, row id)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class LockInfo:
    """Who holds a state lock; written into the lock itself."""

    operation: str
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    who: str = field(default_factory=current_user)
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    since: str = field(default_factory=now_iso)
    heartbeat: str = field(default_factory=now_iso)
    token: int = 0  # fencing token: grows with every holder (stores that support it)

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> LockInfo | None:
        try:
            data = json.loads(raw)
            return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})
        except (ValueError, TypeError, KeyError):
            return None

    def age(self) -> float:
        """Seconds since the lock was taken."""
        return _seconds_since(self.since)

    def silence(self) -> float:
        """Seconds since the holder last said it is alive."""
        return _seconds_since(self.heartbeat)

    def describe(self) -> str:
        return (f"{self.operation} by {self.who} (pid {self.pid} on {self.host}) since "
                f"{self.since} ({_duration(self.age())} ago), lock id {self.id}")


class Store(Protocol):
    """The storage of one stack's state; see the module docstring."""

    location: str  # for messages: a folder, s3://bucket/key, postgres://host/db#stack
    needs_heartbeat: bool  # a crashed holder's lock is only freed by its TTL running out

    def read(self) -> Stored | None: ...

    def write(self, data: bytes, *, expect: str | None, meta: VersionMeta) -> str:
        """Make `data` the current state if the current version is still `expect` (None: there
        is no state yet) and keep it as version `meta.serial`; WriteConflict otherwise.
        Returns the new version token."""

    def versions(self) -> list[VersionMeta]: ...

    def read_version(self, serial: int) -> bytes: ...

    def journal_append(self, line: bytes, *, durable: bool) -> None: ...

    def journal_read(self) -> list[bytes] | None:
        """The journal's records in order (the last may be torn), or None when there is none."""

    def journal_drop(self) -> None: ...

    def journal_close(self) -> None: ...

    def try_lock(self, info: LockInfo) -> LockInfo | None:
        """Take the lock for `info`; None on success, else the holder (as far as readable)."""

    def take_over(self, stale: LockInfo, info: LockInfo) -> bool:
        """Replace `stale` (a holder whose heartbeat stopped) by `info`, atomically."""

    def heartbeat(self, info: LockInfo) -> bool:
        """Renew `info`'s lock; False if it is no longer ours (broken by force-unlock)."""

    def unlock(self, info: LockInfo) -> None: ...

    def holder(self) -> LockInfo | None: ...

    def force_unlock(self, lock_id: str) -> LockInfo:
        """Remove the lock whose id is `lock_id`; StateError if another (or none) is held."""


def _seconds_since(stamp: str) -> float:
    try:
        then = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ")
    except ValueError:
        try:
            then = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            return 0.0
    return max(0.0, (datetime.now(UTC).replace(tzinfo=None) - then).total_seconds())


def precise_now() -> str:
    """Now, to the microsecond (heartbeats are compared to a TTL of seconds)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 5400:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"
