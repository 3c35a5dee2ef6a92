"""The README's quickstart, end to end on the sandbox, and a cloud error on the way."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from tests.cli.conftest import Cli

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "quickstart" / "mlform.yaml"


def test_quickstart_applies_updates_and_destroys(cli: Cli, sandbox: Any, boto: Any) -> None:
    shutil.copy(EXAMPLE, cli.cwd / "mlform.yaml")
    assert cli.run("validate").code == 0
    r = cli.run("apply", "--auto-approve")
    assert r.code == 0, r.err
    assert "Apply complete! Resources: 11 added, 0 changed, 0 destroyed." in r.out
    assert 'endpoint_name = "quickstart-dev-fraud"' in r.out
    assert cli.run("plan", "--detailed-exitcode").code == 0
    endpoint = boto("sagemaker").describe_endpoint(EndpointName="quickstart-dev-fraud")
    assert endpoint["EndpointStatus"] == "InService"

    # A new model version: new model and configuration, the endpoint moved in place.
    r = cli.run("plan", "--var", "model_version=v2", "-out", "v2.plan")
    assert "Plan: 2 to add, 1 to change, 2 to destroy." in r.out
    assert "# aws_sagemaker_endpoint.fraud will be updated in-place" in r.out
    assert cli.run("apply", "v2.plan").code == 0
    moved = boto("sagemaker").describe_endpoint(EndpointName="quickstart-dev-fraud")
    assert moved["EndpointArn"] == endpoint["EndpointArn"]
    assert moved["EndpointConfigName"] != endpoint["EndpointConfigName"]

    r = cli.run("destroy", "--auto-approve", "--var", "model_version=v2")
    assert r.code == 0 and "11 destroyed" in r.out
    assert cli.run("state", "list").out == ""
    names = [b["Name"] for b in boto("s3").list_buckets()["Buckets"]]
    assert "quickstart-dev-artifacts" not in names


def test_cloud_error_names_the_resource_and_keeps_the_rest(cli: Cli, sandbox: Any,
                                                           uid: str) -> None:
    text = EXAMPLE.read_text().replace("project: quickstart", f"project: q{uid}")
    cli.write(text)
    r = cli.run("apply", "--auto-approve", "--var", "instance_type=ml.bogus")
    assert r.code == 1
    errors = [line for line in r.err.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1
    assert errors[0].startswith(
        "Error: aws_sagemaker_endpoint_configuration.fraud: CreateEndpointConfig: "
        "ValidationException: Value 'ml.bogus' at 'instanceType' failed to satisfy constraint")
    assert errors[0].endswith("(mlform.yaml:83:3)")
    assert "Traceback" not in r.err
    assert "1 change(s) not made because something they depend on failed." in r.err
    state = json.loads((cli.cwd / ".mlform/state/dev/state.json").read_text())
    assert len(state["resources"]) == 9 and not state["pending"]
    # Fixed, the next apply creates exactly what is missing.
    r = cli.run("apply", "--auto-approve")
    assert r.code == 0 and "Resources: 2 added, 0 changed, 0 destroyed." in r.out
    assert cli.run("destroy", "--auto-approve").code == 0
