"""The cost section of a plan: before, after, delta, grouping and the budget."""

from __future__ import annotations

from typing import Any

import pytest

from mlform.cost.report import RESOURCES, cost_report
from mlform.engine.plan import Action, Plan, ResourceChange
from mlform.providers.base import StackContext
from tests.cost.test_estimate import CATALOG, R


def group(min_size: int, desired: int, max_size: int) -> dict[str, Any]:
    return {"instance_types": ["g5.xlarge"],
            "scaling_config": {"min_size": min_size, "desired_size": desired,
                               "max_size": max_size}}


def plan(*changes: ResourceChange, budget: float | None = None) -> Plan:
    return Plan(context=StackContext(project="p", environment="prod", target="aws", region=R),
                lineage="l", serial=1, changes=list(changes), outputs={},
                components={"trainer": "gpu_cluster", "vault": "secret"}, budget_usd=budget)


GPU = "module.trainer.aws_eks_node_group.gpu"
CLUSTER = "module.trainer.aws_eks_cluster.this"
SECRET = "module.vault.aws_secretsmanager_secret.this"


def test_delta_is_what_the_plan_changes() -> None:
    report = cost_report(plan(
        ResourceChange(GPU, "aws_eks_node_group", Action.UPDATE, before=group(1, 1, 4),
                       after=group(2, 2, 4)),
        ResourceChange(CLUSTER, "aws_eks_cluster", Action.NOOP, before={}, after={}),
        ResourceChange(SECRET, "aws_secretsmanager_secret", Action.CREATE, after={}),
        ResourceChange("aws_eks_cluster.old", "aws_eks_cluster", Action.DELETE, before={}),
    ), CATALOG)
    assert report.before.desired == pytest.approx(730 + 73 + 73)
    assert report.after.desired == pytest.approx(2 * 730 + 73 + 0.4)
    assert report.delta == pytest.approx(730 + 0.4 - 73)
    assert (report.after.min, report.after.max) == pytest.approx((2 * 730 + 73.4,
                                                                  4 * 730 + 73.4))
    names = [g.name for g in report.groups]
    assert names == ["trainer", "vault", RESOURCES]  # components by name, raw ones last
    trainer = report.groups[0]
    assert trainer.kind == "gpu_cluster"
    assert trainer.after.desired == pytest.approx(2 * 730 + 73)
    gone = report.groups[2].rows[0]
    assert gone.after is None and gone.before is not None and gone.before.desired == 73


def test_unknown_costs_are_counted_apart_never_as_zero() -> None:
    unknown = {"instance_types": ["p5.48xlarge"],
               "scaling_config": {"min_size": 1, "desired_size": 1, "max_size": 1}}
    report = cost_report(plan(
        ResourceChange(GPU, "aws_eks_node_group", Action.CREATE, after=unknown),
        ResourceChange(CLUSTER, "aws_eks_cluster", Action.CREATE, after={}),
    ), CATALOG)
    assert report.after.unknown == 1 and report.after.desired == pytest.approx(73)
    doc = report.to_json()
    rows = {r["address"]: r["after"] for c in doc["components"] for r in c["resources"]}
    assert rows[GPU] == {"kind": "unknown", "note": "the price catalog has no price for EC2 "
                                                    "instance type p5.48xlarge in eu-west-1"}
    assert doc["after"]["unknown_resources"] == 1


def test_budget_names_the_components_that_cost_most() -> None:
    changes = (
        ResourceChange(GPU, "aws_eks_node_group", Action.CREATE, after=group(1, 3, 4)),
        ResourceChange(CLUSTER, "aws_eks_cluster", Action.CREATE, after={}),
        ResourceChange(SECRET, "aws_secretsmanager_secret", Action.CREATE, after={}),
    )
    assert cost_report(plan(*changes), CATALOG).over_budget() is None  # no budget
    assert cost_report(plan(*changes, budget=5000), CATALOG).over_budget() is None
    report = cost_report(plan(*changes, budget=1000), CATALOG)
    assert report.over_budget() == (
        "the monthly estimate after this plan, $2,263.40, is over the budget of $1,000.00 for "
        "environment 'prod' (costing most: trainer $2,263.00, vault $0.40). Lower them, raise "
        "budget.monthly_usd, or pass --allow-over-budget")
    assert report.to_json()["budget"] == {"monthly_usd": 1000, "over": True}
