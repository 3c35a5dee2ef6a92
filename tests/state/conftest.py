"""Fixtures of the state tests: the real CLI in a subprocess, and every backend's settings."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import cli  # noqa: F401  (a fixture)

# The backends contract tests run on. Each kind's `state:` settings come from its function in
# `_CONFIGS`, which may use fixtures that start its service (the sandbox for S3, PostgreSQL).
BACKEND_KINDS = ["local", "s3", "postgres"]


def _local(request: pytest.FixtureRequest, env: str) -> dict[str, Any]:
    return {"backend": "local"}


def _postgres(request: pytest.FixtureRequest, env: str) -> dict[str, Any]:
    # One schema for every contract test: many stacks side by side, as in real use.
    server = request.getfixturevalue("postgres")
    return {"backend": "postgres", "url": server.url, "schema": "contract", "lock_ttl": 5}


def _s3(request: pytest.FixtureRequest, env: str) -> dict[str, Any]:
    """A fresh versioned bucket on the sandbox (mlform never creates its state bucket)."""
    bucket = make_state_bucket(request.getfixturevalue("boto"))
    return {"backend": "s3", "bucket": bucket, "key": f"{env}/state.json", "lock_ttl": 5}


def make_state_bucket(boto: Any, *, versioned: bool = True) -> str:
    s3 = boto("s3")
    bucket = f"state-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    if versioned:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return bucket


_CONFIGS = {"local": _local, "s3": _s3, "postgres": _postgres}


def make_spec(request: pytest.FixtureRequest, kind: str, tmp_path: Path,
              env: str | None = None) -> dict[str, Any]:
    """A stack's spec (see tests.state.backends.open_spec) on backend `kind`: a fresh stack,
    or environment `env`'s in another place."""
    elsewhere = env is not None
    env = env or f"e{uuid.uuid4().hex[:8]}"
    config = _CONFIGS[kind](request, env)
    if elsewhere and kind == "postgres":  # the same stack, in another schema
        config["schema"] = "contract_elsewhere"
    folder = tmp_path / f"state-{uuid.uuid4().hex[:6]}" / env
    return {"config": config, "dir": str(folder), "environment": env, "kind": kind}


@pytest.fixture(params=BACKEND_KINDS)
def backend_spec(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    """A fresh stack's spec on each backend."""
    return make_spec(request, request.param, tmp_path)
