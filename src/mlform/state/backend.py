"""One stack's state on any store: read, lock, journal, commit, history.

Everything that does not depend on where the bytes are lives here, so the local, S3 and
PostgreSQL backends behave alike: the same journal replay after a crash, the same checksums,
the same lock messages and waits, the same history.

The lock: `lock(operation, timeout=...)` takes it at once or fails naming the holder, its
operation and its age; with a timeout it waits, retrying with backoff. On stores that need it a
background thread renews the lock (`HEARTBEAT` seconds); a lock whose holder has been silent for
`ttl` seconds (killed, or its machine gone) is taken over by the next writer. Writes are
compare-and-swap on the version read, so even a writer whose lock was broken under it cannot
overwrite a newer state: it fails with WriteConflict and its journal stays to be replayed.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from mlform.errors import StateError, StateLockedError
from mlform.state.codec import Cipher, Codec, DamagedState
from mlform.state.journal import Journal, replay
from mlform.state.models import State, now_iso
from mlform.state.store import LockInfo, Store, VersionMeta, WriteConflict, current_user

DEFAULT_TTL = 60.0  # seconds a silent holder keeps a lock (stores with heartbeats)


class LockWait:
    """How long `lock` waits for a lock someone else holds, unless told otherwise: 0, fail at
    once (`--lock-timeout` / MLFORM_LOCK_TIMEOUT set it for a whole command)."""

    seconds: float = 0.0


def parse_duration(text: str) -> float:
    """`90`, `30s`, `5m`, `1h` → seconds."""
    value = text.strip().lower()
    scale = {"s": 1, "m": 60, "h": 3600}.get(value[-1:])
    number = value[:-1] if scale else value
    try:
        seconds = float(number) * (scale or 1)
    except ValueError:
        raise StateError(f"lock timeout {text!r}: expected a duration such as 30s, 5m or 1h"
                         ) from None
    if seconds < 0:
        raise StateError(f"lock timeout {text!r} is negative")
    return seconds


class StateBackend:
    """The state of one stack (an environment, or one region of it) in `store`."""

    def __init__(self, store: Store, project: str, environment: str,
                 region: str | None = None, *, cipher: Cipher | None = None,
                 lock_ttl: float = DEFAULT_TTL) -> None:
        self.store = store
        self.project = project
        self.environment = environment
        self.region = region  # one region of an environment of several
        self.codec = Codec(cipher)
        self.lock_ttl = lock_ttl
        self._version: str | None = None  # of the state last read, for compare-and-swap
        self._held: LockInfo | None = None

    @property
    def where(self) -> str:
        return f"environment '{self.environment}'" + (f" in {self.region}" if self.region
                                                      else "")

    # --- locking -------------------------------------------------------------------------

    @contextmanager
    def lock(self, operation: str, timeout: float | None = None) -> Iterator[LockInfo]:
        """Hold the state lock for the duration (see the module docstring); wait up to
        `timeout` seconds for it (default: `LockWait.seconds`)."""
        info = LockInfo(operation)
        self._acquire(info, LockWait.seconds if timeout is None else timeout)
        self._held = info
        stop = threading.Event()
        beat = None
        if self.store.needs_heartbeat:
            beat = threading.Thread(target=self._beat, args=(info, stop), daemon=True,
                                    name="mlform-lock-heartbeat")
            beat.start()
        try:
            yield info
        finally:
            stop.set()
            if beat is not None:
                beat.join()
            self._held = None
            self.store.unlock(info)

    def _acquire(self, info: LockInfo, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        delay = 0.05
        while True:
            holder = self.store.try_lock(info)
            if holder is None:
                return
            if (self.store.needs_heartbeat and holder.silence() > self.lock_ttl
                    and self.store.take_over(holder, info)):
                return
            if time.monotonic() >= deadline:
                hint = (f"; if its holder is gone, `mlform force-unlock {holder.id}` clears it"
                        if self.store.needs_heartbeat else "")
                raise StateLockedError(
                    f"the state of {self.where} is locked: {holder.describe()}. Wait for it "
                    f"to finish (or pass --lock-timeout to wait), then run this again{hint}."
                )
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())) *
                       random.uniform(0.5, 1.0))
            delay = min(delay * 2, 2.0)

    def _beat(self, info: LockInfo, stop: threading.Event) -> None:
        interval = max(0.5, min(10.0, self.lock_ttl / 4))
        while not stop.wait(interval):
            try:
                self.store.heartbeat(info)
            except Exception:  # a missed beat is retried; the TTL has slack
                continue

    def force_unlock(self, lock_id: str) -> LockInfo:
        return self.store.force_unlock(lock_id)

    def holder(self) -> LockInfo | None:
        return self.store.holder()

    # --- reading ---------------------------------------------------------------------------

    def read(self) -> State:
        """The last committed state (no journal), or a new empty one."""
        stored = self.store.read()
        if stored is None:
            self._version = None
            return State(project=self.project, environment=self.environment)
        try:
            state, _ = self.codec.load_state(stored.data, self.store.location)
        except DamagedState as exc:
            raise StateError(f"{exc}. {self._last_good()}") from None
        if (state.project, state.environment) != (self.project, self.environment):
            raise StateError(
                f"{self.store.location} belongs to project '{state.project}', environment "
                f"'{state.environment}', not '{self.project}', '{self.environment}'"
            )
        if self.codec.cipher is not None:
            self._check_not_replayed(state)
        self._version = stored.version
        return state

    def _check_not_replayed(self, state: State) -> None:
        """An old version copied over the current one opens (it is sealed with its own
        serial), so the current serial is checked against the history. Only with encryption:
        listing the history costs a read of every version on some stores."""
        newest = max((v.serial for v in self.store.versions()), default=0)
        if newest > state.serial:
            raise StateError(f"state replayed: current is serial {state.serial} but version "
                             f"{newest} exists ({self.store.location})")

    def _last_good(self) -> str:
        for meta in reversed(self.versions()):
            try:
                self.codec.parse(self.store.read_version(meta.serial), "")
            except StateError:
                continue
            return (f"The last good version is serial {meta.serial} ({meta.operation} by "
                    f"{meta.who} at {meta.written_at}): `mlform state rollback {meta.serial}` "
                    "makes it current again")
        return "No earlier version is readable"

    def snapshot(self) -> State:
        """The state as `load` would give it, without the lock and without writing anything."""
        state = self.read()
        lines = self.store.journal_read()
        if lines:
            replay(state, self.codec.load_records(lines, self.store.location))
        return state

    def load(self) -> State:
        """The current state, including changes in a journal left by an interrupted apply.

        Call with the lock held. If a journal is found it is compacted into the state.
        """
        state = self.read()
        lines = self.store.journal_read()
        if lines is not None:
            if replay(state, self.codec.load_records(lines, self.store.location)):
                self.commit(state, operation="recover")
            else:  # already compacted before the process died
                self.store.journal_drop()
        return state

    # --- writing ---------------------------------------------------------------------------

    def begin(self, state: State, operation: str) -> Journal:
        """Start the journal for a change to `state` (which must be what `load` returned)."""
        if self._version is None and state.serial == 0:
            # A journal must always have a state to replay onto.
            self._write(state, "init")
        return Journal(self.store, self.codec, state, operation)

    def commit(self, state: State, journal: Journal | None = None, *,
               operation: str | None = None) -> None:
        """Write `state` as the next serial, keep the previous version, drop the journal."""
        if journal is not None:
            journal.close()
        state.serial += 1
        try:
            self._write(state, operation or (journal.operation if journal else "write"))
        except BaseException:
            state.serial -= 1  # the journal still holds every change, for the next command
            raise
        self.store.journal_drop()

    def _write(self, state: State, operation: str) -> None:
        meta = VersionMeta(state.serial, now_iso(), current_user(), operation)
        data = self.codec.dump_state(state, {"at": meta.written_at, "by": meta.who,
                                             "operation": operation})
        try:
            self._version = self.store.write(data, expect=self._version, meta=meta)
        except WriteConflict as exc:
            raise WriteConflict(
                f"the state of {self.where} changed while this command held it ({exc}); "
                "nothing was overwritten, and this run's changes are kept in its journal for "
                "the next command to record") from None

    def replace(self, state: State, operation: str) -> None:
        """Write `state` (its serial is set here) as the next version: rollback, migrate."""
        current = self.read()
        state.serial = current.serial + 1 if self._version is not None else max(state.serial, 1)
        self._write(state, operation)

    # --- history ---------------------------------------------------------------------------

    def versions(self) -> list[VersionMeta]:
        """Every version written, oldest first (the last is the current state)."""
        return self.store.versions()

    def version(self, serial: int) -> State:
        """The state as it was at `serial`."""
        try:
            raw = self.store.read_version(serial)
        except KeyError:
            raise StateError(f"the state of {self.where} has no version {serial}; "
                             "`mlform state history` lists them") from None
        return self.codec.load_state(raw, f"{self.store.location} version {serial}")[0]

    def raw_versions(self) -> Iterator[tuple[VersionMeta, bytes]]:
        for meta in self.versions():
            yield meta, self.store.read_version(meta.serial)
