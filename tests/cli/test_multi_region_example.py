"""examples/multi-region: dev on the sandbox in one region, staging and prod `target: aws` in
their own accounts, prod in Singapore, Tokyo and Mumbai, all applied on the sandbox.

staging and prod run as they would on AWS: boto3 reads AWS_ENDPOINT_URL (the sandbox), and each
environment's `profile:` names, in an AWS shared credentials file, the key of an IAM user of
its account, which the sandbox, like AWS, signs every call into. So the expected-account check
sees real answers: prod with staging's key is refused before anything is made."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from mlform.providers.aws.session import SANDBOX_ACCOUNT_HEADER
from tests.cli.conftest import Cli

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "multi-region" / "mlform.yaml"
STAGING, PROD = "111111111111", "222222222222"
REGIONS = ["ap-southeast-1", "ap-northeast-1", "ap-south-1"]


def _key(url: str, account: str, uid: str) -> dict[str, str]:
    """The credentials of a new IAM user in `account` of the sandbox."""
    iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    iam.meta.events.register("before-send", lambda request, **_: request.headers.__setitem__(
        SANDBOX_ACCOUNT_HEADER, account))
    iam.create_user(UserName=f"deployer-{uid}")
    key = iam.create_access_key(UserName=f"deployer-{uid}")["AccessKey"]
    return {"AWS_ACCESS_KEY_ID": key["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}


def _profiles(path: Path, keys: dict[str, dict[str, str]]) -> dict[str, str]:
    """An AWS shared credentials file with a profile per key; the environment that uses it."""
    path.write_text("".join(
        f"[{name}]\naws_access_key_id = {key['AWS_ACCESS_KEY_ID']}\n"
        f"aws_secret_access_key = {key['AWS_SECRET_ACCESS_KEY']}\n"
        for name, key in keys.items()))
    return {"AWS_SHARED_CREDENTIALS_FILE": str(path)}


@pytest.fixture
def example(cli: Cli, sandbox: Any, uid: str, monkeypatch: pytest.MonkeyPatch) -> Cli:
    # the sandbox is shared by the session: a project name of its own keeps names apart
    cli.write(EXAMPLE.read_text().replace("project: fraud", f"project: f{uid}"))
    monkeypatch.setenv("AWS_ENDPOINT_URL", sandbox.url)
    monkeypatch.setenv("MLFORM_API_RATE", "*=1000")
    return cli


def test_dev_staging_and_prod_apply_on_the_sandbox(example: Cli, sandbox: Any,
                                                   uid: str) -> None:
    staging, prod = _key(sandbox.url, STAGING, uid), _key(sandbox.url, PROD, uid)
    profiles = _profiles(example.cwd / "credentials",
                         {"fraud-staging": staging, "fraud-prod": prod})

    r = example.run("apply", "--auto-approve")  # dev: the sandbox target, one region
    assert r.code == 0, r.err
    assert "Apply complete! Resources: 50 added" in r.out

    # parity reads every environment with its own profile; the example's differences are
    # all allowed, or explained by the region (p4de.24xlarge where there is no p4d)
    r = example.run("parity", "dev", "staging", "prod", env=profiles)
    assert r.code == 0, r.out + r.err
    assert "0 unsanctioned, 4 allowed, 3 explained by the region." in r.out, r.out

    mixed_up = _profiles(example.cwd / "mixed", {"fraud-staging": staging,
                                                 "fraud-prod": staging})
    wrong = example.run("apply", "-e", "prod", "--auto-approve", env=mixed_up)
    assert wrong.code == 1
    assert STAGING in wrong.err and PROD in wrong.err and "Traceback" not in wrong.err
    assert (f"environment 'prod' expects AWS account {PROD}, but the credentials in use "
            f"belong to {STAGING} (profile 'fraud-prod'") in wrong.err
    assert not (example.cwd / ".mlform/state/prod/ap-south-1/state.json").exists()
    staging = prod = profiles

    r = example.run("apply", "-e", "staging", "--auto-approve", env=staging)
    assert r.code == 0, r.err
    assert "  ap-southeast-1: done. Resources: 50 added" in r.out

    r = example.run("plan", "-e", "prod", env=prod)
    assert r.code == 0, r.err
    assert "  - trainer: gpu A100:8 -> p4de.24xlarge in ap-southeast-1" in r.out
    assert "  - trainer: gpu A100:8 -> p4d.24xlarge in ap-northeast-1" in r.out
    assert "  - trainer: gpu A100:8 -> p4d.24xlarge in ap-south-1" in r.out
    assert "Total over 3 regions: 150 to add, 0 to change, 0 to destroy" in r.out

    r = example.run("apply", "-e", "prod", "--auto-approve", env=prod)
    assert r.code == 0, r.err
    # the rollout order: Mumbai, Tokyo, then Singapore, one at a time
    starts = [r.out.index(f"[{region}] starting") for region in
              ("ap-south-1", "ap-northeast-1", "ap-southeast-1")]
    assert starts == sorted(starts)
    for region in REGIONS:
        assert f"  {region}: done. Resources: 50 added" in r.out
        state = json.loads((example.cwd / f".mlform/state/prod/{region}/state.json").read_text())
        nodes = state["resources"]["module.trainer.aws_eks_node_group.gpu"]["attributes"]
        wanted = "p4de.24xlarge" if region == "ap-southeast-1" else "p4d.24xlarge"
        assert nodes["instance_types"] == [wanted]
        bucket = state["resources"]["module.features.aws_s3_bucket.this"]["id"]
        assert bucket == f"f{uid}-prod-{region}-features"
        endpoint = state["resources"]["module.fraud-api.aws_sagemaker_endpoint.this"]
        assert f":{PROD}:" in endpoint["attributes"]["arn"]  # made in prod's own account
        assert f":{region}:" in endpoint["attributes"]["arn"]
    again = example.run("plan", "-e", "prod", "--detailed-exitcode", env=prod)
    assert again.code == 0, again.out + again.err
