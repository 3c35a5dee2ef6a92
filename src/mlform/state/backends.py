"""The backend an environment's `state:` names, for one stack (an environment or a region).

Remote stores are imported only when a config uses them, so `mlform plan` on local state never
loads psycopg or the S3 store.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mlform.errors import StateError
from mlform.state.backend import StateBackend
from mlform.state.codec import Cipher
from mlform.state.local import LocalBackend, LocalStore
from mlform.state.store import Store


def stack_id(project: str, environment: str, region: str | None) -> str:
    """How a remote store names one stack: `project/environment[/region]`."""
    return "/".join(p for p in (project, environment, region) if p)


def s3_key(config: dict[str, Any], project: str, environment: str, region: str | None) -> str:
    key = config.get("key") or f"{project}/{environment}/state.json"
    if region:
        head, _, name = key.rpartition("/")
        key = f"{head}/{region}/{name}" if head else f"{region}/{name}"
    return key


def resolve_env(value: str, what: str) -> str:
    """`env:NAME` → the variable's value (a clear error when unset); anything else as is."""
    if not value.startswith("env:"):
        return value
    name = value[4:]
    found = os.environ.get(name)
    if not found:
        raise StateError(f"{what} is read from the environment variable {name}, which is not "
                         "set")
    return found


def open_store(config: dict[str, Any], directory: Path, project: str, environment: str,
               region: str | None, session: Any = None) -> Store:
    """The store of one stack. `session`: a boto3 session for the environment (S3 and KMS)."""
    kind = config.get("backend", "local")
    if kind == "local":
        return LocalStore(directory)
    if kind == "s3":
        from mlform.state.s3 import S3Store

        return S3Store(session, config["bucket"], s3_key(config, project, environment, region),
                       config.get("region"))
    if kind == "postgres":
        from mlform.state.postgres import PostgresStore

        return PostgresStore(resolve_env(config["url"], "the PostgreSQL state URL"),
                             config.get("schema_name") or config.get("schema") or "mlform",
                             stack_id(project, environment, region))
    raise StateError(f"unknown state backend {kind!r}")


def open_backend(config: dict[str, Any], directory: Path, project: str, environment: str,
                 region: str | None, session: Any = None) -> StateBackend:
    """The state backend of one stack; `region` only for a region of an environment of
    several."""
    cipher: Cipher | None = None
    if config.get("encryption"):
        from mlform.state.crypto import cipher_for

        cipher = cipher_for(config["encryption"], session,
                            stack_id(project, environment, region))
    if config.get("backend", "local") == "local":
        return LocalBackend(directory, project, environment, region, cipher=cipher)
    store = open_store(config, directory, project, environment, region, session)
    return StateBackend(store, project, environment, region, cipher=cipher,
                        lock_ttl=float(config.get("lock_ttl", 60.0)))
