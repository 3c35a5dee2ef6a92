"""`mlform promote staging prod` through the real CLI on the sandbox: staging and prod in their
own accounts, prod in two regions. Staging tests a new image (v2); promotion gives prod
staging's model version and staging's digest, in prod's own repository of each region, leaves
the allowed difference (prod's replicas) alone, applies, and records what it did."""

from __future__ import annotations

import fcntl
import json
import os
from typing import Any

import boto3
import pytest
import yaml

from mlform.providers.aws.session import SANDBOX_ACCOUNT_HEADER
from tests.cli.conftest import Cli
from tests.cli.test_lock import push

STAGING, PROD = "111111111111", "222222222222"
CONFIG = """project: {project}
environments:
  staging: {{target: sandbox, account: "{staging}", regions: [ap-southeast-1]}}
  prod: {{target: sandbox, account: "{prod}", regions: [ap-southeast-1, ap-south-1]}}
variables:
  model_version: {{default: v1, staging: v2}}   # staging tests v2
  serving: {{default: 1, prod: 2}}
components:
  registry:
    type: container_registry
    force_delete: true
  api:
    type: model_endpoint
    image: ${{registry.url}}:${{var.model_version}}
    instance_type: ml.m5.large
    replicas: ${{var.serving}}
parity:
  allow:
    - {{path: api.replicas, reason: prod takes the traffic}}
"""


def ecr(sandbox: Any, account: str, region: str) -> Any:
    client = boto3.client("ecr", endpoint_url=sandbox.url, region_name=region,
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    client.meta.events.register("before-send", lambda request, **_: request.headers.__setitem__(
        SANDBOX_ACCOUNT_HEADER, account))
    return client


def served(sandbox: Any, project: str, account: str, region: str) -> str:
    """The image prod's (or staging's) endpoint serves, read from SageMaker."""
    sm = boto3.client("sagemaker", endpoint_url=sandbox.url, region_name=region,
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    sm.meta.events.register("before-send", lambda request, **_: request.headers.__setitem__(
        SANDBOX_ACCOUNT_HEADER, account))
    env = "staging" if account == STAGING else "prod"
    endpoint = sm.describe_endpoint(EndpointName=f"{project}-{env}-{region}-api")
    config = sm.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    model = sm.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    return str(model["PrimaryContainer"]["Image"])


@pytest.fixture
def platform(cli: Cli, sandbox: Any, uid: str) -> dict[str, Any]:
    """Staging and prod applied, v1 and v2 pushed (v2 also to prod's repositories, as ECR
    replication would), locked, and applied again so each serves its digest."""
    project = f"pr{uid}"
    cli.write(CONFIG.format(project=project, staging=STAGING, prod=PROD))
    for env in ("staging", "prod"):
        assert cli.run("apply", "-e", env, "--auto-approve").code == 0
    digests = {}
    for account, env, region in ((STAGING, "staging", "ap-southeast-1"),
                                 (PROD, "prod", "ap-southeast-1"), (PROD, "prod", "ap-south-1")):
        client = ecr(sandbox, account, region)
        repository = f"{project}-{env}-{region}-registry"
        digests["v1"] = push(client, repository, "v1", "build 1")
        digests["v2"] = push(client, repository, "v2", "build 2")
    r = cli.run("lock")
    assert r.code == 0, r.err
    for env in ("staging", "prod"):
        r = cli.run("apply", "-e", env, "--auto-approve", "--frozen")
        assert r.code == 0, r.err
    assert served(sandbox, project, STAGING, "ap-southeast-1").endswith("@" + digests["v2"])
    assert served(sandbox, project, PROD, "ap-south-1").endswith("@" + digests["v1"])
    return {"project": project, **digests}


def test_promotion_carries_staging_s_digest_to_prod(cli: Cli, sandbox: Any,
                                                    platform: dict[str, Any]) -> None:
    project = platform["project"]
    assert cli.run("parity", "staging", "prod").code == 2  # v1 vs v2: unsanctioned
    config_before = (cli.cwd / "mlform.yaml").read_text()

    r = cli.run("promote", "staging", "prod", input="no\n")  # declined: nothing changes
    assert r.code == 1, r.err
    assert "Promotion cancelled" in r.out
    assert (cli.cwd / "mlform.yaml").read_text() == config_before

    # prod busy: the plan cannot be made, so nothing is promoted and the files go back
    lock = cli.cwd / ".mlform/state/prod/ap-south-1/lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        r = cli.run("promote", "staging", "prod", "--auto-approve")
    finally:
        os.close(fd)
    assert r.code == 1 and "environment 'prod' in ap-south-1 is locked" in r.err, r.err
    assert (cli.cwd / "mlform.yaml").read_text() == config_before

    r = cli.run("promote", "staging", "prod", "--auto-approve")
    assert r.code == 0, r.out + r.err
    assert 'var.model_version: "v1" -> "v2"' in r.out
    for region in ("ap-southeast-1", "ap-south-1"):
        assert (f"[{region}] api.image: {platform['v1']} -> {platform['v2']}") in r.out
        assert served(sandbox, project, PROD, region).endswith("@" + platform["v2"])
    assert "var.serving: it makes an allowed difference (api.replicas)" in r.out
    assert "  ap-south-1: done." in r.out
    assert "Promoted staging -> prod: mlform.yaml and mlform.lock say so; recorded in " in r.out

    # the promotion is written where a person would write it, and recorded
    text = (cli.cwd / "mlform.yaml").read_text()
    assert "model_version: {default: v1, staging: v2, prod: v2}   # staging tests v2" in text
    lock = yaml.safe_load((cli.cwd / "mlform.lock").read_text())
    for region in ("ap-southeast-1", "ap-south-1"):
        pin = lock["environments"]["prod"][region]["images"]["api"]["image"]
        assert (pin["tag"], pin["digest"]) == ("v2", platform["v2"])
    (entry,) = [json.loads(line) for line in
                (cli.cwd / ".mlform/state/prod/promotions.jsonl").read_text().splitlines()]
    assert entry["from"] == "staging" and entry["to"] == "prod"
    assert entry["variables"] == {"model_version": {"old": "v1", "new": "v2"}}
    assert entry["regions"] == {"ap-southeast-1": "applied", "ap-south-1": "applied"}
    assert entry["images"]["ap-south-1"]["api.image"]["new"] == platform["v2"]

    # prod now matches staging but for what is allowed; nothing is left to promote or apply
    assert cli.run("parity", "staging", "prod").code == 0
    again = cli.run("promote", "staging", "prod")
    assert again.code == 0 and "Nothing to promote" in again.out
    assert cli.run("plan", "-e", "prod", "--frozen", "--detailed-exitcode").code == 0


def test_a_digest_missing_in_prod_is_refused_and_nothing_changes(
        cli: Cli, sandbox: Any, platform: dict[str, Any]) -> None:
    project = platform["project"]
    # staging tests v3, which was never pushed to prod's repositories
    v3 = push(ecr(sandbox, STAGING, "ap-southeast-1"), f"{project}-staging-ap-southeast-1-registry",
              "v3", "build 3")
    text = (cli.cwd / "mlform.yaml").read_text().replace("staging: v2}", "staging: v3}")
    (cli.cwd / "mlform.yaml").write_text(text)
    assert cli.run("lock").code == 0
    lock_before = (cli.cwd / "mlform.lock").read_text()
    r = cli.run("promote", "staging", "prod", "--auto-approve")
    assert r.code == 1
    assert f"{v3}" in r.err and "push or replicate the image there first" in r.err
    assert "Traceback" not in r.err
    assert (cli.cwd / "mlform.yaml").read_text() == text
    assert (cli.cwd / "mlform.lock").read_text() == lock_before
    assert not (cli.cwd / ".mlform/state/prod/promotions.jsonl").exists()
