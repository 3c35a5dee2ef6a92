"""Nothing leaves loopback: not this process, not a Python process a test starts (the CLI, the
sandbox server), not a proxy-aware tool. Every address tried here is on this machine (0.0.0.0
means "this host" to connect), so even a broken guard sends nothing out."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import Cli
from tests.conftest import GUARD_DIR

REFUSED = "tests must stay on loopback"


def test_this_process_is_guarded() -> None:
    with socket.socket() as s, pytest.raises(OSError, match=REFUSED):
        s.connect(("0.0.0.0", 9))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s, \
            pytest.raises(OSError, match=REFUSED):
        s.sendto(b"x", ("0.0.0.0", 9))


def test_a_python_subprocess_is_guarded(cli: Cli) -> None:
    # The environment the `cli` fixture runs `python -m mlform` with.
    code = ("import socket\ntry:\n    socket.create_connection(('0.0.0.0', 9), timeout=5)\n"
            "except OSError as exc:\n    print(exc)\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=cli.cwd, capture_output=True,
                          text=True, timeout=60, check=True, env={**os.environ})
    assert REFUSED in proc.stdout, proc.stdout + proc.stderr


def test_the_sandbox_server_runs_guarded(sandbox: Any) -> None:
    environ = Path(f"/proc/{sandbox.pid}/environ").read_bytes().split(b"\0")
    paths = next(v for v in environ if v.startswith(b"PYTHONPATH=")).split(b"=", 1)[1]
    assert paths.split(os.pathsep.encode())[0] == str(GUARD_DIR).encode()


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_other_tools_go_through_a_proxy_that_refuses(cli: Cli) -> None:
    proc = subprocess.run(["curl", "-sS", "--max-time", "10", "http://0.0.0.0:1/"],
                          capture_output=True, text=True, timeout=60, check=False,
                          env={**os.environ})
    assert proc.returncode != 0
    assert "127.0.0.1 port 9" in proc.stderr, proc.stderr  # the proxy, not 0.0.0.0


def test_the_sandbox_still_works_in_process_and_from_the_cli(
        cli: Cli, boto: Any, uid: str) -> None:
    boto("s3").list_buckets()
    cli.write(f"project: guard-{uid}\nresources:\n  aws_s3_bucket.b: {{force_destroy: true}}\n")
    r = cli.run("apply", "--auto-approve")
    assert r.code == 0, r.out + r.err
    assert f"guard-{uid}-default-b" in {b["Name"] for b in boto("s3").list_buckets()["Buckets"]}
    assert cli.run("destroy", "--auto-approve").code == 0
