"""Session-wide fixtures: an isolated MLFORM_HOME, a real sandbox (moto server) on loopback,
and a guard that fails any test, or any Python process a test starts, trying to reach beyond
loopback."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlform.providers.base import StackContext
from tests.loopback import sitecustomize as loopback

GUARD_DIR = Path(loopback.__file__).resolve().parent
# Where proxy-aware tools (curl, pip, botocore, urllib) send anything not bound for loopback: a
# loopback port nothing listens on (9, "discard"), so such a request fails at once, unsent.
CLOSED_PROXY = "http://127.0.0.1:9"
LOOPBACK_NAMES = "127.0.0.1,localhost,::1"


def guarded_environment() -> dict[str, str]:
    """The variables that carry the loopback guard into subprocesses."""
    path = os.environ.get("PYTHONPATH")
    env = {"PYTHONPATH": str(GUARD_DIR) + (os.pathsep + path if path else "")}
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        env[name] = env[name.lower()] = CLOSED_PROXY
    env["NO_PROXY"] = env["no_proxy"] = LOOPBACK_NAMES
    return env


@pytest.fixture(scope="session", autouse=True)
def no_network() -> Iterator[None]:
    """Sockets stay on loopback in this process (a patched `socket.connect`) and in every
    Python subprocess (the same patch, imported as `sitecustomize` from PYTHONPATH); other
    tools get a proxy that refuses everything but loopback."""
    env = guarded_environment()
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    loopback.install()
    yield
    loopback.uninstall()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session", autouse=True)
def mlform_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every test (and every CLI subprocess) uses a private MLFORM_HOME and sandbox."""
    home = tmp_path_factory.mktemp("mlform-home")
    saved = {k: os.environ.get(k) for k in _ENV}
    os.environ.update({
        "MLFORM_HOME": str(home),
        "MLFORM_SANDBOX_PORT": "0",
        # Never let boto3 find real credentials or talk to instance metadata.
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "NO_COLOR": "1",
    })
    for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "MLFORM_ENV", "MLFORM_CONFIG"):
        os.environ.pop(k, None)
    yield home
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


_ENV = ("MLFORM_HOME", "MLFORM_SANDBOX_PORT", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
        "AWS_EC2_METADATA_DISABLED", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
        "NO_COLOR", "AWS_PROFILE", "AWS_SESSION_TOKEN", "MLFORM_ENV", "MLFORM_CONFIG")


@pytest.fixture(scope="session")
def sandbox(mlform_home: Path, no_network: None) -> Iterator[Any]:
    """The sandbox server, started once for the session as a real background process (under
    the loopback guard: it inherits the environment)."""
    from mlform.sandbox import lifecycle

    info = lifecycle.start(str(mlform_home))
    yield info
    lifecycle.stop(str(mlform_home))


@pytest.fixture
def uid() -> str:
    """A short unique suffix: the sandbox is shared, so names must not collide."""
    return uuid.uuid4().hex[:8]


@pytest.fixture
def stack_context(mlform_home: Path, uid: str) -> StackContext:
    return StackContext(project="test", environment=f"t{uid}", target="sandbox",
                        region="us-east-1", home=str(mlform_home))


@pytest.fixture
def aws_session(sandbox: Any, stack_context: StackContext) -> Any:
    from mlform.providers.aws.session import AwsSession

    return AwsSession(stack_context, endpoint_url=sandbox.url)


@pytest.fixture
def boto(sandbox: Any) -> Any:
    """`boto("s3")`: a plain boto3 client on the sandbox, to look or meddle out of band."""
    import boto3

    def make(service: str, region: str = "us-east-1") -> Any:
        return boto3.client(service, endpoint_url=sandbox.url, region_name=region,
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    return make


@pytest.fixture
def proxy(sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A fault proxy in front of the sandbox (tests/faultproxy.py), and the environment of a
    real `target: aws` run pointed at it: boto3 reads AWS_ENDPOINT_URL itself, and the
    credentials are the dummy ones above."""
    from tests.faultproxy import FaultProxy

    with FaultProxy(sandbox.url) as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL", server.url)
        monkeypatch.setenv("MLFORM_API_RATE", "*=1000")
        yield server


@pytest.fixture(scope="session")
def postgres(no_network: None) -> Iterator[Any]:
    """A PostgreSQL server on 127.0.0.1 for the session (tests/pgserver.py); skips when its
    binaries are missing, unless MLFORM_REQUIRE_POSTGRES is set (CI), which makes it fail."""
    from tests.pgserver import start_server

    server = start_server()
    if server is None:
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl, postgres) found; "
                    "install Debian's `postgresql` package")
    yield server
    server.stop()
