"""`state migrate` between every pair of backends keeps every version, byte for byte, with its
serial, time, author and operation."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from mlform.errors import StateError
from mlform.history import migrate
from tests.state.backends import open_spec, write_one
from tests.state.conftest import BACKEND_KINDS, make_spec


@pytest.mark.parametrize(("source_kind", "target_kind"),
                         list(itertools.product(BACKEND_KINDS, repeat=2)))
def test_migration_keeps_the_whole_history(request: pytest.FixtureRequest, tmp_path: Path,
                                           source_kind: str, target_kind: str) -> None:
    source_spec = make_spec(request, source_kind, tmp_path)
    for name in ("a", "b", "c"):
        write_one(source_spec, name)
    source = open_spec(source_spec)
    # A journal left by a killed apply is recorded before anything moves.
    state = source.load()
    journal = source.begin(state, "apply")
    journal.record({"t": "put", "a": "mlform_data.crashed",
                    "r": {"type": "mlform_data", "id": "x", "attributes": {}}})
    journal.close()
    target = open_spec(make_spec(request, target_kind, tmp_path,
                                 env=source_spec["environment"]))
    with source.lock("state migrate"), target.lock("state migrate"):
        copied = migrate(source, target)
    before = [(v.serial, v.written_at, v.who, v.operation) for v in source.versions()]
    after = [(v.serial, v.written_at, v.who, v.operation) for v in target.versions()]
    assert copied == len(before) and after == before
    assert [raw for _, raw in target.raw_versions()] == [raw for _, raw in source.raw_versions()]
    moved = target.read()
    assert set(moved.resources) == {"mlform_data.a", "mlform_data.b", "mlform_data.c",
                                    "mlform_data.crashed"}
    assert (moved.lineage, moved.serial) == (source.read().lineage, source.read().serial)
    # The target takes over: the next write continues the serials.
    with target.lock("apply"):
        state = target.load()
        target.commit(state, operation="apply")
    assert target.versions()[-1].serial == moved.serial + 1
    with pytest.raises(StateError, match="already holds a state"), \
            source.lock("state migrate"), target.lock("state migrate"):
        migrate(source, target)
