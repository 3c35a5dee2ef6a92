"""Apply against real providers: parallel, failures contained, Ctrl-C, recovery."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from mlform.api import Workspace
from mlform.engine.apply import ApplyEvent
from mlform.state.local import LocalBackend


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mlform.yaml"
    path.write_text(text)
    return path


def chains(n: int, length: int = 10) -> str:
    lines = ["project: engine", "resources:"]
    for i in range(n):
        if i % length == 0:
            lines.append(f"  mlform_data.r{i}: {{input: {i}}}")
        else:
            lines.append(f"  mlform_data.r{i}: {{input: '${{mlform_data.r{i - 1}.output}}-{i}'}}")
    return "\n".join(lines) + "\n"


def test_parallel_apply_respects_dependencies(tmp_path: Path) -> None:
    ws = Workspace(write(tmp_path, chains(60)))
    events: list[ApplyEvent] = []
    lock = threading.Lock()

    def record(e: ApplyEvent) -> None:
        with lock:
            events.append(e)

    outcome = ws.apply(parallelism=8, on_event=record)
    assert outcome.result is not None and outcome.result.ok
    done_at = {e.address: i for i, e in enumerate(events) if e.kind == "done"}
    started_at = {e.address: i for i, e in enumerate(events) if e.kind == "start"}
    for i in range(60):
        if i % 10:
            assert done_at[f"mlform_data.r{i - 1}"] < started_at[f"mlform_data.r{i}"]
    state = ws.state()
    assert len(state.resources) == 60
    assert state.resources["mlform_data.r9"].attributes["output"] == "0-1-2-3-4-5-6-7-8-9"
    assert state.resources["mlform_data.r9"].dependencies == ["mlform_data.r8"]
    assert not ws.plan().has_changes


def test_a_failure_stops_only_its_dependants(tmp_path: Path, uid: str, boto: Any,
                                             sandbox: Any) -> None:
    # A repository of that name exists already and is not ours: its create fails.
    boto("ecr").create_repository(repositoryName=f"taken-{uid}")
    path = write(tmp_path, f"""project: engine
environments: {{e{uid}: {{}}}}
resources:
  aws_ecr_repository.ok: {{name: ok-{uid}}}
  aws_ecr_repository.taken: {{name: taken-{uid}}}
  mlform_data.needs_taken: {{input: "${{aws_ecr_repository.taken.arn}}"}}
  mlform_data.independent: {{input: 1}}
""")
    ws = Workspace(path)
    outcome = ws.apply()
    result = outcome.result
    assert result is not None and not result.ok
    assert list(result.failed) == ["aws_ecr_repository.taken"]
    err = result.failed["aws_ecr_repository.taken"]
    assert "RepositoryAlreadyExistsException" in err.message
    assert err.pos is not None and err.pos.line == 5
    assert result.skipped == [("mlform_data.needs_taken", "apply")]
    state = ws.state()
    assert sorted(state.resources) == ["aws_ecr_repository.ok", "mlform_data.independent"]
    assert not state.pending  # the failed create made nothing and says so


def test_interrupt_finishes_in_flight_work_and_saves(tmp_path: Path) -> None:
    ws = Workspace(write(tmp_path, chains(40, length=40)))
    cancel = threading.Event()
    seen: list[str] = []

    def stop_after_five(e: ApplyEvent) -> None:
        if e.kind == "done":
            seen.append(e.address)
            if len(seen) == 5:
                cancel.set()

    outcome = ws.apply(parallelism=1, cancel=cancel, on_event=stop_after_five)
    result = outcome.result
    assert result is not None and result.interrupted
    assert len(result.done) == 5 and len(result.skipped) == 35
    assert sorted(ws.state().resources) == sorted(seen)
    # The next apply picks up where the interrupted one stopped.
    again = ws.apply()
    assert again.result is not None and again.result.ok and len(again.result.done) == 35


def test_journal_of_a_killed_apply_is_replayed(tmp_path: Path) -> None:
    ws = Workspace(write(tmp_path, chains(3, length=3)))
    backend = ws.backend
    with backend.lock("test"):
        state = backend.load()
        journal = backend.begin(state, "apply")
        journal.record({"t": "intent", "a": "mlform_data.r0", "op": "create",
                        "type": "mlform_data", "args": {"input": 0}})
        journal.record({"t": "put", "a": "mlform_data.r0", "r": {
            "type": "mlform_data", "id": "abc",
            "attributes": {"id": "abc", "input": 0, "output": 0, "triggers_replace": None}}})
        journal.record({"t": "intent", "a": "mlform_data.r1", "op": "create",
                        "type": "mlform_data", "args": {"input": "0-1"}})
        journal.close()  # the process dies here: the journal is never compacted
    fresh = LocalBackend(backend.dir, "engine", state.environment)
    recovered = fresh.read()
    assert not recovered.resources  # state.json alone knows nothing yet
    with fresh.lock("test"):
        recovered = fresh.load()
    assert list(recovered.resources) == ["mlform_data.r0"]
    assert list(recovered.pending) == ["mlform_data.r1"]
    assert not fresh.journal_file.exists()
    plan = ws.plan()
    assert "mlform_data.r1: an interrupted create made nothing; it will be created" in plan.notes
    assert {c.address: c.action.value for c in plan.changes} == {
        "mlform_data.r0": "no-op", "mlform_data.r1": "create", "mlform_data.r2": "create"}


def test_interrupted_create_is_adopted_not_duplicated(tmp_path: Path, uid: str, boto: Any,
                                                      sandbox: Any) -> None:
    path = write(tmp_path, f"""project: engine
environments: {{e{uid}: {{}}}}
resources:
  aws_ecr_repository.r: {{name: adopt-{uid}}}
""")
    ws = Workspace(path)
    # The create call reached the cloud, then the process died before recording the result.
    boto("ecr").create_repository(repositoryName=f"adopt-{uid}", tags=[
        {"Key": "mlform:stack", "Value": f"engine/e{uid}"},
        {"Key": "mlform:address", "Value": "aws_ecr_repository.r"}])
    with ws.backend.lock("test"):
        state = ws.backend.load()
        journal = ws.backend.begin(state, "apply")
        journal.record({"t": "intent", "a": "aws_ecr_repository.r", "op": "create",
                        "type": "aws_ecr_repository",
                        "args": {"name": f"adopt-{uid}", "force_delete": False, "tags": {},
                                 "image_tag_mutability": "MUTABLE"}})
        journal.close()  # and the process dies
    plan = ws.plan()
    assert any("found the object an interrupted create made" in n for n in plan.notes)
    assert [c.action.value for c in plan.changes] == ["no-op"]
    outcome = ws.apply()
    assert outcome.result is not None and outcome.result.ok
    state = ws.state()
    assert state.resources["aws_ecr_repository.r"].id == f"adopt-{uid}"
    assert not state.pending


def test_create_before_destroy_creates_first(tmp_path: Path) -> None:
    text = """project: engine
resources:
  mlform_data.a:
    triggers_replace: {v}
    lifecycle: {{create_before_destroy: true}}
"""
    ws = Workspace(write(tmp_path, text.format(v="one")))
    ws.apply()
    old_id = ws.state().resources["mlform_data.a"].id
    ws = Workspace(write(tmp_path, text.format(v="two")))
    events: list[tuple[str, str]] = []
    outcome = ws.apply(on_event=lambda e: events.append((e.kind, e.verb)))
    assert outcome.result is not None and outcome.result.ok
    assert events == [("start", "create"), ("done", "create"),
                      ("start", "delete"), ("done", "delete")]
    state = ws.state()
    assert state.resources["mlform_data.a"].id != old_id
    assert not state.deposed


def test_failed_create_before_destroy_keeps_the_old_object(tmp_path: Path, uid: str,
                                                           sandbox: Any, boto: Any) -> None:
    def config(encryption: str) -> str:
        return (f"project: engine\nenvironments: {{e{uid}: {{}}}}\nresources:\n"
                f"  aws_ecr_repository.r:\n    name: cbd-{uid}\n"
                f"    encryption_configuration: {{encryption_type: {encryption}}}\n"
                "    lifecycle: {create_before_destroy: true}\n")

    ws = Workspace(write(tmp_path, config("AES256")))
    assert ws.apply().result.ok  # type: ignore[union-attr]
    # Same name: the "new" repository would be the old one. mlform must not delete it.
    ws = Workspace(write(tmp_path, config("KMS")))
    outcome = ws.apply()
    result = outcome.result
    assert result is not None and list(result.failed) == ["aws_ecr_repository.r"]
    assert "create-before-destroy: the replacement has the same id" in (
        result.failed["aws_ecr_repository.r"].message)
    state = ws.state()
    assert state.resources["aws_ecr_repository.r"].id == f"cbd-{uid}"
    assert not state.deposed and not state.pending
    repos = boto("ecr").describe_repositories(repositoryNames=[f"cbd-{uid}"])["repositories"]
    assert len(repos) == 1
    assert [c.action.value for c in ws.plan().changes] == ["replace"]


def _cancel_once_created(ws: Workspace, cloud: Any) -> Any:
    """Apply in a thread and press Ctrl-C (set `cancel`) once the create call has made its
    object and the engine is waiting for it to become ready."""
    cancel = threading.Event()
    box: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: box.update(out=ws.apply(cancel=cancel)))
    worker.start()
    assert cloud.created.wait(10)
    cancel.set()
    worker.join(10)
    return box["out"]


def test_ctrl_c_while_waiting_after_create_keeps_the_create_pending(tmp_path: Path) -> None:
    from tests.engine.fake_cloud import FakeCloud, fake_registry

    cloud = FakeCloud()
    path = write(tmp_path, "project: engine\nresources:\n  fake_thing.a: {size: 2}\n")
    ws = Workspace(path, registry=fake_registry(cloud))
    outcome = _cancel_once_created(ws, cloud)
    assert outcome.result is not None and outcome.result.interrupted
    assert len(cloud.objects) == 1  # the create call made it; its id came from the cloud
    state = ws.state()
    assert list(state.pending) == ["fake_thing.a"]  # not abandoned: the outcome is known later
    cloud.ready.set()
    again = ws.apply()
    assert again.result is not None and again.result.ok
    assert any("found the object an interrupted create made" in n for n in again.plan.notes)
    assert len(cloud.objects) == 1  # adopted, not made a second time
    assert ws.state().resources["fake_thing.a"].id == next(iter(cloud.objects))
    assert not ws.plan().has_changes


def test_ctrl_c_during_a_create_before_destroy_wait_loses_neither_object(
        tmp_path: Path) -> None:
    from tests.engine.fake_cloud import FakeCloud, fake_registry

    cloud = FakeCloud()
    cloud.ready.set()
    text = ("project: engine\nresources:\n  fake_thing.a:\n    size: {size}\n"
            "    lifecycle: {{create_before_destroy: true}}\n")
    ws = Workspace(write(tmp_path, text.format(size=1)), registry=fake_registry(cloud))
    assert ws.apply().result.ok  # type: ignore[union-attr]
    old = ws.state().resources["fake_thing.a"].id
    cloud.ready.clear()
    cloud.created.clear()
    ws = Workspace(write(tmp_path, text.format(size=2)), registry=fake_registry(cloud))
    outcome = _cancel_once_created(ws, cloud)
    assert outcome.result is not None and outcome.result.interrupted
    assert len(cloud.objects) == 2
    state = ws.state()
    assert [r.id for r in state.deposed["fake_thing.a"]] == [old]
    assert list(state.pending) == ["fake_thing.a"]
    cloud.ready.set()
    again = ws.apply()
    assert again.result is not None and again.result.ok
    (new,) = cloud.objects
    assert new != old and ws.state().resources["fake_thing.a"].id == new
    assert not ws.state().deposed and not ws.plan().has_changes


def test_an_interrupted_create_before_destroy_that_made_nothing_keeps_the_old_object(
        tmp_path: Path) -> None:
    ws = Workspace(write(tmp_path, "project: engine\nresources:\n  mlform_data.a: {input: 1}\n"))
    assert ws.apply().result.ok  # type: ignore[union-attr]
    old = ws.state().resources["mlform_data.a"]
    with ws.backend.lock("test"):
        state = ws.backend.load()
        journal = ws.backend.begin(state, "apply")
        journal.record({"t": "depose", "a": "mlform_data.a"})
        journal.record({"t": "intent", "a": "mlform_data.a", "op": "create",
                        "type": "mlform_data", "args": {"input": 2}})
        journal.close()  # killed before the create call returned: it made nothing
    plan = ws.plan()
    # The old object is current again: nothing deletes it before a replacement exists.
    assert [c.action.value for c in plan.changes] == ["no-op"]
    ws.apply()
    state = ws.state()
    assert state.resources["mlform_data.a"].id == old.id
    assert not state.deposed and not state.pending


def test_an_update_keeps_the_live_value_of_an_ignored_argument(tmp_path: Path) -> None:
    """An autoscaler moved a setting the config ignores; another setting then changes: the
    update keeps the live value, as planned, instead of refusing at apply time."""
    from tests.engine.fake_cloud import FakeCloud, fake_registry

    cloud = FakeCloud()
    cloud.ready.set()
    config = ("project: engine\nresources:\n  fake_thing.a:\n    label: two\n    note: {note}\n"
              "    lifecycle: {{ignore_changes: [label]}}\n")
    path = write(tmp_path, config.format(note="v1"))
    ws = Workspace(path, registry=fake_registry(cloud))
    assert ws.apply().result.ok
    (obj,) = cloud.objects.values()
    obj["label"] = "five"  # set outside mlform
    path.write_text(config.format(note="v2"))
    ws = Workspace(path, registry=fake_registry(cloud))
    plan = ws.plan()
    (change,) = plan.changes
    assert change.action.value == "update" and change.after["label"] == "five"
    outcome = ws.apply()
    assert outcome.result is not None and outcome.result.ok, outcome.result
    assert (obj["label"], obj["note"]) == ("five", "v2")
    assert not ws.plan().has_changes
