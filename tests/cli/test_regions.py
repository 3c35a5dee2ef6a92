"""An environment in several regions, through the real CLI on the sandbox: one state and lock
per region, names that carry the region, every command over every region (`--region` narrows),
and a rollout that stops after a failure, leaving the regions done recorded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.cli.conftest import Cli

REGIONS = ["ap-southeast-1", "ap-northeast-1", "ap-south-1"]

CONFIG = """project: mr{uid}
environments:
  prod:
    regions: [ap-southeast-1, ap-northeast-1, ap-south-1]
    rollout: {{order: [ap-southeast-1, ap-northeast-1, ap-south-1], max_parallel: 1,
               stop_after_failures: 1}}
resources:
  aws_s3_bucket.data:
    tags: {{home: "${{mlform.region}}"}}
  aws_iam_role.reader:
    assume_role_policy:
      Version: "2012-10-17"
      Statement: [{{Effect: Allow, Principal: {{Service: sagemaker.amazonaws.com}},
                   Action: "sts:AssumeRole"}}]
"""


def _state(cli: Cli, region: str) -> dict[str, Any]:
    path = cli.cwd / ".mlform" / "state" / "prod" / region / "state.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _bucket(uid: str, region: str) -> str:
    return f"mr{uid}-prod-{region}-data"


@pytest.fixture
def project(cli: Cli, sandbox: Any, uid: str) -> Cli:
    cli.write(CONFIG.format(uid=uid))
    return cli


def test_plan_has_a_section_per_region_and_a_total(project: Cli, uid: str) -> None:
    r = project.run("plan")
    assert r.code == 0, r.err
    for region in REGIONS:
        assert f"══ {region} " in r.out
        assert f"# [{region}] aws_s3_bucket.data will be created" in r.out
        # S3 bucket and IAM role names are global: the default ones carry the region
        assert f'"{_bucket(uid, region)}"' in r.out
        assert f'"mr{uid}-prod-{region}-reader"' in r.out
        assert f'home = "{region}"' in r.out
    assert "Total over 3 regions: 6 to add, 0 to change, 0 to destroy" in r.out

    doc = json.loads(project.run("plan", "--json").out)
    assert list(doc["regions"]) == REGIONS
    for region, one in doc["regions"].items():
        # each region's plan is Terraform's shape, its addresses Terraform's
        addresses = sorted(c["address"] for c in one["resource_changes"])
        assert addresses == ["aws_iam_role.reader", "aws_s3_bucket.data"]
        bucket = next(c for c in one["resource_changes"] if c["type"] == "aws_s3_bucket")
        assert bucket["change"]["after"]["bucket"] == _bucket(uid, region)

    narrowed = project.run("plan", "--region", "ap-south-1", "--region", "ap-northeast-1")
    assert "══ ap-south-1" in narrowed.out and "══ ap-northeast-1" in narrowed.out
    assert "ap-southeast-1" not in narrowed.out
    wrong = project.run("plan", "--region", "eu-west-1")
    assert wrong.code == 1 and "Traceback" not in wrong.err
    assert "mlform.yaml:4" in wrong.err and "--region eu-west-1" in wrong.err


def test_apply_makes_every_region_with_its_own_state(project: Cli, uid: str,
                                                     boto: Any) -> None:
    r = project.run("apply", "--auto-approve")
    assert r.code == 0, r.err
    for region in REGIONS:
        assert f"[{region}] aws_s3_bucket.data: Creation complete" in r.out
        assert f"  {region}: done. Resources: 2 added" in r.out
        state = _state(project, region)
        assert state["resources"]["aws_s3_bucket.data"]["id"] == _bucket(uid, region)
        tags = boto("s3", region).get_bucket_tagging(Bucket=_bucket(uid, region))["TagSet"]
        assert {"Key": "mlform:stack", "Value": f"mr{uid}/prod/{region}"} in tags
        location = boto("s3", region).get_bucket_location(Bucket=_bucket(uid, region))
        assert location["LocationConstraint"] == region

    again = project.run("plan", "--detailed-exitcode")
    assert again.code == 0, again.out + again.err
    drift = project.run("drift")
    assert drift.code == 0 and drift.out.count("══ ap-") == 3

    one = project.run("show")
    assert one.code == 1 and "say which with --region" in one.err
    shown = project.run("show", "--region", "ap-northeast-1")
    assert shown.code == 0 and _bucket(uid, "ap-northeast-1") in shown.out

    # a saved plan is one region's, and applies to that region's state
    assert project.run("plan", "--destroy", "-out", "all.plan").code == 1
    saved = project.run("plan", "--destroy", "--region", "ap-south-1", "-out", "south.plan")
    assert saved.code == 0 and "Saved the plan of ap-south-1 to: south.plan" in saved.out
    gone = project.run("apply", "south.plan")
    assert gone.code == 0, gone.err
    assert _state(project, "ap-south-1")["resources"] == {}
    assert _state(project, "ap-southeast-1")["resources"]  # the others are untouched
    assert project.run("destroy", "--auto-approve").code == 0


def test_rollout_stops_after_a_failed_region(project: Cli, uid: str, boto: Any) -> None:
    # Someone else's bucket has the name the second region's bucket would get: S3 refuses it
    # there, so the second region fails after the first was applied.
    squatter = boto("s3", "ap-northeast-1")
    squatter.create_bucket(Bucket=_bucket(uid, "ap-northeast-1"),
                           CreateBucketConfiguration={"LocationConstraint": "ap-northeast-1"})
    r = project.run("apply", "--auto-approve")
    assert r.code == 1
    assert "Traceback" not in r.err
    assert "[ap-northeast-1] aws_s3_bucket.data:" in r.err
    assert (f"adopt it with `mlform import -e prod --region ap-northeast-1 aws_s3_bucket.data "
            f"{_bucket(uid, 'ap-northeast-1')}`") in r.err
    assert "  ap-southeast-1: done. Resources: 2 added" in r.out
    assert "  ap-northeast-1: failed" in r.out
    assert "  ap-south-1: not started (stop_after_failures reached)" in r.out
    assert "Apply failed in ap-northeast-1" in r.err
    # the first region stays recorded; the one not started was not touched at all
    assert set(_state(project, "ap-southeast-1")["resources"]) == {
        "aws_s3_bucket.data", "aws_iam_role.reader"}
    assert "aws_s3_bucket.data" not in _state(project, "ap-northeast-1").get("resources", {})
    assert _state(project, "ap-south-1") == {}
    assert not (project.cwd / ".mlform/state/prod/ap-south-1/journal.jsonl").exists()
    with pytest.raises(ClientError):
        boto("s3", "ap-south-1").head_bucket(Bucket=_bucket(uid, "ap-south-1"))

    # adopted as the message says, the next apply finishes the rollout, leaving the first alone
    imported = project.run("import", "-e", "prod", "--region", "ap-northeast-1",
                           "aws_s3_bucket.data", _bucket(uid, "ap-northeast-1"))
    assert imported.code == 0, imported.err
    done = project.run("apply", "--auto-approve")
    assert done.code == 0, done.err
    assert "  ap-southeast-1: no changes" in done.out
    assert "  ap-northeast-1: done. Resources: 0 added, 1 changed" in done.out  # its tags
    assert "  ap-south-1: done. Resources: 2 added" in done.out
    assert project.run("destroy", "--auto-approve").code == 0


def test_a_locked_region_names_itself(project: Cli) -> None:
    import fcntl
    import os

    lock = project.cwd / ".mlform/state/prod/ap-northeast-1/lock"
    lock.parent.mkdir(parents=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        r = project.run("apply", "--auto-approve")
    finally:
        os.close(fd)
    assert r.code == 1
    assert "environment 'prod' in ap-northeast-1 is locked" in r.err
    # nothing was planned or applied anywhere: every lock is taken before anything else
    assert not any(Path(project.cwd / ".mlform/state/prod" / x / "state.json").exists()
                   for x in REGIONS)


def test_region_and_regions_conflict(cli: Cli) -> None:
    cli.write("project: x\nenvironments:\n  prod:\n    region: us-east-1\n"
              "    regions: [us-east-1, eu-west-1]\n")
    r = cli.run("validate")
    assert r.code == 1 and "not both" in r.err and "mlform.yaml:" in r.err
    cli.write("project: x\nenvironments:\n  prod:\n    regions: [us-east-1]\n"
              "    rollout: {order: [eu-west-1]}\n")
    r = cli.run("validate")
    assert r.code == 1 and "eu-west-1 is not in `regions`" in r.err


def test_ctrl_c_stops_the_rollout_and_loses_nothing(cli: Cli, sandbox: Any, uid: str,
                                                    boto: Any) -> None:
    """SIGINT while the first region is being applied: the calls in flight finish, that
    region's state records exactly what its cloud holds, and no later region starts."""
    import signal
    import subprocess
    import sys

    from tests.cli.test_interrupts import wait_for

    lines = [f"project: cc{uid}", "environments:", "  prod:",
             f"    regions: [{', '.join(REGIONS)}]", "    rollout: {max_parallel: 1}",
             "resources:"]
    lines += [f"  aws_ecr_repository.r{i}: {{}}" for i in range(40)]
    cli.write("\n".join(lines) + "\n")
    journal = cli.cwd / ".mlform/state/prod/ap-southeast-1/journal.jsonl"
    # the plan of 120 repositories is more than a pipe holds: the output goes to files
    with open(cli.cwd / "out.txt", "w") as stdout, open(cli.cwd / "err.txt", "w") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "mlform", "apply", "--auto-approve",
                                 "--parallelism", "2"], cwd=cli.cwd, stdout=stdout,
                                stderr=stderr, text=True)
        try:
            wait_for(lambda: journal.exists() and journal.read_text().count('"t":"put"') >= 5)
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=120)
        finally:
            proc.kill()
    out, err = (cli.cwd / "out.txt").read_text(), (cli.cwd / "err.txt").read_text()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "  ap-southeast-1: interrupted" in out
    assert "  ap-south-1: not started (interrupted)" in out
    for region in REGIONS:
        ecr = boto("ecr", region)
        made = {r["repositoryName"] for page in
                ecr.get_paginator("describe_repositories").paginate()
                for r in page["repositories"] if r["repositoryName"].startswith(f"cc{uid}-")}
        recorded = {r["id"] for r in _state(cli, region).get("resources", {}).values()}
        assert made == recorded, region  # nothing orphaned, nothing recorded that is not there
    assert 0 < len(_state(cli, "ap-southeast-1")["resources"]) < 40
    assert _state(cli, "ap-south-1") == {}
    done = cli.run("apply", "--auto-approve")
    assert done.code == 0, done.err
    assert "Apply complete! 3 region(s)." in done.out


def test_the_budget_is_the_environment_s_over_all_its_regions(cli: Cli, sandbox: Any) -> None:
    # an EKS control plane is $73.00 a month in each region: under the budget in any one of
    # them, over it in three
    cli.write("project: bud\nenvironments:\n  prod:\n"
              f"    regions: [{', '.join(REGIONS)}]\n"
              "budget: {monthly_usd: 150}\n"
              "resources:\n  aws_eks_cluster.k:\n"
              "    role_arn: arn:aws:iam::123456789012:role/x\n"
              "    vpc_config: {subnet_ids: [subnet-1, subnet-2]}\n")
    r = cli.run("plan")
    assert r.code == 1
    assert "Budget: $150.00 for 'prod' over its regions: over by $69.00." in r.out
    assert r.out.count("Budget:") == 1  # not once per region
    assert r.err.startswith("Error: the plan's monthly estimate, $219.00 over its regions "
                            "(ap-southeast-1 $73.00, ap-northeast-1 $73.00, ap-south-1 "
                            "$73.00), is above the budget of $150.00 for environment 'prod'")
    assert cli.run("apply", "--auto-approve").code == 1
    assert not any((cli.cwd / ".mlform/state/prod" / region / "state.json").exists()
                   for region in REGIONS)
    ok = cli.run("plan", "--region", "ap-south-1")  # one region alone is within it
    assert ok.code == 0, ok.err
    assert "Budget: $150.00 for 'prod' over its regions: $77.00 to spare." in ok.out
