"""Credentials written in the config or a var file are refused, each located, never echoed."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlform.config.stack import load_stack
from mlform.errors import ConfigError

KEY_ID = "AKIA" + "ABCDEFGHIJKLMNOP"  # split, so that scanners of this repository stay quiet
PRIVATE = "-----BEGIN RSA " + "PRIVATE KEY-----\nMIIEow...\n-----END RSA PRIVATE KEY-----"
GITHUB = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"

CONFIG = f"""project: creds
environments: {{dev: {{}}, prod: {{}}}}
variables:
  db_password:
    description: The database password   # a description says what it is: not a secret
    default: hunter2-not-in-files
  api_token: {{default: "${{var.other}}"}}   # a reference is not a literal
  other: {{default: x}}
resources:
  mlform_data.keys:
    input:
      access_key_id: {KEY_ID}
      deploy_key: |
{chr(10).join("        " + line for line in PRIVATE.splitlines())}
      note: ordinary text
      gh: {GITHUB}
  mlform_data.login:
    input: {{user: admin, password: changeme}}
  mlform_data.ok:
    input: {{password_policy: strict, token_ttl: 60, description: rotate the password}}
"""


def test_every_credential_is_refused_with_its_place_and_never_echoed(tmp_path: Path) -> None:
    path = tmp_path / "mlform.yaml"
    path.write_text(CONFIG)
    with pytest.raises(ConfigError) as err:
        load_stack(path, offline=True)
    found = [str(p) for p in err.value.problems]
    assert [f.split(": ", 2)[:2] for f in found] == [
        [f"{path}:6:14", "variables.db_password.default"],
        [f"{path}:12:22", "resources.mlform_data.keys.input.access_key_id"],
        [f"{path}:13:19", "resources.mlform_data.keys.input.deploy_key"],
        [f"{path}:18:11", "resources.mlform_data.keys.input.gh"],
        [f"{path}:20:36", "resources.mlform_data.login.input.password"],
    ]
    assert "a db_password value is written in the config" in found[0]
    assert "an AWS access key id is written in the config" in found[1]
    assert "a private key is written in the config" in found[2]
    assert "a GitHub token is written in the config" in found[3]
    assert "read it with value_from (env:NAME, file:PATH, aws-secretsmanager:ID" in found[4]
    text = "\n".join(found)
    for secret in ("hunter2", KEY_ID, "MIIEow", GITHUB, "changeme"):
        assert secret not in text


def test_var_files_are_scanned_too(tmp_path: Path) -> None:
    path = tmp_path / "mlform.yaml"
    path.write_text("project: creds\nvariables:\n  db_password: {default: null}\n"
                    "  region_name: {default: x}\n")
    secrets = tmp_path / "prod.yaml"
    secrets.write_text("region_name: eu-west-1\ndb_password: s3cr3t-value\n")
    with pytest.raises(ConfigError) as err:
        load_stack(path, offline=True, var_files=[secrets])
    (problem,) = err.value.problems
    assert str(problem).startswith(f"{secrets}:2:14: db_password: a db_password value is "
                                   f"written in the var file {secrets}; credentials must never")
    assert "s3cr3t" not in str(problem)
    # the same value given on the command line (--var) is not a file: not refused here
    stack = load_stack(path, offline=True, variables={"db_password": "from-the-environment"})
    assert stack.variables["db_password"] == "from-the-environment"
