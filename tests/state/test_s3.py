"""The S3 backend on the sandbox, beyond the contract every backend keeps: the bucket it
refuses, the TTL takeover of a silent holder (and never of a live one), force-unlock of the
wrong lock, history from the bucket's versions, regional keys, and a whole CLI apply."""

from __future__ import annotations

import json
import signal
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from mlform.errors import StateError, StateLockedError
from mlform.state.models import State
from tests.cli.conftest import Cli
from tests.state.backends import open_spec
from tests.state.conftest import make_state_bucket
from tests.state.test_contract import _writer


def _spec(bucket: str, tmp_path: Path, **config: Any) -> dict[str, Any]:
    env = f"e{uuid.uuid4().hex[:8]}"
    return {"config": {"backend": "s3", "bucket": bucket, "key": f"{env}/state.json",
                       "lock_ttl": 2, **config},
            "dir": str(tmp_path / env), "environment": env}


@pytest.fixture
def bucket(boto: Any) -> str:
    return make_state_bucket(boto)


def _wait_for_holder(backend: Any, pid: int, proc: Any) -> Any:
    deadline = time.monotonic() + 60
    while (holder := backend.holder()) is None or holder.pid != pid:
        assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read()
        time.sleep(0.05)
    return holder


def _reap(proc: Any) -> None:
    proc.wait(30)
    for stream in (proc.stdout, proc.stderr):
        if stream:
            stream.close()


def test_a_bucket_without_versioning_or_none_at_all_is_refused_saying_what_to_do(
        boto: Any, tmp_path: Path) -> None:
    plain = make_state_bucket(boto, versioned=False)
    with pytest.raises(StateError, match=f"versioning is off on bucket {plain}, and state "
                       "history depends on it; enable it .*put-bucket-versioning"):
        open_spec(_spec(plain, tmp_path)).read()
    with pytest.raises(StateError, match=r"the state bucket nowhere-[0-9a-f]+ does not exist in "
                       r"region us-east-1: create it"):
        open_spec(_spec(f"nowhere-{uuid.uuid4().hex[:8]}", tmp_path)).read()


def test_a_killed_holder_is_taken_over_after_the_ttl_with_a_higher_fencing_token(
        bucket: str, tmp_path: Path) -> None:
    spec = _spec(bucket, tmp_path)
    proc = _writer({**spec, "hold": 60.0}, "killed")
    backend = open_spec(spec)
    stale = _wait_for_holder(backend, proc.pid, proc)
    while len(backend.store.journal_read() or []) < 2:  # begin, and its one put
        assert proc.poll() is None, proc.stderr.read()  # type: ignore[union-attr]
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    _reap(proc)
    killed_at = time.monotonic()
    with backend.lock("apply", timeout=30) as info:
        waited = time.monotonic() - killed_at
        assert info.token == stale.token + 1
        assert backend.holder() == info
        state = backend.load()  # the killed writer's journal is recorded
    assert 1.0 < waited < 15, waited
    assert "mlform_data.killed" in state.resources
    assert backend.holder() is None


def test_a_live_holder_keeps_its_lock_past_the_ttl_by_its_heartbeat(
        bucket: str, tmp_path: Path) -> None:
    spec = _spec(bucket, tmp_path)
    proc = _writer({**spec, "hold": 6.0}, "live")  # 3 times the TTL
    backend = open_spec(spec)
    holder = _wait_for_holder(backend, proc.pid, proc)
    with pytest.raises(StateLockedError, match=f"lock id {holder.id}"), \
            backend.lock("apply", timeout=4.0):
        pass
    assert backend.holder().id == holder.id  # type: ignore[union-attr]
    _reap(proc)
    assert proc.returncode == 0
    with backend.lock("apply"):
        assert "mlform_data.live" in backend.load().resources


def test_force_unlock_removes_only_the_lock_it_names(bucket: str, tmp_path: Path) -> None:
    backend = open_spec(_spec(bucket, tmp_path))
    with backend.lock("apply") as info:
        with pytest.raises(StateError, match=f"is locked by apply by .* lock id {info.id}, not "
                           "by lock id 1234; nothing was removed"):
            backend.force_unlock("1234")
        assert backend.holder() == info
        assert backend.force_unlock(info.id) == info
        assert backend.holder() is None
    with pytest.raises(StateError, match="is not locked"):
        backend.force_unlock(info.id)


def test_history_lists_each_write_with_its_serial_author_and_operation(
        bucket: str, tmp_path: Path) -> None:
    backend = open_spec(_spec(bucket, tmp_path))
    state = backend.read()
    for op in ("apply", "import", "destroy"):
        backend.commit(state, operation=op)
    versions = backend.versions()
    assert [(v.serial, v.operation) for v in versions] == [(1, "apply"), (2, "import"),
                                                           (3, "destroy")]
    assert all(v.who and v.written_at and v.ref for v in versions)
    assert backend.version(2).serial == 2
    with pytest.raises(StateError, match="has no version 7"):
        backend.version(7)


def test_a_region_of_an_environment_of_several_gets_its_own_key(
        bucket: str, tmp_path: Path, boto: Any) -> None:
    spec = {**_spec(bucket, tmp_path), "region": "eu-west-1"}
    backend = open_spec(spec)
    assert backend.store.location == f"s3://{bucket}/{spec['environment']}/eu-west-1/state.json"
    backend.commit(State(project="contract", environment=spec["environment"]))
    listed = boto("s3").list_objects_v2(Bucket=bucket)["Contents"]
    assert [o["Key"] for o in listed] == [f"{spec['environment']}/eu-west-1/state.json"]


def test_the_sandbox_lets_one_of_many_simultaneous_conditional_puts_win(boto: Any,
                                                                        bucket: str) -> None:
    # What the S3 lock stands on. moto checks a condition and writes in two steps; the
    # sandbox's patch makes them one. The race is narrow: this passes without the patch too
    # (tried), so it guards the outcome, not the patch.
    s3, wins, refused = boto("s3"), [], []

    def put(i: int) -> None:
        try:
            s3.put_object(Bucket=bucket, Key="lock", Body=str(i).encode(), IfNoneMatch="*")
            wins.append(i)
        except s3.exceptions.ClientError as exc:
            refused.append(exc.response["Error"]["Code"])

    threads = [threading.Thread(target=put, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1 and set(refused) == {"PreconditionFailed"}, (wins, refused)


def test_a_cli_apply_keeps_its_state_in_the_bucket(cli: Cli, sandbox: Any, boto: Any,
                                                   bucket: str, uid: str) -> None:
    cli.write(f"project: s3state\nenvironments:\n  dev: {{state: {{backend: s3, bucket: "
              f"{bucket}}}}}\nresources:\n  aws_s3_bucket.data: {{bucket: s3state-{uid}}}\n"
              "  mlform_data.d: {input: 1}\n")
    r = cli.run("apply", "--auto-approve")
    assert r.code == 0, r.err
    r = cli.run("plan", "--detailed-exitcode")
    assert r.code == 0, r.err
    assert r.out.startswith("No changes. Your infrastructure matches the configuration.\n")
    doc = json.loads(boto("s3").get_object(Bucket=bucket,
                                           Key="s3state/dev/state.json")["Body"].read())
    assert set(doc["resources"]) == {"aws_s3_bucket.data", "mlform_data.d"}
    assert not (cli.cwd / ".mlform" / "state" / "dev" / "state.json").exists()
    assert cli.run("destroy", "--auto-approve").code == 0
