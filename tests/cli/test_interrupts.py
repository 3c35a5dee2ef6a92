"""Killed, interrupted and concurrent applies lose nothing, orphan nothing, duplicate nothing."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.cli.conftest import Cli

N = 80


def many_repositories(uid: str, n: int = N) -> str:
    lines = ["project: crash", f"environments: {{e{uid}: {{}}}}", "resources:"]
    lines += [f"  aws_ecr_repository.r{i}: {{name: crash-{uid}-{i}}}" for i in range(n)]
    return "\n".join(lines) + "\n"


def journal_puts(cli: Cli, env: str) -> int:
    path = cli.cwd / ".mlform" / "state" / env / "journal.jsonl"
    try:
        return path.read_text().count('"t":"put"')
    except FileNotFoundError:
        return 0


def wait_for(predicate: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def tagged_in_sandbox(boto: Any, stack: str) -> list[str]:
    ecr = boto("ecr")
    names = []
    for page in ecr.get_paginator("describe_repositories").paginate():
        for repo in page["repositories"]:
            tags = ecr.list_tags_for_resource(resourceArn=repo["repositoryArn"])["tags"]
            if {"Key": "mlform:stack", "Value": stack} in tags:
                names.append(repo["repositoryName"])
    return names


def recorded(cli: Cli, env: str) -> dict[str, Any]:
    state = json.loads((cli.cwd / ".mlform" / "state" / env / "state.json").read_text())
    return state["resources"]  # type: ignore[no-any-return]


def test_sigkill_mid_apply_then_apply_converges(cli: Cli, uid: str, boto: Any,
                                                sandbox: Any) -> None:
    env = f"e{uid}"
    cli.write(many_repositories(uid))
    proc = cli.popen("apply", "--auto-approve", "--parallelism", "4")
    try:
        wait_for(lambda: journal_puts(cli, env) >= 10)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        proc.kill()
        proc.communicate()
    made_before = set(tagged_in_sandbox(boto, f"crash/{env}"))
    assert 10 <= len(made_before) < N, "the kill must land mid-apply"
    r = cli.run("apply", "--auto-approve")
    assert r.code == 0, r.err
    resources = recorded(cli, env)
    in_sandbox = tagged_in_sandbox(boto, f"crash/{env}")
    assert len(in_sandbox) == len(set(in_sandbox)) == N  # nothing duplicated
    assert sorted(r["id"] for r in resources.values()) == sorted(in_sandbox)  # nothing orphaned
    assert cli.run("plan", "--detailed-exitcode").code == 0


def test_ctrl_c_finishes_in_flight_calls_and_saves(cli: Cli, uid: str, boto: Any,
                                                   sandbox: Any) -> None:
    env = f"e{uid}"
    cli.write(many_repositories(uid))
    proc = cli.popen("apply", "--auto-approve", "--parallelism", "2")
    try:
        wait_for(lambda: journal_puts(cli, env) >= 5)
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "Interrupt received: waiting for the calls in flight to finish" in err
    assert "Apply interrupted." in err and "The state records everything that was done." in err
    assert "Traceback" not in err
    resources = recorded(cli, env)
    assert 5 <= len(resources) < N
    assert sorted(r["id"] for r in resources.values()) == sorted(
        tagged_in_sandbox(boto, f"crash/{env}"))
    assert not (cli.cwd / ".mlform" / "state" / env / "journal.jsonl").exists()
    r = cli.run("apply", "--auto-approve")
    assert r.code == 0 and f"{N - len(resources)} added" in r.out


def test_second_apply_fails_at_once_while_the_first_runs(cli: Cli, uid: str,
                                                         sandbox: Any) -> None:
    env = f"e{uid}"
    cli.write(many_repositories(uid))
    first = cli.popen("apply", "--auto-approve", "--parallelism", "1")
    try:
        wait_for(lambda: journal_puts(cli, env) >= 1)
        started = time.monotonic()
        second = cli.run("apply", "--auto-approve")
        assert time.monotonic() - started < 10
        assert second.code == 1
        assert second.err.startswith(f"Error: the state of environment '{env}' is locked: "
                                     "apply by ")
        assert f"(pid {first.pid} on " in second.err
        first.communicate(timeout=120)
        assert first.returncode == 0
    finally:
        first.kill()
    assert len(recorded(cli, env)) == N


def test_state_stays_valid_json_after_every_kill(cli: Cli, uid: str, sandbox: Any) -> None:
    env = f"e{uid}"
    cli.write(many_repositories(uid, 30))
    for _ in range(3):
        proc = cli.popen("apply", "--auto-approve", "--parallelism", "3")
        try:
            time.sleep(0.8)
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
        finally:
            proc.kill()
            proc.communicate()
        state_file = cli.cwd / ".mlform" / "state" / env / "state.json"
        if state_file.exists():
            json.loads(state_file.read_text())
    assert cli.run("apply", "--auto-approve").code == 0
    assert len(recorded(cli, env)) == 30
    history = Path(cli.cwd / ".mlform" / "state" / env / "history")
    for kept in history.glob("*.json"):
        json.loads(kept.read_text())


def test_ctrl_c_at_the_confirmation_prompt_changes_nothing(cli: Cli) -> None:
    cli.write("project: crash\nresources:\n  mlform_data.a: {input: 1}\n")
    proc = cli.popen("apply", stdin=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        wait_for(lambda: "Only 'yes' will be accepted" in (proc.stdout.readline() or "x"))
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)  # stdin stays open: the prompt must end by the signal, not EOF
        assert proc.stderr is not None
        err = proc.stderr.read()
    finally:
        proc.kill()
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    assert proc.returncode == 130, err
    assert err.endswith("Interrupted.\n") and "Traceback" not in err
    assert cli.run("state", "list").out == ""


def test_ctrl_c_while_the_cli_is_still_starting_is_one_line_and_130(cli: Cli) -> None:
    """Ctrl-C at moments spread over start-up (imports, config, state): never a traceback."""
    cli.write("project: early\nenvironments: {dev: {}}\nresources:\n"
              "  mlform_data.a: {input: 1}\n")
    exits = []
    for delay in [i * 0.03 for i in range(12)]:
        proc = cli.popen("plan")
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert "Traceback" not in err, (delay, err[-2000:])
        assert proc.returncode in (0, 130, -signal.SIGINT), (delay, proc.returncode, err)
        exits.append(proc.returncode)
    assert 130 in exits  # some landed while it ran (the rest after it ended)
