"""`mlform state history | rollback | migrate`: a stack's state versions, making an old one
current again, and moving every version to another backend.

A rollback never rewrites history: the old version is written again as the next serial, so
the version it replaces stays listed (and can itself be rolled back to). Before it is written,
`rollback_preview` says what it means for live objects: which recorded objects it forgets
(they stay in the cloud, unmanaged), which it records again and whether they still exist
(read from the cloud now), and which pending creates it drops.

A migration copies every version, oldest first, byte for byte (checksums and encryption
envelopes included) and with its original serial, time, author and operation, into an empty
target; it holds the source's lock throughout and leaves the source as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from mlform.errors import MlformError, StateError
from mlform.state.backend import StateBackend
from mlform.state.models import State


@dataclass
class RollbackPreview:
    serial: int  # the version made current again
    current: int  # the serial it replaces
    forgotten: list[tuple[str, str]] = field(default_factory=list)  # (address, id)
    restored: list[tuple[str, str, bool]] = field(default_factory=list)  # (address, id, live)
    changed: list[tuple[str, str, str, bool]] = field(default_factory=list)  # old id, new id
    dropped_pending: list[str] = field(default_factory=list)
    still_configured: list[str] = field(default_factory=list)  # forgotten but in the config
    unchanged: int = 0

    @property
    def harmless(self) -> bool:
        return not (self.forgotten or self.restored or self.changed or self.dropped_pending)


def rollback_preview(ws: Any, current: State, old: State,
                     parallelism: int = 10) -> RollbackPreview:
    """What making `old` current means, with the objects it records again read live."""
    from mlform.engine.refresh import refresh

    preview = RollbackPreview(old.serial, current.serial)
    live_check = State(project=old.project, environment=old.environment)
    for address, res in old.resources.items():
        now = current.resources.get(address)
        if now is None or now.id != res.id:
            live_check.resources[address] = res
        else:
            preview.unchanged += 1
    gone: set[str] = set()
    if live_check.resources:
        result = refresh(live_check, ws.pool(), parallelism)
        gone = {a for a, r in result.changed.items() if r is None}
    for address, res in old.resources.items():
        now = current.resources.get(address)
        if now is None:
            preview.restored.append((address, res.id, address not in gone))
        elif now.id != res.id:
            preview.changed.append((address, now.id, res.id, address not in gone))
    for address, res in current.resources.items():
        if address not in old.resources:
            preview.forgotten.append((address, res.id))
            if address in ws.stack.resources:
                preview.still_configured.append(address)
    preview.dropped_pending = [a for a in current.pending if a not in old.pending]
    return preview


def rollback(backend: StateBackend, old_serial: int, expect_serial: int) -> State:
    """Write version `old_serial` as the next version; refused if the state moved on from
    `expect_serial` (what the preview was made against). Call with the lock held."""
    current = backend.load()
    if current.serial != expect_serial:
        raise StateError(f"the state changed (serial {expect_serial} → {current.serial}) "
                         "while the rollback was being confirmed; nothing was written")
    old = backend.version(old_serial)
    backend.replace(old, f"rollback to {old_serial}")
    return old


def parse_target(text: str) -> dict[str, Any]:
    """`--to`: `local[:PATH]`, `s3://BUCKET/KEY[?region=R]`, `postgresql://...[#SCHEMA]` or
    `env:NAME` holding such a URL → an environment's `state:` settings."""
    from mlform.state.backends import resolve_env

    value = text.strip()
    if value == "local" or value.startswith("local:"):
        return {"backend": "local", "path": value[6:] or ".mlform"}
    url = resolve_env(value, "--to") if value.startswith("env:") else value
    parts = urlsplit(url)
    if parts.scheme == "s3":
        if not parts.netloc:
            raise MlformError(f"--to {text}: expected s3://BUCKET/KEY")
        config: dict[str, Any] = {"backend": "s3", "bucket": parts.netloc}
        if parts.path.strip("/"):
            config["key"] = parts.path.strip("/")
        region = parse_qs(parts.query).get("region")
        if region:
            config["region"] = region[0]
        return config
    if parts.scheme in ("postgres", "postgresql"):
        if parts.password:
            raise MlformError("--to: the URL holds a password; give it in PGPASSWORD or "
                              "~/.pgpass, or the whole URL with --to env:NAME")
        config = {"backend": "postgres", "url": value if value.startswith("env:")
                  else url.split("#", 1)[0]}
        if parts.fragment:
            config["schema"] = parts.fragment
        return config
    raise MlformError(f"--to {text}: expected local, local:PATH, s3://BUCKET/KEY or "
                      "postgresql://HOST/DB")


def migrate(source: StateBackend, target: StateBackend) -> int:
    """Copy every version of `source` into the empty `target`; the number copied. Call with
    the source's lock held."""
    current = source.load()  # a journal left by a crash is recorded before anything moves
    if target.store.read() is not None:
        raise StateError(f"{target.store.location} already holds a state; a migration only "
                         "writes into an empty one")
    copied = 0
    expect: str | None = None
    for meta, raw in source.raw_versions():
        expect = target.store.write(raw, expect=expect, meta=meta)
        copied += 1
    got = target.read()
    if (got.lineage, got.serial) != (current.lineage, current.serial) and copied:
        raise StateError(f"the migrated state at {target.store.location} is serial "
                         f"{got.serial}, not {current.serial}: the source changed during the "
                         "copy; run the migration again into an empty target")
    return copied
