"""examples/ml-platform, the README's walkthrough: every component planned with its cost,
applied, updated and destroyed on the sandbox."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from tests.cli.conftest import Cli

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ml-platform" / "mlform.yaml"


def test_ml_platform_applies_updates_and_destroys(cli: Cli, sandbox: Any, boto: Any) -> None:
    shutil.copy(EXAMPLE, cli.cwd / "mlform.yaml")
    r = cli.run("plan")
    assert r.code == 0, r.err
    assert "Plan: 113 to add, 0 to change, 0 to destroy." in r.out
    # The networks the components make reach the internet: private subnets through a NAT
    # gateway, public ones through the internet gateway.
    assert ('+ cidr_block     = "0.0.0.0/0"\n'
            '              + nat_gateway_id = (known after apply)') in r.out
    assert ('+ cidr_block = "0.0.0.0/0"\n'
            '              + gateway_id = (known after apply)') in r.out
    assert "# module.trainer.aws_nat_gateway.a will be created" in r.out
    for kind in ("dataset_store", "container_registry", "feature_store", "gpu_cluster",
                 "experiment_tracker", "training_pipeline", "model_endpoint", "notebook",
                 "secret"):
        assert f"({kind}) ──" in r.out, kind  # every component type is in the example
    assert "  - trainer: gpu A10G:1 -> g5.xlarge in eu-west-1" in r.out
    assert "Budget: $2,500.00 for 'dev': $1,696.09 to spare." in r.out
    cost = json.loads(cli.run("cost", "--json").out)
    # fraud-api: T4 -> ml.g4dn.xlarge at $0.821/h, 1 usually, 4 at most.
    api = next(c for c in cost["components"] if c["name"] == "fraud-api")
    assert api["after"]["desired"] == 599.33 and api["after"]["max"] == 2397.32
    # Unknown: 8 of the 9 are NAT gateways, interface endpoints and EIPs, which the catalog
    # has no sourced eu-west-1 prices for.
    assert cost["after"]["desired"] == 803.91 and cost["after"]["unknown_resources"] == 9

    r = cli.run("apply", "--auto-approve")
    assert r.code == 0, r.err
    assert "Apply complete! Resources: 113 added, 0 changed, 0 destroyed." in r.out
    assert 'gpu_instance_type = "g5.xlarge"' in r.out
    assert cli.run("plan", "--detailed-exitcode").code == 0
    _every_object_can_be_imported(cli.cwd / "mlform.yaml")
    endpoint = boto("sagemaker", "eu-west-1").describe_endpoint(EndpointName="fraud-dev-fraud-api")

    r = cli.run("plan", "--var", "model_version=v2", "-out", "v2.plan")
    assert "# module.fraud-api.aws_sagemaker_endpoint.this will be updated in-place" in r.out
    assert "This plan changes the monthly estimate by +$0.00" in r.out
    assert cli.run("apply", "v2.plan").code == 0
    moved = boto("sagemaker", "eu-west-1").describe_endpoint(EndpointName="fraud-dev-fraud-api")
    assert moved["EndpointArn"] == endpoint["EndpointArn"]

    r = cli.run("destroy", "--auto-approve", "--var", "model_version=v2")
    assert r.code == 0 and "113 destroyed" in r.out, r.err
    assert "This plan changes the monthly estimate by -$803.91 (from $803.91 to $0.00)." in r.out
    assert cli.run("state", "list").out == ""


# What an import cannot know, as Terraform's import cannot: settings only the config holds, and
# values AWS chose where the config left them to it.
NOT_IN_THE_CLOUD = {
    "module.registry.aws_ecr_repository.this": ["force_delete"],
    "module.features.aws_s3_bucket.this": ["force_destroy"],
    "module.api-keys.aws_secretsmanager_secret.this": ["recovery_window_in_days"],
    "module.fraud-api.aws_sagemaker_model.this": ["name_prefix"],
    "module.fraud-api.aws_sagemaker_endpoint_configuration.this": ["name_prefix"],
    "module.transactions.aws_sagemaker_feature_group.this": ["online_store_config"],
    "module.tracking.aws_db_instance.this": ["final_snapshot_identifier"],
    "module.trainer.aws_eks_node_group.gpu": ["node_group_name_prefix", "disk_size"],
    "module.trainer.aws_eks_node_group.system": ["node_group_name_prefix", "ami_type",
                                                 "disk_size"],
}


def _every_object_can_be_imported(config: Path) -> None:
    """Each object discovery lists reads back by the id `mlform import` takes, with no prior
    state, as it is recorded (see NOT_IN_THE_CLOUD)."""
    from mlform.api import Workspace
    from mlform.providers.base import Discoverable

    ws = Workspace(config, offline=True)
    pool = ws.pool()
    listed: dict[str, dict[str, str]] = {}
    differs = {}
    for address, res in ws.state().resources.items():
        rt = pool.resource(res.type)
        if res.type not in listed:
            assert isinstance(rt, Discoverable)
            listed[res.type] = {d.id: d.import_id or d.id for d in rt.list()}
        live = rt.read(listed[res.type][res.id], {})
        assert live is not None and live["id"] == res.id, address
        fields = [f for f in type(rt).Args.model_fields
                  if live.get(f) != res.attributes.get(f)]
        if fields:
            differs[address] = fields
    assert differs == NOT_IN_THE_CLOUD
