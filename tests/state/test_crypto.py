"""Encrypted state: each wrapping source round-trips, the wrong key is refused naming both keys,
edited and replayed versions are refused, nothing readable is left in any file, and
`mlform state rekey` moves a stack to another key (on the sandbox's KMS too)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from mlform.errors import StateError
from mlform.providers.base import StackContext
from mlform.state.backends import open_backend
from mlform.state.codec import canonical
from mlform.state.crypto import rekey
from mlform.state.local import LocalBackend
from mlform.state.models import ResourceState
from tests.cli.conftest import Cli

ROOT = Path(__file__).resolve().parents[2]

SECRET = "s3cr3t-attribute-7f3a9c"  # a value that must never appear in a state file
KEY_A = base64.b64encode(bytes(range(32))).decode()
KEY_B = bytes(range(100, 132)).hex()
PASSPHRASE = "correct horse battery staple 42"


def put(address: str, value: str) -> dict[str, Any]:
    return {"t": "put", "a": address,
            "r": ResourceState("mlform_data", address, {"input": value}).to_json()}


def open_local(tmp_path: Path, encryption: dict[str, Any] | None,
               session: Any = None) -> LocalBackend:
    config: dict[str, Any] = {"backend": "local"}
    if encryption:
        config["encryption"] = encryption
    backend = open_backend(config, tmp_path / "state" / "dev", "proj", "dev", None,
                           session=session)
    assert isinstance(backend, LocalBackend)
    return backend


def apply_one(backend: LocalBackend, address: str, value: str = SECRET) -> int:
    """Lock, load, journal one put, commit: what an apply does to the state."""
    with backend.lock("apply"):
        state = backend.load()
        journal = backend.begin(state, "apply")
        journal.record(put(address, value))
        backend.commit(state, journal)
        return state.serial


def every_file(folder: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFORM_TEST_KEY_A", KEY_A)
    monkeypatch.setenv("MLFORM_TEST_KEY_B", KEY_B)
    monkeypatch.setenv("MLFORM_TEST_PASS", PASSPHRASE)


def sandbox_session(mlform_home: Path, sandbox: Any) -> Any:
    from mlform.providers.aws.session import AwsSession

    ctx = StackContext("proj", "dev", target="sandbox", region="us-east-1",
                       home=str(mlform_home))
    made = AwsSession(ctx, endpoint_url=sandbox.url)
    return lambda: made


@pytest.mark.parametrize("encryption", [{"key": "env:MLFORM_TEST_KEY_A"},
                                        {"key": "env:MLFORM_TEST_KEY_B"},
                                        {"passphrase": "env:MLFORM_TEST_PASS"}])
def test_a_key_or_passphrase_round_trips_and_leaves_nothing_readable(
        tmp_path: Path, keys: None, encryption: dict[str, Any]) -> None:
    backend = open_local(tmp_path, encryption)
    apply_one(backend, "mlform_data.a")
    with backend.lock("apply"):  # a journal left behind, as by a kill
        state = backend.load()
        journal = backend.begin(state, "apply")
        journal.record(put("mlform_data.b", SECRET + "-b"))
        journal.close()  # not committed: the journal stays for the next command
    files = every_file(backend.dir)
    assert any(name.endswith("journal.jsonl") for name in files)
    assert len([n for n in files if "/history/" in n]) >= 1
    for name, data in files.items():
        assert SECRET.encode() not in data, name
        assert PASSPHRASE.encode() not in data and KEY_A.encode() not in data, name
        assert KEY_B.encode() not in data, name
    again = open_local(tmp_path, encryption)  # a new process: nothing cached
    assert {a: r.attributes["input"] for a, r in again.snapshot().resources.items()} == {
        "mlform_data.a": SECRET, "mlform_data.b": SECRET + "-b"}
    envelope = json.loads(backend.state_file.read_text())["encrypted"]
    kind = "passphrase" if "passphrase" in encryption else "key"
    assert envelope["wrap"] == kind and envelope["key_id"].startswith(f"{kind}:")
    assert envelope["alg"] == "AES-256-GCM"
    assert ("salt" in envelope) == (kind == "passphrase")


def test_the_data_key_is_made_once_per_stack(tmp_path: Path, keys: None) -> None:
    backend = open_local(tmp_path, {"key": "env:MLFORM_TEST_KEY_A"})
    apply_one(backend, "mlform_data.a")
    apply_one(open_local(tmp_path, {"key": "env:MLFORM_TEST_KEY_A"}), "mlform_data.b")
    wrapped = {json.loads(p.read_text())["encrypted"]["wrapped_key"]
               for p in [backend.state_file, *backend.history_dir.glob("*.json")]}
    assert len(wrapped) == 1
    journal_line = json.loads(backend.codec.dump_record({"t": "put"}, "l", 1))
    assert journal_line["e"]["wrapped_key"] in wrapped
    other = open_local(tmp_path / "other", {"key": "env:MLFORM_TEST_KEY_A"})
    apply_one(other, "mlform_data.a")
    assert json.loads(other.state_file.read_text())["encrypted"]["wrapped_key"] not in wrapped


def test_the_wrong_key_or_passphrase_is_refused_naming_both_keys(
        tmp_path: Path, keys: None, monkeypatch: pytest.MonkeyPatch) -> None:
    apply_one(open_local(tmp_path, {"key": "env:MLFORM_TEST_KEY_A"}), "mlform_data.a")
    written = json.loads((tmp_path / "state/dev/state.json").read_text())["encrypted"]
    wrong = open_local(tmp_path, {"key": "env:MLFORM_TEST_KEY_B"})
    with pytest.raises(StateError) as err:
        wrong.read()
    message = str(err.value)
    assert message.startswith(f"the state of proj/dev is encrypted with key "
                              f"{written['key_id']}, and the configured key (key:")
    assert message.endswith("cannot open it") and "\n" not in message
    assert KEY_A not in message and KEY_B not in message

    passphrase = tmp_path / "p"
    apply_one(open_local(passphrase, {"passphrase": "env:MLFORM_TEST_PASS"}), "mlform_data.a")
    monkeypatch.setenv("MLFORM_TEST_PASS", "not the passphrase")
    with pytest.raises(StateError, match=r"encrypted with key passphrase:[0-9a-f]{16}, and the "
                                         r"configured key \(passphrase:[0-9a-f]{16}\) cannot"):
        open_local(passphrase, {"passphrase": "env:MLFORM_TEST_PASS"}).read()


def test_a_key_of_the_wrong_size_or_unset_is_refused_without_echoing_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFORM_TEST_SHORT", "c2hvcnQta2V5LXZhbHVl")
    with pytest.raises(StateError) as err:
        open_local(tmp_path, {"key": "env:MLFORM_TEST_SHORT"})
    assert str(err.value).startswith("the state encryption key in env:MLFORM_TEST_SHORT is "
                                     "not a 256-bit key")
    assert "c2hvcnQta2V5LXZhbHVl" not in str(err.value)
    monkeypatch.delenv("MLFORM_TEST_UNSET", raising=False)
    with pytest.raises(StateError, match="environment variable MLFORM_TEST_UNSET, which is "
                                         "not set"):
        open_local(tmp_path, {"passphrase": "env:MLFORM_TEST_UNSET"})


def test_an_edited_serial_is_refused_even_with_its_checksum_redone(
        tmp_path: Path, keys: None) -> None:
    backend = open_local(tmp_path, {"key": "env:MLFORM_TEST_KEY_A"})
    apply_one(backend, "mlform_data.a")
    apply_one(backend, "mlform_data.b")
    doc = json.loads(backend.state_file.read_text())
    doc["serial"] += 5
    body = {k: v for k, v in doc.items() if k != "checksum"}
    doc["checksum"] = "sha256:" + hashlib.sha256(canonical(body)).hexdigest()
    backend.state_file.write_text(json.dumps(doc))
    with pytest.raises(StateError, match=r"^the state of proj/dev was altered: its encrypted "
                                         r"content does not match its header"):
        open_local(tmp_path, {"key": "env:MLFORM_TEST_KEY_A"}).read()


def test_an_old_version_copied_over_the_current_one_is_refused(
        tmp_path: Path, keys: None) -> None:
    backend = open_local(tmp_path, {"key": "env:MLFORM_TEST_KEY_A"})
    for name in ("a", "b", "c"):
        apply_one(backend, f"mlform_data.{name}")
    current = json.loads(backend.state_file.read_text())["serial"]
    old = sorted(backend.history_dir.glob("*.json"))[1]
    backend.state_file.write_bytes(old.read_bytes())
    with pytest.raises(StateError) as err:
        open_local(tmp_path, {"key": "env:MLFORM_TEST_KEY_A"}).read()
    assert str(err.value).startswith(
        f"state replayed: current is serial {int(old.stem)} but version {current - 1} exists")


def test_rekey_from_a_passphrase_to_a_key_keeps_history_readable_with_the_old(
        tmp_path: Path, keys: None) -> None:
    by_pass = {"passphrase": "env:MLFORM_TEST_PASS"}
    apply_one(open_local(tmp_path, by_pass), "mlform_data.a")
    backend = open_local(tmp_path, {"key": "env:MLFORM_TEST_KEY_A"})
    with pytest.raises(StateError, match="cannot open it"):
        backend.read()
    done = rekey(backend, by_pass)
    assert done.before.startswith("passphrase:") and done.after.startswith("key:")
    fresh = open_local(tmp_path, {"key": "env:MLFORM_TEST_KEY_A"})
    assert fresh.read().serial == done.serial and "mlform_data.a" in fresh.read().resources
    apply_one(fresh, "mlform_data.b")  # later versions keep the new wrapping
    assert json.loads(fresh.state_file.read_text())["encrypted"]["key_id"] == done.after
    assert open_local(tmp_path, by_pass).version(1).resources  # history: the old key's


def test_rekey_encrypts_a_state_written_in_the_clear(tmp_path: Path, keys: None) -> None:
    apply_one(open_local(tmp_path, None), "mlform_data.a")
    backend = open_local(tmp_path, {"key": "env:MLFORM_TEST_KEY_A"})
    with pytest.raises(StateError, match=r"is not encrypted although `state\.encryption` is set"):
        backend.read()
    done = rekey(backend)
    assert (done.before, done.after[:4]) == ("not encrypted", "key:")
    assert SECRET.encode() not in backend.state_file.read_bytes()
    assert open_local(tmp_path, {"key": "env:MLFORM_TEST_KEY_A"}).read().resources


def kms_keys(boto: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    kms = boto("kms")
    a = kms.create_key(Description="mlform state test A")["KeyMetadata"]
    b = kms.create_key(Description="mlform state test B")["KeyMetadata"]
    return a, b


def test_kms_round_trips_names_the_key_by_arn_and_rekeys_to_another_key(
        tmp_path: Path, boto: Any, sandbox: Any, mlform_home: Path, uid: str) -> None:
    a, b = kms_keys(boto)
    alias = f"alias/mlform-state-{uid}"
    boto("kms").create_alias(AliasName=alias, TargetKeyId=a["KeyId"])
    session = sandbox_session(mlform_home, sandbox)
    backend = open_local(tmp_path, {"kms_key_id": alias}, session)
    apply_one(backend, "mlform_data.a")
    envelope = json.loads(backend.state_file.read_text())["encrypted"]
    assert (envelope["wrap"], envelope["key_id"]) == ("kms", a["Arn"])  # never the alias
    assert SECRET.encode() not in backend.state_file.read_bytes()
    assert open_local(tmp_path, {"kms_key_id": a["KeyId"]}, session).read().resources

    to_b = open_local(tmp_path, {"kms_key_id": b["Arn"]}, session)
    with pytest.raises(StateError) as err:
        to_b.read()
    assert str(err.value) == (f"the state of proj/dev is encrypted with key {a['Arn']}, and "
                              f"the configured key ({b['Arn']}) cannot open it")
    done = rekey(to_b)  # KMS opens what key A wrapped without being told
    assert (done.before, done.after) == (a["Arn"], b["Arn"])
    assert open_local(tmp_path, {"kms_key_id": b["KeyId"]}, session).read().resources
    boto("kms").rotate_key_on_demand(KeyId=b["KeyId"])
    again = rekey(open_local(tmp_path, {"kms_key_id": b["KeyId"]}, session))
    assert (again.before, again.after, again.serial) == (b["Arn"], b["Arn"], done.serial + 1)
    assert open_local(tmp_path, {"kms_key_id": b["Arn"]}, session).read().resources


def test_rekey_from_kms_to_a_passphrase_never_writes_the_passphrase(
        tmp_path: Path, keys: None, boto: Any, sandbox: Any, mlform_home: Path) -> None:
    a, _ = kms_keys(boto)
    session = sandbox_session(mlform_home, sandbox)
    apply_one(open_local(tmp_path, {"kms_key_id": a["Arn"]}, session), "mlform_data.a")
    by_pass = open_local(tmp_path, {"passphrase": "env:MLFORM_TEST_PASS"}, session)
    assert rekey(by_pass).before == a["Arn"]
    apply_one(open_local(tmp_path, {"passphrase": "env:MLFORM_TEST_PASS"}), "mlform_data.b")
    for name, data in every_file(by_pass.dir).items():
        assert PASSPHRASE.encode() not in data and SECRET.encode() not in data, name
    assert os.environ["MLFORM_TEST_PASS"] == PASSPHRASE


# --- through the real CLI --------------------------------------------------------------------

def encrypted_config(encryption: str, resources: str = "") -> str:
    return ("project: contract\nenvironments:\n  dev:\n    target: sandbox\n"
            f"    region: us-east-1\n    state: {{encryption: {encryption}}}\nresources:\n"
            f"  mlform_data.a: {{input: {SECRET}}}\n{resources}")


def test_cli_apply_show_and_a_killed_writers_journal_all_encrypted(
        cli: Cli, keys: None) -> None:
    cli.write(encrypted_config("{key: env:MLFORM_TEST_KEY_A}"))
    r = cli.run("apply", "--auto-approve")
    assert r.code == 0, r.err
    folder = cli.cwd / ".mlform" / "state" / "dev"
    assert (folder / "state.json").exists()
    r = cli.run("state", "show", "mlform_data.a")
    assert r.code == 0 and SECRET in r.out, r.err
    assert cli.run("show").code == 0

    # A writer SIGKILLed after journaling a change: its encrypted journal is replayed.
    victim = f"victim{os.getpid()}"
    spec = {"config": {"backend": "local", "encryption": {"key": "env:MLFORM_TEST_KEY_A"}},
            "dir": str(folder), "environment": "dev", "hold": 60.0}
    proc = subprocess.Popen([sys.executable, "-m", "tests.state.backends", json.dumps(spec),
                             victim], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline = time.monotonic() + 60
        while not (folder / "journal.jsonl").exists() or \
                len((folder / "journal.jsonl").read_bytes().splitlines()) < 2:
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        proc.kill()
        proc.communicate()
    for name, data in every_file(folder).items():
        assert SECRET.encode() not in data and victim.encode() not in data, name
    r = cli.run("state", "list")
    assert (r.code, r.out) == (0, f"mlform_data.a\nmlform_data.{victim}\n"), r.err
    r = cli.run("apply", "--auto-approve")  # recovers the journal, then removes the victim
    assert r.code == 0, r.err
    assert not (folder / "journal.jsonl").exists()
    assert cli.run("state", "list").out == "mlform_data.a\n"
    for name, data in every_file(folder).items():
        assert SECRET.encode() not in data and victim.encode() not in data, name

    cli.write(encrypted_config("{key: env:MLFORM_TEST_KEY_B}"))
    r = cli.run("state", "list")
    assert r.code == 1 and r.err.startswith("Error: the state of contract/dev is encrypted "
                                            "with key key:") and len(r.err.splitlines()) == 1
    r = cli.run("state", "rekey", "--from-key", "env:MLFORM_TEST_KEY_A")
    assert r.code == 0, r.err
    assert r.out.startswith("Rekeyed the state of environment 'dev': serial ")
    assert "Earlier versions keep their encryption." in r.out
    assert cli.run("state", "list").out == "mlform_data.a\n"


def test_cli_rekey_from_a_passphrase_to_a_kms_alias(
        cli: Cli, keys: None, boto: Any, sandbox: Any, uid: str) -> None:
    a, _ = kms_keys(boto)
    alias = f"alias/mlform-cli-{uid}"
    boto("kms").create_alias(AliasName=alias, TargetKeyId=a["KeyId"])
    cli.write(encrypted_config("{passphrase: env:MLFORM_TEST_PASS}"))
    assert cli.run("apply", "--auto-approve").code == 0
    cli.write(encrypted_config(f"{{kms_key_id: {alias}}}"))
    r = cli.run("state", "rekey", "--from-passphrase", PASSPHRASE)
    assert (r.code, r.err) == (1, "Error: --from-passphrase takes `env:NAME`, the environment "
                                  "variable that holds it: a key on the command line is seen "
                                  "by anyone who can list processes\n")
    assert PASSPHRASE not in r.err.split("takes")[0]
    r = cli.run("state", "rekey")
    assert r.code == 1 and "give the old key with --from-key, --from-passphrase" in r.err
    r = cli.run("state", "rekey", "--from-passphrase", "env:MLFORM_TEST_PASS")
    assert r.code == 0, r.err
    assert f"with key {a['Arn']} (was: passphrase:" in r.out
    r = cli.run("state", "list", env={"MLFORM_TEST_PASS": ""})
    assert (r.code, r.out) == (0, "mlform_data.a\n"), r.err
    for name, data in every_file(cli.cwd / ".mlform").items():
        assert PASSPHRASE.encode() not in data and SECRET.encode() not in data, name
