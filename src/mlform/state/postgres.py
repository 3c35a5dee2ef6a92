"""PostgreSQL state: rows in four tables of one schema, one row (or row set) per stack.

    states         the current state of each stack, with a version counter for compare-and-swap
    state_history  every version written, the current one included
    journal        the records of the apply in progress (or of one that was interrupted)
    locks          who holds each stack's lock, their last heartbeat and a fencing token

The lock is a row, not an advisory lock: advisory locks are keyed per database, so two stacks
in two schemas can collide on them (Terraform's pg backend does, hashicorp/terraform#33217),
and a session-level advisory lock dies with a dropped connection without the holder noticing.
A row says who holds it, is renewed by a heartbeat, and is taken over atomically once its
heartbeat is older than the TTL. Every holder gets a new token from a sequence; while a store
holds a lock, its writes and journal records check in the same statement that the lock row is
still its own, so a holder whose lock was taken over (a paused VM) can no longer write.

Timestamps in the lock row are the clients' UTC clocks (ISO strings), as `LockInfo.silence`
reads them: writers' clocks must agree to within a fraction of the TTL (NTP does).

Passwords come from PGPASSWORD or ~/.pgpass (libpq reads both), or from a URL given through
`url: env:NAME`; messages describe the server as host:port/dbname and never print the URL.
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from mlform.errors import StateError
from mlform.state.store import LockInfo, Stored, VersionMeta, WriteConflict, precise_now

_TABLES = """
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {schema}.states (
    stack text PRIMARY KEY, serial bigint NOT NULL, data bytea NOT NULL,
    version bigint NOT NULL, written_at text NOT NULL, who text NOT NULL,
    operation text NOT NULL);
CREATE TABLE IF NOT EXISTS {schema}.state_history (
    stack text NOT NULL, serial bigint NOT NULL, data bytea NOT NULL,
    written_at text NOT NULL, who text NOT NULL, operation text NOT NULL,
    PRIMARY KEY (stack, serial));
CREATE TABLE IF NOT EXISTS {schema}.journal (
    seq bigserial PRIMARY KEY, stack text NOT NULL, line bytea NOT NULL);
CREATE INDEX IF NOT EXISTS journal_stack ON {schema}.journal (stack, seq);
CREATE SEQUENCE IF NOT EXISTS {schema}.lock_tokens;
CREATE TABLE IF NOT EXISTS {schema}.locks (
    stack text PRIMARY KEY, id text NOT NULL, operation text NOT NULL, who text NOT NULL,
    host text NOT NULL, pid integer NOT NULL, since text NOT NULL, heartbeat text NOT NULL,
    token bigint NOT NULL);
"""
_LOCK_COLUMNS = "id, operation, who, host, pid, since, heartbeat, token"


def describe_url(url: str) -> str:
    """host:port/dbname of a libpq URL or conninfo, with libpq's defaults; never the
    password."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.Error:
        return "(an unreadable PostgreSQL URL)"
    host = str(params.get("host") or os.environ.get("PGHOST") or "localhost")
    port = str(params.get("port") or os.environ.get("PGPORT") or "5432")
    db = str(params.get("dbname") or os.environ.get("PGDATABASE") or params.get("user")
             or os.environ.get("PGUSER") or "")
    return f"{host}:{port}/{db}"


class PostgresStore:
    """One stack's state in `schema` of the database at `url`."""

    needs_heartbeat = True

    def __init__(self, url: str, schema: str, stack: str) -> None:
        self._url = url
        self.schema = schema
        self.stack = stack
        self.server = describe_url(url)
        self.location = f"postgres://{self.server}#{stack}"
        self._s = sql.Identifier(schema)
        quoted = '"' + schema.replace('"', '""') + '"'
        self._regclass = {"locks": f"{quoted}.locks", "tokens": f"{quoted}.lock_tokens"}
        self._conn: psycopg.Connection[Any] | None = None
        self._beat_conn: psycopg.Connection[Any] | None = None
        self._mutex = threading.Lock()  # one statement or transaction at a time on _conn
        self._beat_mutex = threading.Lock()
        self._ready = False
        self._held: LockInfo | None = None  # the lock this store holds, for fencing

    # --- connections -----------------------------------------------------------------------

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            return psycopg.connect(self._url, autocommit=True, connect_timeout=10,
                                   application_name="mlform")
        except psycopg.Error as exc:
            raise StateError(
                f"cannot reach the PostgreSQL state database at {self.server} "
                f"({self._redact(exc)}); check that it is up and that PGPASSWORD or ~/.pgpass "
                "gives this user's password") from None

    def _redact(self, exc: BaseException) -> str:
        text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        secrets = [os.environ.get("PGPASSWORD", "")]
        try:
            secrets.append(str(conninfo_to_dict(self._url).get("password") or ""))
        except psycopg.Error:
            secrets.append(self._url)  # unparsable: it might be anywhere in the message
        for secret in secrets:
            if secret:
                text = text.replace(secret, "***")
        return text

    def _run(self, work: Any, *, beat: bool = False) -> Any:
        """`work(conn)` on this store's connection (or the heartbeat's own), opened and the
        tables made on first use; a broken connection is opened again on the next call."""
        mutex = self._beat_mutex if beat else self._mutex
        with mutex:
            conn = self._beat_conn if beat else self._conn
            if conn is None or conn.closed or conn.broken:
                conn = self._connect()
                if beat:
                    self._beat_conn = conn
                else:
                    self._conn = conn
            try:
                if not self._ready:
                    self._create_tables(conn)
                    self._ready = True
                return work(conn)
            except WriteConflict:
                raise
            except psycopg.errors.InsufficientPrivilege as exc:
                raise StateError(
                    f"the PostgreSQL state database at {self.server} refused access to schema "
                    f"'{self.schema}' ({self._redact(exc)}); grant this user USAGE and CREATE "
                    "on it (or on the database, for mlform to create it)") from None
            except psycopg.Error as exc:
                raise StateError(
                    f"the PostgreSQL state database at {self.server} failed for stack "
                    f"{self.stack} ({self._redact(exc)})") from None

    def _create_tables(self, conn: psycopg.Connection[Any]) -> None:
        found = conn.execute("SELECT to_regclass(%s)", [self._regclass["locks"]]).fetchone()
        if found and found[0] is not None:
            return
        # CREATE ... IF NOT EXISTS is not safe against a concurrent CREATE of the same name
        # (a unique violation in the catalog); first users serialize on a lock held only for
        # the length of this transaction.
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))",
                         [f"mlform-state-ddl:{self.schema}"])
            conn.execute(sql.SQL(_TABLES).format(schema=self._s))

    def _q(self, text: str) -> sql.Composed:
        return sql.SQL(text).format(s=self._s)

    def close(self) -> None:
        for conn in (self._conn, self._beat_conn):
            if conn is not None:
                conn.close()
        self._conn = self._beat_conn = None

    def __del__(self) -> None:
        # Backends are not closed explicitly (a command's lives as long as the process); a
        # store dropped earlier must not leave its server sessions open until exit.
        with contextlib.suppress(Exception):  # at interpreter exit modules may be gone
            self.close()

    # --- state -----------------------------------------------------------------------------

    def read(self) -> Stored | None:
        row = self._run(lambda c: c.execute(
            self._q("SELECT data, version FROM {s}.states WHERE stack = %s"),
            [self.stack]).fetchone())
        return None if row is None else Stored(bytes(row[0]), str(row[1]))

    def write(self, data: bytes, *, expect: str | None, meta: VersionMeta) -> str:
        def work(conn: psycopg.Connection[Any]) -> str:
            with conn.transaction():
                self._fence(conn)
                if expect is None:
                    row = conn.execute(self._q(
                        "INSERT INTO {s}.states (stack, serial, data, version, written_at, "
                        "who, operation) VALUES (%s, %s, %s, 1, %s, %s, %s) "
                        "ON CONFLICT (stack) DO NOTHING RETURNING version"),
                        [self.stack, meta.serial, data, meta.written_at, meta.who,
                         meta.operation]).fetchone()
                else:
                    row = conn.execute(self._q(
                        "UPDATE {s}.states SET serial = %s, data = %s, version = version + 1, "
                        "written_at = %s, who = %s, operation = %s "
                        "WHERE stack = %s AND version = %s RETURNING version"),
                        [meta.serial, data, meta.written_at, meta.who, meta.operation,
                         self.stack, int(expect)]).fetchone()
                if row is None:
                    raise WriteConflict(f"{self.location} is not the version that was read")
                conn.execute(self._q(
                    "INSERT INTO {s}.state_history (stack, serial, data, written_at, who, "
                    "operation) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (stack, serial) "
                    "DO UPDATE SET data = excluded.data, written_at = excluded.written_at, "
                    "who = excluded.who, operation = excluded.operation"),
                    [self.stack, meta.serial, data, meta.written_at, meta.who, meta.operation])
                return str(row[0])

        return str(self._run(work))

    def _fence(self, conn: psycopg.Connection[Any]) -> None:
        """Inside a write's transaction: if this store took the lock, it must still hold it
        (the row is locked until the commit, so it cannot be taken over in between)."""
        held = self._held
        if held is None:
            return
        row = conn.execute(self._q(
            f"SELECT {_LOCK_COLUMNS} FROM {{s}}.locks WHERE stack = %s FOR UPDATE"),
            [self.stack]).fetchone()
        if row is None or (row[0], row[7]) != (held.id, held.token):
            now = f"; it is held now by {_info(row).describe()}" if row else ""
            raise WriteConflict(f"this command's lock on {self.location} was taken over or "
                                f"removed after its heartbeat stopped{now}")

    def versions(self) -> list[VersionMeta]:
        rows = self._run(lambda c: c.execute(self._q(
            "SELECT serial, written_at, who, operation FROM {s}.state_history "
            "WHERE stack = %s ORDER BY serial"), [self.stack]).fetchall())
        return [VersionMeta(r[0], r[1], r[2], r[3], ref=f"state_history serial {r[0]}")
                for r in rows]

    def read_version(self, serial: int) -> bytes:
        row = self._run(lambda c: c.execute(self._q(
            "SELECT data FROM {s}.state_history WHERE stack = %s AND serial = %s"),
            [self.stack, serial]).fetchone())
        if row is None:
            raise KeyError(serial)
        return bytes(row[0])

    # --- journal ---------------------------------------------------------------------------

    def journal_append(self, line: bytes, *, durable: bool) -> None:
        """One autocommitted INSERT: durable once it returns (synchronous commit), whatever
        `durable` says. While this store holds the lock, the same statement checks it still
        does, so a holder whose lock was taken over cannot add to its successor's journal."""
        held = self._held
        if held is None:
            self._run(lambda c: c.execute(self._q(
                "INSERT INTO {s}.journal (stack, line) VALUES (%s, %s)"), [self.stack, line]))
            return
        cur = self._run(lambda c: c.execute(self._q(
            "INSERT INTO {s}.journal (stack, line) SELECT %s, %s WHERE EXISTS (SELECT 1 FROM "
            "{s}.locks WHERE stack = %s AND id = %s AND token = %s)"),
            [self.stack, line, self.stack, held.id, held.token]))
        if cur.rowcount != 1:
            raise WriteConflict(f"this command's lock on {self.location} was taken over or "
                                "removed after its heartbeat stopped; its journal record was "
                                "not written")

    def journal_read(self) -> list[bytes] | None:
        rows = self._run(lambda c: c.execute(self._q(
            "SELECT line FROM {s}.journal WHERE stack = %s ORDER BY seq"),
            [self.stack]).fetchall())
        return [bytes(r[0]) for r in rows] or None

    def journal_drop(self) -> None:
        self._run(lambda c: c.execute(self._q("DELETE FROM {s}.journal WHERE stack = %s"),
                                      [self.stack]))

    def journal_close(self) -> None:
        pass  # every record was committed when it was appended

    # --- lock ------------------------------------------------------------------------------

    def try_lock(self, info: LockInfo) -> LockInfo | None:
        info.heartbeat = precise_now()  # a TTL of seconds needs more than whole seconds

        def work(conn: psycopg.Connection[Any]) -> Any:
            row = conn.execute(self._q(
                f"INSERT INTO {{s}}.locks (stack, {_LOCK_COLUMNS}) VALUES (%s, %s, %s, %s, "
                "%s, %s, %s, %s, nextval(%s)) ON CONFLICT (stack) DO NOTHING RETURNING token"),
                [self.stack, info.id, info.operation, info.who, info.host, info.pid,
                 info.since, info.heartbeat, self._seq()]).fetchone()
            if row is not None:
                return row[0]
            return conn.execute(self._q(
                f"SELECT {_LOCK_COLUMNS} FROM {{s}}.locks WHERE stack = %s"),
                [self.stack]).fetchone()

        found = self._run(work)
        if isinstance(found, int):
            info.token = found
            self._held = info
            return None
        if found is None:  # unlocked between the two statements: try again
            return self.try_lock(info)
        return _info(found)

    def _seq(self) -> str:
        return self._regclass["tokens"]

    def take_over(self, stale: LockInfo, info: LockInfo) -> bool:
        info.heartbeat = precise_now()
        row = self._run(lambda c: c.execute(self._q(
            "UPDATE {s}.locks SET id = %s, operation = %s, who = %s, host = %s, pid = %s, "
            "since = %s, heartbeat = %s, token = nextval(%s) "
            "WHERE stack = %s AND id = %s AND heartbeat = %s RETURNING token"),
            [info.id, info.operation, info.who, info.host, info.pid, info.since,
             info.heartbeat, self._seq(), self.stack, stale.id, stale.heartbeat]).fetchone())
        if row is None:
            return False  # its holder renewed it, or another writer took it first
        info.token = row[0]
        self._held = info
        return True

    def heartbeat(self, info: LockInfo) -> bool:
        cur = self._run(lambda c: c.execute(self._q(
            "UPDATE {s}.locks SET heartbeat = %s WHERE stack = %s AND id = %s AND token = %s"),
            [precise_now(), self.stack, info.id, info.token]), beat=True)
        return bool(cur.rowcount == 1)

    def unlock(self, info: LockInfo) -> None:
        if self._held is not None and self._held.id == info.id:
            self._held = None
        try:
            self._run(lambda c: c.execute(self._q(
                "DELETE FROM {s}.locks WHERE stack = %s AND id = %s"), [self.stack, info.id]))
        finally:
            with self._beat_mutex:
                if self._beat_conn is not None:
                    self._beat_conn.close()
                    self._beat_conn = None

    def holder(self) -> LockInfo | None:
        row = self._run(lambda c: c.execute(self._q(
            f"SELECT {_LOCK_COLUMNS} FROM {{s}}.locks WHERE stack = %s"),
            [self.stack]).fetchone())
        return None if row is None else _info(row)

    def force_unlock(self, lock_id: str) -> LockInfo:
        row = self._run(lambda c: c.execute(self._q(
            f"DELETE FROM {{s}}.locks WHERE stack = %s AND id = %s RETURNING {_LOCK_COLUMNS}"),
            [self.stack, lock_id]).fetchone())
        if row is not None:
            return _info(row)
        holder = self.holder()
        raise StateError(
            f"the lock on {self.location} is not {lock_id}: "
            + (f"it is held now by {holder.describe()}; run force-unlock with that id if its "
               "holder is gone" if holder else "it is not locked now"))


def _info(row: Any) -> LockInfo:
    return LockInfo(operation=row[1], id=row[0], who=row[2], host=row[3], pid=row[4],
                    since=row[5], heartbeat=row[6], token=row[7])
