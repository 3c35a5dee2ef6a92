"""What every state backend promises, tested on each (local, S3 on the sandbox, PostgreSQL):
one writer at a time, no lost update, history, a killed writer's state still loadable and its
lock released or breakable."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from mlform.errors import StateLockedError
from mlform.state.store import WriteConflict
from tests.state.backends import open_spec, write_one

ROOT = Path(__file__).resolve().parents[2]


def _writer(spec: dict[str, Any], name: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "tests.state.backends", json.dumps(spec),
                             name], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def test_a_second_writer_fails_at_once_naming_the_holder(backend_spec: dict[str, Any]) -> None:
    first = open_spec(backend_spec)
    with first.lock("apply"):
        start = time.monotonic()
        with pytest.raises(StateLockedError) as err, open_spec(backend_spec).lock("plan -out"):
            pass
        assert time.monotonic() - start < 2
    message = str(err.value)
    assert f"environment '{backend_spec['environment']}' is locked: apply by " in message
    assert f"(pid {os.getpid()} on " in message and " ago), lock id " in message
    with first.lock("apply"):  # released
        pass


def test_a_write_on_a_version_someone_replaced_is_refused(backend_spec: dict[str, Any]) -> None:
    a, b = open_spec(backend_spec), open_spec(backend_spec)
    state_a, state_b = a.read(), b.read()
    a.commit(state_a, operation="apply")
    state_b.outputs = {"lost": {"value": 1}}
    with pytest.raises(WriteConflict, match="nothing was overwritten"):
        b.commit(state_b, operation="apply")
    assert a.read().outputs == {} and a.read().serial == 1


@pytest.mark.parametrize("writers", [2, 8])
def test_concurrent_writers_wait_their_turn_and_no_update_is_lost(
        backend_spec: dict[str, Any], writers: int) -> None:
    spec = {**backend_spec, "timeout": 120.0, "hold": 0.2}
    procs = [_writer(spec, f"w{i}") for i in range(writers)]
    serials = []
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
        serials.append(int(out.split()[-1]))
    backend = open_spec(backend_spec)
    state = backend.read()
    assert sorted(state.resources) == sorted(f"mlform_data.w{i}" for i in range(writers))
    # Each writer began a journal (serial n) and committed n+1; every version is kept.
    assert sorted(serials) == sorted(set(serials))
    versions = backend.versions()
    assert [v.serial for v in versions] == list(range(versions[0].serial, state.serial + 1))
    assert state.serial >= writers
    counts = [len(backend.version(v.serial).resources) for v in versions]
    assert counts == sorted(counts) and counts[-1] == writers
    if "encryption" in backend_spec["config"]:  # what the store holds says nothing readable
        assert not any(b"mlform_data" in raw for _, raw in backend.raw_versions())


def test_a_writer_killed_mid_apply_leaves_a_loadable_state_and_a_free_lock(
        backend_spec: dict[str, Any]) -> None:
    write_one(backend_spec, "before")
    proc = _writer({**backend_spec, "hold": 60.0}, "killed")
    backend = open_spec(backend_spec)
    deadline = time.monotonic() + 60
    while backend.holder() is None or backend.holder().pid != proc.pid:  # type: ignore[union-attr]
        assert time.monotonic() < deadline and proc.poll() is None, proc.stderr
        time.sleep(0.05)
    time.sleep(0.3)  # its journal record is written
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    if proc.stdout:
        proc.stdout.close()
    if proc.stderr:
        proc.stderr.close()
    # The lock is free at once (local: the kernel's flock), or taken over when its TTL runs
    # out, or broken by hand with the id the message gives (remote stores).
    holder = backend.holder()
    if holder is not None and backend.store.needs_heartbeat:
        backend.force_unlock(holder.id)
    with backend.lock("apply", timeout=5):
        state = backend.load()
    # The killed writer's journaled change is recorded, on top of the state before it.
    assert set(state.resources) == {"mlform_data.before", "mlform_data.killed"}


def test_writers_killed_in_the_middle_of_state_writes_leave_every_version_loadable(
        backend_spec: dict[str, Any]) -> None:
    backend = open_spec(backend_spec)
    rng = random.Random(20261207)
    for _ in range(4):
        proc = subprocess.Popen([sys.executable, "-m", "tests.state.backends",
                                 json.dumps({**backend_spec, "timeout": 30.0}), "--churn",
                                 "2000"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
        time.sleep(rng.uniform(0.05, 0.6))
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        proc.stdout.close()
        holder = backend.holder()
        if holder is not None and backend.store.needs_heartbeat:
            backend.force_unlock(holder.id)  # the next writer would take it over after the TTL
        state = backend.read()  # the last complete write, never a torn one
        assert len(state.resources) in (0, 2000)
    versions = backend.versions()
    assert len(versions) > 4
    for meta in versions:  # every version in the history is whole, checksum and all
        assert len(backend.version(meta.serial).resources) in (0, 2000)


def test_state_rm_and_mv_on_every_backend(backend_spec: dict[str, Any]) -> None:
    from mlform.engine import repair

    write_one(backend_spec, "a")
    write_one(backend_spec, "b")
    backend = open_spec(backend_spec)
    assert repair.move(backend, "mlform_data.a", "mlform_data.c") == [
        ("mlform_data.a", "mlform_data.c")]
    assert set(repair.remove(backend, ["mlform_data.b"])) == {"mlform_data.b"}
    assert set(open_spec(backend_spec).read().resources) == {"mlform_data.c"}
    assert [v.operation for v in backend.versions()][-2:] == ["state mv", "state rm"]
