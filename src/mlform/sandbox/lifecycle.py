"""Start, stop and find the sandbox server: one per MLFORM_HOME, a background process.

Files in `$MLFORM_HOME/sandbox/` (default `~/.mlform/sandbox/`):
    server.json      written by the running server: pid, port, url (removed when it stops)
    snapshot.pickle  the sandbox's contents, restored at every start
    sandbox.log      the server's output
    start.lock       serialises concurrent starts (two mlform commands at once)
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mlform.errors import SandboxError
from mlform.sandbox.server import HEALTH_PATH, SERVER_INFO, SNAPSHOT

DEFAULT_PORT = 4750
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
BUSY_TIMEOUT = 30.0


def mlform_home(home: str | None = None) -> Path:
    return Path(home or os.environ.get("MLFORM_HOME") or Path.home() / ".mlform")


def sandbox_dir(home: str | None = None) -> Path:
    return mlform_home(home) / "sandbox"


def default_port() -> int:
    raw = os.environ.get("MLFORM_SANDBOX_PORT", "")
    try:
        return int(raw) if raw else DEFAULT_PORT
    except ValueError:
        raise SandboxError(f"MLFORM_SANDBOX_PORT={raw!r} is not a port number") from None


@dataclass(frozen=True)
class SandboxInfo:
    pid: int
    port: int
    url: str
    data_dir: str
    started_at: float

    @property
    def snapshot_bytes(self) -> int:
        path = Path(self.data_dir) / SNAPSHOT
        return path.stat().st_size if path.exists() else 0


def _healthy(url: str, data_dir: Path, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url + HEALTH_PATH, timeout=timeout) as resp:
            info = json.loads(resp.read())
    except (OSError, ValueError, urllib.error.URLError):
        return False
    return bool(info.get("mlform_sandbox")) and info.get("data_dir") == str(data_dir)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def status(home: str | None = None) -> SandboxInfo | None:
    """The running sandbox of this home, or None."""
    data_dir = sandbox_dir(home)
    try:
        raw = json.loads((data_dir / SERVER_INFO).read_text(encoding="utf-8"))
        info = SandboxInfo(int(raw["pid"]), int(raw["port"]), str(raw["url"]),
                           str(raw["data_dir"]), float(raw["started_at"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    # A live server may be slow to answer while it writes a snapshot of a large state: it is
    # given time, rather than taken for dead and started a second time beside itself.
    if not _alive(info.pid) or not _healthy(info.url, data_dir, BUSY_TIMEOUT):
        return None
    return info


@contextmanager
def _start_lock(data_dir: Path) -> Iterator[None]:
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(data_dir / "start.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def start(home: str | None = None, port: int | None = None) -> SandboxInfo:
    """Start the sandbox in the background, or return the one already running."""
    data_dir = sandbox_dir(home)
    with _start_lock(data_dir):
        running = status(home)
        if running is not None:
            return running
        stale = data_dir / SERVER_INFO
        if stale.exists():  # left by a killed server
            stale.unlink()
        port = default_port() if port is None else port
        log_path = data_dir / "sandbox.log"
        # posix_spawn rather than Popen: the server outlives this process, and setsid keeps the
        # user's Ctrl-C in this terminal from reaching it.
        pid = os.posix_spawn(
            sys.executable,
            [sys.executable, "-m", "mlform.sandbox.server", "--host", "127.0.0.1",
             "--port", str(port), "--data-dir", str(data_dir)],
            dict(os.environ),
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_OPEN, 1, str(log_path), os.O_WRONLY | os.O_CREAT | os.O_APPEND,
                 0o644),
                (os.POSIX_SPAWN_DUP2, 1, 2),
            ],
            setsid=True,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if _exited(pid):
                raise SandboxError(f"the sandbox failed to start: {_last_lines(log_path, 1)} "
                                   f"(full log: {log_path})")
            info = status(home)
            if info is not None and info.pid == pid:
                return info
            time.sleep(0.1)
        os.kill(pid, signal.SIGTERM)
        raise SandboxError(f"the sandbox did not answer within {START_TIMEOUT:.0f}s "
                           f"(log: {log_path})")


def stop(home: str | None = None) -> bool:
    """Stop the sandbox (its contents are saved first). False if none was running."""
    info = status(home)
    if info is None:
        return False
    os.kill(info.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline:
        if not _alive(info.pid):
            return True
        _reap(info.pid)
        time.sleep(0.1)
    os.kill(info.pid, signal.SIGKILL)
    raise SandboxError(f"the sandbox (pid {info.pid}) did not stop within {STOP_TIMEOUT:.0f}s "
                       "and was killed; changes since its last snapshot may be lost")


def ensure_running(home: str | None = None) -> SandboxInfo:
    """The sandbox for `target: sandbox`, started on first use."""
    info = status(home)
    if info is not None:
        return info
    sys.stderr.write("Starting the mlform sandbox (a local AWS-compatible cloud)...\n")
    info = start(home)
    sys.stderr.write(f"Sandbox running at {info.url} (stop it with `mlform sandbox stop`).\n")
    return info


def _reap(pid: int) -> None:
    """Collect a child's exit status if we started it in this process (tests, CLI start)."""
    _exited(pid)


def _exited(pid: int) -> bool:
    """True if `pid`, a child of ours, has exited (and reap it)."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return not _alive(pid)
    return done == pid


def _last_lines(path: Path, n: int = 3) -> str:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return "(no log)"
    return " | ".join(lines[-n:]) or "(empty log)"
