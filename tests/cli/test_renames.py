"""A rename in the config plans a destroy and a create: the plan says so, and gives the
`moved:` entry that keeps the object, loudest where destroying it loses data."""

from __future__ import annotations

from typing import Any

from tests.cli.conftest import Cli

STACK = """project: rename-{uid}
components:
  {store}: {{type: dataset_store, retention_days: 30}}
resources:
  aws_iam_role.{role}:
    assume_role_policy:
      Version: "2012-10-17"
      Statement:
        - Effect: Allow
          Action: "sts:AssumeRole"
          Principal: {{Service: sagemaker.amazonaws.com}}
    inline_policy:
      - name: read
        policy:
          Version: "2012-10-17"
          Statement:
            - Effect: Allow
              Action: "s3:GetObject"
              Resource: "${{module.{store}.aws_s3_bucket.this.arn}}/*"
  mlform_data.{marker}: {{input: {marker_input}}}
"""


def _after_summary(out: str) -> list[str]:
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Plan: "))
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("Estimated"))
    return lines[start:end - 1]


def test_renamed_component_and_resources_get_moved_entries(cli: Cli, sandbox: Any,
                                                            uid: str) -> None:
    cli.write(STACK.format(uid=uid, store="features", role="reader", marker="one",
                           marker_input=1))
    r = cli.run("apply", "--auto-approve")
    assert r.code == 0, r.err
    # The role's policy names the component's bucket, whose name changes with the component's.
    renamed = STACK.format(uid=uid, store="datasets", role="writer", marker="two",
                           marker_input=1)
    cli.write(renamed)
    r = cli.run("plan")
    assert r.code == 0, r.err
    assert _after_summary(r.out) == [
        "Plan: 8 to add, 0 to change, 8 to destroy.",
        "",
        "Warning: this plan destroys objects that hold data and creates them again, with the "
        "same settings, under new addresses:",
        "  module.features -> module.datasets: destroying module.features.aws_s3_bucket.this "
        "loses the objects it holds",
        "  aws_iam_role.reader -> aws_iam_role.writer",
        "  mlform_data.one -> mlform_data.two",
        "If they were renamed, keep them: add to mlform.yaml",
        "",
        "moved:",
        "  - {from: module.features, to: module.datasets}",
        "  - {from: aws_iam_role.reader, to: aws_iam_role.writer}",
        "  - {from: mlform_data.one, to: mlform_data.two}",
    ]
    # What it suggests is what keeps them: nothing is destroyed.
    cli.write(renamed + "\n".join(_after_summary(r.out)[-4:]) + "\n")
    r = cli.run("plan")
    assert r.code == 0, r.err
    assert "Plan: 0 to add, 0 to change, 0 to destroy." in r.out
    assert "# aws_iam_role.reader has moved to aws_iam_role.writer" in r.out
    assert "Warning" not in r.out and "moved:" not in r.out


def test_a_renamed_resource_without_data_is_a_note(cli: Cli) -> None:
    cli.write("project: renames\nresources:\n  mlform_data.old: {input: {a: 1}}\n"
              "  mlform_data.other: {input: 2}\n")
    assert cli.run("apply", "--auto-approve").code == 0
    cli.write("project: renames\nresources:\n  mlform_data.new: {input: {a: 1}}\n"
              "  mlform_data.changed: {input: 3}\n")
    r = cli.run("plan")
    assert r.code == 0, r.err
    assert _after_summary(r.out) == [
        "Plan: 2 to add, 0 to change, 2 to destroy.",
        "",
        "Note: this plan destroys objects and creates them again, with the same settings, "
        "under new addresses:",
        "  mlform_data.old -> mlform_data.new",
        "If they were renamed, keep them: add to mlform.yaml",
        "",
        "moved:",
        "  - {from: mlform_data.old, to: mlform_data.new}",
    ]
