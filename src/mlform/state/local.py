"""Local state: files in the config's `.mlform/state/<environment>[/<region>]/` folder.

    state.json             the current state (lineage, serial, resources, outputs, checksum)
    journal.jsonl          changes of the apply in progress, or of one that was interrupted
    history/<serial>.json  every version written, the current one included; never deleted
    lock                   flock'd while a command changes the state; says who holds it

state.json is only ever replaced atomically (write a temporary file, fsync, rename), so a reader
sees the old or the new version, never a truncated one. The lock is an flock(2), which the
kernel releases when its holder dies, even by SIGKILL: no heartbeat, no TTL, nothing to break.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from pathlib import Path
from typing import IO, Any

from mlform.errors import StateError
from mlform.state.backend import StateBackend
from mlform.state.codec import Cipher
from mlform.state.store import LockInfo, Stored, VersionMeta, WriteConflict


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalStore:
    """The files of one stack's state under `directory`."""

    needs_heartbeat = False

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.location = str(directory / "state.json")
        self.state_file = directory / "state.json"
        self.journal_file = directory / "journal.jsonl"
        self.history_dir = directory / "history"
        self.lock_file = directory / "lock"
        self._journal: IO[bytes] | None = None
        self._lock_fd: int | None = None

    # --- state -----------------------------------------------------------------------------

    def read(self) -> Stored | None:
        try:
            with open(self.state_file, "rb") as fh:
                data = fh.read()
                st = os.fstat(fh.fileno())
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StateError(f"cannot read {self.state_file}: {exc}") from None
        return Stored(data, _identity(st))

    def write(self, data: bytes, *, expect: str | None, meta: VersionMeta) -> str:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.history_dir.mkdir(exist_ok=True)
        try:
            current = _identity(os.stat(self.state_file))
        except FileNotFoundError:
            current = None
        if current != expect:  # the lock makes this a check, not a race, between mlforms
            raise WriteConflict(f"{self.state_file} is not the version that was read")
        if current is not None:  # the version being replaced joins the history
            kept = self.history_dir / f"{meta.serial - 1:08d}.json"
            if not kept.exists():
                try:
                    os.link(self.state_file, kept)  # O(1): the old inode stays as history
                except OSError:
                    shutil.copy2(self.state_file, kept)
        tmp = self.dir / f".state.json.{os.getpid()}.tmp"
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
            identity = _identity(os.fstat(fh.fileno()))
        os.replace(tmp, self.state_file)
        fsync_dir(self.dir)
        return identity

    def versions(self) -> list[VersionMeta]:
        paths = sorted(self.history_dir.glob("*.json")) if self.history_dir.exists() else []
        out = [_meta(int(p.stem), _head(p), p.name) for p in paths]
        current = _head(self.state_file)
        if isinstance(current.get("serial"), int):
            # The current version last, even when history holds a later serial (an old
            # version copied over state.json: the backend's replay check sees it).
            out = [v for v in out if v.serial != current["serial"]]
            out.append(_meta(current["serial"], current, "state.json"))
        return out

    def read_version(self, serial: int) -> bytes:
        current = self.read()
        if current is not None and _head(self.state_file).get("serial") == serial:
            return current.data
        try:
            return (self.history_dir / f"{serial:08d}.json").read_bytes()
        except FileNotFoundError:
            raise KeyError(serial) from None

    # --- journal ---------------------------------------------------------------------------

    def journal_append(self, line: bytes, *, durable: bool) -> None:
        created = False
        if self._journal is None:
            self.dir.mkdir(parents=True, exist_ok=True)
            created = not self.journal_file.exists()
            self._journal = open(self.journal_file, "ab")  # noqa: SIM115
        self._journal.write(line + b"\n")  # one write: a kill tears at most this line
        self._journal.flush()
        if durable and created:
            # The journal's first record (`begin`) says nothing was called yet; what must
            # survive a power cut is the file's directory entry. The first intent's fsync
            # makes this line durable with it.
            fsync_dir(self.dir)
        elif durable:
            os.fsync(self._journal.fileno())

    def journal_close(self) -> None:
        if self._journal is not None:
            self._journal.flush()
            os.fsync(self._journal.fileno())
            self._journal.close()
            self._journal = None

    def journal_read(self) -> list[bytes] | None:
        try:
            return self.journal_file.read_bytes().split(b"\n")
        except FileNotFoundError:
            return None

    def journal_drop(self) -> None:
        self.journal_close()
        self.journal_file.unlink(missing_ok=True)

    # --- lock ------------------------------------------------------------------------------

    def try_lock(self, info: LockInfo) -> LockInfo | None:
        self.dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return self.holder() or LockInfo("unknown", id="(unreadable)", who="?",
                                             host="?", pid=0)
        os.ftruncate(fd, 0)
        os.pwrite(fd, info.to_bytes(), 0)
        self._lock_fd = fd
        return None

    def take_over(self, stale: LockInfo, info: LockInfo) -> bool:
        return False  # the kernel frees a dead holder's flock; a live one keeps it

    def heartbeat(self, info: LockInfo) -> bool:
        return True

    def unlock(self, info: LockInfo) -> None:
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def holder(self) -> LockInfo | None:
        try:
            raw = self.lock_file.read_bytes()
        except FileNotFoundError:
            return None
        return LockInfo.from_bytes(raw) if raw else None

    def force_unlock(self, lock_id: str) -> LockInfo:
        holder = self.holder()
        raise StateError(
            "local state is locked with flock(2), which the kernel releases as soon as its "
            "holder exits, even when it is killed: there is nothing to force"
            + (f"; it is held now by {holder.describe()}, which is still running"
               if holder else "; it is not locked now"))


def _identity(st: os.stat_result) -> str:
    return f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"


def _meta(serial: int, doc: dict[str, Any], ref: str) -> VersionMeta:
    found = doc.get("written")
    written: dict[str, Any] = found if isinstance(found, dict) else {}
    return VersionMeta(serial, written.get("at", ""), written.get("by", ""),
                       written.get("operation", ""), ref=ref)


def _head(path: Path) -> dict[str, Any]:
    """A state file's document, or {} when it is missing or unreadable (history lists what
    it can; reading a version checks it)."""
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


class LocalBackend(StateBackend):
    """The state of one stack in local files under `directory`."""

    def __init__(self, directory: Path, project: str, environment: str,
                 region: str | None = None, *, cipher: Cipher | None = None) -> None:
        self.local = LocalStore(directory)
        super().__init__(self.local, project, environment, region, cipher=cipher)
        self.dir = directory
        self.state_file = self.local.state_file
        self.journal_file = self.local.journal_file
        self.history_dir = self.local.history_dir
