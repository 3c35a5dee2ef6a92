"""Secret values never leak: the real CLI, a random canary as each value, and a search of every
file and every byte of output for it.

The canaries must reach Secrets Manager (read back with GetSecretValue), so a run that stored
nothing cannot pass. `$MLFORM_HOME/sandbox/` is left out of the search: it is the cloud's own
storage (moto's snapshot), where the value belongs.
"""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from pathlib import Path
from typing import Any

from tests.cli.conftest import Cli, Result

VERSION = "module.api-key.aws_secretsmanager_secret_version.this"


def config(uid: str, repositories: int = 0, taken: str | None = None) -> str:
    """A secret read from $CANARY, and a sensitive variable read from $CANARY_DB put into a
    raw secret version; optionally ECR repositories applied after the secret's value."""
    text = f"""project: c{uid}
environments:
  e{uid}: {{target: sandbox, region: us-east-1}}
variables:
  db_pw: {{sensitive: true, value_from: "env:CANARY_DB"}}
components:
  api-key: {{type: secret, value_from: "env:CANARY", recovery_window_in_days: 0}}
resources:
  aws_secretsmanager_secret.db: {{recovery_window_in_days: 0}}
  aws_secretsmanager_secret_version.db:
    secret_id: ${{aws_secretsmanager_secret.db.arn}}
    secret_string: ${{var.db_pw}}
"""
    after = f"depends_on: [{VERSION}, aws_secretsmanager_secret_version.db]"
    for i in range(repositories):
        text += f"  aws_ecr_repository.r{i}: {{{after}}}\n"
    if taken:
        text += f"  aws_ecr_repository.taken: {{name: {taken}, {after}}}\n"
    return text + """outputs:
  key_arn: ${api-key.arn}
  db_pw: {value: "${var.db_pw}", sensitive: true}
"""


class Canaries:
    def __init__(self, cli: Cli) -> None:
        self.cli = cli
        self.values = {"CANARY": f"canary-{uuid.uuid4()}", "CANARY_DB": f"canary-{uuid.uuid4()}"}
        self.outputs: list[str] = []

    def run(self, *args: str) -> Result:
        result = self.cli.run(*args, env=self.values)
        self.outputs += [result.out, result.err]
        return result

    def assert_nowhere(self, *extra: str) -> None:
        """No canary in any file of the project or of $MLFORM_HOME (but the cloud's), nor in
        anything a command printed."""
        home = Path(os.environ["MLFORM_HOME"])
        files = [p for p in [*self.cli.cwd.rglob("*"), *home.rglob("*")]
                 if p.is_file() and (home / "sandbox") not in p.parents]
        assert any(p.name in {"journal.jsonl", "state.json"} for p in files)
        for canary in self.values.values():
            for path in files:
                assert canary.encode() not in path.read_bytes(), f"{canary} leaked into {path}"
            for text in [*self.outputs, *extra]:
                assert canary not in text


def secret_value(boto: Any, name: str) -> str:
    return str(boto("secretsmanager").get_secret_value(SecretId=name)["SecretString"])


def test_no_command_writes_or_prints_a_secret_value(cli: Cli, uid: str, boto: Any,
                                                    sandbox: Any) -> None:
    cli.write(config(uid))
    c = Canaries(cli)
    planned = c.run("plan", "--json")
    assert planned.code == 0, planned.err
    doc = json.loads(planned.out)
    (change,) = [r for r in doc["resource_changes"] if r["address"] == VERSION]
    assert change["change"]["after_sensitive"] == {"secret_string": True}
    assert change["change"]["after"]["secret_string"] is None  # flagged, never written
    assert c.run("plan", "-out", "saved.plan").code == 0
    assert (cli.cwd / "saved.plan").exists()
    applied = c.run("apply", "--debug", "saved.plan")
    assert applied.code == 0, applied.err
    assert "db_pw = (sensitive value)" in applied.out
    for args in (("show",), ("show", "--json"), ("show", "saved.plan"), ("output",),
                 ("output", "--json"),
                 ("output", "db_pw", "--show-sensitive"), ("state", "list"),
                 ("state", "show", VERSION),
                 ("state", "show", "aws_secretsmanager_secret_version.db"),
                 ("plan", "--debug"), ("plan", "--debug", "--json")):
        result = c.run(*args)
        assert result.code == 0, (args, result.err)
    again = c.run("plan")
    assert "No changes." in again.out
    assert secret_value(boto, f"c{uid}-e{uid}-api-key") == c.values["CANARY"]
    assert secret_value(boto, f"c{uid}-e{uid}-db") == c.values["CANARY_DB"]
    c.assert_nowhere()


def test_a_changed_value_plans_one_update_and_puts_a_new_version(cli: Cli, uid: str, boto: Any,
                                                                 sandbox: Any) -> None:
    cli.write(config(uid))
    c = Canaries(cli)
    assert c.run("apply", "--auto-approve").code == 0
    c.values["CANARY"] = f"canary-{uuid.uuid4()}"
    planned = c.run("plan")
    assert "Plan: 0 to add, 1 to change, 0 to destroy." in planned.out
    assert f"# {VERSION} will be updated in-place" in planned.out
    assert "      ~ secret_string = (sensitive value)\n" in planned.out
    applied = c.run("apply", "--auto-approve")
    assert applied.code == 0, applied.err
    name = f"c{uid}-e{uid}-api-key"
    assert secret_value(boto, name) == c.values["CANARY"]
    versions = boto("secretsmanager").list_secret_version_ids(SecretId=name)["Versions"]
    assert len(versions) == 2
    assert "No changes." in c.run("plan").out
    c.assert_nowhere()


def test_a_missing_value_is_one_located_line_without_any_value(cli: Cli, uid: str,
                                                               sandbox: Any) -> None:
    cli.write(config(uid))
    result = cli.run("plan", env={"CANARY": "x" * 8})
    assert result.code == 1
    assert result.err == ("Error: mlform.yaml:5:40: variables.db_pw: env:CANARY_DB: "
                          "environment variable CANARY_DB is not set\n")
    result = cli.run("plan", env={"CANARY_DB": "x" * 8})
    assert result.err == ("Error: mlform.yaml:7:39: api-key: env:CANARY: environment "
                          "variable CANARY is not set\n")


def test_a_failed_apply_after_the_value_was_put_leaks_nothing(cli: Cli, uid: str, boto: Any,
                                                              sandbox: Any) -> None:
    taken = f"taken-{uid}"
    boto("ecr").create_repository(repositoryName=taken)
    cli.write(config(uid, taken=taken))
    c = Canaries(cli)
    failed = c.run("apply", "--debug", "--auto-approve")
    assert failed.code == 1
    assert "already exists and was made outside mlform" in failed.err
    assert secret_value(boto, f"c{uid}-e{uid}-api-key") == c.values["CANARY"]
    c.assert_nowhere()


def wait_for(predicate: Any, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_an_apply_killed_after_the_value_was_put_leaks_nothing(cli: Cli, uid: str, boto: Any,
                                                               sandbox: Any) -> None:
    cli.write(config(uid, repositories=12))
    c = Canaries(cli)
    journal = cli.cwd / ".mlform" / "state" / f"e{uid}" / "journal.jsonl"

    def version_put() -> bool:
        return journal.exists() and any(
            json.loads(line).get("t") == "put" and json.loads(line).get("a") == VERSION
            for line in journal.read_text().splitlines() if line.endswith("}"))

    proc = cli.popen("apply", "--auto-approve", "--parallelism", "1",
                     env={**os.environ, **c.values})
    try:
        wait_for(version_put)
        proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == -signal.SIGKILL
    c.outputs += [out, err]
    assert secret_value(boto, f"c{uid}-e{uid}-api-key") == c.values["CANARY"]
    c.assert_nowhere()
    finished = c.run("apply", "--auto-approve")  # recovers from the journal, puts nothing twice
    assert finished.code == 0, finished.err
    name = f"c{uid}-e{uid}-api-key"
    assert len(boto("secretsmanager").list_secret_version_ids(SecretId=name)["Versions"]) == 1
    c.assert_nowhere()
