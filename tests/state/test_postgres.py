"""What only the PostgreSQL backend has to get right (the shared contract is test_contract.py):
tables made by whoever comes first, even two at once; a dead holder's lock taken over after
its TTL with a newer fencing token, and its owner then unable to write; schemas that never
block each other; passwords only from PGPASSWORD, never printed; the CLI end to end."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pydantic import ValidationError

from mlform.config.models import StateConfig
from mlform.errors import StateError
from mlform.state.postgres import PostgresStore
from mlform.state.store import LockInfo, WriteConflict
from tests.cli.conftest import Cli
from tests.pgserver import PASSWORD, PostgresServer
from tests.state.backends import open_spec, write_one

ROOT = Path(__file__).resolve().parents[2]


def _spec(server: PostgresServer, tmp_path: Path, schema: str = "pgtests",
          ttl: float = 1.0, url: str | None = None) -> dict[str, Any]:
    env = f"e{uuid.uuid4().hex[:8]}"
    return {"config": {"backend": "postgres", "url": url or server.url, "schema": schema,
                       "lock_ttl": ttl},
            "dir": str(tmp_path / env), "environment": env}


def test_two_first_users_create_the_tables_at_once(postgres: PostgresServer) -> None:
    schema = f"race{uuid.uuid4().hex[:8]}"
    start = time.time() + 2.0  # every process is imported and connected by then
    code = ("import sys, time; from mlform.state.postgres import PostgresStore as P; "
            "s = P(sys.argv[1], sys.argv[2], sys.argv[3]); s._conn = s._connect(); "
            "time.sleep(max(0, float(sys.argv[4]) - time.time())); print(s.read())")
    procs = [subprocess.Popen([sys.executable, "-c", code, postgres.url, schema, f"s{i}",
                               str(start)], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(4)]
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert (proc.returncode, out) == (0, "None\n"), err
    with psycopg.connect(postgres.url) as conn:
        tables = {r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            [schema])}
    assert tables == {"states", "state_history", "journal", "locks"}


def test_a_killed_holders_lock_is_taken_over_after_its_ttl_with_a_newer_token(
        postgres: PostgresServer, tmp_path: Path) -> None:
    spec = _spec(postgres, tmp_path, ttl=1.0)
    write_one(spec, "before")
    proc = subprocess.Popen([sys.executable, "-m", "tests.state.backends",
                             json.dumps({**spec, "hold": 60.0}), "killed"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    backend = open_spec(spec)
    deadline = time.monotonic() + 60
    while (held := backend.holder()) is None or held.pid != proc.pid:
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    time.sleep(0.3)  # its journal record is written
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    last = backend.holder()  # as the killed holder left it
    assert last is not None and last.id == held.id
    start = time.monotonic()
    with backend.lock("apply", timeout=10) as mine:
        waited = time.monotonic() - start
        silent = last.silence()
        assert mine.token > held.token
        assert backend.holder().token == mine.token  # type: ignore[union-attr]
        state = backend.load()
    assert silent >= 1.0 and waited < 5, (silent, waited)  # once the TTL (1 s) ran out
    assert set(state.resources) == {"mlform_data.before", "mlform_data.killed"}
    assert backend.holder() is None


def test_a_holder_whose_lock_was_taken_over_can_neither_journal_nor_commit(
        postgres: PostgresServer, tmp_path: Path) -> None:
    spec = _spec(postgres, tmp_path, ttl=1.0)
    a, b = open_spec(spec), open_spec(spec)
    # A takes the lock through its store: no heartbeat thread, as if A were paused.
    assert a.store.try_lock(LockInfo("apply")) is None
    state = a.load()
    journal = a.begin(state, "apply")
    time.sleep(1.2)
    with b.lock("apply", timeout=10):  # taken over: nothing written by B yet
        with pytest.raises(WriteConflict, match="taken over"):
            journal.record({"t": "outputs", "outputs": {"late": {"value": 1}}})
        state.outputs = {"late": {"value": 1}}
        with pytest.raises(WriteConflict, match="taken over") as err:
            a.commit(state)
        assert "nothing was overwritten" in str(err.value)
        assert b.read().outputs == {}


def test_the_same_stack_in_two_schemas_never_blocks(postgres: PostgresServer,
                                                    tmp_path: Path) -> None:
    """hashicorp/terraform#33217: advisory locks are per database, so Terraform's pg
    backend blocks stacks in other schemas; row locks are per schema."""
    one = _spec(postgres, tmp_path, schema="team_a")
    two = {**one, "config": {**one["config"], "schema": "team_b"}}
    with open_spec(one).lock("apply"), open_spec(two).lock("apply"):
        assert open_spec(one).holder() is not None and open_spec(two).holder() is not None
    write_one(one, "x")
    assert open_spec(two).read().resources == {}


def test_the_password_comes_from_pgpassword_and_is_never_printed(
        postgres: PostgresServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGPASSFILE", "/dev/null")
    # A schema of its own: the password role made it, so it may use it.
    spec = _spec(postgres, tmp_path, schema=f"pw{uuid.uuid4().hex[:8]}",
                 url=postgres.password_url)
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    assert write_one(spec, "a") == 1
    monkeypatch.setenv("PGPASSWORD", "wrong-" + PASSWORD)
    with pytest.raises(StateError) as err:
        open_spec(spec).read()
    message = str(err.value)
    assert message.startswith("cannot reach the PostgreSQL state database at "
                              f"127.0.0.1:{postgres.port}/mlform (")
    assert "PGPASSWORD" in message and PASSWORD not in message
    # A whole URL with a password, from `url: env:NAME`: it is not printed either.
    monkeypatch.delenv("PGPASSWORD")
    monkeypatch.setenv("PGURL", postgres.password_url.replace("@", ":hunter2-secret@"))
    with pytest.raises(StateError) as err:
        open_spec({**spec, "config": {**spec["config"], "url": "env:PGURL"}}).read()
    assert "hunter2" not in str(err.value) and "password authentication" in str(err.value)


def test_a_password_in_the_configs_url_is_refused() -> None:
    with pytest.raises(ValidationError, match="PGPASSWORD"):
        StateConfig.model_validate({"backend": "postgres",
                                    "url": "postgresql://mlform:s3cret@db.internal/infra"})


def test_an_unreachable_server_is_one_clear_line() -> None:
    store = PostgresStore("postgresql://mlform@127.0.0.1:9/infra", "mlform", "p/e")
    with pytest.raises(StateError) as err:
        store.holder()
    assert str(err.value).startswith(
        "cannot reach the PostgreSQL state database at 127.0.0.1:9/infra (")
    assert store.location == "postgres://127.0.0.1:9/infra#p/e"


def test_cli_apply_then_plan_has_no_changes(cli: Cli, postgres: PostgresServer) -> None:
    schema = f"cli{uuid.uuid4().hex[:8]}"
    cli.write("project: pgcli\nenvironments:\n  dev:\n    state: {backend: postgres, "
              f"url: 'env:PGURL', schema: {schema}, lock_ttl: 5}}\nresources:\n"
              "  mlform_data.a: {input: 1}\n  mlform_data.b: {input: '${mlform_data.a.output}'}"
              "\n")
    env = {"PGURL": postgres.url}
    r = cli.run("apply", "--auto-approve", "-e", "dev", env=env)
    assert r.code == 0, r.err
    assert "Apply complete! Resources: 2 added, 0 changed, 0 destroyed." in r.out
    r = cli.run("plan", "--detailed-exitcode", "-e", "dev", env=env)
    assert (r.code, r.out) == (0, "No changes. Your infrastructure matches the configuration.\n")
    assert not (cli.cwd / ".mlform" / "state").exists()  # nothing was kept locally
    with psycopg.connect(postgres.url) as conn:
        row = conn.execute(f"SELECT serial FROM {schema}.states WHERE stack = 'pgcli/dev'"
                           ).fetchone()
    assert row is not None and row[0] >= 1
    r = cli.run("plan", "-e", "dev", env={"PGURL": "postgresql://mlform@127.0.0.1:9/x"})
    assert r.code == 1 and "cannot reach the PostgreSQL state database at 127.0.0.1:9/x" in r.err


def test_a_schema_the_user_may_not_use_is_named_with_what_to_grant(
        postgres: PostgresServer, monkeypatch: pytest.MonkeyPatch) -> None:
    schema = f"admin{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres.url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    with pytest.raises(StateError) as err:
        PostgresStore(postgres.password_url, schema, "p/e").read()
    assert str(err.value) == (
        f"the PostgreSQL state database at 127.0.0.1:{postgres.port}/mlform refused access to "
        f"schema '{schema}' (permission denied for schema {schema}); grant this user USAGE and "
        "CREATE on it (or on the database, for mlform to create it)")


def test_cli_names_a_dead_holder_and_force_unlock_clears_it(cli: Cli,
                                                           postgres: PostgresServer) -> None:
    """A CI job killed while holding the lock: the next apply says who and how to clear it;
    `mlform force-unlock ID` does, and the killed job's journaled change is recorded."""
    schema = f"fu{uuid.uuid4().hex[:8]}"
    cli.write("project: pgfu\nenvironments:\n  dev:\n    state: {backend: postgres, "
              f"url: 'env:PGURL', schema: {schema}, lock_ttl: 600}}\nresources:\n"
              "  mlform_data.a: {input: 1}\n")
    env = {"PGURL": postgres.url}
    assert cli.run("apply", "--auto-approve", env=env).code == 0
    spec = {"config": {"backend": "postgres", "url": postgres.url, "schema": schema},
            "dir": str(cli.cwd / "unused"), "environment": "dev", "hold": 60.0}
    holder = subprocess.Popen(
        [sys.executable, "-c", "import json, sys\nimport tests.state.backends as b\n"
         "b.PROJECT = 'pgfu'\nb.write_one(json.loads(sys.argv[1]), 'killed')\n",
         json.dumps(spec)], cwd=ROOT)
    store = PostgresStore(postgres.url, schema, "pgfu/dev")
    deadline = time.monotonic() + 30
    while (store.holder() is None or store.holder().pid != holder.pid  # type: ignore[union-attr]
           or store.journal_read() is None or len(store.journal_read() or []) < 2):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    holder.send_signal(signal.SIGKILL)
    holder.wait(10)
    lock_id = store.holder().id  # type: ignore[union-attr]
    locked = cli.run("apply", "--auto-approve", env=env)
    assert locked.code == 1
    assert f"`mlform force-unlock {lock_id}` clears it" in locked.err, locked.err
    assert "Traceback" not in locked.err
    wrong = cli.run("force-unlock", "not-the-id", env=env)
    assert wrong.code == 1 and lock_id in wrong.err
    cleared = cli.run("force-unlock", lock_id, env=env)
    assert cleared.code == 0 and f"lock id {lock_id}" in cleared.out, cleared.err
    listed = cli.run("state", "list", env=env).out.split()
    assert "mlform_data.killed" in listed  # in the killed job's journal, which is kept
    applied = cli.run("apply", "--auto-approve", env=env)  # records it, then removes it
    assert applied.code == 0 and "mlform_data.killed: Destroying" in applied.out, applied.out
