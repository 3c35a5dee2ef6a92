"""`components:` in the config: checks and messages, before anything is planned."""

from __future__ import annotations

from pathlib import Path

from mlform.components import component_types
from mlform.config.stack import load_stack
from tests.config.test_stack import problems


def test_components_expand_into_module_resources(tmp_path: Path) -> None:
    path = tmp_path / "mlform.yaml"
    path.write_text("project: demo\nenvironments: {dev: {}, prod: {}}\ncomponents:\n"
                    "  features: {type: dataset_store, retention_days: {dev: 30, prod: 365}}\n"
                    "  api-key: {type: secret}\n"
                    "resources:\n  mlform_data.where: {input: '${features.uri}/data'}\n"
                    "outputs:\n  arn: ${api-key.arn}\n")
    stack = load_stack(path, "prod")
    assert stack.components == {"features": "dataset_store", "api-key": "secret"}
    bucket = stack.resources["module.features.aws_s3_bucket.this"]
    assert bucket.component == "features" and bucket.template["bucket"] == "demo-prod-features"
    lifecycle = stack.resources["module.features.aws_s3_bucket_lifecycle_configuration.this"]
    assert lifecycle.template["rule"][0]["expiration"] == {"days": 365}
    assert lifecycle.template["bucket"] == "${module.features.aws_s3_bucket.this.id}"
    assert lifecycle.depends_on == ("module.features.aws_s3_bucket.this",)
    where = stack.resources["mlform_data.where"]
    assert where.template["input"] == "s3://${module.features.aws_s3_bucket.this.id}/data"
    assert where.depends_on == ("module.features.aws_s3_bucket.this",)
    assert stack.outputs["arn"].template == "${module.api-key.aws_secretsmanager_secret.this.arn}"
    assert load_stack(path, "dev").resources[
        "module.features.aws_s3_bucket_lifecycle_configuration.this"
    ].template["rule"][0]["expiration"] == {"days": 30}


def test_component_mistakes_are_named(tmp_path: Path) -> None:
    text = ("project: demo\nenvironments: {dev: {}, prod: {}}\ncomponents:\n"
            "  features: {type: dataset_stor}\n"
            "  store: {type: dataset_store, retention_dayz: 3}\n"
            "  Bad_Name: {type: secret}\n"
            "  api: {type: secret, recovery_window_in_days: {dev: 0}}\n"
            "  typeless: {retention_days: 3}\n"
            "resources:\n  mlform_data.x: {input: '${store.uri}'}\n")
    assert problems(tmp_path, text, environment="prod") == [
        "mlform.yaml:4:14: features.type: unknown component type 'dataset_stor'; did you mean "
        "'dataset_store'?",
        "mlform.yaml:6:3: components.Bad_Name: component names are lower-case letters, digits "
        "and dashes, starting with a letter (no underscores: those mark resource types)",
        "mlform.yaml:7:48: api.recovery_window_in_days: no value for environment 'prod' (add "
        "one, or a `default`)",
        "mlform.yaml:8:3: typeless.type: missing; it says what to build; component types: "
        + ", ".join(sorted(component_types())),
        "mlform.yaml:5:32: store.retention_dayz: unknown key 'retention_dayz'; did you mean "
        "'retention_days'?",
        # and nothing about ${store.uri}: store's own problem is the one to fix
    ]


def test_references_to_component_outputs(tmp_path: Path) -> None:
    text = ("project: demo\ncomponents:\n  store: {type: dataset_store}\n"
            "resources:\n  mlform_data.x: {input: '${store.urii}'}\n"
            "  mlform_data.y: {input: '${stor.uri}'}\n")
    assert problems(tmp_path, text) == [
        "mlform.yaml:5:26: mlform_data.x.input: ${store.urii}: component store has no output "
        "'urii'; did you mean 'uri'?",
        "mlform.yaml:6:26: mlform_data.y.input: ${stor.uri} refers to no component 'stor'; "
        "did you mean 'store'?",
    ]


def test_components_may_not_refer_to_each_other_in_a_cycle(tmp_path: Path) -> None:
    text = ("project: demo\ncomponents:\n"
            "  a: {type: secret, description: '${b.arn}'}\n"
            "  b: {type: secret, description: '${a.arn}'}\n")
    (message,) = problems(tmp_path, text)
    assert "components refer to each other in a cycle: " in message
    assert message.split("cycle: ")[1] in ("a -> b -> a", "b -> a -> b")


def test_a_secret_value_from_must_be_a_reference(tmp_path: Path) -> None:
    text = "project: demo\ncomponents:\n  db: {type: secret, value_from: 'PW'}\n"
    assert problems(tmp_path, text) == [
        "mlform.yaml:3:34: db.value_from: 'PW' is not a reference; expected one of env:NAME, "
        "file:PATH, aws-secretsmanager:NAME_OR_ARN[#json-key], ssm:/parameter/name, got a "
        "string ('PW')"]


def test_a_secret_with_value_from_puts_a_version_holding_a_reference(tmp_path: Path) -> None:
    from mlform.sensitive import SecretRef

    path = tmp_path / "mlform.yaml"
    path.write_text("project: demo\ncomponents:\n  db: {type: secret, value_from: 'env:PW'}\n")
    stack = load_stack(path)
    version = stack.resources["module.db.aws_secretsmanager_secret_version.this"]
    ref = version.template["secret_string"]
    assert isinstance(ref, SecretRef)
    assert (ref.source, ref.label, str(ref.pos)) == ("env:PW", "db", f"{path}:3:34")
    assert version.template["secret_id"] == "${module.db.aws_secretsmanager_secret.this.arn}"


def test_a_check_of_the_whole_component_points_at_the_key_it_names(tmp_path: Path) -> None:
    # Such checks used to end in ", got a mapping" (the whole component) and point at the
    # component's `type:` line.
    text = ("project: demo\ncomponents:\n"
            "  trainer:\n    type: gpu_cluster\n    gpu: A100\n    nodes: 5..2\n"
            "  api:\n    type: model_endpoint\n    image: x\n"
            "  fs:\n    type: feature_store\n    offline_store: s3://b/fs\n"
            "    features: {id: String, at: String}\n    record_identifier: user\n"
            "    event_time: at\n"
            "  api2:\n    type: model_endpoint\n    image: x\n    gpu: {type: T4, count: x}\n")
    assert problems(tmp_path, text) == [
        "mlform.yaml:6:5: trainer.nodes: expected MIN..MAX with MIN <= MAX and MAX >= 1 (such "
        "as 0..4) or a number, got '5..2'",
        "mlform.yaml:7:3: api: give either instance_type or gpu",
        "mlform.yaml:14:5: fs.record_identifier: 'user' must be one of the features (id, at)",
        "mlform.yaml:19:21: api2: gpu.count must be a positive integer",
    ]


def test_a_value_that_fits_no_member_of_a_union_is_one_message(tmp_path: Path) -> None:
    # pydantic reports it once per member, under the member's name (`gpu.dict[str,any]`).
    text = ("project: demo\ncomponents:\n"
            "  trainer:\n    type: gpu_cluster\n    gpu: [A100]\n    nodes: [1]\n"
            "  api:\n    type: model_endpoint\n    image: x\n    gpu: {type: T4, count: x}\n"
            "    autoscale: 5\n")
    assert problems(tmp_path, text) == [
        "mlform.yaml:5:10: trainer.gpu: expected a string or a mapping, got a list",
        "mlform.yaml:6:12: trainer.nodes: expected a string or an integer, got a list",
        "mlform.yaml:11:16: api.autoscale: expected a mapping, got an integer (5)",
    ]


def test_a_component_missing_a_key_is_reported_at_its_name(tmp_path: Path) -> None:
    text = ("project: demo\ncomponents:\n  fs:\n    type: feature_store\n"
            "    features: {id: String}\n    record_identifier: id\n    event_time: id\n")
    assert problems(tmp_path, text) == [
        "mlform.yaml:3:3: fs: missing required key 'offline_store'"]



def test_the_experiment_tracker_is_served_behind_an_internal_load_balancer(
        tmp_path: Path) -> None:
    path = tmp_path / "mlform.yaml"
    path.write_text("project: demo\ncomponents:\n  tracking: {type: experiment_tracker}\n"
                    "outputs:\n  mlflow: ${tracking.url}\n")
    stack = load_stack(path)
    res = stack.resources
    lb = res["module.tracking.aws_lb.this"].template
    assert lb["internal"] is True
    assert lb["subnets"] == ["${module.tracking.aws_subnet.a.id}",
                             "${module.tracking.aws_subnet.b.id}"]
    assert lb["security_groups"] == ["${module.tracking.aws_security_group.alb.id}"]
    (ingress,) = res["module.tracking.aws_security_group.alb"].template["ingress"]
    assert (ingress["from_port"], ingress["cidr_blocks"]) == (80, ["10.43.0.0/16"])
    listener = res["module.tracking.aws_lb_listener.this"].template
    assert (listener["port"], listener["protocol"]) == (80, "HTTP")
    # The task admits MLflow's port from the load balancer's group only.
    task_ingress = res["module.tracking.aws_security_group.this"].template["ingress"]
    assert [r for r in task_ingress if r["from_port"] == 5000] == [{
        "from_port": 5000, "to_port": 5000, "protocol": "tcp",
        "security_groups": ["${module.tracking.aws_security_group.alb.id}"],
        "description": "MLflow from the load balancer"}]
    service = res["module.tracking.aws_ecs_service.this"]
    assert service.template["load_balancer"] == [{
        "target_group_arn": "${module.tracking.aws_lb_target_group.this.arn}",
        "container_name": "mlflow", "container_port": 5000}]
    assert "module.tracking.aws_lb_listener.this" in service.depends_on
    assert stack.outputs["mlflow"].template == "http://${module.tracking.aws_lb.this.dns_name}"


def test_a_public_tracker_needs_an_allow_list_and_a_certificate(tmp_path: Path) -> None:
    text = ("project: demo\ncomponents:\n"
            "  open:\n    type: experiment_tracker\n    public: true\n"
            "  empty:\n    type: experiment_tracker\n    public: true\n    allowed_cidrs: []\n"
            "    certificate_arn: arn:aws:acm:us-east-1:123456789012:certificate/x\n"
            "  plain:\n    type: experiment_tracker\n    public: true\n"
            "    allowed_cidrs: [203.0.113.0/24]\n")
    assert problems(tmp_path, text) == [
        "mlform.yaml:3:3: open.allowed_cidrs: a public tracker needs the CIDR blocks that may "
        "reach it (MLflow has no login); or leave public: false",
        "mlform.yaml:9:5: empty.allowed_cidrs: a public tracker needs the CIDR blocks that may "
        "reach it (MLflow has no login); or leave public: false",
        "mlform.yaml:11:3: plain.certificate_arn: a public tracker is served over HTTPS only: "
        "give the ACM certificate of its name; or leave public: false",
    ]
    path = tmp_path / "mlform.yaml"
    path.write_text("project: demo\ncomponents:\n  tracking:\n    type: experiment_tracker\n"
                    "    public: true\n    allowed_cidrs: [203.0.113.7/32]\n"
                    "    certificate_arn: arn:aws:acm:us-east-1:123456789012:certificate/x\n")
    res = load_stack(path).resources
    assert res["module.tracking.aws_lb.this"].template["internal"] is False
    listener = res["module.tracking.aws_lb_listener.this"].template
    assert (listener["port"], listener["protocol"]) == (443, "HTTPS")
    assert listener["certificate_arn"] == "arn:aws:acm:us-east-1:123456789012:certificate/x"
    (ingress,) = res["module.tracking.aws_security_group.alb"].template["ingress"]
    assert (ingress["from_port"], ingress["cidr_blocks"]) == (443, ["203.0.113.7/32"])
