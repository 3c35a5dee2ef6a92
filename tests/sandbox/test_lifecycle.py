"""The sandbox as a user runs it: start, stop, status, auto-start, and durable contents."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from mlform.sandbox import lifecycle
from tests.cli.conftest import Cli


@pytest.fixture
def home(tmp_path: Path) -> Any:
    """A sandbox of its own, so stopping it does not disturb the session's."""
    path = tmp_path / "home"
    yield path
    lifecycle.stop(str(path))


def client(url: str, service: str) -> Any:
    return boto3.client(service, endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="x", aws_secret_access_key="y")


def test_cli_start_status_stop_and_contents_survive(home: Path, tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    env = {"MLFORM_HOME": str(home)}
    r = cli.run("sandbox", "status", env=env)
    assert r.code == 3 and r.out.startswith("The sandbox is not running")
    r = cli.run("sandbox", "start", env=env)
    assert r.code == 0 and r.out.startswith("Sandbox started at http://127.0.0.1:")
    assert cli.run("sandbox", "start", env=env).out.startswith("Sandbox already running at ")
    info = lifecycle.status(str(home))
    assert info is not None
    client(info.url, "s3").create_bucket(Bucket="survives-restarts")
    client(info.url, "ecr").create_repository(repositoryName="survives")
    r = cli.run("sandbox", "stop", env=env)
    assert r.out == "Sandbox stopped; its contents are saved.\n"
    assert lifecycle.status(str(home)) is None
    assert cli.run("sandbox", "stop", env=env).out == "The sandbox is not running.\n"
    assert cli.run("sandbox", "start", env=env).code == 0
    info = lifecycle.status(str(home))
    assert info is not None
    names = [b["Name"] for b in client(info.url, "s3").list_buckets()["Buckets"]]
    assert names == ["survives-restarts"]
    repos = client(info.url, "ecr").describe_repositories()["repositories"]
    assert [r["repositoryName"] for r in repos] == ["survives"]


def test_target_sandbox_starts_it_on_first_use(home: Path, tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    cli.write("project: auto\nresources:\n  aws_ecr_repository.r: {}\n")
    r = cli.run("apply", "--auto-approve", env={"MLFORM_HOME": str(home)})
    assert r.code == 0, r.err
    assert "Starting the mlform sandbox" in r.err
    info = lifecycle.status(str(home))
    assert info is not None
    repos = client(info.url, "ecr").describe_repositories()["repositories"]
    assert [r["repositoryName"] for r in repos] == ["auto-default-r"]
    # Between commands the sandbox keeps running, with its contents.
    r = cli.run("plan", "--detailed-exitcode", env={"MLFORM_HOME": str(home)})
    assert r.code == 0 and "Starting" not in r.err


def test_concurrent_starts_make_one_server(home: Path) -> None:
    infos: list[Any] = []
    threads = [threading.Thread(target=lambda: infos.append(lifecycle.start(str(home))))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({i.pid for i in infos}) == 1


def test_a_killed_sandbox_keeps_what_it_had_saved(home: Path) -> None:
    info = lifecycle.start(str(home))
    client(info.url, "s3").create_bucket(Bucket="saved-before-kill")
    snapshot = Path(info.data_dir) / "snapshot.pickle"
    deadline = time.monotonic() + 10
    while not snapshot.exists():  # written within about a second of the change
        assert time.monotonic() < deadline
        time.sleep(0.1)
    time.sleep(0.5)
    os.kill(info.pid, signal.SIGKILL)
    lifecycle._reap(info.pid)
    assert lifecycle.status(str(home)) is None
    info = lifecycle.start(str(home))  # a stale server.json is no obstacle
    names = [b["Name"] for b in client(info.url, "s3").list_buckets()["Buckets"]]
    assert names == ["saved-before-kill"]


def test_busy_port_is_a_clear_error(home: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(lifecycle.SandboxError) as err:
            lifecycle.start(str(home), port=port)
    assert str(err.value).startswith(
        f"the sandbox failed to start: cannot listen on 127.0.0.1:{port}: Address already in "
        "use; choose another port with `mlform sandbox start --port N` or MLFORM_SANDBOX_PORT")
    assert not (home / "sandbox" / "server.json").exists()


def test_kms_keys_and_what_they_encrypt_survive_a_restart(home: Path) -> None:
    """moto keeps a KMS key's key material as a `cryptography` private key, which pickle cannot
    write: one KMS key used to stop every later snapshot, so a stop lost everything."""
    info = lifecycle.start(str(home))
    kms = client(info.url, "kms")
    key = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    curve = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    symmetric = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=symmetric, Plaintext=b"features")["CiphertextBlob"]
    signed = kms.sign(KeyId=key, Message=b"m", SigningAlgorithm="RSASSA_PSS_SHA_256")
    client(info.url, "s3").create_bucket(Bucket="after-the-key")
    lifecycle.stop(str(home))
    info = lifecycle.start(str(home))
    kms = client(info.url, "kms")
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"features"
    assert kms.verify(KeyId=key, Message=b"m", Signature=signed["Signature"],
                      SigningAlgorithm="RSASSA_PSS_SHA_256")["SignatureValid"]
    assert kms.describe_key(KeyId=curve["KeyId"])["KeyMetadata"]["KeySpec"] == "ECC_NIST_P256"
    names = [b["Name"] for b in client(info.url, "s3").list_buckets()["Buckets"]]
    assert names == ["after-the-key"]
    assert "snapshot failed" not in (home / "sandbox" / "sandbox.log").read_text()
    lifecycle.stop(str(home))
