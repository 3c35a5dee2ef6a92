"""Commands that only read the state take no lock: they work while an apply holds it. Those
that change it, or save a plan to be applied, wait for nobody: they stop at once, saying who
holds it."""

from __future__ import annotations

import fcntl
import json
import os
from typing import Any

from tests.cli.conftest import Cli


def test_plan_drift_and_show_read_while_the_state_is_locked(cli: Cli, sandbox: Any,
                                                            uid: str) -> None:
    env = f"e{uid}"
    cli.write(f"project: ro\nenvironments: {{{env}: {{}}}}\nresources:\n"
              f"  aws_ecr_repository.r: {{name: ro-{uid}}}\n  mlform_data.d: {{input: 1}}\n")
    assert cli.run("apply", "--auto-approve").code == 0
    cli.write(f"project: ro\nenvironments: {{{env}: {{}}}}\nresources:\n"
              f"  aws_ecr_repository.r: {{name: ro-{uid}}}\n  mlform_data.d: {{input: 2}}\n")
    lock = cli.cwd / ".mlform" / "state" / env / "lock"
    fd = os.open(lock, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # as an apply in progress holds it
    os.pwrite(fd, json.dumps({"operation": "apply", "who": "ci", "pid": 1, "host": "h",
                              "since": "2026-12-07T10:00:00Z"}).encode(), 0)
    try:
        plan = cli.run("plan", "--detailed-exitcode")
        assert plan.code == 2, plan.err
        assert "# mlform_data.d will be updated in-place" in plan.out
        assert cli.run("drift").code == 0
        assert cli.run("show").code == 0
        for args in (("plan", "-out", "p.plan"), ("apply", "--auto-approve")):
            r = cli.run(*args)
            assert r.code == 1, args
            assert r.err.startswith(f"Error: the state of environment '{env}' is locked: "
                                    "apply by ci (pid 1 on h) since 2026-12-07T10:00:00Z"), r.err
    finally:
        os.close(fd)
    assert cli.run("apply", "--auto-approve").code == 0
    assert cli.run("destroy", "--auto-approve").code == 0
