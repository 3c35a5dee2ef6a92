"""Estimates for two whole configs, checked against figures worked out by hand from the
catalog shipped with mlform (the prices are quoted next to each figure; 730 hours a month)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlform.api import Workspace


def workspace(tmp_path: Path, uid: str, region: str, components: str) -> Workspace:
    path = tmp_path / "mlform.yaml"
    path.write_text(f"project: h{uid}\nenvironments: {{dev: {{region: {region}}}}}\n"
                    f"components:\n{components}")
    return Workspace(path)


def figures(ws: Workspace) -> dict[str, Any]:
    report = ws.cost(ws.plan())
    rows = {r.address: r.after for g in report.groups for r in g.rows}
    return {"report": report, "rows": rows}


def test_training_platform_in_us_east_1(tmp_path: Path, uid: str, sandbox: Any) -> None:
    ws = workspace(tmp_path, uid, "us-east-1", """\
  trainer: {type: gpu_cluster, gpu: "A10G:1", nodes: "1..4"}
  tracker: {type: experiment_tracker}
  db-password: {type: secret}
""")
    got = figures(ws)
    rows, report = got["rows"], got["report"]
    # A10G:1 fits g5.xlarge ($1.006/h) up to g5.16xlarge; all priced, the cheapest wins.
    assert "trainer: gpu A10G:1 -> g5.xlarge in us-east-1" in ws.stack.notes[0]
    gpu = rows["module.trainer.aws_eks_node_group.gpu"]
    assert (gpu.min, gpu.desired, gpu.max) == pytest.approx((734.38, 734.38, 2937.52))
    system = rows["module.trainer.aws_eks_node_group.system"]  # t3.medium $0.0416/h, 1..2
    assert (system.min, system.desired, system.max) == pytest.approx((30.368, 30.368, 60.736))
    assert rows["module.trainer.aws_eks_cluster.this"].desired == pytest.approx(73.0)  # $0.10/h
    # db.t4g.micro $0.016/h, and 20 GB of gp3 storage at $0.115 per GB-month.
    db = rows["module.tracker.aws_db_instance.this"]
    assert db.desired == pytest.approx(11.68 + 2.30) and not db.missing
    # MLflow on Fargate: 0.5 vCPU x $0.04048 + 1 GB x $0.004445 an hour.
    assert rows["module.tracker.aws_ecs_service.this"].desired == pytest.approx(18.02005)
    assert rows["module.db-password.aws_secretsmanager_secret.this"].desired == 0.40
    # The tracker's load balancer: $0.0225 an hour, and one LCU-hour ($0.008) an hour.
    assert rows["module.tracker.aws_lb.this"].desired == pytest.approx(22.265)
    # Each component's own VPC: a NAT gateway ($0.045/h), its public IPv4 address ($0.005/h)
    # and ECR's api and dkr interface endpoints in two zones (4 x $0.01/h): $65.70.
    assert rows["module.trainer.aws_nat_gateway.a"].desired == pytest.approx(32.85)
    assert rows["module.trainer.aws_eip.nat_a"].desired == pytest.approx(3.65)
    assert rows["module.trainer.aws_vpc_endpoint.ecr_dkr"].desired == pytest.approx(14.6)
    assert report.after.desired == pytest.approx(892.41305 + 2 * 65.7)
    assert report.after.min == pytest.approx(892.41305 + 2 * 65.7)
    assert report.after.max == pytest.approx(3125.92105 + 2 * 65.7)
    assert report.after.unknown == 0
    assert report.delta == pytest.approx(892.41305 + 2 * 65.7)


def test_serving_platform_in_eu_west_1(tmp_path: Path, uid: str, sandbox: Any) -> None:
    ws = workspace(tmp_path, uid, "eu-west-1", """\
  registry: {type: container_registry}
  serve:
    type: model_endpoint
    image: ${registry.url}:v1
    gpu: T4
    replicas: 2
    autoscale: {min: 1, max: 4, invocations_per_instance: 50}
  cpu-api: {type: model_endpoint, image: "${registry.url}:v1", instance_type: ml.m5.xlarge}
  lab: {type: notebook}
""")
    got = figures(ws)
    rows, report = got["rows"], got["report"]
    # T4:1 -> ml.g4dn.xlarge ($0.821/h for hosting), 1..4 instances, usually 2.
    serve = rows["module.serve.aws_sagemaker_endpoint.this"]
    assert serve.summary == "1-4 (usually 2) x ml.g4dn.xlarge"
    assert (serve.min, serve.desired, serve.max) == pytest.approx((599.33, 1198.66, 2397.32))
    # ml.m5.xlarge $0.257/h, one instance.
    assert rows["module.cpu-api.aws_sagemaker_endpoint.this"].desired == pytest.approx(187.61)
    # Notebook ml.t3.medium $0.055/h and 5 GB of ML storage at $0.154 per GB-month.
    assert rows["module.lab.aws_sagemaker_notebook_instance.this"].desired == \
        pytest.approx(40.15 + 0.77)
    assert rows["module.registry.aws_ecr_repository.this"].kind == "usage-based"
    assert report.after.desired == pytest.approx(1198.66 + 187.61 + 40.92)
    assert report.after.min == pytest.approx(599.33 + 187.61 + 40.92)
    assert report.after.max == pytest.approx(2397.32 + 187.61 + 40.92)
    assert report.after.unknown == 0


def test_an_applied_change_prices_only_the_difference(tmp_path: Path, uid: str,
                                                       sandbox: Any) -> None:
    secrets = "  a: {type: secret, recovery_window_in_days: 0}\n"
    ws = workspace(tmp_path, uid, "us-east-1", secrets)
    assert ws.apply().result.ok  # type: ignore[union-attr]
    ws = workspace(tmp_path, uid, "us-east-1",
                   secrets + "  b: {type: secret, recovery_window_in_days: 0}\n")
    report = ws.cost(ws.plan())
    assert (report.before.desired, report.after.desired) == pytest.approx((0.40, 0.80))
    assert report.delta == pytest.approx(0.40)
    ws.apply(destroy=True)
