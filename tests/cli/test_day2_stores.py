"""Day two on examples/ml-platform: the changes a team makes to an applied platform, each
planned as AWS allows it (in place where AWS changes it in place, refused at plan time where
AWS would refuse), applied, and planned again clean. One apply of the platform serves them all."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from tests.cli.conftest import Cli

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ml-platform" / "mlform.yaml"
REGION = "eu-west-1"


def _edit(cli: Cli, *replacements: tuple[str, str]) -> None:
    path = cli.cwd / "mlform.yaml"
    text = path.read_text()
    for old, new in replacements:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path.write_text(text)


def _actions(out: str) -> dict[str, str]:
    """address -> what the plan says it does, from the plan text."""
    return {m[1]: m[2] for m in re.finditer(
        r"# (\S+) (will be updated in-place|must be replaced|will be created|"
        r"will be destroyed)", out)}


def _step(cli: Cli, expected: dict[str, str], *edits: tuple[str, str]) -> str:
    """Edit the config, apply it (its plan must do exactly `expected`), plan again: clean."""
    _edit(cli, *edits)
    r = cli.run("apply", "--auto-approve")
    assert r.code == 0, r.err
    assert _actions(r.out) == expected, r.out
    assert cli.run("plan", "--detailed-exitcode").code == 0
    return r.out


def _refused(cli: Cli, message: str, *edits: tuple[str, str]) -> None:
    """The edit is refused at plan time with a located error, and nothing changes."""
    before = (cli.cwd / "mlform.yaml").read_text()
    _edit(cli, *edits)
    r = cli.run("plan")
    assert r.code == 1 and r.out == "", (r.out, r.err)
    assert re.match(r"Error: mlform\.yaml:\d+:\d+: ", r.err), r.err
    assert message in r.err, r.err
    assert len(r.err.strip().splitlines()) <= 2, r.err
    assert cli.run("apply", "--auto-approve").code == 1
    (cli.cwd / "mlform.yaml").write_text(before)
    assert cli.run("plan", "--detailed-exitcode").code == 0


UPDATE, REPLACE = "will be updated in-place", "must be replaced"


def test_day_two_changes_to_the_stores(cli: Cli, sandbox: Any, boto: Any) -> None:
    shutil.copy(EXAMPLE, cli.cwd / "mlform.yaml")
    r = cli.run("apply", "--auto-approve")
    assert r.code == 0, r.err
    sm, rds = boto("sagemaker", REGION), boto("rds", REGION)
    group = sm.describe_feature_group(FeatureGroupName="fraud-dev-transactions")

    # A new feature is added to the group, which keeps its data; nothing is replaced.
    _step(cli, {"module.transactions.aws_sagemaker_feature_group.this": UPDATE},
          ("      card_country: String\n",
           "      card_country: String\n      device_id: String\n"))
    now = sm.describe_feature_group(FeatureGroupName="fraud-dev-transactions")
    assert now["CreationTime"] == group["CreationTime"]
    assert now["FeatureDefinitions"][-1] == {"FeatureName": "device_id", "FeatureType": "String"}

    # Retention and versioning of the dataset store.
    _step(cli, {"module.features.aws_s3_bucket_lifecycle_configuration.this": UPDATE,
                "module.features.aws_s3_bucket_versioning.this": UPDATE},
          ("    retention_days: 730\n", "    retention_days: 365\n    versioning: false\n"))
    bucket = "fraud-dev-features"
    assert boto("s3", REGION).get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended"

    # The tracker's database: a bigger class and more storage, in place.
    db = "module.tracking.aws_db_instance.this"
    _step(cli, {db: UPDATE},
          ("db_instance_class: {dev: db.t4g.micro, prod: db.t4g.medium}",
           "db_instance_class: {dev: db.t4g.small, prod: db.t4g.medium}\n"
           "    db_storage_gb: 30"))
    live = rds.describe_db_instances(DBInstanceIdentifier="fraud-dev-tracking")["DBInstances"][0]
    pending = live.get("PendingModifiedValues") or {}
    assert pending.get("AllocatedStorage", live["AllocatedStorage"]) == 30
    assert pending.get("DBInstanceClass", live["DBInstanceClass"]) == "db.t4g.small"
    # Shrinking it is refused before anything is done, where the tracker is written.
    _refused(cli, f"{db}: allocated_storage cannot shrink (30 GiB to 20 GiB)",
             ("    db_storage_gb: 30", "    db_storage_gb: 20"))

    # The tracker's server: a bigger task and another image make a new task definition
    # revision, which the service moves to in place.
    _step(cli, {"module.tracking.aws_ecs_task_definition.this": REPLACE,
                "module.tracking.aws_ecs_service.this": UPDATE},
          ("    db_multi_az: {dev: false, prod: true}\n",
           "    db_multi_az: {dev: false, prod: true}\n    cpu: '1024'\n    memory: '2048'\n"
           "    image: ghcr.io/mlflow/mlflow:v2.18.0\n"))

    # The notebook's volume grows in place; it cannot shrink.
    _step(cli, {"module.lab.aws_sagemaker_notebook_instance.this": UPDATE},
          ("    volume_size: 20\n", "    volume_size: 30\n"))
    assert sm.describe_notebook_instance(
        NotebookInstanceName="fraud-dev-lab")["VolumeSizeInGB"] == 30
    _refused(cli, "module.lab.aws_sagemaker_notebook_instance.this: volume_size cannot shrink "
                  "(30 GB to 10 GB)", ("    volume_size: 30\n", "    volume_size: 10\n"))

    # Registry settings: fewer images kept, mutable tags.
    _step(cli, {"module.registry.aws_ecr_lifecycle_policy.this": UPDATE,
                "module.registry.aws_ecr_repository.this": UPDATE},
          ("    keep_last: 30\n    immutable_tags: true\n",
           "    keep_last: 10\n    immutable_tags: false\n"))
    repo = boto("ecr", REGION).describe_repositories(repositoryNames=["fraud-dev-registry"])
    assert repo["repositories"][0]["imageTagMutability"] == "MUTABLE"

    # A pipeline step changes: the pipeline is updated in place.
    _step(cli, {"module.train.aws_sagemaker_pipeline.this": UPDATE},
          ("StoppingCondition: {MaxRuntimeInSeconds: 14400}",
           "StoppingCondition: {MaxRuntimeInSeconds: 7200}"))
    definition = sm.describe_pipeline(PipelineName="fraud-dev-train")["PipelineDefinition"]
    assert '"MaxRuntimeInSeconds": 7200' in definition.replace(":7200", ": 7200")
