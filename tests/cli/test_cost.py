"""`mlform cost`, the cost section of `plan`, budgets, and `mlform prices`, through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.cli.conftest import Cli
from tests.cost.fake_pricing import fake_pricing, product

SECRETS = """\
project: budget
environments: {dev: {}, prod: {}}
budget: {monthly_usd: {dev: 0.5, default: 100}}
components:
  api-key: {type: secret, recovery_window_in_days: 0}
  db-password: {type: secret, recovery_window_in_days: 0}
"""


def test_plan_shows_the_cost_section(cli: Cli, sandbox: Any) -> None:
    cli.write(SECRETS)
    r = cli.run("plan", "--env", "prod")
    assert r.code == 0, r.err
    assert "Estimated monthly cost (USD, on-demand list prices in us-east-1; the sandbox " \
           "itself costs nothing, these are AWS's prices):" in r.out
    assert "  ── api-key (secret)\n    + aws_secretsmanager_secret.this" in r.out
    assert "This plan changes the monthly estimate by +$0.80 (from $0.00 to $0.80)." in r.out
    assert "Budget: $100.00 for 'prod': $99.20 to spare." in r.out


def test_over_budget_plan_fails_naming_components_and_saves_nothing(cli: Cli,
                                                                    sandbox: Any) -> None:
    cli.write(SECRETS)
    r = cli.run("plan", "--env", "dev", "-out", "dev.plan")
    assert r.code == 1
    assert r.err == (
        "Error: the monthly estimate after this plan, $0.80, is over the budget of $0.50 for "
        "environment 'dev' (costing most: api-key $0.40, db-password $0.40). Lower them, "
        "raise budget.monthly_usd, or pass --allow-over-budget\n")
    assert "Budget: $0.50 for 'dev': over by $0.30." in r.out  # the table was still shown
    assert not (cli.cwd / "dev.plan").exists()
    r = cli.run("apply", "--env", "dev", "--auto-approve")
    assert r.code == 1 and "over the budget of $0.50" in r.err
    assert cli.run("state", "list", "--env", "dev").out == ""  # nothing was made
    r = cli.run("plan", "--env", "dev", "-out", "dev.plan", "--allow-over-budget")
    assert r.code == 0 and (cli.cwd / "dev.plan").exists()
    r = cli.run("show", "dev.plan")  # a saved plan is shown with its cost, too
    assert "Budget: $0.50 for 'dev': over by $0.30." in r.out
    assert json.loads(cli.run("show", "--json", "dev.plan").out)["cost_estimate"]["budget"] == {
        "monthly_usd": 0.5, "over": True}
    r = cli.run("cost", "--env", "dev")
    assert r.code == 1 and "over the budget" in r.err
    assert cli.run("cost", "--env", "dev", "--allow-over-budget").code == 0


def test_cost_json_and_plan_json(cli: Cli, sandbox: Any) -> None:
    cli.write(SECRETS)
    r = cli.run("cost", "--env", "prod", "--json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert doc["after"] == {"min": 0.8, "desired": 0.8, "max": 0.8, "unknown_resources": 0,
                            "includes_spot": False}
    assert doc["budget"] == {"monthly_usd": 100.0, "over": False}
    assert [c["name"] for c in doc["components"]] == ["api-key", "db-password"]
    (row,) = doc["components"][0]["resources"]
    assert row["after"]["items"] == "1 x secret" and row["before"] is None
    assert {s["id"] for s in doc["sources"]} == {
        row["after"]["sources"][0]}  # every figure says where its price came from
    r = cli.run("plan", "--env", "prod", "--json")
    plan = json.loads(r.out)
    assert plan["format_version"] and plan["cost_estimate"]["after"]["desired"] == 0.8


def test_budget_settings_are_checked(cli: Cli) -> None:
    cli.write("project: b\nenvironments: {dev: {}}\n"
              "budget: {monthly_usd: {prd: 10, dev: -1}}\n")
    r = cli.run("validate")
    assert r.code == 1
    assert "budget.monthly_usd: 'prd' is not an environment" in r.err
    assert "budget.monthly_usd: a budget cannot be negative" in r.err


PRODUCTS = [
    product("AmazonEC2", "Compute Instance", 1.5, regionCode="us-east-1",
            instanceType="g5.xlarge", operatingSystem="Linux", tenancy="Shared",
            preInstalledSw="NA", capacitystatus="Used", licenseModel="No License required",
            usagetype="BoxUsage:g5.xlarge"),
    product("AmazonEC2", "Compute Instance", 9.9, regionCode="us-east-1",
            instanceType="g5.xlarge", operatingSystem="Windows", tenancy="Shared",
            preInstalledSw="NA", capacitystatus="Used", licenseModel="No License required"),
    product("AmazonSageMaker", "ML Instance", 1.7, regionCode="us-east-1",
            usagetype="USE1-Host:ml.g5.2xlarge", instanceName="ml.g5.2xlarge"),
    product("AmazonSageMaker", "ML Instance", 1.69, regionCode="us-east-1",
            usagetype="USE1-Host:ml.g5.2xlarge", operation="RunInstance:0002"),
    product("AmazonSageMaker", "ML Instance", 1.0, regionCode="us-east-1",
            usagetype="USE1-Train:ml.g5.2xlarge"),
    product("AmazonSageMaker", "ML Instance", 0.05, regionCode="us-east-1",
            usagetype="USE1-Notebk:ml.t3.medium"),
    product("AmazonSageMaker", "ML Storage", 0.14, unit="GB-Mo", regionCode="us-east-1",
            usagetype="USE1-Notebk:VolumeUsage.gp2"),
    product("AmazonRDS", "Database Instance", 0.016, regionCode="us-east-1",
            instanceType="db.t4g.micro", databaseEngine="PostgreSQL",
            deploymentOption="Single-AZ"),
    product("AmazonRDS", "Database Storage", 0.115, unit="GB-Mo", regionCode="us-east-1",
            deploymentOption="Single-AZ", usagetype="RDS:GP3-Storage"),
    product("AmazonECS", "Compute", 0.04048, regionCode="us-east-1",
            usagetype="USE1-Fargate-vCPU-Hours:perCPU"),
    product("AmazonECS", "Compute", 0.03238, regionCode="us-east-1",
            usagetype="USE1-Fargate-ARM-vCPU-Hours:perCPU"),
    product("AmazonECS", "Compute", 0.004445, regionCode="us-east-1",
            usagetype="USE1-Fargate-GB-Hours"),
    product("AmazonEKS", "Compute", 0.10, regionCode="us-east-1",
            usagetype="USE1-AmazonEKS-Hours:perCluster"),
    product("AWSSecretsManager", "Secret", 0.40, unit="Secrets", regionCode="us-east-1",
            usagetype="USE1-AWSSecretsManager-Secrets"),
]


def test_prices_refresh_from_the_price_list_api(cli: Cli, tmp_path: Path) -> None:
    home = tmp_path / "home"  # its own MLFORM_HOME: the refreshed catalog stays here
    with fake_pricing(PRODUCTS) as (url, requests):
        env = {"MLFORM_HOME": str(home), "AWS_ENDPOINT_URL_PRICING": url}
        r = cli.run("prices", "refresh", "--region", "us-east-1", env=env)
    assert r.code == 0, r.err
    assert f"Wrote 10 price(s) to {home / 'prices.json'}." in r.out
    assert "  ec2                  us-east-1        1 price(s)" in r.err
    assert {q["ServiceCode"] for q in requests} == {
        "AmazonEC2", "AmazonSageMaker", "AmazonRDS", "AmazonECS", "AmazonEKS",
        "AWSSecretsManager", "AmazonEFS"}
    assert any(q.get("NextToken") for q in requests)  # it read every page
    shown = json.loads(cli.run("prices", "show", "--json", "--region", "us-east-1",
                               env=env).out)
    prices = shown["prices"]
    assert prices["ec2"]["us-east-1"]["g5.xlarge"]["usd"] == 1.5  # Linux, not Windows
    # The same product listed twice: the higher price is kept.
    assert prices["sagemaker_hosting"]["us-east-1"]["ml.g5.2xlarge"]["usd"] == 1.7
    assert prices["sagemaker_notebook"]["us-east-1"]["ml.t3.medium"]["usd"] == 0.05
    assert prices["sagemaker_storage"]["us-east-1"]["ml_storage"]["usd"] == 0.14
    assert prices["rds_storage"]["us-east-1"]["gp3"]["usd"] == 0.115
    assert prices["fargate"]["us-east-1"] == {
        "memory_gb": {"usd": 0.004445, "unit": "hour", "source": "aws-price-list-AmazonECS-"
                                                                 "2026-11-20"},
        "vcpu": {"usd": 0.04048, "unit": "hour", "source": "aws-price-list-AmazonECS-2026-11-20"}}
    assert shown["sources"]["aws-price-list-AmazonEC2-2026-11-20"]["date"] == "2026-11-20"
    # What the API did not cover still comes from the shipped catalog.
    assert prices["ec2"]["us-east-1"]["t3.medium"]["source"].startswith("skypilot-org")
    r = cli.run("prices", "show", env=env)
    assert f"(shipped, overlaid by {home / 'prices.json'})" in r.out


def test_prices_refresh_that_finds_nothing_changes_nothing(cli: Cli, tmp_path: Path) -> None:
    home = tmp_path / "home"
    with fake_pricing([]) as (url, _):
        r = cli.run("prices", "refresh", "--region", "us-east-1",
                    env={"MLFORM_HOME": str(home), "AWS_ENDPOINT_URL_PRICING": url})
    assert r.code == 1
    assert r.err.endswith("Error: the Price List API returned no prices; the catalog is "
                          "unchanged\n")
    assert not (home / "prices.json").exists()


def test_a_damaged_refreshed_catalog_is_one_clear_error(cli: Cli, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "prices.json").write_text('{"format": 1, "sources": {}, "prices": {"gpu": {}}}')
    r = cli.run("prices", "show", env={"MLFORM_HOME": str(home)})
    assert r.code == 1
    assert r.err == (f"Error: {home / 'prices.json'} is not a price catalog mlform can read: "
                     "unknown price table 'gpu' (delete it, or run `mlform prices refresh` "
                     "again)\n")


def test_prices_refresh_without_credentials_says_what_to_do(cli: Cli, tmp_path: Path) -> None:
    r = cli.run("prices", "refresh", env={"MLFORM_HOME": str(tmp_path),
                                          "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""})
    assert r.code == 1
    assert r.err == ("Error: the AWS Price List API needs AWS credentials (any account will do), "
                     "and none were found: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
                     "AWS_SECRET_ACCESS_KEY, run `aws configure` or `aws sso login`, or pass "
                     "--profile\n")
