"""A SecureString parameter's value never leaks: the canary approach of test_secret_canary,
with the value put in Parameter Store instead of Secrets Manager."""

from __future__ import annotations

from typing import Any

from tests.cli.conftest import Cli
from tests.cli.test_secret_canary import Canaries


def test_a_secure_string_is_never_written_or_printed(cli: Cli, uid: str, boto: Any,
                                                     sandbox: Any) -> None:
    cli.write(f"""project: s{uid}
environments:
  e{uid}: {{target: sandbox, region: us-east-1}}
variables:
  db_pw: {{sensitive: true, value_from: "env:CANARY_DB"}}
  token: {{sensitive: true, value_from: "env:CANARY"}}
resources:
  aws_ssm_parameter.db: {{type: SecureString, value: "${{var.db_pw}}"}}
  aws_ssm_parameter.token: {{type: String, value: "${{var.token}}"}}
  aws_ssm_parameter.host: {{type: String, insecure_value: db.internal}}
""")
    c = Canaries(cli)
    planned = c.run("plan", "--json")
    assert planned.code == 0, planned.err
    applied = c.run("apply", "--auto-approve", "--debug")
    assert applied.code == 0, applied.err
    for args in (("show",), ("show", "--json"), ("state", "show", "aws_ssm_parameter.db"),
                 ("plan", "--debug")):
        assert c.run(*args).code == 0, args
    assert "No changes." in c.run("plan").out
    ssm = boto("ssm")
    got = ssm.get_parameter(Name=f"/s{uid}/e{uid}/db", WithDecryption=True)["Parameter"]
    assert got["Value"] == c.values["CANARY_DB"] and got["Type"] == "SecureString"
    c.assert_nowhere()
    assert c.run("destroy", "--auto-approve").code == 0
