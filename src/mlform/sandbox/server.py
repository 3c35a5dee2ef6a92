"""The sandbox server process: moto's AWS-compatible API on loopback, with durable contents.

moto keeps everything in memory. To survive restarts, this process snapshots moto's backends
(pickled, all services in one pickle so cross-references survive) to `snapshot.pickle` in its
data folder, about a second after any request that may have changed something (paced by how
long the last snapshot took, see SNAPSHOT_PACE), and once more on SIGTERM/SIGINT. At start it
restores the last snapshot. A SIGKILL can lose the changes since the last snapshot (`mlform
sandbox stop` sends SIGTERM).

Run by `mlform sandbox start` (see `lifecycle.py`); not meant to be started by hand, but it can
be: `python -m mlform.sandbox.server --port 4750 --data-dir ~/.mlform/sandbox`.
"""

from __future__ import annotations

import argparse
import copyreg
import functools
import io
import json
import os
import pickle
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import parse_qs

SNAPSHOT = "snapshot.pickle"
SERVER_INFO = "server.json"
HEALTH_PATH = "/_mlform/sandbox"
SNAPSHOT_EVERY = 1.0
# A snapshot holds every request while it pickles: after one that took t seconds the next waits
# at least SNAPSHOT_PACE * t, so a large sandbox (a test session's holds GBs) spends at most
# about a tenth of its time snapshotting. A stop always writes one.
SNAPSHOT_PACE = 10.0
_READ_PREFIXES = ("Describe", "List", "Get", "Head", "Search", "BatchGet", "Query", "Scan")

StartResponse = Callable[..., Any]


class ReadWriteLock:
    """Many requests at once (as moto serves them), or one snapshot alone."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0

    def acquire_read(self) -> None:
        with self._cond:
            while self._writer or self._writers_waiting:
                self._cond.wait()
            self._readers += 1

    def release_read(self) -> None:
        with self._cond:
            self._readers -= 1
            if not self._readers:
                self._cond.notify_all()

    def acquire_write(self) -> None:
        with self._cond:
            self._writers_waiting += 1
            while self._writer or self._readers:
                self._cond.wait()
            self._writers_waiting -= 1
            self._writer = True

    def release_write(self) -> None:
        with self._cond:
            self._writer = False
            self._cond.notify_all()


def _is_read_only(environ: dict[str, Any]) -> bool:
    """Best effort: True only for requests that certainly change nothing."""
    method = environ.get("REQUEST_METHOD", "GET")
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:  # JSON protocols: Service.Operation
        return bool(target.rsplit(".", 1)[-1].startswith(_READ_PREFIXES))
    query = parse_qs(environ.get("QUERY_STRING", ""))
    action = (query.get("Action") or [""])[0]
    if not action and method == "POST":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)  # put it back for moto
        if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
            action = (parse_qs(body.decode("utf-8", "replace")).get("Action") or [""])[0]
    if action:
        return bool(action.startswith(_READ_PREFIXES))
    return method in ("GET", "HEAD")  # REST protocols (S3)


class Sandbox:
    """moto's WSGI app behind a lock, with snapshots to and from `data_dir`."""

    def __init__(self, data_dir: Path) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        self.data_dir = data_dir
        self.lock = ReadWriteLock()
        self.dirty = threading.Event()
        self.started_at = time.time()
        self.moto_app = DomainDispatcherApplication(create_backend_app)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == HEALTH_PATH:
            body = json.dumps({"mlform_sandbox": True, "pid": os.getpid(),
                               "data_dir": str(self.data_dir),
                               "started_at": self.started_at}).encode()
            start_response("200 OK", [("Content-Type", "application/json"),
                                      ("Content-Length", str(len(body)))])
            return [body]
        read_only = _is_read_only(environ)
        self.lock.acquire_read()
        try:
            # Consume the response while holding the lock: moto builds it lazily.
            chunks = list(self.moto_app(environ, start_response))
        finally:
            self.lock.release_read()
            if not read_only:
                self.dirty.set()
        return chunks

    # -- snapshots ------------------------------------------------------------------------

    def snapshot(self) -> None:
        """Write every moto backend in use to the snapshot file, atomically."""
        from moto.core.base_backend import BackendDict

        self.dirty.clear()
        self.lock.acquire_write()
        try:
            data: dict[str, dict[str, dict[str, Any]]] = {}
            instances = BackendDict._instances  # type: ignore[misc]
            for bd in {id(b): b for b in instances}.values():
                data.setdefault(bd.service_name, {}).update(
                    {acct: dict(asb) for acct, asb in bd.items()})
            buf = io.BytesIO()
            pickler = pickle.Pickler(buf, protocol=pickle.HIGHEST_PROTOCOL)
            pickler.dispatch_table = _dispatch_table()
            pickler.dump(data)
        finally:
            self.lock.release_write()
        tmp = self.data_dir / f".{SNAPSHOT}.tmp"
        with open(tmp, "wb") as fh:
            fh.write(buf.getbuffer())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.data_dir / SNAPSHOT)

    def restore(self) -> int:
        """Load the last snapshot into moto's backends; the number of services restored."""
        from moto.backends import get_backend

        path = self.data_dir / SNAPSHOT
        if not path.exists():
            return 0
        with open(path, "rb") as fh:
            data = pickle.load(fh)
        for service, accounts in data.items():
            try:
                backends = get_backend(service)
            except Exception as exc:
                print(f"cannot restore service {service!r}: {exc!r}", file=sys.stderr, flush=True)
                continue
            for account, regions in accounts.items():
                per_account = backends[account]
                for region, backend in regions.items():
                    dict.__setitem__(per_account, region, backend)
        return len(data)

    def snapshot_loop(self, stop: threading.Event) -> None:
        pause = SNAPSHOT_EVERY
        while not stop.is_set():
            if self.dirty.wait(SNAPSHOT_EVERY) and not stop.wait(pause):
                started = time.monotonic()
                try:
                    self.snapshot()
                except Exception as exc:
                    print(f"snapshot failed: {exc!r}", file=sys.stderr, flush=True)
                pause = max(SNAPSHOT_EVERY, SNAPSHOT_PACE * (time.monotonic() - started))


def _dispatch_table() -> dict[type, Callable[[Any], Any]]:
    """Locks inside moto's backends pickle as new, unlocked locks; the `cryptography` keys
    some backends hold (every KMS key's key material, SNS signing keys), which pickle cannot
    write by itself, as PEM, loaded back as keys on restore. (One KMS key used to make every
    later snapshot fail, so a stop lost the sandbox's contents.)"""
    table = dict(copyreg.dispatch_table)
    table[type(threading.Lock())] = lambda _lock: (threading.Lock, ())
    table[type(threading.RLock())] = lambda _lock: (threading.RLock, ())
    for private in _key_samples():
        table[type(private)] = _reduce_private
        table[type(private.public_key())] = _reduce_public
    return table


@functools.cache
def _key_samples() -> tuple[Any, ...]:
    """One key of each kind moto makes, for their concrete classes (entries of a dispatch
    table are looked up by exact type, which keeps pickling at C speed)."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    return (rsa.generate_private_key(public_exponent=65537, key_size=1024),
            ec.generate_private_key(ec.SECP256R1()), ed25519.Ed25519PrivateKey.generate())


def _reduce_private(key: Any) -> tuple[Callable[[bytes], Any], tuple[bytes]]:
    from cryptography.hazmat.primitives import serialization as ser

    return _private_key, (key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8,
                                            ser.NoEncryption()),)


def _reduce_public(key: Any) -> tuple[Callable[[bytes], Any], tuple[bytes]]:
    from cryptography.hazmat.primitives import serialization as ser

    return _public_key, (key.public_bytes(ser.Encoding.PEM,
                                          ser.PublicFormat.SubjectPublicKeyInfo),)


def _private_key(pem: bytes) -> Any:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    return load_pem_private_key(pem, None)


def _public_key(pem: bytes) -> Any:
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    return load_pem_public_key(pem)


def serve(host: str, port: int, data_dir: Path) -> None:
    import logging

    from werkzeug.serving import make_server

    if not os.environ.get("MLFORM_SANDBOX_VERBOSE"):  # one log line per request adds up
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    data_dir.mkdir(parents=True, exist_ok=True)
    # AWS managed policies (AmazonSageMakerFullAccess, ...) must exist to be attached to roles.
    os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    from mlform.sandbox.moto_patches import apply_patches

    apply_patches()
    sandbox = Sandbox(data_dir)
    restored = sandbox.restore()
    try:
        server = make_server(host, port, sandbox, threaded=True)
    except (OSError, SystemExit) as exc:  # werkzeug exits by itself on a port in use
        reason = exc.strerror if isinstance(exc, OSError) else "Address already in use"
        print(f"cannot listen on {host}:{port}: {reason}; choose another port with "
              "`mlform sandbox start --port N` or MLFORM_SANDBOX_PORT", flush=True)
        raise SystemExit(1) from None
    real_port = server.server_address[1]
    info = {"pid": os.getpid(), "host": host, "port": real_port,
            "url": f"http://{host}:{real_port}", "data_dir": str(data_dir),
            "started_at": sandbox.started_at}
    tmp = data_dir / f".{SERVER_INFO}.tmp"
    tmp.write_text(json.dumps(info), encoding="utf-8")
    os.replace(tmp, data_dir / SERVER_INFO)
    print(f"mlform sandbox listening on {info['url']} (restored {restored} services)",
          flush=True)

    stop = threading.Event()
    saver = threading.Thread(target=sandbox.snapshot_loop, args=(stop,), daemon=True)
    saver.start()

    def shutdown(signum: int, frame: FrameType | None) -> None:
        stop.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    try:
        server.serve_forever()
    finally:
        sandbox.snapshot()
        (data_dir / SERVER_INFO).unlink(missing_ok=True)
        print("mlform sandbox stopped; contents saved", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="mlform sandbox server (moto on loopback)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4750)
    parser.add_argument("--data-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("the sandbox only listens on loopback")
    serve(args.host, args.port, args.data_dir)


if __name__ == "__main__":
    main()
