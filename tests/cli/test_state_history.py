"""`mlform state history | rollback | migrate`, `--lock-timeout` and `force-unlock` through the
real CLI: a rollback says what it means for live objects before anything is written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

import boto3

from tests.cli.conftest import Cli


def _config(env: str, uid: str, *repos: str) -> str:
    return (f"project: hist\nenvironments: {{{env}: {{}}}}\nresources:\n"
            + "".join(f"  aws_ecr_repository.{r}: {{name: hist-{uid}-{r}}}\n" for r in repos))


def test_history_lists_every_version_and_rollback_shows_live_consequences(
        cli: Cli, sandbox: Any, uid: str) -> None:
    env = f"e{uid}"
    cli.write(_config(env, uid, "one"))
    assert cli.run("apply", "--auto-approve").code == 0
    history = json.loads(cli.run("state", "history", "--json").out)["versions"]
    first = history[-1]["serial"]
    cli.write(_config(env, uid, "two"))  # `one` is destroyed, `two` made
    assert cli.run("apply", "--auto-approve").code == 0

    listed = cli.run("state", "history")
    assert listed.code == 0, listed.err
    lines = [line for line in listed.out.splitlines() if line.strip()[:1].isdigit()]
    assert len(lines) >= 2 and lines[-1].endswith("apply  (current)")
    assert all(" apply" in line or " init" in line for line in lines)
    current = json.loads(cli.run("state", "history", "--json").out)["versions"][-1]["serial"]

    declined = cli.run("state", "rollback", str(first), input="no\n")
    assert declined.code == 0, declined.err
    out = declined.out
    assert f"aws_ecr_repository.one [id=hist-{uid}-one]: recorded again; the object is gone: "\
        "the next plan creates it again" in out
    assert f"aws_ecr_repository.two [id=hist-{uid}-two]: no longer managed" in out
    assert "The config still declares aws_ecr_repository.two" in out
    assert "Rollback cancelled" in out
    assert json.loads(cli.run("state", "history", "--json").out)["versions"][-1]["serial"] \
        == current

    done = cli.run("state", "rollback", str(first), "--auto-approve")
    assert done.code == 0, done.err
    versions = json.loads(cli.run("state", "history", "--json").out)["versions"]
    assert versions[-1]["serial"] == current + 1
    assert versions[-1]["operation"] == f"rollback to {first}"
    assert versions[-2]["serial"] == current  # the replaced version stays in the history
    state = json.loads(cli.run("show", "--json").out)
    names = json.dumps(state)
    assert f"hist-{uid}-one" in names and f"hist-{uid}-two" not in names
    # `two` still exists in the cloud, unmanaged: rolling back changed nothing there.
    ecr = boto3.client("ecr", region_name="us-east-1", endpoint_url=sandbox.url)
    assert ecr.describe_repositories(repositoryNames=[f"hist-{uid}-two"])["repositories"]


def test_lock_timeout_waits_for_the_holder_instead_of_failing(cli: Cli, uid: str) -> None:
    env = f"e{uid}"
    cli.write(f"project: hist\nenvironments: {{{env}: {{}}}}\nresources:\n"
              "  mlform_data.d: {input: 1}\n")
    assert cli.run("apply", "--auto-approve").code == 0
    cli.write(f"project: hist\nenvironments: {{{env}: {{}}}}\nresources:\n"
              "  mlform_data.d: {input: 2}\n")
    lock = cli.cwd / ".mlform" / "state" / env / "lock"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import fcntl, os, sys, time\n"
         f"fd = os.open({str(lock)!r}, os.O_RDWR)\n"
         "fcntl.flock(fd, fcntl.LOCK_EX)\nprint('held', flush=True)\ntime.sleep(3)\n"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        failed = cli.run("apply", "--auto-approve")
        assert failed.code == 1 and "is locked" in failed.err and "--lock-timeout" in failed.err
        started = time.monotonic()
        waited = cli.run("apply", "--auto-approve", "--lock-timeout", "1m")
        assert waited.code == 0, waited.err
        assert time.monotonic() - started > 0.5  # it did wait for the holder
        bad = cli.run("apply", "--auto-approve", "--lock-timeout", "soon")
        assert bad.code != 0 and "expected a duration such as 30s" in bad.err
        assert "Traceback" not in bad.err
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout:
            holder.stdout.close()
    local = cli.run("force-unlock", "0000")
    assert local.code == 1 and "flock" in local.err and "nothing to force" in local.err


def test_migrate_to_another_folder_keeps_history_and_the_new_backend_takes_over(
        cli: Cli, uid: str) -> None:
    env = f"e{uid}"
    for value in (1, 2, 3):
        cli.write(f"project: hist\nenvironments: {{{env}: {{}}}}\nresources:\n"
                  f"  mlform_data.d: {{input: {value}}}\n")
        assert cli.run("apply", "--auto-approve").code == 0
    before = json.loads(cli.run("state", "history", "--json").out)["versions"]
    moved = cli.run("state", "migrate", "--to", "local:moved")
    assert moved.code == 0, moved.err
    assert f"Copied {len(before)} version(s)" in moved.out
    assert "state: {backend: local, path: moved}" in moved.out
    cli.write(f"project: hist\nenvironments: {{{env}: {{state: {{path: moved}}}}}}\n"
              "resources:\n  mlform_data.d: {input: 3}\n")
    after = json.loads(cli.run("state", "history", "--json").out)
    assert after["versions"] == before, (after, before)
    assert after["location"].startswith("moved/state/")
    plan = cli.run("plan", "--detailed-exitcode")
    assert plan.code == 0, plan.out + plan.err
    same = cli.run("state", "migrate", "--to", "local:moved")
    assert same.code == 1 and "is already at moved/state/" in same.err, same.err
    cli.write(f"project: hist\nenvironments: {{{env}: {{}}}}\nresources:\n"
              "  mlform_data.d: {input: 3}\n")
    again = cli.run("state", "migrate", "--to", "local:moved")
    assert again.code == 1 and "already holds a state" in again.err, again.err
    assert os.path.exists(cli.cwd / ".mlform" / "state" / env / "state.json")  # source kept
