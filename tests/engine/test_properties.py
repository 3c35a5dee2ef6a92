"""Properties of the engine over random graphs, random edits and random interruptions.

Random dependency graphs of `fake_thing` objects (a cloud that assigns ids and is slow to make
objects ready, tests/engine/fake_cloud.py) refer to each other through `label`, which changes
in place, and through `id`, which changes on every replacement, so replacements cascade; some
are create-before-destroy. They are applied, edited and applied again, each apply possibly
interrupted: by Ctrl-C after a random number of progress events, or by a kill right after a
random cloud call, which leaves the state directory exactly as SIGKILL would (the journal with
whatever was written by then, sometimes with a torn last line) and the cloud holding exactly
what was done by then. Whatever happened:
  - the state always loads;
  - after one uninterrupted apply, the next plan is empty, the state holds exactly the config,
    and the cloud holds exactly what the state records: no orphan, no duplicate.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlform.api import Workspace
from mlform.engine.apply import ApplyEvent
from mlform.providers.base import TAG_ADDRESS
from mlform.state.local import LocalBackend
from tests.engine.fake_cloud import FakeCloud, fake_registry


@dataclass(frozen=True)
class Node:
    input: int
    trigger: int
    cbd: bool
    refs: tuple[tuple[str, str], ...] = ()  # (node name, "id" | "output")


Graph = dict[str, Node]


@st.composite
def graphs(draw: Any, names: list[str]) -> Graph:
    graph: Graph = {}
    for name in names:
        refs = draw(st.lists(st.tuples(st.sampled_from(list(graph)) if graph else st.nothing(),
                                       st.sampled_from(["id", "output"])),
                             max_size=2 if graph else 0, unique_by=lambda r: r[0]))
        graph[name] = Node(draw(st.integers(0, 3)), draw(st.integers(0, 2)), draw(st.booleans()),
                           tuple(refs))
    return graph


Edit = tuple[str, int, int]
edits = st.lists(st.tuples(st.sampled_from(["input", "trigger", "cbd", "remove", "add"]),
                           st.integers(0, 20), st.integers(0, 3)), min_size=1, max_size=4)
interruptions = st.one_of(st.just(("none", 0)),
                          st.tuples(st.just("cancel"), st.integers(0, 12)),
                          st.tuples(st.just("kill"), st.integers(1, 12)),
                          st.tuples(st.just("kill-torn"), st.integers(1, 12)))


def edited(graph: Graph, changes: list[Edit]) -> Graph:
    out = dict(graph)
    for kind, pick, value in changes:
        names = list(out)
        if kind == "add" or not names:
            name = f"n{100 + len(out) + pick}"
            refs = ((names[pick % len(names)], "id"),) if names and value % 2 else ()
            out.setdefault(name, Node(value, 0, bool(value % 2), refs))
            continue
        name = names[pick % len(names)]
        node = out[name]
        if kind == "input":
            out[name] = replace(node, input=value)
        elif kind == "trigger":
            out[name] = replace(node, trigger=value)
        elif kind == "cbd":
            out[name] = replace(node, cbd=not node.cbd)
        else:
            del out[name]
            out = {n: replace(v, refs=tuple(r for r in v.refs if r[0] != name))
                   for n, v in out.items()}
    return out


def render(graph: Graph) -> str:
    lines = ["project: props", "resources:" if graph else "resources: {}"]
    for name, node in graph.items():
        labels = "".join(f"${{fake_thing.{r}.label}}-" for r, kind in node.refs
                         if kind == "output")
        ids = "".join(f"${{fake_thing.{r}.id}}-" for r, kind in node.refs if kind == "id")
        lines += [f"  fake_thing.{name}:",
                  f"    label: \"{labels}{node.input}\"",
                  f"    key: \"{ids}{node.trigger}\"",
                  f"    lifecycle: {{create_before_destroy: {str(node.cbd).lower()}}}"]
    lines += ["outputs:" if graph else "outputs: {}"]
    lines += [f"  {name}: ${{fake_thing.{name}.label}}" for name in graph]
    return "\n".join(lines) + "\n"


def killed_apply(ws: Workspace, cloud: FakeCloud, calls: int, torn: bool) -> None:
    """`mlform apply`, killed right after its `calls`-th cloud call: the state directory is left
    as it was at that moment, and the cloud keeps what was done by then."""
    cloud.freeze_after(calls)
    worker = threading.Thread(target=lambda: ws.apply(parallelism=3))
    worker.start()
    while worker.is_alive() and not cloud.frozen.wait(0.01):
        pass
    saved = ws.backend.dir.parent / "at-kill"
    if cloud.frozen.is_set():  # else the apply made fewer calls and finished normally
        _snapshot(ws.backend.dir, saved)
        if torn and (saved / "journal.jsonl").exists():
            with open(saved / "journal.jsonl", "a", encoding="utf-8") as fh:
                fh.write('{"t":"put","a":"fake_thing.n0","r":{"ty')  # killed inside write()
    cloud.kill()
    worker.join()
    cloud.revive()
    if saved.exists():
        shutil.rmtree(ws.backend.dir)
        saved.rename(ws.backend.dir)


def _snapshot(source: Path, target: Path) -> None:
    """Copy the state directory as a kill would leave it. The engine, which needs no cloud
    call to record what it has done, may be saving the state (and retiring the journal)
    meanwhile: a file that vanished mid-copy means a later moment, which is as good a moment
    to be killed at, so copy again."""
    for _ in range(50):
        try:
            shutil.copytree(source, target)
            return
        except (shutil.Error, FileNotFoundError):
            shutil.rmtree(target, ignore_errors=True)
    raise AssertionError(f"could not copy {source} while it kept changing")


def interrupted_apply(ws: Workspace, cloud: FakeCloud, how: tuple[str, int]) -> None:
    kind, arg = how
    if kind.startswith("kill"):
        killed_apply(ws, cloud, arg, torn=kind == "kill-torn")
        return
    cancel = threading.Event()
    seen = [0]

    def count(event: ApplyEvent) -> None:
        seen[0] += 1
        if kind == "cancel" and seen[0] > arg:
            cancel.set()

    ws.apply(cancel=cancel, on_event=count, parallelism=3)


def assert_loads(ws: Workspace) -> None:
    ws.state()
    LocalBackend(ws.backend.dir, ws.context.project, ws.context.environment).snapshot()


@settings(max_examples=80, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data(), first=interruptions, second=interruptions, changes=edits,
       polls=st.integers(0, 2))
def test_any_interrupted_apply_converges_with_nothing_lost(
        data: Any, first: tuple[str, int], second: tuple[str, int], changes: list[Edit],
        polls: int) -> None:
    names = [f"n{i}" for i in range(data.draw(st.integers(1, 7), label="size"))]
    graph = data.draw(graphs(names), label="graph")
    after = edited(graph, changes)
    cloud = FakeCloud(polls=polls)
    registry = fake_registry(cloud)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mlform.yaml"
        path.write_text(render(graph))
        interrupted_apply(Workspace(path, registry=registry), cloud, first)
        assert_loads(Workspace(path, registry=registry))
        path.write_text(render(after))
        ws = Workspace(path, registry=registry)
        interrupted_apply(ws, cloud, second)
        assert_loads(ws)
        outcome = ws.apply()
        assert outcome.result is None or outcome.result.ok, outcome.result
        plan = ws.plan()
        assert not plan.has_changes, [(c.key, c.action.value) for c in plan.changes
                                      if c.action.value != "no-op"]
        state = ws.state()
        assert sorted(state.resources) == sorted(f"fake_thing.{n}" for n in after)
        assert not state.pending and not state.deposed
        live = {o["id"]: o["tags"][TAG_ADDRESS] for o in cloud.objects.values()}
        recorded = {r.id: a for a, r in state.resources.items()}
        assert live == recorded  # no orphan, no duplicate, nothing recorded that is not there
        assert {n: o["value"] for n, o in state.outputs.items()} == {
            n: state.resources[f"fake_thing.{n}"].attributes["label"] for n in after}
