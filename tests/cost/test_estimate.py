"""Cost rules, resource by resource, against a small catalog whose figures are easy to check."""

from __future__ import annotations

from typing import Any

import pytest

from mlform.cost.catalog import PriceCatalog, load_catalog
from mlform.cost.estimate import FREE, PRICED, RULES, UNKNOWN_COST, USAGE, Res, estimate
from mlform.providers.registry import default_registry
from mlform.values import UNKNOWN

R = "eu-west-1"
CATALOG = PriceCatalog([{
    "format": 1,
    "sources": {"t": {"name": "test prices", "date": "2026-11-01"}},
    "prices": {
        "ec2": {R: {"g5.xlarge": [1.0, "t"], "t3.medium": [0.04, "t"]}},
        "sagemaker_hosting": {R: {"ml.g5.xlarge": [2.0, "t"]}},
        "sagemaker_notebook": {R: {"ml.t3.medium": [0.05, "t"]}},
        "sagemaker_storage": {R: {"ml_storage": [0.2, "t"]}},
        "rds_postgres": {R: {"db.t4g.micro": [0.02, "t"]}},
        "rds_storage": {R: {"gp2": [0.1, "t"]}},
        "fargate": {R: {"vcpu": [0.04, "t"], "memory_gb": [0.004, "t"]}},
        "eks": {R: {"cluster": [0.1, "t"]}},
        "secretsmanager": {R: {"secret": [0.4, "t"]}},
    },
}])


def cost(*resources: Res, address: str | None = None) -> Any:
    world = {r.address: r for r in resources}
    return estimate(world, CATALOG, R)[address or resources[0].address]


def test_every_resource_type_has_a_cost_rule() -> None:
    # A new type must say what it costs (or that it is free, or usage-based), never nothing.
    assert set(default_registry().all_types()) <= set(RULES)


def test_node_group_prices_min_usual_and_max_and_marks_spot() -> None:
    group = Res("aws_eks_node_group.gpu", "aws_eks_node_group", {
        "instance_types": ["g5.xlarge"], "capacity_type": "SPOT",
        "scaling_config": {"min_size": 0, "desired_size": 1, "max_size": 4}})
    c = cost(group)
    assert (c.kind, c.min, c.desired, c.max) == (PRICED, 0.0, 730.0, 2920.0)
    assert c.variable and "on-demand price" in c.note
    assert c.summary == "0-4 (usually 1) x g5.xlarge, spot"
    assert c.sources == {"t"}


def test_endpoint_is_priced_through_its_configuration_and_autoscaling_target() -> None:
    config = Res("aws_sagemaker_endpoint_configuration.c", "aws_sagemaker_endpoint_configuration",
                 {"name": UNKNOWN, "production_variants": [{
                     "variant_name": "AllTraffic", "model_name": UNKNOWN,
                     "instance_type": "ml.g5.xlarge", "initial_instance_count": 2}]})
    endpoint = Res("aws_sagemaker_endpoint.e", "aws_sagemaker_endpoint",
                   {"name": "api", "endpoint_config_name": UNKNOWN},
                   deps=("aws_sagemaker_endpoint_configuration.c",))
    target = Res("aws_appautoscaling_target.t", "aws_appautoscaling_target",
                 {"service_namespace": "sagemaker", "min_capacity": 1, "max_capacity": 5,
                  "resource_id": "endpoint/api/variant/AllTraffic"})
    c = cost(endpoint, config, target)
    assert (c.min, c.desired, c.max) == (1460.0, 2920.0, 7300.0)
    # Configurations and scaling targets cost nothing themselves: the endpoint carries it.
    assert cost(config, endpoint).kind == FREE


def test_endpoint_without_its_configuration_is_unknown_not_free() -> None:
    endpoint = Res("aws_sagemaker_endpoint.e", "aws_sagemaker_endpoint",
                   {"name": "api", "endpoint_config_name": "made-by-hand"})
    c = cost(endpoint)
    assert c.kind == UNKNOWN_COST and c.desired == 0
    assert c.note == "its endpoint configuration is not managed by this stack"


def test_an_instance_type_missing_from_the_catalog_is_unknown() -> None:
    group = Res("aws_eks_node_group.x", "aws_eks_node_group", {
        "instance_types": ["p5.48xlarge"], "scaling_config": {
            "min_size": 1, "desired_size": 1, "max_size": 1}})
    c = cost(group)
    assert c.kind == UNKNOWN_COST and c.lines == []
    assert c.note == ("the price catalog has no price for EC2 instance type p5.48xlarge in "
                      "eu-west-1")


def test_a_value_known_only_after_apply_is_unknown() -> None:
    notebook = Res("aws_sagemaker_notebook_instance.n", "aws_sagemaker_notebook_instance",
                   {"instance_type": UNKNOWN})
    c = cost(notebook)
    assert c.kind == UNKNOWN_COST
    assert c.note == "instance_type is known only after apply"


def test_notebook_and_database_include_their_storage() -> None:
    notebook = Res("aws_sagemaker_notebook_instance.n", "aws_sagemaker_notebook_instance",
                   {"instance_type": "ml.t3.medium", "volume_size": 10})
    assert cost(notebook).desired == pytest.approx(0.05 * 730 + 10 * 0.2)
    db = Res("aws_db_instance.d", "aws_db_instance", {
        "engine": "postgres", "instance_class": "db.t4g.micro", "allocated_storage": 20,
        "storage_type": "gp2", "multi_az": True})
    c = cost(db)
    # Multi-AZ: a standby instance and a second copy of the storage.
    assert c.desired == pytest.approx(2 * 0.02 * 730 + 2 * 20 * 0.1)
    assert c.summary == "2 x db.t4g.micro, multi-AZ; 20 GB gp2 storage x 2"


def test_storage_without_a_price_leaves_the_instance_priced_and_says_so() -> None:
    db = Res("aws_db_instance.d", "aws_db_instance", {
        "engine": "postgres", "instance_class": "db.t4g.micro", "allocated_storage": 20,
        "storage_type": "gp3"})
    c = cost(db)
    assert c.kind == PRICED and c.desired == pytest.approx(0.02 * 730)
    assert c.incomplete
    assert c.missing == ["gp3 storage: the price catalog has no price for RDS storage type gp3 "
                         "in eu-west-1"]


def test_other_engines_are_unknown() -> None:
    db = Res("aws_db_instance.d", "aws_db_instance", {
        "engine": "mysql", "instance_class": "db.t4g.micro", "allocated_storage": 20})
    assert cost(db).note == "the price catalog has no mysql prices (only postgres)"


def test_fargate_service_is_priced_from_its_task_definition() -> None:
    task = Res("aws_ecs_task_definition.t", "aws_ecs_task_definition",
               {"arn": UNKNOWN, "cpu": "512", "memory": "2048"})
    service = Res("aws_ecs_service.s", "aws_ecs_service", {
        "launch_type": "FARGATE", "desired_count": 3, "task_definition": UNKNOWN},
        deps=("aws_ecs_task_definition.t",))
    c = cost(service, task)
    assert c.desired == pytest.approx(3 * (0.5 * 0.04 + 2 * 0.004) * 730)
    assert c.summary == "3 x Fargate 0.5 vCPU/2 GB task"


def test_fixed_prices_free_and_usage_based_kinds() -> None:
    assert cost(Res("aws_eks_cluster.c", "aws_eks_cluster", {})).desired == pytest.approx(73.0)
    assert cost(Res("aws_secretsmanager_secret.s", "aws_secretsmanager_secret",
                    {})).desired == pytest.approx(0.4)
    assert cost(Res("aws_iam_role.r", "aws_iam_role", {})).kind == FREE
    bucket = cost(Res("aws_s3_bucket.b", "aws_s3_bucket", {}))
    assert (bucket.kind, bucket.note, bucket.desired) == (USAGE, "storage and requests", 0)


def test_a_region_missing_from_the_catalog_is_unknown() -> None:
    world = {"aws_eks_cluster.c": Res("aws_eks_cluster.c", "aws_eks_cluster", {})}
    c = estimate(world, CATALOG, "ap-south-1")["aws_eks_cluster.c"]
    assert c.kind == UNKNOWN_COST and "in ap-south-1" in c.note


def test_efs_is_usage_based_with_its_price_and_the_registry_and_studio_are_free() -> None:
    fs = cost(Res("aws_efs_file_system.f", "aws_efs_file_system", {}))
    assert (fs.kind, fs.desired) == (USAGE, 0)
    assert "per GB-month" in fs.note  # the catalog here has no EFS price: the note says so
    shipped = estimate({"f": Res("f", "aws_efs_file_system", {})}, load_catalog(),
                       "us-east-1")["f"]
    assert shipped.note == "data stored: $0.3 per GB-month (Standard)" and shipped.sources
    for kind in ("aws_sagemaker_model_package_group", "aws_sagemaker_model_package_group_policy",
                 "aws_sagemaker_domain", "aws_sagemaker_user_profile", "aws_efs_mount_target"):
        assert cost(Res(f"{kind}.x", kind, {})).kind == FREE


def test_application_load_balancer_is_priced_by_the_hour_with_one_lcu() -> None:
    prices = PriceCatalog([{"format": 1, "sources": {"t": {"name": "test", "date": "2026"}},
                            "prices": {"elb": {R: {"alb_hour": [0.02, "t"],
                                                   "alb_lcu": [0.01, "t"]}}}}])
    lb = Res("aws_lb.this", "aws_lb", {"load_balancer_type": "application"})
    c = estimate({lb.address: lb}, prices, R)[lb.address]
    assert (c.kind, round(c.desired, 2)) == (PRICED, round(0.03 * 730, 2))
    assert "billed by use" in c.note
    nlb = Res("aws_lb.n", "aws_lb", {"load_balancer_type": "network"})
    assert estimate({nlb.address: nlb}, prices, R)[nlb.address].kind == UNKNOWN_COST
    for free in ("aws_lb_target_group", "aws_lb_listener"):
        res = Res(f"{free}.x", free, {})
        assert estimate({res.address: res}, prices, R)[res.address].kind == FREE
