"""The local backend: atomic writes, history, journal replay, locking."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlform.errors import StateError, StateLockedError
from mlform.state.journal import read_journal
from mlform.state.local import LocalBackend
from mlform.state.models import ResourceState, State


def backend(tmp_path: Path) -> LocalBackend:
    return LocalBackend(tmp_path / "state" / "dev", "proj", "dev")


def put(address: str, id_: str) -> dict[str, object]:
    return {"t": "put", "a": address,
            "r": ResourceState("mlform_data", id_, {"id": id_}).to_json()}


def test_commit_keeps_every_previous_version(tmp_path: Path) -> None:
    b = backend(tmp_path)
    state = b.read()
    for i in range(3):
        state.outputs = {"n": {"value": i}}
        b.commit(state)
    assert b.read().serial == 3
    assert [v.serial for v in b.versions()] == [1, 2, 3]  # the current one included
    assert [b.version(n).outputs["n"]["value"] for n in (1, 2, 3)] == [0, 1, 2]
    assert all(v.operation == "write" and v.who and v.written_at for v in b.versions())
    assert not list(b.dir.glob("*.tmp"))


def test_journal_replays_onto_the_state_it_was_written_for(tmp_path: Path) -> None:
    b = backend(tmp_path)
    state = b.read()
    journal = b.begin(state, "apply")
    journal.record(put("mlform_data.a", "1"))
    journal.record({"t": "intent", "a": "mlform_data.b", "op": "create",
                    "type": "mlform_data", "args": {}})
    journal.close()
    with open(b.journal_file, "a") as fh:  # a kill in the middle of a write
        fh.write('{"t":"put","a":"mlform_data.c","r":{"ty')
    loaded = b.load()
    assert list(loaded.resources) == ["mlform_data.a"]
    assert list(loaded.pending) == ["mlform_data.b"]
    assert loaded.serial == 1 and not b.journal_file.exists()
    assert b.read().resources.keys() == loaded.resources.keys()  # compacted into state.json


def test_a_journal_already_compacted_is_ignored(tmp_path: Path) -> None:
    b = backend(tmp_path)
    state = b.read()
    journal = b.begin(state, "apply")
    journal.record(put("mlform_data.a", "1"))
    b.commit(state, journal)
    # Simulate a crash after state.json was written but before the journal was removed.
    b.journal_file.write_text(json.dumps({"t": "begin", "lineage": state.lineage,
                                          "serial": 0}) + "\n" + json.dumps(
        put("mlform_data.zombie", "z")) + "\n")
    loaded = b.load()
    assert list(loaded.resources) == ["mlform_data.a"]
    assert not b.journal_file.exists()


def test_damaged_journal_line_in_the_middle_is_an_error(tmp_path: Path) -> None:
    b = backend(tmp_path)
    b.dir.mkdir(parents=True)
    b.journal_file.write_text('{"t":"begin"}\nnot json\n{"t":"del","a":"x"}\n')
    with pytest.raises(StateError, match="journal line 2 is damaged"):
        read_journal(b.journal_file)


def test_state_of_another_project_or_newer_format_is_refused(tmp_path: Path) -> None:
    b = backend(tmp_path)
    b.commit(State(project="other", environment="dev"))
    with pytest.raises(StateError, match="belongs to project 'other'"):
        b.read()
    b.state_file.write_text(json.dumps({"version": 99}))
    with pytest.raises(StateError, match="newer than this mlform"):
        b.read()
    b.state_file.write_text("{not json")
    with pytest.raises(StateError, match="is damaged: not valid JSON"):
        b.read()


def test_second_lock_fails_at_once_naming_the_holder(tmp_path: Path) -> None:
    b = backend(tmp_path)
    with b.lock("apply"):
        start = time.monotonic()
        with pytest.raises(StateLockedError) as err, backend(tmp_path).lock("plan"):
            pass
        assert time.monotonic() - start < 1
    message = str(err.value)
    assert "the state of environment 'dev' is locked: apply by " in message
    assert f"(pid {os.getpid()} on " in message and " since 20" in message
    with b.lock("apply"):  # released properly
        pass


def test_lock_of_a_killed_process_is_released(tmp_path: Path) -> None:
    b = backend(tmp_path)
    code = ("import sys, time\nfrom pathlib import Path\n"
            "from mlform.state.local import LocalBackend\n"
            f"b = LocalBackend(Path({str(b.dir)!r}), 'proj', 'dev')\n"
            "with b.lock('apply'):\n    print('locked', flush=True)\n    time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        with pytest.raises(StateLockedError, match=f"pid {proc.pid}"), b.lock("apply"):
            pass
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        with b.lock("apply"):  # no stale lock to break by hand
            pass
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout:
            proc.stdout.close()


def test_snapshot_reads_during_an_apply_without_the_lock(tmp_path: Path) -> None:
    b = backend(tmp_path)
    with b.lock("apply"):
        state = b.load()
        journal = b.begin(state, "apply")
        journal.record(put("mlform_data.a", "1"))
        seen = backend(tmp_path).snapshot()  # another process, while the apply holds the lock
        assert list(seen.resources) == ["mlform_data.a"]
        assert b.journal_file.exists()  # nothing compacted behind the apply's back
        b.commit(state, journal)
    assert list(backend(tmp_path).snapshot().resources) == ["mlform_data.a"]


def test_a_damaged_state_is_named_and_the_last_good_version_offered(tmp_path: Path) -> None:
    b = backend(tmp_path)
    state = b.read()
    for i in range(3):
        state.outputs = {"n": {"value": i}}
        b.commit(state, operation="apply")
    doc = json.loads(b.state_file.read_text())
    doc["outputs"]["n"]["value"] = 99  # changed behind mlform's back: valid JSON, wrong sum
    b.state_file.write_text(json.dumps(doc))
    with pytest.raises(StateError, match=r"checksum does not match.*last good version is "
                                         r"serial 2 \(apply by .*mlform state rollback 2"):
        b.read()
    b.state_file.write_text(b.state_file.read_text()[:40])  # truncated
    with pytest.raises(StateError, match=r"damaged: not valid JSON.*serial 2"):
        b.read()


def test_a_journal_record_altered_in_place_is_caught_by_its_checksum(tmp_path: Path) -> None:
    b = backend(tmp_path)
    state = b.read()
    journal = b.begin(state, "apply")
    journal.record(put("mlform_data.a", "1"))
    journal.record(put("mlform_data.b", "2"))
    journal.close()
    text = b.journal_file.read_text()
    assert text.count('"c":"') == 3  # begin and both records
    b.journal_file.write_text(text.replace('"id":"1"', '"id":"7"'))  # still valid JSON
    with pytest.raises(StateError, match=r"journal line 2 is damaged .*checksum"):
        b.load()
