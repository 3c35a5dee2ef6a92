"""`account_id`: a `target: aws` environment checks the credentials' account (STS
GetCallerIdentity) before any other call, and refuses another account's credentials.

mlform runs on `target: aws` with AWS_ENDPOINT_URL pointing at the sandbox (through the fault
proxy, which lists every call). The sandbox, like AWS, answers GetCallerIdentity with the
account of the IAM user whose access key signed the call, so the test makes a user in another
account and signs with its key."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from mlform.providers.aws.session import SANDBOX_ACCOUNT_HEADER
from tests.cli.conftest import Cli
from tests.faultproxy import FaultProxy

DEFAULT, OTHER = "123456789012", "210987654321"
CONFIG = """project: acct
environments:
  prod: {{target: aws, region: us-east-1, account_id: "{account}"}}
resources:
  aws_s3_bucket.data: {{bucket: acct-{uid}-data}}
"""


def _client(url: str, service: str, account: str) -> Any:
    client = boto3.client(service, endpoint_url=url, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")

    def in_account(request: Any, **_: Any) -> None:
        request.headers[SANDBOX_ACCOUNT_HEADER] = account

    client.meta.events.register("before-send", in_account)
    return client


@pytest.fixture
def other_account_key(sandbox: Any, uid: str) -> tuple[dict[str, str], str]:
    """Credentials of an IAM user of account OTHER, and its ARN."""
    iam = _client(sandbox.url, "iam", OTHER)
    user = iam.create_user(UserName=f"deployer-{uid}")["User"]
    key = iam.create_access_key(UserName=f"deployer-{uid}")["AccessKey"]
    return ({"AWS_ACCESS_KEY_ID": key["AccessKeyId"],
             "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}, user["Arn"])


def _bucket_exists(url: str, account: str, name: str) -> bool:
    try:
        _client(url, "s3", account).head_bucket(Bucket=name)
    except ClientError:
        return False
    return True


def test_credentials_of_another_account_change_nothing(
        cli: Cli, proxy: FaultProxy, sandbox: Any, uid: str,
        other_account_key: tuple[dict[str, str], str]) -> None:
    env, arn = other_account_key
    cli.write(CONFIG.format(account=DEFAULT, uid=uid))
    refused = (f"Error: environment 'prod' expects AWS account {DEFAULT}, but the credentials "
               f"in use belong to {OTHER} (AWS_ACCESS_KEY_ID from the environment, {arn})\n")
    for command in (["plan"], ["apply", "--auto-approve"], ["destroy", "--auto-approve"],
                    ["refresh"], ["drift"], ["import", "aws_s3_bucket.data", f"acct-{uid}-data"]):
        del proxy.seen[:]
        r = cli.run(*command, env=env)
        assert (r.code, r.err) == (1, refused), command
        assert proxy.seen == ["GetCallerIdentity"], command
    for account in (DEFAULT, OTHER):
        assert not _bucket_exists(sandbox.url, account, f"acct-{uid}-data")
    assert cli.run("state", "list").out == ""


def test_credentials_of_the_expected_account_apply(
        cli: Cli, proxy: FaultProxy, sandbox: Any, uid: str,
        other_account_key: tuple[dict[str, str], str]) -> None:
    env, _ = other_account_key
    cli.write(CONFIG.format(account=OTHER, uid=uid))
    r = cli.run("apply", "--auto-approve", env=env)
    assert r.code == 0, r.err
    assert proxy.seen[0] == "GetCallerIdentity"
    assert _bucket_exists(sandbox.url, OTHER, f"acct-{uid}-data")
    assert cli.run("plan", "--detailed-exitcode", env=env).code == 0
    assert cli.run("destroy", "--auto-approve", env=env).code == 0


def test_account_id_is_for_aws_only(cli: Cli) -> None:
    cli.write('project: acct\nenvironments:\n  dev:\n    target: sandbox\n'
              '    account_id: "123456789012"\n')
    r = cli.run("validate")
    assert (r.code, r.out) == (1, "")
    assert r.err == ("Error: mlform.yaml:4:5: environments.dev: `account_id` is the AWS account "
                     "the credentials must belong to (`target: aws`); a sandbox environment "
                     "chooses its account with `account:`\n")
