"""Every component applied, updated and destroyed on the sandbox, checked with boto3."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlform.api import Workspace
from mlform.engine.plan import Action


def workspace(tmp_path: Path, uid: str, components: str) -> Workspace:
    path = tmp_path / "mlform.yaml"
    path.write_text(f"project: c{uid}\nenvironments: {{dev: {{}}, prod: {{}}}}\n"
                    f"components:\n{components}")
    return Workspace(path)


def applied(ws: Workspace) -> None:
    outcome = ws.apply()
    assert outcome.result is not None and outcome.result.ok, outcome.result.failed
    assert not ws.plan().has_changes


def actions(ws: Workspace) -> dict[str, Action]:
    return {c.address: c.action for c in ws.plan().changes if c.action is not Action.NOOP}


def test_dataset_store(tmp_path: Path, uid: str, boto: Any, sandbox: Any) -> None:
    ws = workspace(tmp_path, uid, "  features: {type: dataset_store, retention_days: 90, "
                                  "transition_days: 30, force_destroy: true}\n")
    applied(ws)
    s3, bucket = boto("s3"), f"c{uid}-dev-features"
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    (life,) = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert life["Expiration"] == {"Days": 90}
    assert life["Transitions"] == [{"Days": 30, "StorageClass": "INTELLIGENT_TIERING"}]
    assert ws.state().outputs == {}
    s3.put_object(Bucket=bucket, Key="data/train.csv", Body=b"x,y\n")

    ws = workspace(tmp_path, uid, "  features: {type: dataset_store, retention_days: 365, "
                                  "force_destroy: true}\n")
    assert actions(ws) == {
        "module.features.aws_s3_bucket_lifecycle_configuration.this": Action.UPDATE}
    applied(ws)
    (life,) = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert life["Expiration"] == {"Days": 365} and "Transitions" not in life
    assert ws.apply(destroy=True).result.ok  # type: ignore[union-attr]
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_secret(tmp_path: Path, uid: str, boto: Any, sandbox: Any) -> None:
    ws = workspace(tmp_path, uid, "  db-password: {type: secret, description: for the db, "
                                  "recovery_window_in_days: 0}\n")
    applied(ws)
    described = boto("secretsmanager").describe_secret(SecretId=f"c{uid}-dev-db-password")
    assert described["Description"] == "for the db"
    assert ws.apply(destroy=True).result.ok  # type: ignore[union-attr]


def test_container_registry(tmp_path: Path, uid: str, boto: Any, sandbox: Any) -> None:
    ws = workspace(tmp_path, uid, "  registry: {type: container_registry, keep_last: 5}\n")
    applied(ws)
    ecr, name = boto("ecr"), f"c{uid}-dev-registry"
    (repo,) = ecr.describe_repositories(repositoryNames=[name])["repositories"]
    assert repo["imageScanningConfiguration"] == {"scanOnPush": True}
    policy = ecr.get_lifecycle_policy(repositoryName=name)["lifecyclePolicyText"]
    assert '"countNumber":5' in policy.replace(" ", "")
    ws = workspace(tmp_path, uid, "  registry: {type: container_registry, keep_last: 10, "
                                  "immutable_tags: true}\n")
    assert actions(ws) == {"module.registry.aws_ecr_repository.this": Action.UPDATE,
                           "module.registry.aws_ecr_lifecycle_policy.this": Action.UPDATE}
    applied(ws)
    (repo,) = ecr.describe_repositories(repositoryNames=[name])["repositories"]
    assert repo["imageTagMutability"] == "IMMUTABLE"
    assert ws.apply(destroy=True).result.ok  # type: ignore[union-attr]


ENDPOINT = """  registry: {{type: container_registry}}
  models: {{type: dataset_store, force_destroy: true}}
  fraud-api:
    type: model_endpoint
    image: ${{registry.url}}:{tag}
    model_data: ${{models.uri}}/fraud/{tag}/model.tar.gz
    instance_type: ml.m5.large
    replicas: {{dev: 1, prod: 2}}
    autoscale: {{min: 1, max: {max}, invocations_per_instance: 100}}
"""


def test_model_endpoint(tmp_path: Path, uid: str, boto: Any, sandbox: Any) -> None:
    ws = workspace(tmp_path, uid, ENDPOINT.format(tag="v1", max=4))
    applied(ws)
    sm, name = boto("sagemaker"), f"c{uid}-dev-fraud-api"
    endpoint = sm.describe_endpoint(EndpointName=name)
    assert endpoint["EndpointStatus"] == "InService"
    config = sm.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    (variant,) = config["ProductionVariants"]
    assert (variant["InstanceType"], variant["InitialInstanceCount"]) == ("ml.m5.large", 1)
    model = sm.describe_model(ModelName=variant["ModelName"])
    assert model["PrimaryContainer"]["Image"].endswith(f"/c{uid}-dev-registry:v1")
    assert model["PrimaryContainer"]["ModelDataUrl"] == (
        f"s3://c{uid}-dev-models/fraud/v1/model.tar.gz")
    # The role may read exactly the model artifacts and pull from exactly this repository.
    role = model["ExecutionRoleArn"].rsplit("/", 1)[1]
    policy = boto("iam").get_role_policy(RoleName=role, PolicyName="serve")["PolicyDocument"]
    resources = {s["Sid"]: s["Resource"] for s in policy["Statement"]}
    assert resources["ReadModel"] == f"arn:aws:s3:::c{uid}-dev-models/fraud/v1/model.tar.gz"
    assert resources["PullImage"].endswith(f":repository/c{uid}-dev-registry")
    scaling = boto("application-autoscaling").describe_scalable_targets(
        ServiceNamespace="sagemaker")["ScalableTargets"]
    target = next(t for t in scaling if t["ResourceId"] == f"endpoint/{name}/variant/AllTraffic")
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 4)

    # A new model version: new model and configuration, the endpoint moves in place.
    ws = workspace(tmp_path, uid, ENDPOINT.format(tag="v2", max=6))
    assert actions(ws) == {
        # The image's policy is a resource of its own: the role itself is unchanged.
        "module.fraud-api.aws_iam_role_policy.serve": Action.UPDATE,
        "module.fraud-api.aws_sagemaker_model.this": Action.REPLACE,
        "module.fraud-api.aws_sagemaker_endpoint_configuration.this": Action.REPLACE,
        "module.fraud-api.aws_sagemaker_endpoint.this": Action.UPDATE,
        "module.fraud-api.aws_appautoscaling_target.this": Action.UPDATE,
    }
    applied(ws)
    moved = sm.describe_endpoint(EndpointName=name)
    assert moved["EndpointArn"] == endpoint["EndpointArn"]
    assert moved["EndpointConfigName"] != endpoint["EndpointConfigName"]
    assert ws.state().resources["module.fraud-api.aws_sagemaker_endpoint.this"].id == name
    assert ws.apply(destroy=True).result.ok  # type: ignore[union-attr]


def test_per_environment_settings(tmp_path: Path, uid: str) -> None:
    path = tmp_path / "mlform.yaml"
    path.write_text(f"project: c{uid}\nenvironments: {{dev: {{}}, prod: {{}}}}\n"
                    "components:\n" + ENDPOINT.format(tag="v1", max=4))
    prod = Workspace(path, environment="prod").plan()
    config = next(c for c in prod.changes
                  if c.address == "module.fraud-api.aws_sagemaker_endpoint_configuration.this")
    assert config.after is not None
    assert config.after["production_variants"][0]["initial_instance_count"] == 2
    assert prod.components == {"registry": "container_registry", "models": "dataset_store",
                               "fraud-api": "model_endpoint"}


def test_notebook(tmp_path: Path, uid: str, boto: Any, sandbox: Any) -> None:
    ws = workspace(tmp_path, uid, "  features: {type: dataset_store, force_destroy: true}\n"
                                  "  lab:\n    type: notebook\n    data: ['${features.uri}/lab']\n"
                                  "    on_start: 'echo hello'\n")
    applied(ws)
    sm = boto("sagemaker")
    notebook = sm.describe_notebook_instance(NotebookInstanceName=f"c{uid}-dev-lab")
    assert notebook["InstanceType"] == "ml.t3.medium"
    assert notebook["DirectInternetAccess"] == "Enabled"
    role = notebook["RoleArn"].rsplit("/", 1)[1]
    policy = boto("iam").get_role_policy(RoleName=role, PolicyName="notebook")["PolicyDocument"]
    resources = {s["Sid"]: s["Resource"] for s in policy["Statement"]}
    assert resources["DataObjects"] == [f"arn:aws:s3:::c{uid}-dev-features/lab/*"]
    ws = workspace(tmp_path, uid, "  features: {type: dataset_store, force_destroy: true}\n"
                                  "  lab:\n    type: notebook\n    data: ['${features.uri}/lab']\n"
                                  "    on_start: 'echo hello'\n    instance_type: ml.t3.large\n")
    assert actions(ws) == {"module.lab.aws_sagemaker_notebook_instance.this": Action.UPDATE}
    applied(ws)
    assert ws.apply(destroy=True).result.ok  # type: ignore[union-attr]


def test_notebook_without_internet_needs_a_subnet(tmp_path: Path, uid: str) -> None:
    import pytest

    from mlform.errors import ConfigError

    with pytest.raises(ConfigError, match="internet: false needs a subnet_id"):
        workspace(tmp_path, uid, "  lab: {type: notebook, internet: false}\n")


def test_training_pipeline_from_a_file_and_inline(tmp_path: Path, uid: str, boto: Any,
                                                  sandbox: Any) -> None:
    (tmp_path / "pipeline.yaml").write_text(
        "Version: '2020-12-01'\nParameters: []\nSteps:\n  - Name: Train\n    Type: Training\n"
        "    Arguments: {}\n")
    ws = workspace(tmp_path, uid, "  train: {type: training_pipeline, "
                                  "definition_file: pipeline.yaml}\n")
    applied(ws)
    sm = boto("sagemaker")
    described = sm.describe_pipeline(PipelineName=f"c{uid}-dev-train")
    import json

    assert json.loads(described["PipelineDefinition"])["Steps"][0]["Name"] == "Train"
    inline = ("  train:\n    type: training_pipeline\n    steps:\n"
              "      - {Name: Train, Type: Training, Arguments: {}}\n"
              "      - {Name: Evaluate, Type: Processing, Arguments: {}}\n")
    ws = workspace(tmp_path, uid, inline)
    assert actions(ws) == {"module.train.aws_sagemaker_pipeline.this": Action.UPDATE}
    applied(ws)
    steps = json.loads(sm.describe_pipeline(PipelineName=f"c{uid}-dev-train")[
        "PipelineDefinition"])["Steps"]
    assert [s["Name"] for s in steps] == ["Train", "Evaluate"]
    assert ws.apply(destroy=True).result.ok  # type: ignore[union-attr]


def test_feature_store(tmp_path: Path, uid: str, boto: Any, sandbox: Any) -> None:
    ws = workspace(tmp_path, uid, "  features: {type: dataset_store, force_destroy: true}\n"
                                  "  transactions:\n    type: feature_store\n"
                                  "    offline_store: ${features.uri}/feature-store\n"
                                  "    record_identifier: id\n    event_time: ts\n"
                                  "    features: {id: String, ts: Fractional, amount: "
                                  "Fractional}\n")
    applied(ws)
    group = boto("sagemaker").describe_feature_group(FeatureGroupName=f"c{uid}-dev-transactions")
    assert group["OfflineStoreConfig"]["S3StorageConfig"]["S3Uri"] == (
        f"s3://c{uid}-dev-features/feature-store")
    assert {f["FeatureName"] for f in group["FeatureDefinitions"]} == {"id", "ts", "amount"}
    assert ws.apply(destroy=True).result.ok  # type: ignore[union-attr]


def test_experiment_tracker(tmp_path: Path, uid: str, boto: Any, sandbox: Any) -> None:
    import json

    ws = workspace(tmp_path, uid, "  tracker: {type: experiment_tracker, "
                                  "keep_final_snapshot: false}\n"
                                  "outputs:\n  tracker_url: ${tracker.url}\n")
    applied(ws)
    rds = boto("rds")
    (db,) = rds.describe_db_instances(DBInstanceIdentifier=f"c{uid}-dev-tracker")["DBInstances"]
    assert db["Engine"] == "postgres" and db["StorageEncrypted"] is True
    assert db["PubliclyAccessible"] is False
    secret_arn = db["MasterUserSecret"]["SecretArn"]
    ecs = boto("ecs")
    cluster = f"c{uid}-dev-tracker"
    (service_arn,) = ecs.list_services(cluster=cluster)["serviceArns"]
    (service,) = ecs.describe_services(cluster=cluster, services=[service_arn])["services"]
    task = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])
    (container,) = task["taskDefinition"]["containerDefinitions"]
    assert container["secrets"] == [{"name": "DB_PASSWORD",
                                     "valueFrom": f"{secret_arn}:password::"}]
    assert f"@{db['Endpoint']['Address']}:5432/mlflow" in container["command"][0]
    assert f"s3://c{uid}-dev-tracker/mlflow" in container["command"][0]
    # The password lives in the secret RDS keeps; it never reaches mlform's state.
    password = json.loads(boto("secretsmanager").get_secret_value(
        SecretId=secret_arn)["SecretString"])["password"]
    state_text = (tmp_path / ".mlform" / "state" / "dev" / "state.json").read_text()
    assert len(password) >= 8 and password not in state_text and secret_arn in state_text
    # Served behind an internal load balancer; the service registers into its target group.
    elbv2 = boto("elbv2")
    (lb,) = elbv2.describe_load_balancers(Names=[f"c{uid}-dev-tracker"])["LoadBalancers"]
    assert lb["Scheme"] == "internal" and lb["State"]["Code"] == "active"
    (listener,) = elbv2.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
    target_group = listener["DefaultActions"][0]["TargetGroupArn"]
    assert (listener["Port"], listener["Protocol"]) == (80, "HTTP")
    assert service["loadBalancers"] == [{"targetGroupArn": target_group,
                                         "containerName": "mlflow", "containerPort": 5000}]
    assert ws.state().outputs["tracker_url"]["value"] == f"http://{lb['DNSName']}"
    assert ws.apply(destroy=True).result.ok  # type: ignore[union-attr]
    assert not [b for b in elbv2.describe_load_balancers()["LoadBalancers"]
                if b["LoadBalancerName"] == f"c{uid}-dev-tracker"]
