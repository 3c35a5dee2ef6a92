"""Day 2 on `examples/ml-platform`, on the sandbox, through the real CLI: after the platform is
applied, each change a team makes while living with it plans the actions it should, applies, and
plans clean afterwards; the changes AWS would refuse are refused at plan time, changing nothing.

Each test applies the platform in a sandbox account of its own, so the tests see nothing of
each other's objects (the example's names are fixed)."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from tests.cli.conftest import Cli

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ml-platform" / "mlform.yaml"
DEV = "dev:  {target: sandbox, region: eu-west-1}"


class Platform:
    """The example applied in its own sandbox account, and the edits made to its config."""

    def __init__(self, cli: Cli) -> None:
        self.cli = cli
        self.account = str(100000000000 + uuid.uuid4().int % 899999999999)
        self.path = cli.cwd / "mlform.yaml"
        # A project of its own too: S3 bucket names are global, across accounts.
        self.path.write_text(EXAMPLE.read_text().replace("project: fraud\n", "project: ren\n"))
        self.replace(DEV, f"dev:  {{target: sandbox, region: eu-west-1, account: "
                          f"'{self.account}'}}")
        applied = cli.run("apply", "--auto-approve")
        assert applied.code == 0, applied.err
        assert "Apply complete! Resources: 113 added" in applied.out

    def replace(self, old: str, new: str) -> None:
        text = self.path.read_text()
        assert text.count(old) == 1, f"{old!r} appears {text.count(old)} times"
        self.path.write_text(text.replace(old, new))

    def change(self, old: str, new: str, *expected: str) -> str:
        """Edit the config, check the plan says each of `expected`, apply it, and check that
        the next plan is empty. Returns the plan's text."""
        self.replace(old, new)
        plan = self.cli.run("plan", "-out", "day2.plan")
        assert plan.code == 0, plan.err
        for line in expected:
            assert line in plan.out, f"{line!r} not in:\n{plan.out}"
        applied = self.cli.run("apply", "day2.plan")
        assert applied.code == 0, applied.err + applied.out
        again = self.cli.run("plan", "--detailed-exitcode")
        assert again.code == 0, f"not clean after {new!r}:\n{again.out}{again.err}"
        return plan.out

    def refused(self, old: str, new: str, *expected: str) -> str:
        """Edit the config, check that plan and apply refuse it with `expected` in one located
        error and change nothing, then put the config back."""
        self.replace(old, new)
        for command in (("plan",), ("apply", "--auto-approve")):
            r = self.cli.run(*command)
            assert r.code == 1, (command, r.out, r.err)
            assert "Traceback" not in r.err
            for text in expected:
                assert text in r.err, f"{text!r} not in:\n{r.err}"
            assert re.search(r"mlform\.yaml:\d+", r.err), r.err
        self.replace(new, old)
        assert self.cli.run("plan", "--detailed-exitcode").code == 0
        return r.err


def test_renames_with_moved_keep_every_object(cli: Cli) -> None:
    platform = Platform(cli)
    bucket = cli.run("state", "show", "module.features.aws_s3_bucket.this").out
    # The dataset store (stateful: its bucket holds the data) and the notebook get new names;
    # the references follow, and `moved:` entries say the objects are the same.
    platform.replace("  features:\n    type: dataset_store", "  datasets:\n    type: dataset_store")
    platform.path.write_text(platform.path.read_text().replace("${features.uri}",
                                                               "${datasets.uri}"))
    platform.replace("  lab:\n    type: notebook", "  notebooks:\n    type: notebook")
    plan = platform.change(
        "\noutputs:",
        "\nmoved:\n  - {from: module.features, to: module.datasets}\n"
        "  - {from: module.lab, to: module.notebooks}\n\noutputs:",
        "# module.features.aws_s3_bucket.this has moved to module.datasets.aws_s3_bucket.this",
        "# module.lab.aws_sagemaker_notebook_instance.this has moved to "
        "module.notebooks.aws_sagemaker_notebook_instance.this",
        "Plan: 0 to add, 0 to change, 0 to destroy.",
    )
    assert "must be replaced" not in plan and "will be destroyed" not in plan
    moved = cli.run("state", "show", "module.datasets.aws_s3_bucket.this").out
    assert moved.split("\n", 1)[1] == bucket.split("\n", 1)[1]  # the same bucket, as it was
    assert "module.features." not in cli.run("state", "list").out
