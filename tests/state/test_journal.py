"""The journal's durability modes, observed from outside: the fsync calls a real apply makes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import Cli


def _fsyncs(cli: Cli, mode: str, *args: str) -> int:
    """fsync/fdatasync calls made by `mlform ARGS` with MLFORM_DURABILITY=mode (via strace)."""
    log = cli.cwd / f"strace-{mode}.log"
    proc = subprocess.run(
        ["strace", "-f", "-c", "-e", "trace=fsync,fdatasync", "-o", str(log),
         sys.executable, "-m", "mlform", *args], cwd=cli.cwd, capture_output=True, text=True,
        env={**os.environ, "MLFORM_DURABILITY": mode}, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return sum(int(line.split()[3]) for line in log.read_text().splitlines()
               if line.split() and line.split()[-1] in ("fsync", "fdatasync"))


@pytest.mark.skipif(shutil.which("strace") is None,
                    reason="strace is installed by .ci/run (Debian package strace)")
def test_power_mode_fsyncs_every_cloud_intent_and_process_mode_does_not(
        cli: Cli, uid: str, sandbox: Any) -> None:
    n = 6

    def config(tag: str) -> str:
        return (f"project: dur\nenvironments: {{d{tag}{uid}: {{}}}}\nresources:\n"
                + "".join(f"  aws_ecr_repository.r{i}: {{name: dur-{tag}-{uid}-{i}}}\n"
                          for i in range(n))
                + "".join(f"  mlform_data.d{i}: {{input: {i}}}\n" for i in range(20)))

    cli.write(config("p"))
    power = _fsyncs(cli, "power", "apply", "--auto-approve")
    power_destroy = _fsyncs(cli, "power", "destroy", "--auto-approve")
    cli.write(config("q"))
    process = _fsyncs(cli, "process", "apply", "--auto-approve")
    process_destroy = _fsyncs(cli, "process", "destroy", "--auto-approve")
    # One per create or delete intent of a cloud object (none for mlform_data's 20), plus the
    # journal's directory entry; the state's compaction syncs the same few in both modes.
    assert power - process == n + 1, (power, process)
    assert power_destroy - process_destroy == n + 1, (power_destroy, process_destroy)
    assert process <= 5


def test_an_unknown_durability_mode_is_one_clear_error(cli: Cli) -> None:
    cli.write("project: dur\nresources:\n  mlform_data.a: {input: 1}\n")
    r = cli.run("apply", "--auto-approve", env={"MLFORM_DURABILITY": "paranoid"})
    assert (r.code, r.err) == (1, "Error: MLFORM_DURABILITY='paranoid': expected one of power, "
                                  "process\n")
    assert not (Path(cli.cwd) / ".mlform" / "state" / "default" / "journal.jsonl").exists()
