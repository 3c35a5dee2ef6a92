"""The engine's safety promises through the real CLI: protected objects, forgotten objects,
state repairs."""

from __future__ import annotations

from typing import Any

from tests.cli.conftest import Cli


def _protected(uid: str, protect: str = "true") -> str:
    return f"""project: safety
environments: {{e{uid}: {{}}}}
resources:
  aws_ecr_repository.keep:
    name: keep-{uid}
    lifecycle: {{prevent_destroy: {protect}}}
  mlform_data.other: {{input: 1}}
"""


def _repos(boto: Any, uid: str) -> list[str]:
    # every page: the session's sandbox holds hundreds of repositories by now, and one call
    # answers 100 at most
    pages = boto("ecr").get_paginator("describe_repositories").paginate()
    return [r["repositoryName"] for page in pages for r in page["repositories"]
            if r["repositoryName"].endswith(uid)]


def test_destroy_and_plan_destroy_refuse_a_protected_resource(cli: Cli, uid: str, boto: Any,
                                                               sandbox: Any) -> None:
    cli.write(_protected(uid))
    assert cli.run("apply", "--auto-approve").code == 0
    expected = ("Error: mlform.yaml:4:3: aws_ecr_repository.keep: lifecycle.prevent_destroy is "
                "set, but this plan would destroy it\n")
    for args in (("destroy", "--auto-approve"), ("plan", "--destroy")):
        r = cli.run(*args)
        assert (r.code, r.err) == (1, expected), args
    assert _repos(boto, uid) == [f"keep-{uid}"]
    listed = sorted(cli.run("state", "list").out.split())
    assert listed == ["aws_ecr_repository.keep", "mlform_data.other"]


def test_a_protected_resource_removed_from_the_config_is_not_destroyed(
        cli: Cli, uid: str, boto: Any, sandbox: Any) -> None:
    cli.write(_protected(uid))
    assert cli.run("apply", "--auto-approve").code == 0
    cli.write(f"project: safety\nenvironments: {{e{uid}: {{}}}}\nresources:\n"
              "  mlform_data.other: {input: 1}\n")
    for args in (("plan",), ("apply", "--auto-approve"), ("destroy", "--auto-approve")):
        r = cli.run(*args)
        assert r.code == 1, args
        assert r.err.startswith("Error: aws_ecr_repository.keep: lifecycle.prevent_destroy was "
                                "set when it was last applied, and this plan would destroy it "
                                "because it is no longer in the configuration"), r.err
        assert len(r.err.splitlines()) == 1
    assert _repos(boto, uid) == [f"keep-{uid}"]
    # Lifting the protection first, as the message says, lets it go.
    cli.write(_protected(uid, "false"))
    assert cli.run("apply", "--auto-approve").code == 0
    assert cli.run("destroy", "--auto-approve").code == 0
    assert _repos(boto, uid) == []


def test_state_rm_and_mv_forget_and_rekey_without_touching_the_cloud(
        cli: Cli, uid: str, boto: Any, sandbox: Any, tmp_path: Any) -> None:
    cli.write(f"""project: safety
environments: {{e{uid}: {{}}}}
resources:
  aws_ecr_repository.a: {{name: a-{uid}}}
  mlform_data.x: {{input: 1}}
  mlform_data.y: {{input: 2}}
""")
    assert cli.run("apply", "--auto-approve").code == 0
    history = tmp_path / ".mlform" / "state" / f"e{uid}" / "history"
    kept = len(list(history.glob("*.json")))
    r = cli.run("state", "rm", "aws_ecr_repository.a")
    assert r.code == 0 and r.out.startswith(f"Removed aws_ecr_repository.a [id=a-{uid}]\n")
    assert _repos(boto, uid) == [f"a-{uid}"]  # forgotten, not deleted
    assert len(list(history.glob("*.json"))) == kept + 1  # the state before the edit is kept
    r = cli.run("state", "mv", "mlform_data.x", "mlform_data.z")
    assert (r.code, r.out) == (0, 'Moved "mlform_data.x" to "mlform_data.z"\n'
                                  "Successfully moved 1 resource(s).\n")
    assert sorted(cli.run("state", "list").out.split()) == ["mlform_data.y", "mlform_data.z"]
    r = cli.run("state", "mv", "mlform_data.y", "mlform_data.z")
    assert (r.code, r.err) == (1, "Error: 'mlform_data.z' is already in the state (id "
                                  f"{_state_id(cli, 'mlform_data.z')}); nothing was moved\n")
    r = cli.run("state", "mv", "mlform_data.y", "aws_iam_role.y")
    assert r.code == 1 and "it cannot move to 'aws_iam_role.y', which names another type" in r.err
    r = cli.run("state", "rm", "mlform_data.q")
    assert r.code == 1 and r.err.startswith("Error: no resource 'mlform_data.q' in the state")
    boto("ecr").delete_repository(repositoryName=f"a-{uid}")


def _state_id(cli: Cli, address: str) -> str:
    import json

    shown = json.loads(cli.run("show", "--json").out)["values"]["root_module"]["resources"]
    return str(next(r["values"]["id"] for r in shown if r["address"] == address))


def test_an_unconfirmed_import_is_not_destroyed_for_missing_from_the_config(
        cli: Cli, uid: str, boto: Any, sandbox: Any) -> None:
    boto("ecr").create_repository(repositoryName=f"made-{uid}")
    head = f"project: safety\nenvironments: {{e{uid}: {{}}}}\nresources:\n"
    cli.write(head + f"  aws_ecr_repository.made: {{name: made-{uid}}}\n"
                     "  mlform_data.x: {input: 1}\n")
    assert cli.run("import", "aws_ecr_repository.made", f"made-{uid}").code == 0
    cli.write(head + "  mlform_data.x: {input: 1}\n")  # the config that holds it is not read
    r = cli.run("apply", "--auto-approve")
    assert r.code == 1 and r.err.startswith(
        "Error: aws_ecr_repository.made: this plan would destroy an object that an import "
        f"recorded (id made-{uid}) and no apply has confirmed"), r.err
    assert _repos(boto, uid) == [f"made-{uid}"]
    # Once an apply with it in the config has confirmed the import, it is managed like the rest.
    cli.write(head + f"  aws_ecr_repository.made: {{name: made-{uid}}}\n"
                     "  mlform_data.x: {input: 1}\n")
    assert cli.run("apply", "--auto-approve").code == 0
    cli.write(head + "  mlform_data.x: {input: 1}\n")
    r = cli.run("plan")
    assert r.code == 0 and "aws_ecr_repository.made will be destroyed" in r.out
    assert cli.run("apply", "--auto-approve").code == 0
    assert _repos(boto, uid) == []


def test_removed_entries_forget_or_destroy_as_they_say(cli: Cli, uid: str, boto: Any,
                                                       sandbox: Any) -> None:
    head = f"project: safety\nenvironments: {{e{uid}: {{}}}}\n"
    cli.write(head + f"""resources:
  aws_ecr_repository.kept: {{name: kept-{uid}}}
  aws_ecr_repository.guarded:
    name: guarded-{uid}
    lifecycle: {{prevent_destroy: true}}
  mlform_data.x: {{input: 1}}
""")
    assert cli.run("apply", "--auto-approve").code == 0
    cli.write(head + """resources:
  mlform_data.x: {input: 1}
removed:
  - {from: aws_ecr_repository.kept, destroy: false}
  - {from: aws_ecr_repository.guarded, destroy: true}
""")
    r = cli.run("plan", "--no-color")
    assert r.code == 0, r.err
    assert ("# aws_ecr_repository.kept will no longer be managed by mlform, but will not be "
            "destroyed") in r.out
    assert "# aws_ecr_repository.guarded will be destroyed" in r.out  # said in so many words
    assert "Plan: 0 to add, 0 to change, 1 to destroy, 1 to forget." in r.out
    import json

    shown = json.loads(cli.run("plan", "--json").out)
    actions = {c["address"]: c["change"]["actions"] for c in shown["resource_changes"]}
    assert actions["aws_ecr_repository.kept"] == ["forget"]
    r = cli.run("apply", "--auto-approve")
    assert r.code == 0 and "1 destroyed, 1 forgotten." in r.out, r.out + r.err
    assert _repos(boto, uid) == [f"kept-{uid}"]
    assert cli.run("state", "list").out.split() == ["mlform_data.x"]
    assert cli.run("plan", "--detailed-exitcode").code == 0  # entries done can stay
    boto("ecr").delete_repository(repositoryName=f"kept-{uid}")
