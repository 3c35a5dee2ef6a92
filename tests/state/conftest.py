"""Fixtures of the state tests: the real CLI in a subprocess, and every backend's settings."""

from __future__ import annotations

import base64
import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import cli  # noqa: F401  (a fixture)

# The backends contract tests run on. Each kind's `state:` settings come from its function in
# `_CONFIGS`, which may use fixtures that start its service (the sandbox for S3, PostgreSQL).
BACKEND_KINDS = ["local", "s3", "postgres"]
# The contract again with encrypted state (journal records sealed one by one): S3 with a KMS
# key of the sandbox, PostgreSQL with a raw key. Not in the migration pairs, which copy bytes
# between backends of the same encryption.
ENCRYPTED_KINDS = ["s3+kms", "postgres+key"]


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


def _s3_kms(request: pytest.FixtureRequest, env: str) -> dict[str, Any]:
    key = request.getfixturevalue("boto")("kms").create_key()["KeyMetadata"]["KeyId"]
    return {**_s3(request, env), "encryption": {"kms_key_id": key}}


def _postgres_key(request: pytest.FixtureRequest, env: str) -> dict[str, Any]:
    # Inherited by the writer processes the contract tests start.
    os.environ.setdefault("MLFORM_TEST_STATE_KEY", base64.b64encode(os.urandom(32)).decode())
    return {**_postgres(request, env), "encryption": {"key": "env:MLFORM_TEST_STATE_KEY"}}


_CONFIGS = {"local": _local, "s3": _s3, "postgres": _postgres, "s3+kms": _s3_kms,
            "postgres+key": _postgres_key}


def make_spec(request: pytest.FixtureRequest, kind: str, tmp_path: Path,
              env: str | None = None) -> dict[str, Any]:
    """A stack's spec (see tests.state.backends.open_spec) on backend `kind`: a fresh stack,
    or environment `env`'s in another place."""
    elsewhere = env is not None
    env = env or f"e{uuid.uuid4().hex[:8]}"
    config = _CONFIGS[kind](request, env)
    if elsewhere and kind.startswith("postgres"):  # the same stack, in another schema
        config["schema"] = "contract_elsewhere"
    folder = tmp_path / f"state-{uuid.uuid4().hex[:6]}" / env
    return {"config": config, "dir": str(folder), "environment": env, "kind": kind}


@pytest.fixture(params=BACKEND_KINDS + ENCRYPTED_KINDS)
def backend_spec(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    """A fresh stack's spec on each backend."""
    return make_spec(request, request.param, tmp_path)
