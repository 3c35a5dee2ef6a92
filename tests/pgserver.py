"""A throwaway PostgreSQL server on 127.0.0.1 for the tests of the PostgreSQL state backend.

`initdb` into a temporary folder, `postgres` on a free loopback port with its unix socket in
that folder, one database `mlform` owned by the superuser `mlform` (trust), and a role
`mlform_pw` that must give a password (scram) to prove passwords reach libpq from PGPASSWORD,
never from the config. PostgreSQL refuses to run as root, and CI runs as root: then the server
runs as the `postgres` user Debian's package creates (or `nobody`), through subprocess's
`user=`/`group=`, so no runuser or sudo is needed.

The binaries are looked for on PATH, then where Debian puts them (/usr/lib/postgresql/<ver>/bin).
Without them the tests that need the server skip, unless MLFORM_REQUIRE_POSTGRES is set (CI
sets it), in which case they fail: a CI run must never pass by skipping them.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PASSWORD_ROLE = "mlform_pw"
PASSWORD = "pw-4f1d9c2e-not-in-any-config"


def find_binaries() -> Path | None:
    """The folder holding initdb, pg_ctl and postgres, or None."""
    candidates = []
    if os.environ.get("MLFORM_PG_BIN"):
        candidates.append(Path(os.environ["MLFORM_PG_BIN"]))
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    candidates += [Path(p) for p in sorted(versions, key=_version, reverse=True)]
    for folder in candidates:
        if all((folder / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            return folder
    return None


def _version(path: str) -> float:
    try:
        return float(Path(path).parent.name)
    except ValueError:
        return 0.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    bin: Path
    root: Path
    port: int = 0
    _as: dict[str, Any] | None = None

    @property
    def url(self) -> str:
        """The superuser's URL (trust: no password)."""
        return f"postgresql://mlform@127.0.0.1:{self.port}/mlform"

    @property
    def password_url(self) -> str:
        """The password role's URL, without its password (that is in PASSWORD)."""
        return f"postgresql://{PASSWORD_ROLE}@127.0.0.1:{self.port}/mlform"

    def _run(self, *args: str) -> None:
        proc = subprocess.run([str(self.bin / args[0]), *args[1:]], check=False,
                              cwd=self.root,
                              capture_output=True, text=True, timeout=120,
                              env={**os.environ, "HOME": str(self.root), "LC_ALL": "C"},
                              **(self._as or {}))
        if proc.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {proc.stdout}{proc.stderr}")

    def start(self) -> None:
        if os.geteuid() == 0:  # initdb and postgres refuse root
            for name in ("postgres", "nobody"):
                try:
                    user = pwd.getpwnam(name)
                except KeyError:
                    continue
                self._as = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
                os.chown(self.root, user.pw_uid, user.pw_gid)
                break
        data = self.root / "data"
        self._run("initdb", "-D", str(data), "-U", "mlform", "--auth=trust", "-E", "UTF8",
                  "--no-locale", "--no-sync")
        (data / "pg_hba.conf").write_text(
            "local all all trust\n"
            f"host all {PASSWORD_ROLE} 127.0.0.1/32 scram-sha-256\n"
            "host all all 127.0.0.1/32 trust\n")
        for attempt in range(3):  # a free port can be taken before postgres binds it
            self.port = _free_port()
            try:
                self._run("pg_ctl", "-D", str(data), "-l", str(self.root / "log"), "-w",
                          "-t", "60", "-o", f"-h 127.0.0.1 -p {self.port} -k {self.root} "
                          "-c fsync=off -c max_connections=200", "start")
                break
            except RuntimeError:
                if attempt == 2:
                    log = (self.root / "log").read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"PostgreSQL did not start:\n{log}") from None
        import psycopg

        with psycopg.connect(f"postgresql://mlform@127.0.0.1:{self.port}/postgres",
                             autocommit=True) as conn:
            conn.execute("CREATE DATABASE mlform")
            conn.execute(f"CREATE ROLE {PASSWORD_ROLE} LOGIN PASSWORD '{PASSWORD}'")
            conn.execute(f"GRANT CREATE ON DATABASE mlform TO {PASSWORD_ROLE}")

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.root / "data"), "stop", "-m", "fast")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def start_server() -> PostgresServer | None:
    """A started server, or None when there are no binaries (and none are required)."""
    folder = find_binaries()
    if folder is None:
        if os.environ.get("MLFORM_REQUIRE_POSTGRES"):
            raise RuntimeError(
                "MLFORM_REQUIRE_POSTGRES is set but no PostgreSQL server binaries (initdb, "
                "pg_ctl, postgres) were found on PATH or in /usr/lib/postgresql/*/bin; "
                "install Debian's `postgresql` package")
        return None
    # Not under pytest's basetemp: that is private to root (0700), the server's user
    # could not reach it.
    server = PostgresServer(folder, Path(tempfile.mkdtemp(prefix="mlform-pg-")))
    try:
        server.start()
    except BaseException:
        shutil.rmtree(server.root, ignore_errors=True)
        raise
    return server
